import * as path from 'node:path';
import { CommitId, TopicName } from '@tributary/core';
import { Repository } from '@tributary/repository';
import { SyncClient } from '../libs/sync/src/client/sync.client';
import { TopicLog } from '../libs/sync/src/topics/topic-log';
import { commitFiles, newRepo, startTestBroker, tempDir, TempDir } from '../libs/sync/src/testing/sync-harness';

type Broker = Awaited<ReturnType<typeof startTestBroker>>;

/*
 * Two publishers send the same chain through two brokers on one store, each seq going to whichever appends first;
 * the loser of a seq must find its commit appended and go on. The interleavings are forced with hooks on each
 * broker's TopicLog, so each test takes the path it names on every run.
 */
describe('sync: the same chain published through two brokers at once', () => {
  let t: TempDir;
  let a: Broker;
  let b: Broker;
  let viaA: SyncClient;
  let viaB: SyncClient;
  let repo: Repository;
  let chain: CommitId[];

  beforeAll(async () => {
    t = tempDir();
    const storeDir = path.join(t.dir, 'shared-store');
    a = await startTestBroker(storeDir);
    b = await startTestBroker(storeDir);
    viaA = new SyncClient(a.address);
    viaB = new SyncClient(b.address);
    repo = await newRepo(path.join(t.dir, 'pub'));
    // A directory of 24 files, one of which changes per commit: each later commit's tree travels as a delta against
    // the previous commit's tree.
    const files: Record<string, string> = {};
    for (let i = 0; i < 24; i++) files[`part-${String(i).padStart(2, '0')}.csv`] = `id,v\n${i},${'x'.repeat(40 + i)}\n`;
    chain = [await commitFiles(repo, files)];
    for (let i = 1; i <= 3; i++) chain.push(await commitFiles(repo, { [`part-${String(i * 5).padStart(2, '0')}.csv`]: `id,v\n${i},changed\n` }));
  });
  afterAll(async () => {
    viaA?.close();
    viaB?.close();
    await repo?.close();
    await a?.close();
    await b?.close();
    t?.cleanup();
  });

  afterEach(() => jest.restoreAllMocks());

  it('goes on after finding its commit appended, with the next commit sent against it', async () => {
    const topic = 'race/same-chain/objects';
    // B stops before its first append until A has published the whole chain: B then loses seq 1 and finds every
    // later commit appended too, after receiving it as deltas against the commit before, which A stored.
    const bAtAppend = deferred();
    const aDone = deferred();
    const append = b.context.log.appendEntry.bind(b.context.log);
    jest.spyOn(b.context.log, 'appendEntry').mockImplementationOnce(async (...args) => {
      bAtAppend.resolve();
      await aDone.promise;
      return append(...args);
    });
    const throughB = viaB.publish(repo, topic);
    await bAtAppend.promise;
    expect(await viaA.publish(repo, topic)).toMatchObject({ commits: chain.length, seqFrom: 1, seqTo: chain.length, head: chain[3] });
    aDone.resolve();
    // B appended none of them: it reports no commit of its own, at the seq where it found the last.
    expect(await throughB).toMatchObject({ commits: 0, seqFrom: chain.length, seqTo: chain.length, head: chain[3] });
    await expectLog([a, b], topic, chain);
    await expectSubscribersGet([viaA, viaB], topic, chain);
  });

  it('finds a commit the other broker appended while it read the log, instead of refusing it', async () => {
    const topic = 'race/same-chain/index';
    const two = chain.slice(0, 2);
    // A appends seq 1 while B waits at its own append of seq 1 (B loses it); A's commit index for seq 1 is written
    // only once B has read that index (so B misses it), and B's read returns only once A has appended seq 2.
    const bAtAppend = deferred();
    const aAppended1 = deferred();
    const aAppended2 = deferred();
    const bReadIndex = deferred();
    const appendA = a.context.log.appendEntry.bind(a.context.log);
    jest.spyOn(a.context.log, 'appendEntry').mockImplementation(async (...args: Parameters<TopicLog['appendEntry']>) => {
      const [, head] = args;
      if (head === undefined) await bAtAppend.promise;
      const appended = await appendA(...args);
      if (appended.entry.seq === 1) {
        aAppended1.resolve();
        return { entry: appended.entry, settle: async () => (await bReadIndex.promise, appended.settle()) };
      }
      if (appended.entry.seq === 2) aAppended2.resolve();
      return appended;
    });
    const appendB = b.context.log.appendEntry.bind(b.context.log);
    jest.spyOn(b.context.log, 'appendEntry').mockImplementationOnce(async (...args) => {
      bAtAppend.resolve();
      await aAppended1.promise;
      return appendB(...args);
    });
    const seqOfB = b.context.log.seqOf.bind(b.context.log);
    let hooked = false;
    jest.spyOn(b.context.log, 'seqOf').mockImplementation(async (tp, commit) => {
      const seq = await seqOfB(tp, commit);
      if (commit !== two[0] || hooked) return seq;
      hooked = true;
      bReadIndex.resolve();
      await aAppended2.promise;
      return seq;
    });
    // B's state names the topic as new; the publish through A starts only once B is at its append.
    const throughB = viaB.publish(repo, topic, two[1]);
    await bAtAppend.promise;
    const throughA = viaA.publish(repo, topic, two[1]);
    // Whichever way it goes, B no longer holds up A's index once its publish is over.
    const resultB = await throughB.finally(() => bReadIndex.resolve());
    // A appended seq 1; seq 2 went to whichever got there first. Each reports only what it appended itself (B at
    // most seq 2, or none "at seq 2"; A seq 1 and perhaps 2), and together both commits once.
    const resultA = await throughA;
    expect(resultB).toMatchObject({ seqFrom: 2, seqTo: 2, head: two[1] });
    expect(resultA).toMatchObject({ seqFrom: 1, seqTo: resultA.commits, head: two[1] });
    expect(resultA.commits + resultB.commits).toBe(two.length);
    await expectLog([a, b], topic, two);
    await expectSubscribersGet([viaA, viaB], topic, two);
  });

  /** The log read through each broker is `commits`, one entry each, in order. */
  async function expectLog(brokers: readonly Broker[], topic: string, commits: readonly CommitId[]): Promise<void> {
    for (const broker of brokers) {
      for (const [i, commit] of commits.entries()) {
        expect(await broker.context.log.entry(topic as TopicName, i + 1)).toMatchObject({ seq: i + 1, commit, parent: i === 0 ? null : commits[i - 1] });
      }
      expect(await broker.context.log.entry(topic as TopicName, commits.length + 1)).toBeUndefined();
    }
  }

  /** A fresh subscriber through each client gets every entry, whichever broker stored its objects. */
  async function expectSubscribersGet(clients: readonly SyncClient[], topic: string, commits: readonly CommitId[]): Promise<void> {
    for (const [i, client] of clients.entries()) {
      const sub = await newRepo(path.join(t.dir, `sub-${topic.replace(/\//g, '-')}-${i}`));
      try {
        const seen: CommitId[] = [];
        await client.subscribe(sub, topic, `fresh-${i}`, { onEntry: async (e) => void seen.push(e.commit) });
        expect(seen).toEqual(commits);
      } finally {
        await sub.close();
      }
    }
  }
});

function deferred(): { promise: Promise<void>; resolve(): void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}
