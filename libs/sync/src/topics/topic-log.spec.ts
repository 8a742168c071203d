import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { CommitId, ConflictError, sha256, TopicName } from '@tributary/core';
import { LocalStore, MemoryStore, ObjectStore } from '@tributary/storage';
import { TopicLog } from './topic-log';

const c = (n: number) => sha256(Buffer.from(`commit ${n}`)) as CommitId;
const T = 'datasets/heart/na-aws' as TopicName;

describe.each([
  ['MemoryStore', async () => ({ store: new MemoryStore() as ObjectStore, cleanup: () => undefined })],
  [
    'LocalStore',
    async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'trib-topiclog-'));
      return { store: (await LocalStore.open(path.join(dir, 's'), { create: true })) as ObjectStore, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
    },
  ],
])('TopicLog on %s', (_name, open) => {
  let store: ObjectStore;
  let cleanup: () => void;
  let log: TopicLog;
  beforeEach(async () => {
    ({ store, cleanup } = await open());
    log = new TopicLog(store);
  });
  afterEach(() => cleanup());

  it('appends entries with seqs from 1, finds them by seq and by commit', async () => {
    expect(await log.head(T)).toBeUndefined();
    const e1 = await log.append(T, undefined, c(1));
    const e2 = await log.append(T, e1, c(2));
    const e3 = await log.append(T, e2, c(3));
    expect([e1.seq, e2.seq, e3.seq]).toEqual([1, 2, 3]);
    expect(e1.parent).toBeNull();
    expect(e3.parent).toBe(c(2));
    expect(await log.head(T)).toEqual(e3);
    expect(await log.entry(T, 2)).toEqual(e2);
    expect(await log.entry(T, 4)).toBeUndefined();
    expect(await log.seqOf(T, c(2))).toBe(2);
    expect(await log.seqOf(T, c(9))).toBeUndefined();
    // A fresh instance on the same store sees the same log: nothing lives only in memory.
    expect(await new TopicLog(store).head(T)).toEqual(e3);
  });

  it('lets exactly one of two racing writers take a seq', async () => {
    const e1 = await log.append(T, undefined, c(1));
    const other = new TopicLog(store);
    const results = await Promise.allSettled([log.append(T, e1, c(2)), other.append(T, e1, c(3))]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(lost.reason).toBeInstanceOf(ConflictError);
    const head = await log.head(T);
    expect(head?.seq).toBe(2);
    expect([c(2), c(3)]).toContain(head?.commit);
  });

  it('finds entries past a stale head hint and repairs the commit index (a writer died after the entry)', async () => {
    const e1 = await log.append(T, undefined, c(1));
    // What a writer leaves when killed right after the create-if-absent of entry 2: no index, no hint.
    await store.putIfAbsent(`topic-log/${T}/SEQ/000000000002`, Buffer.from(JSON.stringify({ seq: 2, commit: c(2), parent: e1.commit, time: new Date().toISOString() })));
    expect(await log.seqOf(T, c(2))).toBeUndefined();
    const head = await log.head(T);
    expect(head).toMatchObject({ seq: 2, commit: c(2) });
    expect(await log.seqOf(T, c(2))).toBe(2);
    expect((await log.append(T, head, c(3))).seq).toBe(3);
  });

  it('appendEntry makes the entry durable first; settle writes the index and hint, which head() repairs without it', async () => {
    const e1 = await log.append(T, undefined, c(1));
    const second = await log.appendEntry(T, e1, c(2));
    expect(await log.entry(T, 2)).toEqual(second.entry);
    expect(await log.seqOf(T, c(2))).toBeUndefined();
    await expect(log.appendEntry(T, e1, c(9))).rejects.toBeInstanceOf(ConflictError);
    // Unsettled (its writer died, say): head() probes past the hint and indexes what it passes.
    expect(await log.head(T)).toMatchObject({ seq: 2, commit: c(2) });
    expect(await log.seqOf(T, c(2))).toBe(2);
    await second.settle();
    const third = await log.appendEntry(T, second.entry, c(3));
    await third.settle();
    expect(await log.seqOf(T, c(3))).toBe(3);
    expect(await log.head(T)).toMatchObject({ seq: 3, commit: c(3) });
  });

  it('keeps nested topics apart and lists topics sorted', async () => {
    const a = 'a' as TopicName;
    const ab = 'a/b' as TopicName;
    await log.append(ab, undefined, c(10));
    await log.append(a, undefined, c(1));
    await log.append(a, await log.head(a), c(2));
    expect((await log.head(a))?.seq).toBe(2);
    expect(await log.head(ab)).toMatchObject({ seq: 1, commit: c(10) });
    expect(await log.topics()).toEqual(['a', 'a/b']);
  });

  it('lists a topic whose first entry was written but not settled (a broker killed between the two)', async () => {
    const first = await log.appendEntry(T, undefined, c(1));
    expect(first.entry.seq).toBe(1);
    expect(await log.topics()).toEqual([T]);
    // The listing's reader finds the entry by probing, as head() does for any stale hint.
    expect(await log.head(T)).toMatchObject({ seq: 1, commit: c(1) });
  });

  it('lists a topic two first appends raced for once, and one whose first entry never came with no head', async () => {
    await log.append(T, undefined, c(1));
    await expect(log.append(T, undefined, c(2))).rejects.toMatchObject({ code: 'CONFLICT' });
    expect(await log.topics()).toEqual([T]);
    const never = 'datasets/never' as TopicName;
    // What a first append leaves when it dies (or is refused) between its mark and its entry.
    await store.putIfAbsent(`topic-heads/${never}/CREATED`, Buffer.alloc(0));
    expect(await log.topics()).toEqual([T, never]);
    expect(await log.head(never)).toBeUndefined();
  });

  it('reports a corrupt entry as IntegrityError', async () => {
    await store.putIfAbsent(`topic-log/${T}/SEQ/000000000001`, Buffer.from('{"seq": 7}'));
    await expect(log.head(T)).rejects.toMatchObject({ code: 'INTEGRITY' });
  });
});
