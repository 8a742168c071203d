/**
 * Stores that ignore conditional writes (s3rver without the test proxy accepts If-None-Match/If-Match and ignores
 * them): the start-up probe tells them apart, brokers sharing one fence the topic log in Redis, a broker with the
 * fence off holds the store alone and a second one is refused, and a claim whose broker died before writing the
 * entry is finished by the next reader. Real s3rver, real Redis, real brokers (in-process and the app).
 *
 * The races run on s3rver behind the proxy in mode 'ignore': conditions ignored as by s3rver, but each write atomic
 * for readers, as on any real store. s3rver alone truncates an object in place before writing it, so a reader
 * racing a writer sees a torn entry there, which is s3rver's defect, not the one under test.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as path from 'node:path';
import Redis from 'ioredis';
import { CommitId, ConflictError, FailedPreconditionError, TopicName, UnavailableError } from '@tributary/core';
import { LocalStore, MemoryStore, ObjectStore, probeConditionalWrites } from '@tributary/storage';
import { S3Store } from '../libs/storage/src/s3.store';
import { BrokerContext } from '../libs/sync/src/broker/broker-context';
import { SyncClient } from '../libs/sync/src/client/sync.client';
import { PrivateRedis } from '../libs/sync/src/testing/private-redis';
import { REDIS_URL, tempDir, TempDir } from '../libs/sync/src/testing/sync-harness';
import { RedisFence } from '../libs/sync/src/topics/log-fence';
import { TopicLog } from '../libs/sync/src/topics/topic-log';
import { startBroker, RunningBroker } from '../libs/sync/src/broker/start-broker';
import { AppProcess, startApp } from './support/app-process';
import { racePublishers } from './support/publish-race';
import { ConditionalProxy, startConditionalProxy } from './support/s3-conditional-proxy';
import { S3Emulator, s3Env, startS3Emulator } from './support/s3rver-harness';
import { TcpLink } from './support/tcp-link';
import { ok, okAsync, repoWithRandomBatches, ROOT, tribAsync } from './support/trib';
import { waitUntil } from './support/wait';

const TOPIC = 'datasets/heart/shared' as TopicName;

let emulator: S3Emulator;
let ignoring: ConditionalProxy;
let buckets = 0;
// Bucket names are new on every run: a store's identity must never come from an earlier run's Redis state.
const RUN = randomBytes(4).toString('hex');
const opened: ObjectStore[] = [];

beforeAll(async () => {
  emulator = await startS3Emulator();
  ignoring = await startConditionalProxy({ upstream: emulator.s3rverEndpoint, mode: 'ignore' });
});
afterAll(async () => {
  await Promise.all(opened.map((s) => s.close()));
  await ignoring?.close();
  await emulator?.stop();
});

type Endpoint = 'enforcing' | 'ignoring' | 'raw';

/** A fresh bucket, reached through the enforcing proxy, the ignoring one, or s3rver itself. */
async function freshBucket(through: Endpoint): Promise<{ url: string; env: Record<string, string> }> {
  const url = `s3://fence-${RUN}-${++buckets}/broker`;
  const env = s3Env({ enforcing: emulator.endpoint, ignoring: ignoring.endpoint, raw: emulator.s3rverEndpoint }[through]);
  const store = await S3Store.open(url, { create: true, env });
  await store.close();
  return { url, env };
}

async function openS3(bucket: { url: string; env: Record<string, string> }): Promise<S3Store> {
  const store = await S3Store.open(bucket.url, { env: bucket.env });
  opened.push(store);
  return store;
}

function fakeCommit(label: string): CommitId {
  return createHash('sha256').update(label).digest('hex') as CommitId;
}

describe('probeConditionalWrites', () => {
  let t: TempDir;
  beforeAll(() => (t = tempDir()));
  afterAll(() => t.cleanup());

  it('finds both enforced on the local and memory stores and on s3rver behind the proxy, and leaves no key behind', async () => {
    const local = await LocalStore.open(path.join(t.dir, 'local'), { create: true });
    const proxied = await openS3(await freshBucket('enforcing'));
    for (const store of [local, new MemoryStore('probe'), proxied]) {
      expect(await probeConditionalWrites(store)).toEqual({ createIfAbsent: true, compareAndSwap: true });
      const left: string[] = [];
      for await (const info of store.list('')) left.push(info.key);
      expect(left).toEqual([]);
    }
    await local.close();
  });

  it('finds neither enforced on s3rver alone or behind the ignoring proxy, where a second create-if-absent silently overwrites', async () => {
    expect(await probeConditionalWrites(await openS3(await freshBucket('raw')))).toEqual({ createIfAbsent: false, compareAndSwap: false });
    const raw = await openS3(await freshBucket('ignoring'));
    expect(await probeConditionalWrites(raw)).toEqual({ createIfAbsent: false, compareAndSwap: false });
    // The hazard the fence exists for: without it, two appends of seq 1 both "succeed" and the first is lost.
    const unfenced = new TopicLog(raw);
    await unfenced.appendEntry(TOPIC, undefined, fakeCommit('first'));
    await unfenced.appendEntry(TOPIC, undefined, fakeCommit('second'));
    expect((await unfenced.entry(TOPIC, 1))?.commit).toBe(fakeCommit('second'));
  });
});

