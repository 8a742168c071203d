import * as path from 'node:path';
import { CommitId, TopicName, UnavailableError } from '@tributary/core';
import { topicRef } from '@tributary/repository';
import { SyncClient } from '../libs/sync/src/client/sync.client';
import { racePublishers } from './support/publish-race';
import { PrivateRedis } from '../libs/sync/src/testing/private-redis';
import { commitFiles, newRepo, startTestBroker, tempDir, TempDir } from '../libs/sync/src/testing/sync-harness';

const TOPIC = 'datasets/heart/shared';

describe('sync: two brokers on one store and one Redis', () => {
  let t: TempDir;
  let b1: Awaited<ReturnType<typeof startTestBroker>>;
  let b2: Awaited<ReturnType<typeof startTestBroker>>;
  let c1: SyncClient;
  let c2: SyncClient;

  beforeAll(async () => {
    t = tempDir();
    const storeDir = path.join(t.dir, 'shared-store');
    b1 = await startTestBroker(storeDir);
    b2 = await startTestBroker(storeDir);
    c1 = new SyncClient(b1.address);
    c2 = new SyncClient(b2.address);
  });
  afterAll(async () => {
    c1?.close();
    c2?.close();
    await b1?.close();
    await b2?.close();
    t?.cleanup();
  });

  it('share one identity, so they share cursors', () => {
    expect(b1.context.storeId).toBe(b2.context.storeId);
  });

  it('give each seq to exactly one of two racing publishers; the loser gets FAILED_PRECONDITION', async () => {
    const winners = await racePublishers({ dir: t.dir, topic: TOPIC, clients: [c1, c2], brokers: [b1.context, b2.context], rounds: 6 });
    const info = (await c1.listTopics()).find((x) => x.topic === TOPIC)!;
    expect(info).toMatchObject({ seq: winners.length, head: winners[winners.length - 1] });
    expect(info.subscribers.map((s) => [s.name, s.lag])).toEqual([
      ['a', 1],
      ['b', 1],
      ['fresh', 0],
    ]);
  });

  it('wakes a follower on one broker when the other appends', async () => {
    const pub = await newRepo(path.join(t.dir, 'pub'));
    const sub = await newRepo(path.join(t.dir, 'sub'));
    const abort = new AbortController();
    try {
      const got: CommitId[] = [];
      const following = c2.subscribe(sub, 'models/ecg', 'edge-1', {
        follow: true,
        signal: abort.signal,
        onEntry: async (e) => {
          got.push(e.commit);
          abort.abort();
        },
      });
      const c = await commitFiles(pub, { 'model.bin': 'weights v1' });
      await c1.publish(pub, 'models/ecg');
      await following;
      expect(got).toEqual([c]);
    } finally {
      abort.abort();
      await pub.close();
      await sub.close();
    }
  });
});

describe('sync: Redis restarts', () => {
  let t: TempDir;
  let redis: PrivateRedis;
  let broker: Awaited<ReturnType<typeof startTestBroker>>;
  let client: SyncClient;

  beforeAll(async () => {
    t = tempDir();
    redis = await PrivateRedis.start();
    broker = await startTestBroker(path.join(t.dir, 'store'), { redisUrl: redis.url });
    client = new SyncClient(broker.address, { retryDelayMs: 50 });
  });
  afterAll(async () => {
    client?.close();
    await broker?.close();
    await redis?.dispose();
    t?.cleanup();
  });

  it('keeps cursors across a kill -9 of Redis, and subscribers resume from them', async () => {
    const edge = await newRepo(path.join(t.dir, 'edge'));
    const hub = await newRepo(path.join(t.dir, 'hub'));
    try {
      await commitFiles(edge, { 'a.csv': '1\n' });
      await commitFiles(edge, { 'a.csv': '1\n2\n' });
      await client.publish(edge, TOPIC);
      expect(await client.subscribe(hub, TOPIC, 'hub')).toMatchObject({ commits: 2, seqTo: 2 });

      await redis.stop();
      await expect(client.subscribe(hub, TOPIC, 'hub')).rejects.toBeInstanceOf(UnavailableError);
      await redis.start();

      const c3 = await commitFiles(edge, { 'a.csv': '1\n2\n3\n' });
      await client.publish(edge, TOPIC);
      const r = await client.subscribe(hub, TOPIC, 'hub');
      expect(r).toMatchObject({ commits: 1, seqFrom: 3, seqTo: 3, head: c3 });

      // A cursor that went back (say, Redis lost its last writes) only causes a harmless redelivery.
      await broker.context.cursors.reset(TOPIC as TopicName, 'hub' as never, 1);
      const again = await client.subscribe(hub, TOPIC, 'hub');
      expect(again).toMatchObject({ commits: 2, seqFrom: 2, seqTo: 3, head: c3, wireBytes: 0 });
      expect((await hub.refs.resolve(topicRef(TOPIC))).commit).toBe(c3);
    } finally {
      await edge.close();
      await hub.close();
    }
  });
});
