import { CommitId, sha256 } from '@tributary/core';
import { MemoryCommits } from '@tributary/repository';
import { HUB_SEQ, HUB_SOURCE, HUB_TOPIC, HubMergeIndex } from './merge-index';

/** The hub's main branch: each merge names the topic and seq it took, and a source commit as second parent. */
class FakeMain extends MemoryCommits {
  merge(topic: string | undefined, seq = 0): CommitId {
    const source = sha256(Buffer.from(`src ${topic} ${seq}`));
    return this.add({
      parents: this.head ? [this.head, source] : [],
      author: 'hub',
      annotations: topic ? { [HUB_TOPIC]: topic, [HUB_SEQ]: String(seq), [HUB_SOURCE]: source } : {},
    });
  }
}

describe('HubMergeIndex', () => {
  it('scans history lazily, only as far back as the topic asked for, and never twice', async () => {
    const m = new FakeMain();
    m.merge(undefined);
    m.merge('t/a', 1);
    m.merge('t/b', 1);
    m.merge('t/a', 2);
    m.merge('t/c', 1);
    const index = new HubMergeIndex();
    expect(await index.lastMerge(m, m.head, 't/a')).toMatchObject({ seq: 2 });
    expect(m.reads).toBe(2);
    expect(await index.lastMerge(m, m.head, 't/b')).toMatchObject({ seq: 1 });
    expect(m.reads).toBe(3);
    expect(await index.lastMerge(m, m.head, 't/none')).toBeUndefined();
    expect(m.reads).toBe(5);
    expect(await index.lastMerge(m, m.head, 't/none')).toBeUndefined();
    expect(m.reads).toBe(5);
  });

  it('catches up with merges made by others, and trusts its own records without reading', async () => {
    const m = new FakeMain();
    m.merge(undefined);
    const index = new HubMergeIndex();
    expect(await index.lastMerge(m, m.head, 't/a')).toBeUndefined();
    const parent = m.head;
    const own = m.merge('t/a', 1);
    index.record(parent, own, 't/a', 1, m.commits.get(own)!.parents[1]);
    m.reads = 0;
    expect(await index.lastMerge(m, m.head, 't/a')).toMatchObject({ seq: 1, merge: own });
    expect(m.reads).toBe(0);
    m.merge('t/a', 2);
    m.merge('t/b', 7);
    expect(await index.lastMerge(m, m.head, 't/a')).toMatchObject({ seq: 2 });
    expect(await index.lastMerge(m, m.head, 't/b')).toMatchObject({ seq: 7 });
    expect(m.reads).toBe(2);
  });

  it('starts over when main was moved to another history', async () => {
    const m = new FakeMain();
    m.merge('t/a', 5);
    const index = new HubMergeIndex();
    expect(await index.lastMerge(m, m.head, 't/a')).toMatchObject({ seq: 5 });
    m.head = undefined;
    m.merge('t/a', 1);
    expect(await index.lastMerge(m, m.head, 't/a')).toMatchObject({ seq: 1 });
  });
});