/**
 * Racers on every log append to one topic until it has `seqs` entries, each reading the head and appending its own
 * commit, retrying on ConflictError. Returns, per seq, every commit whose append resolved.
 */
async function race(logs: TopicLog[], topic: TopicName, seqs: number, racersPerLog: number): Promise<Map<number, CommitId[]>> {
  const acknowledged = new Map<number, CommitId[]>();
  const racer = async (log: TopicLog, name: string) => {
    for (let i = 0; ; i++) {
      const head = await log.head(topic);
      if ((head?.seq ?? 0) >= seqs) return;
      const commit = fakeCommit(`${topic} ${name} ${i}`);
      try {
        const { entry, settle } = await log.appendEntry(topic, head, commit);
        acknowledged.set(entry.seq, [...(acknowledged.get(entry.seq) ?? []), commit]);
        await settle();
      } catch (e) {
        if (!(e instanceof ConflictError)) throw e;
      }
    }
  };
  await Promise.all(logs.flatMap((log, l) => Array.from({ length: racersPerLog }, (_, r) => racer(log, `log${l}-racer${r}`))));
  return acknowledged;
}

/** Every seq went to exactly one append, the store holds that append's entry, and the entries form one chain. */
async function expectOneWinnerPerSeq(log: TopicLog, topic: TopicName, seqs: number, acknowledged: Map<number, CommitId[]>): Promise<void> {
  let parent: CommitId | null = null;
  for (let seq = 1; seq <= seqs; seq++) {
    expect({ seq, winners: acknowledged.get(seq)?.length }).toEqual({ seq, winners: 1 });
    const entry = await log.entry(topic, seq);
    expect(entry).toMatchObject({ seq, commit: acknowledged.get(seq)![0], parent });
    parent = entry!.commit;
  }
  expect(await log.entry(topic, seqs + 1)).toBeUndefined();
  expect((await log.head(topic))?.seq).toBe(seqs);
}

describe('the topic log on a store that ignores conditions', () => {
  const contexts: BrokerContext[] = [];
  afterEach(async () => {
    await Promise.all(contexts.splice(0).map((c) => c.close()));
  });
  async function context(store: ObjectStore, topicLogFence?: 'auto' | 'redis' | 'off'): Promise<BrokerContext> {
    const c = await BrokerContext.open({ store, redisUrl: REDIS_URL, topicLogFence });
    contexts.push(c);
    return c;
  }

  it('is fenced in Redis by default: racing brokers never both take a seq and never overwrite an entry', async () => {
    const bucket = await freshBucket('ignoring');
    const [a, b] = [await context(await openS3(bucket)), await context(await openS3(bucket))];
    expect([a.topicLogFence, b.topicLogFence]).toEqual(['redis', 'redis']);
    expect(a.storeId).toBe(b.storeId);
    const acknowledged = await race([a.log, b.log], TOPIC, 12, 3);
    await expectOneWinnerPerSeq(b.log, TOPIC, 12, acknowledged);
  });

  it('gives two brokers starting at once on a fresh store one identity, so they share one fence', async () => {
    const bucket = await freshBucket('ignoring');
    const [a, b] = await Promise.all([context(await openS3(bucket)), context(await openS3(bucket))]);
    expect(a.storeId).toBe(b.storeId);
  });

  it('with the fence off, one broker holds the store: its own racing appends still get one seq each', async () => {
    const bucket = await freshBucket('ignoring');
    const only = await context(await openS3(bucket), 'off');
    expect(only.topicLogFence).toBe('exclusive');
    const acknowledged = await race([only.log], TOPIC, 8, 4);
    await expectOneWinnerPerSeq(only.log, TOPIC, 8, acknowledged);
  });

  it('with the fence off, a second broker is refused, fenced or not, naming the store and the setting', async () => {
    const bucket = await freshBucket('ignoring');
    const first = await context(await openS3(bucket), 'off');
    const second = BrokerContext.open({ store: await openS3(bucket), redisUrl: REDIS_URL, topicLogFence: 'off' });
    await expect(second).rejects.toThrow(FailedPreconditionError);
    await expect(second).rejects.toThrow(new RegExp(`^store ${bucket.url} does not enforce conditional writes and another broker .*TRIB_TOPIC_LOG_FENCE`));
    const fenced = BrokerContext.open({ store: await openS3(bucket), redisUrl: REDIS_URL });
    await expect(fenced).rejects.toThrow(/holds it alone with TRIB_TOPIC_LOG_FENCE=off/);
    // Closing releases the store: a fenced broker may start, and then an exclusive one may not.
    await first.close();
    contexts.splice(contexts.indexOf(first), 1);
    await context(await openS3(bucket));
    await expect(BrokerContext.open({ store: await openS3(bucket), redisUrl: REDIS_URL, topicLogFence: 'off' })).rejects.toThrow(
      FailedPreconditionError,
    );
  });

  it('uses the store itself where it enforces conditions (the fence off changes nothing there)', async () => {
    const bucket = await freshBucket('enforcing');
    const [a, b] = [await context(await openS3(bucket), 'off'), await context(await openS3(bucket), 'off')];
    expect([a.topicLogFence, b.topicLogFence]).toEqual(['store', 'store']);
  });

  describe('when Redis goes away', () => {
    let redis: PrivateRedis;
    beforeAll(async () => {
      redis = await PrivateRedis.start();
    });
    afterAll(async () => {
      await redis?.dispose();
    });

    async function appendUntil(log: TopicLog, wanted: 'ok' | 'unavailable', label: string): Promise<void> {
      for (let i = 0; ; i++) {
        const outcome = await log.append(TOPIC, await log.head(TOPIC).catch(() => undefined), fakeCommit(`${label} ${i}`)).then(
          () => 'ok',
          (e) => (e instanceof UnavailableError ? 'unavailable' : Promise.reject(e)),
        );
        if (outcome === wanted) return;
        if (i > 400) throw new Error(`append never became ${wanted}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }

    /** A broker alone on a store that ignores conditions, whose link to Redis the test can cut; and what it logs. */
    async function exclusiveBehindLink(bucket: Awaited<ReturnType<typeof freshBucket>>): Promise<{ broker: BrokerContext; link: TcpLink; logged: string[] }> {
      const target = new URL(redis.url);
      const link = await TcpLink.start(target.hostname, Number(target.port));
      links.push(link);
      const logged: string[] = [];
      const broker = await BrokerContext.open({
        store: await openS3(bucket),
        redisUrl: link.through(redis.url),
        topicLogFence: 'off',
        leaseTtlMs: 600,
        log: (_level, message) => logged.push(message),
      });
      contexts.push(broker);
      return { broker, link, logged };
    }

    const links: TcpLink[] = [];
    afterEach(async () => {
      for (const l of links.splice(0)) await l.close();
    });

    it('a broker cut off from Redis stops appending once its lease lapses, and appends again once it renews it', async () => {
      const { broker, link, logged } = await exclusiveBehindLink(await freshBucket('ignoring'));
      await broker.log.append(TOPIC, undefined, fakeCommit('while held'));
      link.cut();
      await appendUntil(broker.log, 'unavailable', 'cut off');
      link.restore();
      await appendUntil(broker.log, 'ok', 'renewed');
      await waitUntil(() => logged.some((l) => l.includes('refreshed again')), 'the lease refreshed again');
      // The outage is told once, in words (not ioredis's option names), and so is its end.
      const lease = logged.filter((l) => l.startsWith('lease on store '));
      expect(lease).toEqual([
        expect.stringMatching(/^lease on store s3:\/\/\S+: refresh failed: .+; trying again every 200 ms \(appends stop once the lease lapses\)$/),
        expect.stringMatching(/^lease on store s3:\/\/\S+: refreshed again after \d+ failed tr(y|ies)$/),
      ]);
      expect(logged.join('\n')).not.toMatch(/maxRetriesPerRequest|max retries per request/);
    });

    it('a fenced broker whose Redis stopped refuses appends as Redis unavailable, in words', async () => {
      const own = await PrivateRedis.start();
      try {
        const broker = await BrokerContext.open({ store: await openS3(await freshBucket('ignoring')), redisUrl: own.url, log: () => undefined });
        contexts.push(broker);
        expect(broker.topicLogFence).toBe('redis');
        await broker.log.append(TOPIC, undefined, fakeCommit('fenced'));
        const head = await broker.log.head(TOPIC);
        await own.stop();
        const refused = await broker.log.append(TOPIC, head, fakeCommit('stopped')).then(() => undefined, (e: Error) => e);
        expect(refused).toBeInstanceOf(UnavailableError);
        expect(refused!.message).toMatch(/^redis unavailable \(topic log fence\): /);
        expect(refused!.message).not.toMatch(/maxRetriesPerRequest|max retries per request/);
      } finally {
        await own.dispose();
      }
    });

    it('a broker whose lease lapsed never appends beside the broker that took the store over', async () => {
      const bucket = await freshBucket('ignoring');
      const { broker: first, link, logged } = await exclusiveBehindLink(bucket);
      await first.log.append(TOPIC, undefined, fakeCommit('while held'));
      link.cut();
      await appendUntil(first.log, 'unavailable', 'cut off');
      // Cut off, the first cannot refresh: its registration expires in Redis and the second may take the store.
      let second: BrokerContext | undefined;
      for (let i = 0; !second; i++) {
        second = await BrokerContext.open({ store: await openS3(bucket), redisUrl: redis.url, topicLogFence: 'off', leaseTtlMs: 600 }).catch(
          (e: unknown) => {
            if (!(e instanceof FailedPreconditionError) || i > 100) throw e;
            return new Promise<undefined>((r) => setTimeout(() => r(undefined), 50));
          },
        );
      }
      contexts.push(second);
      link.restore();
      // The first's next refresh reaches Redis and finds the second there: from then on it is certain to have tried.
      await waitUntil(() => logged.some((m) => /another broker .* already runs on it/.test(m)), 'the first broker to find the second');
      await expect(first.log.append(TOPIC, await first.log.head(TOPIC), fakeCommit('after takeover'))).rejects.toThrow(UnavailableError);
      await second.log.append(TOPIC, await second.log.head(TOPIC), fakeCommit('by the new holder'));
    });
  });

  describe('a claim whose broker died before writing the entry', () => {
    let redis: Redis;
    beforeAll(() => {
      redis = new Redis(REDIS_URL);
    });
    afterAll(async () => {
      await redis.quit();
    });

    async function claimWithoutEntry(ctx: BrokerContext, seq: number, commit: CommitId, parent: CommitId | null): Promise<Buffer> {
      const bytes = Buffer.from(JSON.stringify({ seq, commit, parent, time: new Date().toISOString() }) + '\n');
      await redis.set((ctx.log.fence as RedisFence).claimKey(TOPIC, seq), bytes, 'EX', 600);
      return bytes;
    }

    it('is finished by the next head read, with exactly the claimed bytes', async () => {
      const bucket = await freshBucket('ignoring');
      const [a, b] = [await context(await openS3(bucket)), await context(await openS3(bucket))];
      const first = await a.log.append(TOPIC, undefined, fakeCommit('one'));
      const claimed = await claimWithoutEntry(a, 2, fakeCommit('two'), first.commit);
      expect(await b.log.entry(TOPIC, 2)).toBeUndefined();
      expect(await b.log.head(TOPIC)).toMatchObject({ seq: 2, commit: fakeCommit('two'), parent: first.commit });
      expect(await b.store.get('topic-log/datasets/heart/shared/SEQ/000000000002')).toEqual(claimed);
      expect(await b.log.seqOf(TOPIC, fakeCommit('two'))).toBe(2);
    });

    it('is finished by an append that finds the seq claimed, which then loses the seq', async () => {
      const bucket = await freshBucket('ignoring');
      const [a, b] = [await context(await openS3(bucket)), await context(await openS3(bucket))];
      const first = await a.log.append(TOPIC, undefined, fakeCommit('one'));
      await claimWithoutEntry(a, 2, fakeCommit('claimed'), first.commit);
      await expect(b.log.append(TOPIC, first, fakeCommit('late'))).rejects.toThrow(ConflictError);
      expect(await a.log.entry(TOPIC, 2)).toMatchObject({ commit: fakeCommit('claimed') });
      expect(await b.log.append(TOPIC, await b.log.head(TOPIC), fakeCommit('late'))).toMatchObject({ seq: 3, parent: fakeCommit('claimed') });
    });
  });
});

describe('two brokers on one store that ignores conditions, fenced in Redis', () => {
  let t: TempDir;
  let b1: RunningBroker;
  let b2: RunningBroker;
  let c1: SyncClient;
  let c2: SyncClient;

  beforeAll(async () => {
    t = tempDir();
    const bucket = await freshBucket('ignoring');
    b1 = await startBroker({ store: await openS3(bucket), redisUrl: REDIS_URL, listen: '127.0.0.1:0', pollMs: 200 });
    b2 = await startBroker({ store: await openS3(bucket), redisUrl: REDIS_URL, listen: '127.0.0.1:0', pollMs: 200 });
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

  it('give each seq to exactly one of two racing publishers; the loser gets FAILED_PRECONDITION; every acknowledged commit stays', async () => {
    expect([b1.context.topicLogFence, b2.context.topicLogFence]).toEqual(['redis', 'redis']);
    await racePublishers({ dir: t.dir, topic: TOPIC, clients: [c1, c2], brokers: [b1.context, b2.context], rounds: 5 });
  });
});

describe('the broker app on a store that ignores conditions', () => {
  let t: TempDir;
  let broker: AppProcess | undefined;
  beforeEach(() => {
    t = tempDir();
  });
  afterEach(async () => {
    await broker?.kill();
    broker = undefined;
    t.cleanup();
  });

  it('logs its mode; with the fence off a second broker exits at start-up with one line naming the store and the setting', async () => {
    const bucket = await freshBucket('ignoring');
    broker = await startApp('broker', { ...bucket.env, TRIB_STORE: bucket.url, TRIB_LISTEN: '127.0.0.1:0', TRIB_TOPIC_LOG_FENCE: 'off' });
    await broker.waitFor(/does not enforce conditional writes .*this broker holds the store exclusively/, 5000);
    // Not spawnSync: the proxy in front of s3rver runs in this process and must keep answering.
    const second = await new Promise<{ status: number | null; stderr: string }>((resolve) => {
      const p = spawn(process.execPath, [path.join(ROOT, 'apps/broker/dist/main.js')], {
        env: { ...process.env, ...bucket.env, TRIB_STORE: bucket.url, TRIB_LISTEN: '127.0.0.1:0', TRIB_TOPIC_LOG_FENCE: 'off' },
      });
      let stderr = '';
      p.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
      p.on('close', (status) => resolve({ status, stderr }));
    });
    // A refusal, exit 2, as the CLI's exit codes have it.
    expect(second.status).toBe(2);
    // The AWS SDK may print its own Node-version warning first; the broker's refusal is one line, no stack.
    const lines = second.stderr.split('\n').filter((l) => l.startsWith('broker:'));
    expect(lines).toHaveLength(1);
    expect(second.stderr).not.toMatch(/\n\s+at /);
    expect(lines[0]).toMatch(new RegExp(`^broker: store ${bucket.url} does not enforce conditional writes and another broker .*TRIB_TOPIC_LOG_FENCE`));
  });

  it('kill -9 between claiming a seq and writing its entry: the retried publish finds the claimed entry finished, nothing lost or doubled', async () => {
    const bucket = await freshBucket('ignoring');
    const env = { ...bucket.env, TRIB_STORE: bucket.url, TRIB_LISTEN: '127.0.0.1:0' };
    broker = await startApp('broker', { ...env, TRIB_CRASH_AT: 'sync.fence.after-claim:2' });
    await broker.waitFor(/appends are fenced in Redis/, 5000);
    const { dir: edge, heads } = repoWithRandomBatches(t.dir, 'edge', 3, 50_000);
    const killed = await tribAsync(edge, ['publish', TOPIC, '--json'], { env: { TRIB_BROKER: broker.address } });
    expect(killed.code).toBe(3);
    expect(await broker.kill()).not.toBe(0);

    broker = await startApp('broker', env);
    const brokerEnv = { TRIB_BROKER: broker.address };
    const retry = JSON.parse((await okAsync(edge, ['publish', TOPIC, '--json'], 0, { env: brokerEnv })).stdout);
    expect(retry).toMatchObject({ seqTo: 3, head: heads[2] });
    const lab = path.join(t.dir, 'lab');
    ok(t.dir, ['init', lab]);
    const sub = JSON.parse((await okAsync(lab, ['subscribe', TOPIC, '--as', 'lab', '--json'], 0, { env: brokerEnv })).stdout);
    expect(sub).toMatchObject({ commits: 3, seqFrom: 1, seqTo: 3, head: heads[2] });
    const log = JSON.parse(ok(lab, ['log', `topics/${TOPIC}`, '--json']).stdout);
    expect(log.map((c: { id: string }) => c.id)).toEqual([...heads].reverse());
  });
});
