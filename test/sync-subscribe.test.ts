import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import Redis from 'ioredis';
import { buildTree, CommitId, readTree, TopicName, TreeEntry, UnavailableError, VIEW_TREE_ANNOTATION, writeFileContent } from '@tributary/core';
import { mergeRegionalCommit } from '@tributary/hub';
import { branchRef, collectRepositoryGarbage, commitWorktree, ObjectDatabase, RefStore, Repository, topicRef, verifyRepository } from '@tributary/repository';
import { LocalStore } from '@tributary/storage';
import { MAX_LISTED_SUBSCRIBERS } from '../libs/sync/src/broker/admin.handler';
import { startBroker } from '../libs/sync/src/broker/start-broker';
import { SyncClient } from '../libs/sync/src/client/sync.client';
import { loadTributaryProto } from '../libs/sync/src/wire/proto-loader';
import { TransferReceiver } from '../libs/sync/src/transfer/transfer-receiver';
import {
  appendAndCommit,
  callStatus,
  commitFiles,
  newRepo,
  rawSyncClient,
  REDIS_URL,
  rows,
  startTestBroker,
  tempDir,
  TempDir,
  treeOf,
} from '../libs/sync/src/testing/sync-harness';
import { TcpLink } from './support/tcp-link';
import { waitUntil } from './support/wait';

const TOPIC = 'datasets/heart/eu-azure';

describe('sync: subscribe', () => {
  let t: TempDir;
  let broker: Awaited<ReturnType<typeof startTestBroker>>;
  let client: SyncClient;
  let edge: Repository;
  const commits: CommitId[] = [];

  beforeAll(async () => {
    t = tempDir();
    broker = await startTestBroker(path.join(t.dir, 'broker-store'));
    client = new SyncClient(broker.address);
    edge = await newRepo(path.join(t.dir, 'edge'));
    commits.push(await commitFiles(edge, { 'ecg.csv': rows(300_000, 1), 'notes/readme.txt': 'heart monitor batches\n' }));
    commits.push(await appendAndCommit(edge, { 'ecg.csv': rows(3_000, 2) }));
    commits.push(await commitFiles(edge, { 'batches/2026-11-24/b3.csv': rows(20_000, 3) }));
    await client.publish(edge, TOPIC);
  });
  afterAll(async () => {
    client?.close();
    await edge?.close();
    await broker?.close();
    t?.cleanup();
  });

  /** HaveQuery messages each received entry took, in order, until `spy.mockRestore()`. */
  function countQuestionsPerEntry(): { questions: number[]; spy: jest.SpyInstance } {
    const receive = TransferReceiver.prototype.receiveCommit;
    const questions: number[] = [];
    const spy = jest.spyOn(TransferReceiver.prototype, 'receiveCommit');
    spy.mockImplementation(async function (this: TransferReceiver) {
      const got = await receive.call(this);
      questions.push(got.stats.haveQueries);
      return got;
    });
    return { questions, spy };
  }

  async function cursorOf(name: string): Promise<number | undefined> {
    const topic = (await client.listTopics()).find((x) => x.topic === TOPIC);
    return topic?.subscribers.find((s) => s.name === name)?.cursor;
  }

  it('delivers every commit in order, moves refs/topics/<topic>, and sends only what is missing', async () => {
    const hub = await newRepo(path.join(t.dir, 'hub'));
    try {
      const seen: { seq: number; commit: CommitId; held: boolean }[] = [];
      const progress: number[] = [];
      const r = await client.subscribe(hub, TOPIC, 'hub', {
        onEntry: async (e) => {
          seen.push({ ...e, held: (await ObjectDatabase.open(hub.store)).has(e.commit) });
        },
        onProgress: (bytes) => progress.push(bytes),
      });
      // Progress counts the payload received across all entries, never backwards, ending at the total.
      expect(progress.length).toBeGreaterThan(1);
      expect(progress.every((b, i) => i === 0 || b >= progress[i - 1])).toBe(true);
      expect(progress[progress.length - 1]).toBe(r.wireBytes);
      expect(seen.map((e) => e.seq)).toEqual([1, 2, 3]);
      expect(seen.map((e) => e.commit)).toEqual(commits);
      // onEntry runs once the objects are durable (a fresh open sees them); the ref has moved by the end.
      expect(seen.map((e) => e.held)).toEqual([true, true, true]);
      expect((await hub.refs.resolve(topicRef(TOPIC))).commit).toBe(commits[2]);
      expect(r).toMatchObject({ topic: TOPIC, commits: 3, seqFrom: 1, seqTo: 3, head: commits[2] });
      expect(r.datasetBytes).toBe(300_000 + 3_000 + 22 + 20_000);
      // The first entry carries the dataset; the append travels as roughly its own bytes.
      expect(r.wireBytes).toBeLessThan(300_000 + 3_000 + 20_000 + 22 + 8 * 1024);
      expect(await treeOf(hub, commits[2])).toEqual(await treeOf(edge, commits[2]));
      expect(await cursorOf('hub')).toBe(3);

      // Caught up: nothing travels, the cursor is the answer.
      const again = await client.subscribe(hub, TOPIC, 'hub');
      expect(again).toMatchObject({ commits: 0, seqFrom: 3, seqTo: 3, head: commits[2], wireBytes: 0 });

      commits.push(await appendAndCommit(edge, { 'ecg.csv': rows(5_000, 4) }));
      const pub = await client.publish(edge, TOPIC);
      const next = await client.subscribe(hub, TOPIC, 'hub');
      expect(next).toMatchObject({ commits: 1, seqFrom: 4, seqTo: 4, head: commits[3] });
      expect(next.wireBytes).toBeLessThan(5_000 + 4 * 1024);
      expect(next.wireBytes).toBeLessThanOrEqual(pub.wireBytes + 1024);
    } finally {
      await hub.close();
    }
  });

  it("reports its own store failing while it applies an entry as that store's failure, not as the broker going away", async () => {
    const hub = await newRepo(path.join(t.dir, 'hub-store-down'));
    const links: { down?: Error }[] = [];
    const attempts = jest.spyOn(client as unknown as { subscribeOnce: () => Promise<void> }, 'subscribeOnce');
    try {
      const down = new UnavailableError(`cannot read refs/heads/main in ${hub.store.url}: no answer from the endpoint`, { url: hub.store.url });
      const following = client.subscribe(hub, TOPIC, 'store-down', {
        follow: true,
        onEntry: async () => {
          throw down;
        },
        onLinkChange: (change) => links.push(change),
      });
      await expect(following).rejects.toThrow(down);
      expect(links.filter((change) => change.down)).toEqual([]); // never "the broker is unavailable"
      expect(attempts).toHaveBeenCalledTimes(1);
    } finally {
      attempts.mockRestore();
      await hub.close();
    }
  });

  /**
   * A repository holding every entry's objects from an earlier subscribe, reachable from nothing (its topic ref
   * deleted), and `during`, which runs a call while a gc with grace 0 in another working copy of its store runs
   * right after that call receives its first entry (before anything durable names it).
   */
  async function heldThenCollected(name: string) {
    const repo = await newRepo(path.join(t.dir, name));
    const other = await Repository.init(path.join(t.dir, `${name}-other`), { storeUrl: repo.store.url });
    const once = await client.subscribe(repo, TOPIC, `${name}-once`);
    const ref = (await repo.refs.read(topicRef(TOPIC as TopicName)))!;
    await repo.refs.delete(topicRef(TOPIC as TopicName), ref.version);
    const during = async <T>(call: () => Promise<T>): Promise<{ result: T; freed: number }> => {
      const receive = TransferReceiver.prototype.receiveCommit;
      let freed = 0;
      const spy = jest.spyOn(TransferReceiver.prototype, 'receiveCommit').mockImplementationOnce(async function (this: TransferReceiver) {
        const got = await receive.call(this);
        freed = (await collectRepositoryGarbage(other, { graceMs: 0 })).deletedObjects;
        return got;
      });
      try {
        return { result: await call(), freed };
      } finally {
        spy.mockRestore();
      }
    };
    /** verify --read-data's damage, in a fresh open of the repository. */
    const damage = async () => {
      const fresh = await Repository.open(repo.workdir);
      try {
        return (await verifyRepository(fresh, { readData: true })).damage;
      } finally {
        await fresh.close();
      }
    };
    const close = async () => {
      await other.close();
      await repo.close();
    };
    return { repo, once, during, damage, close };
  }

  it('fetches an entry again when a gc in another working copy deletes held objects it relied on, before its ref names them', async () => {
    const { repo: sub, once, during, damage, close } = await heldThenCollected('gc-race');
    try {
      // Another name fetches them again: the subscriber refers to what it holds, and the gc deletes it.
      const downs: unknown[] = [];
      const { result: r, freed } = await during(() => client.subscribe(sub, TOPIC, 'gc-race-again', { onLinkChange: (c) => c.down && downs.push(c.down) }));
      expect(freed).toBeGreaterThan(0);
      // Fetched again at once, not taken for the broker going away.
      expect(downs).toEqual([]);
      expect(r).toMatchObject({ commits: once.commits, seqFrom: 1, seqTo: once.seqTo, head: once.head });
      // The gc took everything: every entry came again whole, and the repository holds every byte the ref names.
      expect(r.wireBytes).toBe(once.wireBytes);
      expect(await damage()).toEqual([]);
    } finally {
      await close();
    }
  });

  it('merges an entry again, as a hub does, when a gc in another working copy deletes what it relied on before main names it', async () => {
    const { repo: hub, once, during, damage, close } = await heldThenCollected('gc-race-hub');
    try {
      // The hub's way: received objects are flushed by the merge, which then moves main.
      const merged: number[] = [];
      const downs: unknown[] = [];
      const { result: r, freed } = await during(() =>
        client.subscribe(hub, TOPIC, 'gc-race-hub-again', {
          onLinkChange: (c) => c.down && downs.push(c.down),
          entryMakesDurable: true,
          onEntry: async (e) => {
            const outcome = await mergeRegionalCommit(hub, { commit: e.commit, region: 'eu-azure', topic: TOPIC, seq: e.seq }, { layout: 'graft' });
            if (outcome.kind === 'merged') merged.push(e.seq);
          },
        }),
      );
      expect(freed).toBeGreaterThan(0);
      expect(downs).toEqual([]);
      expect(r).toMatchObject({ commits: once.commits, seqTo: once.seqTo, head: once.head });
      expect(merged).toEqual(Array.from({ length: once.seqTo }, (_, i) => i + 1));
      // Everything the gc took came again, and main names only what the store holds.
      expect(r.wireBytes).toBe(once.wireBytes);
      expect(await hub.refs.read(branchRef('main'))).toBeDefined();
      expect(await damage()).toEqual([]);
    } finally {
      await close();
    }
  });

  it("logs a following subscription its own stop ends as ended by the stop, not by the peer", async () => {
    const lines: string[] = [];
    const store = await LocalStore.open(path.join(t.dir, 'stopping-store'), { create: true });
    const own = await startBroker({ store, redisUrl: REDIS_URL, listen: '127.0.0.1:0', pollMs: 200, log: (_level, message) => lines.push(message) });
    const ownClient = new SyncClient(own.address, { retries: 0, retryDelayMs: 10 });
    const sub = await newRepo(path.join(t.dir, 'stop-watcher'));
    const abort = new AbortController();
    let following: Promise<unknown> | undefined;
    try {
      const published = await ownClient.publish(edge, TOPIC);
      let got = 0;
      following = ownClient.subscribe(sub, TOPIC, 'stop-watcher', { follow: true, signal: abort.signal, onEntry: async () => void got++ }).catch((e: unknown) => e);
      await waitUntil(() => got === published.commits, 'every entry delivered');
      await own.close();
      expect(lines).toContain(`subscribe ${TOPIC} as stop-watcher: ended as the broker stops`);
      expect(lines.filter((l) => l.includes('ended by the peer'))).toEqual([]);
    } finally {
      abort.abort();
      await following;
      ownClient.close();
      await own.close();
      await sub.close();
    }
  });

  it('moves refs/topics/<topic> with one swap per entry, reading it again only after another writer', async () => {
    const node = await newRepo(path.join(t.dir, 'ref-writes'));
    try {
      const isTopicRef = (key: string) => key === `refs/topics/${TOPIC}/TIP`;
      const reads = jest.spyOn(node.store, 'readVersioned');
      const swaps = jest.spyOn(node.store, 'compareAndSwap');
      const all = await client.subscribe(node, TOPIC, 'ref-writes');
      expect(all.commits).toBe(commits.length);
      expect(reads.mock.calls.filter(([key]) => isTopicRef(key))).toHaveLength(1);
      expect(swaps.mock.calls.filter(([key]) => isTopicRef(key))).toHaveLength(commits.length);
      expect((await node.refs.resolve(topicRef(TOPIC))).commit).toBe(commits[commits.length - 1]);

      // Another writer (another process: its own RefStore on the same store) moves the ref while entry 2 is
      // applied: the swap from the version this repository wrote fails, so it reads the ref and swaps again, and
      // the ref still ends at the newest entry.
      reads.mockClear();
      swaps.mockClear();
      const other = new RefStore(node.store);
      const moved = await client.subscribe(node, TOPIC, 'ref-writes-2', {
        entryMakesDurable: true,
        onEntry: async (e) => {
          await node.objects.flush();
          if (e.seq !== 2) return;
          const current = await other.read(topicRef(TOPIC));
          await other.update(topicRef(TOPIC), current!.version, { commit: commits[2] });
        },
      });
      expect(moved.commits).toBe(commits.length);
      // This test's own read and the read after the failed swap: the first entry swaps from what the previous
      // call wrote, without a read.
      expect(reads.mock.calls.filter(([key]) => isTopicRef(key))).toHaveLength(2);
      expect((await node.refs.resolve(topicRef(TOPIC))).commit).toBe(commits[commits.length - 1]);
    } finally {
      await node.close();
    }
  });

  it('redelivers an entry that was never acknowledged, and applying it twice changes nothing', async () => {
    const node = await newRepo(path.join(t.dir, 'node'));
    try {
      // A subscriber that receives entry 1 and hangs up without acking.
      const raw = rawSyncClient(broker.address);
      const call = raw.Subscribe();
      const status = callStatus(call);
      call.write({ start: { topic: TOPIC, subscriber: 'flaky', fromSeq: 0, latest: false, follow: false } });
      let sawEntry = false;
      await new Promise<void>((resolve) => {
        call.on('data', (m: { body: string; haveQuery?: { ids: Buffer } }) => {
          if (m.body === 'entry') sawEntry = true;
          if (m.body === 'haveQuery') call.write({ haveReply: { missing: Buffer.alloc(Math.ceil(m.haveQuery!.ids.length / 32 / 8), 0) } });
          if (m.body === 'commitEnd') {
            call.end();
            resolve();
          }
        });
      });
      await status;
      raw.close();
      expect(sawEntry).toBe(true);
      expect(await cursorOf('flaky')).toBe(0);

      const r = await client.subscribe(node, TOPIC, 'flaky');
      expect(r).toMatchObject({ commits: 4, seqFrom: 1, seqTo: 4 });
      expect(await cursorOf('flaky')).toBe(4);

      // --from is inclusive and resets the cursor: entries 2..4 again, and the repository ends where it was.
      const before = await node.refs.resolve(topicRef(TOPIC));
      const replay = await client.subscribe(node, TOPIC, 'flaky', { from: 2 });
      expect(replay).toMatchObject({ commits: 3, seqFrom: 2, seqTo: 4, head: commits[3], wireBytes: 0 });
      expect((await node.refs.resolve(topicRef(TOPIC))).commit).toBe(before.commit);
      expect(await cursorOf('flaky')).toBe(4);
    } finally {
      await node.close();
    }
  });

  it('counts an entry delivered again after its ack was lost once', async () => {
    const node = await newRepo(path.join(t.dir, 'node-once'));
    try {
      let dropped = false;
      const r = await client.subscribe(node, TOPIC, 'once', {
        // Entry 2's ack is lost with the broker's last cursor write, and the link drops during entry 3: entry 2
        // comes again on the next call.
        onEntry: async ({ seq }) => {
          if (seq === 3 && !dropped) {
            dropped = true;
            await broker.context.cursors.reset(TOPIC as TopicName, 'once' as never, 1);
            throw new UnavailableError('link dropped');
          }
        },
      });
      expect(dropped).toBe(true);
      expect(r).toMatchObject({ commits: commits.length, seqFrom: 1, seqTo: commits.length });
    } finally {
      await node.close();
    }
  });

  it("a second repository subscribing under a name another one used gets what it lacks, not what the name's cursor says", async () => {
    const first = await newRepo(path.join(t.dir, 'laptop-1'));
    const second = await newRepo(path.join(t.dir, 'laptop-2'));
    try {
      const r1 = await client.subscribe(first, TOPIC, 'alice');
      expect(r1).toMatchObject({ seqFrom: 1, seqTo: 4 });
      // A fresh clone under the same name: as git fetch, it gets every entry.
      const r2 = await client.subscribe(second, TOPIC, 'alice');
      expect(r2).toMatchObject({ commits: 4, seqFrom: 1, seqTo: 4, head: commits[3] });
      expect((await second.refs.resolve(topicRef(TOPIC))).commit).toBe(commits[3]);
      // The name's cursor stays where the first left it; a repository that holds everything gets nothing again.
      expect(await cursorOf('alice')).toBe(4);
      expect(await client.subscribe(first, TOPIC, 'alice')).toMatchObject({ commits: 0, seqTo: 4 });
      // One that holds only the first entry gets the rest.
      const third = await newRepo(path.join(t.dir, 'laptop-3'));
      try {
        await client.subscribe(third, TOPIC, 'bob', { from: 1 });
        const ref = await third.refs.readForSwap(topicRef(TOPIC));
        await third.refs.update(topicRef(TOPIC), ref!.version, { commit: commits[0] });
        expect(await client.subscribe(third, TOPIC, 'alice')).toMatchObject({ commits: 3, seqFrom: 2, seqTo: 4 });
      } finally {
        await third.close();
      }
    } finally {
      await first.close();
      await second.close();
    }
  });

  it('refuses an ack of an entry not delivered in this call: before its commit_end, or at or below the start', async () => {
    /** Starts a call from `fromSeq` and sends `ack` once the first message of body `when` arrives. */
    const ackAt = async (subscriber: string, fromSeq: number, when: string, ack: { seq: number; conflict?: string }) => {
      const raw = rawSyncClient(broker.address);
      try {
        const call = raw.Subscribe();
        const status = callStatus(call);
        call.write({ start: { topic: TOPIC, subscriber, fromSeq, latest: false, follow: false } });
        call.on('data', (m: { body: string; haveQuery?: { ids: Buffer } }) => {
          if (m.body === when) call.write({ ack });
          else if (m.body === 'haveQuery') call.write({ haveReply: { missing: Buffer.alloc(Math.ceil(m.haveQuery!.ids.length / 32 / 8), 0) } });
        });
        return await status;
      } finally {
        raw.close();
      }
    };
    // The subscriber cannot hold entry 1 yet: the broker has only asked what it lacks.
    const early = await ackAt('acks-early', 1, 'haveQuery', { seq: 1 });
    expect([early.code, early.details]).toEqual([grpc.status.INVALID_ARGUMENT, 'ack of seq 1, which was not delivered in this call']);
    expect(await cursorOf('acks-early')).toBe(0);
    // A call from seq 3 delivered nothing below it, so an ack of seq 2 (with or without a note) is refused.
    const conflicts = broker.context.cursors;
    await conflicts.advance(TOPIC as TopicName, 'acks-low' as never, 2, 'kept aside: a real conflict');
    const low = await ackAt('acks-low', 3, 'commitEnd', { seq: 2, conflict: 'forged note' });
    expect([low.code, low.details]).toEqual([grpc.status.INVALID_ARGUMENT, 'ack of seq 2, which was not delivered in this call']);
    const topic = (await client.listTopics()).find((x) => x.topic === TOPIC)!;
    expect(JSON.stringify(topic)).toContain('kept aside: a real conflict');
    expect(JSON.stringify(topic)).not.toContain('forged note');
  });

  it('refuses a have-reply to no have-query, which it would otherwise keep until the call ends', async () => {
    // A follower with nothing to fetch: the broker asks it nothing.
    const next = (await client.listTopics()).find((x) => x.topic === TOPIC)!.seq + 1;
    const raw = rawSyncClient(broker.address);
    try {
      const call = raw.Subscribe();
      const status = callStatus(call);
      call.write({ start: { topic: TOPIC, subscriber: 'unasked', fromSeq: next, latest: false, follow: true } });
      call.on('data', (m: { body: string }) => {
        if (m.body === 'state') call.write({ haveReply: { missing: Buffer.alloc(4 << 20) } });
      });
      const r = await status;
      expect([r.code, r.details]).toEqual([grpc.status.INVALID_ARGUMENT, 'a have-reply to no have-query']);
    } finally {
      raw.close();
    }
  });

  it('clears with an ack the notes of the seqs it settles, and refuses an ack settling a seq below 1', async () => {
    const node = await newRepo(path.join(t.dir, 'settler'));
    const raw = rawSyncClient(broker.address);
    const notes = async () => (await client.listTopics()).find((x) => x.topic === TOPIC)!.subscribers.find((s) => s.name === 'settler')!.conflicts;
    try {
      await client.subscribe(node, TOPIC, 'settler', { onEntry: async (e) => (e.seq <= 2 ? { conflict: `conflicts/eu-azure/${e.seq}` } : undefined) });
      expect((await notes()).map((c) => c.seq)).toEqual([1, 2]);
      await client.subscribe(node, TOPIC, 'settler', { from: 3, onEntry: async (e) => ({ settled: e.seq === 3 ? [1] : [] }) });
      expect(await notes()).toEqual([{ seq: 2, note: 'conflicts/eu-azure/2' }]);

      const call = raw.Subscribe();
      const status = callStatus(call);
      call.write({ start: { topic: TOPIC, subscriber: 'settler', fromSeq: 3, latest: false, follow: false } });
      call.on('data', (m: { body: string; haveQuery?: { ids: Buffer } }) => {
        if (m.body === 'commitEnd') call.write({ ack: { seq: 3, settled: [2, 0] } });
        else if (m.body === 'haveQuery') call.write({ haveReply: { missing: Buffer.alloc(Math.ceil(m.haveQuery!.ids.length / 32 / 8), 0) } });
      });
      const refused = await status;
      expect([refused.code, refused.details]).toEqual([grpc.status.INVALID_ARGUMENT, 'bad settled sequence number 0']);
      expect(await notes()).toEqual([{ seq: 2, note: 'conflicts/eu-azure/2' }]);
    } finally {
      raw.close();
      await node.close();
    }
  });

  it('never moves a cursor back on a late ack (Lua max), only on an explicit --from', async () => {
    const topic = TOPIC as TopicName;
    const cursors = broker.context.cursors;
    await cursors.advance(topic, 'late' as never, 4);
    expect(await cursors.advance(topic, 'late' as never, 2)).toBe(4);
    expect(await cursorOf('late')).toBe(4);
  });

  it.each([
    ['is not a number', 'junk', '"junk"', () => 'is not a sequence number'],
    ['is past the head', '500', '"500"', (head: number) => `is past the head of ${TOPIC} (seq ${head})`],
    ['is a key of another type', 'list', 'a list', () => 'is not a sequence number'],
  ])('reads a stored cursor that %s as 0 everywhere: the topics listing, the subscribe (logged once), then the acks overwrite it', async (_what, stored, held, problem) => {
    const name = `healer-${stored}`;
    const key = broker.context.cursors.cursorKey(TOPIC as TopicName, name as never);
    const redis = new Redis(REDIS_URL);
    const node = await newRepo(path.join(t.dir, name));
    const logged = jest.spyOn(broker.context, 'logger');
    try {
      await client.subscribe(node, TOPIC, name);
      if (stored === 'list') await redis.multi().del(key).rpush(key, '5').exec();
      else await redis.set(key, stored);
      const listed = (await client.listTopics()).find((x) => x.topic === TOPIC)!;
      const head = listed.seq;
      expect(listed.subscribers.find((s) => s.name === name)).toMatchObject({ cursor: 0, lag: head });
      // Nothing acknowledged: the subscriber gets the topic again (it holds it all, so nothing travels).
      expect(await client.subscribe(node, TOPIC, name)).toMatchObject({ commits: head, seqFrom: 1, seqTo: head, wireBytes: 0 });
      expect(await redis.get(key)).toBe(String(head));
      expect(await cursorOf(name)).toBe(head);
      expect(logged.mock.calls.filter(([, m]) => m.includes(key))).toEqual([
        [
          'warn',
          `cursor ${key} held ${held}, which ${problem(head)}: read as 0 (nothing acknowledged), so ${name} gets ${TOPIC} again from seq 1 and its acks overwrite it`,
        ],
      ]);
      expect(await client.subscribe(node, TOPIC, name)).toMatchObject({ commits: 0, seqTo: head });
    } finally {
      logged.mockRestore();
      await node.close();
      await redis.quit();
    }
  });

  it('refuses --from past the next entry, which would skip entries yet to come, and leaves the cursor', async () => {
    const topic = `datasets/heart/from-past-${Date.now()}`;
    const other = await newRepo(path.join(t.dir, 'from-past-edge'));
    const node = await newRepo(path.join(t.dir, 'from-past'));
    try {
      await commitFiles(other, { 'a.csv': rows(10, 1) });
      await client.publish(other, topic);
      await client.subscribe(node, topic, 'ahead');
      await expect(client.subscribe(node, topic, 'ahead', { from: 3 })).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
        message: expect.stringMatching(/^cannot start at seq 3: the next entry of .* will be seq 2$/),
      });
      const topicInfo = (await client.listTopics()).find((x) => x.topic === topic)!;
      expect(topicInfo.subscribers.find((s) => s.name === 'ahead')?.cursor).toBe(1);
      // The next entry itself may be named: nothing to fetch yet, and it comes once published.
      expect(await client.subscribe(node, topic, 'ahead', { from: 2 })).toMatchObject({ commits: 0 });
      await appendAndCommit(other, { 'a.csv': rows(5, 2) });
      await client.publish(other, topic);
      expect(await client.subscribe(node, topic, 'ahead')).toMatchObject({ commits: 1, seqFrom: 2, seqTo: 2 });
    } finally {
      await other.close();
      await node.close();
    }
  });

  it('starts a `latest` subscriber at the head entry, then follows new entries until stopped', async () => {
    const node = await newRepo(path.join(t.dir, 'follower'));
    const abort = new AbortController();
    const seen: number[] = [];
    try {
      const following = client.subscribe(node, TOPIC, 'inference-1', {
        from: 'latest',
        follow: true,
        signal: abort.signal,
        onEntry: async (e) => {
          seen.push(e.seq);
          if (e.seq === 6) abort.abort();
        },
      });
      // The head entry (seq 4) comes at once: a node serving the latest version has it from the start.
      await waitUntil(async () => (await cursorOf('inference-1')) === 4);
      expect(seen).toEqual([4]);
      commits.push(await appendAndCommit(edge, { 'ecg.csv': rows(1_000, 5) }));
      await client.publish(edge, TOPIC);
      commits.push(await appendAndCommit(edge, { 'ecg.csv': rows(1_000, 6) }));
      await client.publish(edge, TOPIC);
      const r = await following;
      expect(seen).toEqual([4, 5, 6]);
      expect(r).toMatchObject({ commits: 3, seqFrom: 4, seqTo: 6, head: commits[5] });
      expect(await cursorOf('inference-1')).toBe(6);
    } finally {
      abort.abort();
      await node.close();
    }
  });

  it('keeps a `latest` start: later calls under the name bring what came after the head, never the entries before it', async () => {
    const node = await newRepo(path.join(t.dir, 'latest-then-plain'));
    try {
      const head = (await client.listTopics()).find((x) => x.topic === TOPIC)!;
      const first = await client.subscribe(node, TOPIC, 'skipper', { from: 'latest' });
      expect(first).toMatchObject({ commits: 1, seqFrom: head.seq, seqTo: head.seq, head: head.head });
      // Before, the repository held nothing of the topic, so the next call brought every entry from seq 1.
      expect(await client.subscribe(node, TOPIC, 'skipper')).toMatchObject({ commits: 0, seqTo: head.seq, head: head.head });
      // Asked again while it holds the head, `latest` brings nothing, and moves no cursor back.
      expect(await client.subscribe(node, TOPIC, 'skipper', { from: 'latest' })).toMatchObject({ commits: 0, head: head.head, wireBytes: 0 });
      expect(await cursorOf('skipper')).toBe(head.seq);
      commits.push(await appendAndCommit(edge, { 'ecg.csv': rows(1_000, commits.length + 1) }));
      await client.publish(edge, TOPIC);
      const next = await client.subscribe(node, TOPIC, 'skipper');
      expect(next).toMatchObject({ commits: 1, seqFrom: head.seq + 1, seqTo: head.seq + 1, head: commits[commits.length - 1] });
    } finally {
      await node.close();
    }
  });

  it("carries the view tree a hub merge names (trib.view) with its commit, so the copy verifies and holds the view", async () => {
    const hubLike = await newRepo(path.join(t.dir, 'hub-like'));
    const copy = await newRepo(path.join(t.dir, 'hub-copy'));
    const topic = 'datasets/heart/main-with-views';
    try {
      await commitFiles(hubLike, { 'ecg.csv': rows(2_000, 1) });
      // A view holding a file the commit's tree does not (a version of it main held back), and one it shares.
      const heldBack = await writeFileContent(hubLike.objects, [Buffer.from(rows(500, 9))]);
      const shared = await treeOf(hubLike, (await hubLike.head()).commit!);
      const view = await buildTree(hubLike.objects, [
        shared['ecg.csv'],
        { name: 'held.csv', kind: 'file', executable: false, ...heldBack },
      ]);
      await hubLike.objects.flush();
      writeFileSync(path.join(hubLike.workdir, 'ecg.csv'), rows(2_100, 1));
      const merge = await commitWorktree(hubLike, { message: 'merge', author: 'hub', now: new Date(), annotations: { [VIEW_TREE_ANNOTATION]: view.id } });
      await client.publish(hubLike, topic, merge.commit!);
      await client.subscribe(copy, topic, 'copier');
      expect(await copy.refs.resolve(topicRef(topic as TopicName))).toMatchObject({ commit: merge.commit });
      const viewInCopy = await (async () => {
        const out: Record<string, TreeEntry> = {};
        for await (const e of readTree(copy.objects, view.id)) out[e.name] = e;
        return out;
      })();
      expect(viewInCopy['held.csv']).toMatchObject({ id: heldBack.id, size: heldBack.size });
      expect((await copy.objects.get(heldBack.id)).toString()).toBe(rows(500, 9));
      expect((await verifyRepository(copy, { readData: true })).damage).toEqual([]);
    } finally {
      await copy.close();
      await hubLike.close();
    }
  });

  it('lists one topic when asked, and refuses a name that is no topic name', async () => {
    expect((await client.listTopics(TOPIC)).map((x) => x.topic)).toEqual([TOPIC]);
    expect(await client.listTopics('datasets/none/here')).toEqual([]);
    const admin = new (loadTributaryProto().tributary.v1.AdminService)(broker.address, grpc.credentials.createInsecure());
    try {
      const e = await new Promise<grpc.ServiceError | null>((resolve) => admin.ListTopics({ topic: '../x' }, (err) => resolve(err)));
      expect(e?.code).toBe(grpc.status.INVALID_ARGUMENT);
    } finally {
      admin.close();
    }
  });

  it('lists at most MAX_LISTED_SUBSCRIBERS of a topic, and fewer past its byte budget, counting the rest', async () => {
    const node = await newRepo(path.join(t.dir, 'crowded-edge'));
    const topic = 'datasets/heart/crowded' as TopicName;
    try {
      await commitFiles(node, { 'a.csv': rows(10, 1) });
      await client.publish(node, topic);
      const cursors = broker.context.cursors;
      const names = Array.from({ length: MAX_LISTED_SUBSCRIBERS + 1 }, (_, i) => `s${String(i).padStart(5, '0')}` as never);
      for (let i = 0; i < names.length; i += 100) await Promise.all(names.slice(i, i + 100).map((n) => cursors.register(topic, n)));
      let [info] = await client.listTopics(topic);
      expect(info.subscribers).toHaveLength(MAX_LISTED_SUBSCRIBERS);
      expect(info.subscribers[0].name).toBe('s00000');
      expect(info.subscribersOmitted).toBe(1);
      // Notes of 1,000 characters, 100 of them on each of the first 60 subscribers: 6 MB, more than an answer holds.
      for (const n of names.slice(0, 60)) {
        for (let seq = 1; seq <= 100; seq += 10) await Promise.all(Array.from({ length: 10 }, (_, k) => cursors.advance(topic, n, seq + k, 'x'.repeat(1000))));
      }
      [info] = await client.listTopics(topic);
      expect(info.subscribers.length).toBeGreaterThan(0);
      expect(info.subscribers.length).toBeLessThan(60);
      expect(info.subscribers.length + info.subscribersOmitted).toBe(names.length);
      expect((await client.listTopics()).length).toBeGreaterThan(1);
    } finally {
      await node.close();
    }
  });

  it('waits for a topic that does not exist yet when following', async () => {
    const node = await newRepo(path.join(t.dir, 'waiter'));
    const other = await newRepo(path.join(t.dir, 'late-edge'));
    const abort = new AbortController();
    try {
      const following = client.subscribe(node, 'models/ecg', 'waiter', {
        follow: true,
        signal: abort.signal,
        onEntry: async () => abort.abort(),
      });
      await new Promise((r) => setTimeout(r, 300));
      const c = await commitFiles(other, { 'model.bin': Buffer.alloc(1000, 1) });
      await client.publish(other, 'models/ecg');
      expect(await following).toMatchObject({ commits: 1, seqFrom: 1, seqTo: 1, head: c });
    } finally {
      abort.abort();
      await node.close();
      await other.close();
    }
  });

  it('lets a fast subscriber finish while a slow one reads nothing', async () => {
    const big = await newRepo(path.join(t.dir, 'big-edge'));
    const topic = 'datasets/big';
    try {
      await commitFiles(big, { 'a.bin': rows(6_000_000, 11), 'b.bin': rows(6_000_000, 12) });
      await client.publish(big, topic);
      // The slow subscriber (own connection, default 64 KiB window) says it lacks everything, then stops reading:
      // the broker's writes to it block on flow control, and must block that call alone.
      const raw = rawSyncClient(broker.address, { 'grpc.max_receive_message_length': 8 << 20 });
      const slow = raw.Subscribe();
      slow.on('error', () => undefined);
      slow.write({ start: { topic, subscriber: 'slow', fromSeq: 0, latest: false, follow: false } });
      let objectsSeen = 0;
      slow.on('data', (m: { body: string; haveQuery?: { ids: Buffer } }) => {
        if (m.body === 'haveQuery') slow.write({ haveReply: { missing: Buffer.alloc(Math.ceil(m.haveQuery!.ids.length / 32 / 8), 0xff) } });
        if (m.body === 'objects' && ++objectsSeen === 1) slow.pause();
      });
      await waitUntil(async () => objectsSeen >= 1);

      const fast = await newRepo(path.join(t.dir, 'fast'));
      try {
        const r = await client.subscribe(fast, topic, 'fast');
        expect(r).toMatchObject({ commits: 1, seqTo: 1 });
        expect(r.datasetBytes).toBe(12_000_000);
      } finally {
        await fast.close();
      }
      expect(objectsSeen).toBe(1);
      slow.cancel();
      raw.close();
    } finally {
      await big.close();
    }
  });

  it('asks one question per entry after the first in a call: the commit together with its changes', async () => {
    const hub = await newRepo(path.join(t.dir, 'one-question'));
    const { questions, spy } = countQuestionsPerEntry();
    try {
      const r = await client.subscribe(hub, TOPIC, 'one-question');
      expect(r.commits).toBeGreaterThanOrEqual(3);
      expect(questions).toHaveLength(r.commits);
      // Each later entry builds on the one just delivered: no separate question about the commit and its base.
      expect(questions.slice(1)).toEqual(new Array(r.commits - 1).fill(1));
      expect(await treeOf(hub, r.head!)).toEqual(await treeOf(edge, r.head!));
    } finally {
      spy.mockRestore();
      await hub.close();
    }
  });

  it('asks one question for the first entry of a call too, when the subscriber holds the entry before it', async () => {
    const topic = 'datasets/heart/held-hint';
    const source = await newRepo(path.join(t.dir, 'held-source'));
    const node = await newRepo(path.join(t.dir, 'held-node'));
    const { questions, spy } = countQuestionsPerEntry();
    try {
      await commitFiles(source, { 'ecg.csv': rows(50_000, 11) });
      await client.publish(source, topic);
      await client.subscribe(node, topic, 'held');
      const next = await appendAndCommit(source, { 'ecg.csv': rows(2_000, 12) });
      await client.publish(source, topic);
      questions.length = 0;
      // SubscribeStart.held names refs/topics/<topic>, entry 1: entry 2, built on it, needs no question of its own.
      const r = await client.subscribe(node, topic, 'held');
      expect(r).toMatchObject({ commits: 1, seqFrom: 2, seqTo: 2, head: next });
      expect(questions).toEqual([1]);
      expect(await treeOf(node, next)).toEqual(await treeOf(source, next));
    } finally {
      spy.mockRestore();
      await node.close();
      await source.close();
    }
  });

  it('refuses a start from a seq and at the latest entry at once, rather than pick one', async () => {
    const raw = rawSyncClient(broker.address);
    try {
      const call = raw.Subscribe();
      const status = callStatus(call);
      call.write({ start: { topic: TOPIC, subscriber: 'both', fromSeq: 2, latest: true, follow: false } });
      const s = await status;
      expect([s.code, s.details]).toEqual([grpc.status.INVALID_ARGUMENT, 'a subscribe starts from a seq or at the latest entry, not both']);
    } finally {
      raw.close();
    }
  });

  it('refuses a held commit that is not a commit id with INVALID_ARGUMENT', async () => {
    const raw = rawSyncClient(broker.address);
    try {
      const call = raw.Subscribe();
      const status = callStatus(call);
      const start = { topic: TOPIC, subscriber: 'bad-held', fromSeq: 0, latest: false, follow: false, held: 'HEAD' };
      call.write({ start });
      const s = await status;
      expect(s.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(s.details).toMatch(/bad held commit id "HEAD"/);
    } finally {
      raw.close();
    }
  });

  it('keeps nested topics apart in one repository: topics/<a> and topics/<a>/<b> both work as refs', async () => {
    const outer = 'datasets/heart';
    const other = await newRepo(path.join(t.dir, 'edge-outer'));
    const hub = await newRepo(path.join(t.dir, 'nested-hub'));
    try {
      const outerHead = await commitFiles(other, { 'summary.csv': rows(2_000, 9) });
      await client.publish(other, outer);
      await client.subscribe(hub, TOPIC, 'nested-hub');
      await client.subscribe(hub, outer, 'nested-hub');
      const innerHead = (await client.listTopics()).find((x) => x.topic === TOPIC)!.head;
      expect((await hub.refs.read(topicRef(TOPIC)))?.target).toEqual({ commit: innerHead });
      expect((await hub.refs.read(topicRef(outer)))?.target).toEqual({ commit: outerHead });
      expect(Object.keys(await treeOf(hub, outerHead))).toEqual(['summary.csv']);
    } finally {
      await other.close();
      await hub.close();
    }
  });

  it('with entryMakesDurable leaves the flush to onEntry, and still flushes before the topic ref moves and the ack', async () => {
    const dir = path.join(t.dir, 'deferred');
    const repo = await newRepo(dir);
    const durableAtEntry: boolean[] = [];
    try {
      const r = await client.subscribe(repo, TOPIC, 'deferred-flush', {
        entryMakesDurable: true,
        onEntry: async (e) => {
          const fresh = await Repository.open(dir);
          durableAtEntry.push(fresh.objects.has(e.commit));
          await fresh.close();
        },
      });
      expect(r.commits).toBeGreaterThan(0);
      expect(durableAtEntry).toEqual(new Array(r.commits).fill(false));
      const reopened = await Repository.open(dir);
      try {
        expect((await reopened.refs.read(topicRef(TOPIC)))?.target).toEqual({ commit: r.head });
        expect(reopened.objects.has(r.head!)).toBe(true);
      } finally {
        await reopened.close();
      }
    } finally {
      await repo.close();
    }
  });

  it('reads each range of its packs about once for subscribers catching up on the same commit together', async () => {
    const source = await newRepo(path.join(t.dir, 'fan-edge'));
    const topic = 'models/fan-out';
    const subscribers: Repository[] = [];
    const reads = jest.spyOn(broker.store, 'getRange');
    try {
      const bytes = 3 * 1024 * 1024;
      await commitFiles(source, { 'weights.bin': randomBytes(bytes) });
      await client.publish(source, topic);
      for (let i = 0; i < 4; i++) subscribers.push(await newRepo(path.join(t.dir, `fan-${i}`)));
      reads.mockClear();
      const results = await Promise.all(subscribers.map((repo, i) => client.subscribe(repo, topic, `fan-${i}`)));
      for (const r of results) expect(r.wireBytes).toBeGreaterThan(bytes);
      const packBytes = reads.mock.calls
        .filter(([key]) => key.endsWith('.pack'))
        .reduce((n, [, range]) => n + range.length, 0);
      // The chunks come from the packs (small ones may come from the broker's object cache). Each subscriber
      // reading on its own would fetch about 4 x 3 MiB.
      expect(packBytes).toBeGreaterThan(bytes / 2);
      expect(packBytes).toBeLessThan(1.5 * bytes);
    } finally {
      reads.mockRestore();
      await source.close();
      for (const repo of subscribers) await repo.close();
    }
  });

  it('stops at once, and cleanly, when aborted before a slow broker has answered', async () => {
    // A broker that takes the call and never answers it (stuck, or still loading its log).
    const server = new grpc.Server();
    let started!: () => void;
    const reached = new Promise<void>((resolve) => (started = resolve));
    let cancelled = false;
    server.addService(loadTributaryProto().tributary.v1.SyncService.service, {
      Publish: () => undefined,
      Subscribe: (call: grpc.ServerDuplexStream<unknown, unknown>) => {
        call.on('data', () => started());
        call.on('cancelled', () => (cancelled = true));
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
    );
    const slow = new SyncClient(`127.0.0.1:${port}`);
    const repo = await newRepo(path.join(t.dir, 'aborted-early'));
    try {
      const abort = new AbortController();
      const subscribing = slow.subscribe(repo, TOPIC, 'early', { follow: true, signal: abort.signal });
      subscribing.catch(() => undefined); // awaited below, unless the wait fails first
      await reached;
      abort.abort();
      // Before the fix the call stayed open until the broker answered: the shutdown below is what ended it then.
      await waitUntil(() => cancelled, 'the subscriber to cancel its call');
      expect(await subscribing).toMatchObject({ topic: TOPIC, commits: 0, head: null });
    } finally {
      slow.close();
      server.forceShutdown();
      await repo.close();
    }
  });
});

describe('sync: subscribe, when the broker cannot record the last ack', () => {
  it('stopped while it waits to try again, fails rather than report the unconfirmed entry as acknowledged', async () => {
    const t = tempDir();
    const target = new URL(REDIS_URL);
    const link = await TcpLink.start(target.hostname, Number(target.port || 6379));
    const broker = await startTestBroker(path.join(t.dir, 'broker-store'), { redisUrl: link.through(REDIS_URL) });
    const client = new SyncClient(broker.address, { retries: 0, retryDelayMs: 60_000 });
    const topic = `datasets/heart/ack-retry-${process.pid}-${Date.now()}`;
    const edge = await newRepo(path.join(t.dir, 'edge'));
    const node = await newRepo(path.join(t.dir, 'node'));
    try {
      await commitFiles(edge, { 'ecg.csv': rows(2_000, 1) });
      await client.publish(edge, topic);
      const abort = new AbortController();
      const subscribing = client.subscribe(node, topic, 'ack-retry', {
        follow: true,
        signal: abort.signal,
        // Redis goes away while the entry is applied; the follower, not stopped, waits to try again.
        onEntry: async () => link.cut(),
        onLinkChange: (change) => {
          if (change.down) abort.abort();
        },
      });
      await expect(subscribing).rejects.toThrow(/acknowledge.*seq 1.*delivered again/);
    } finally {
      client.close();
      await node.close();
      await edge.close();
      await broker.close();
      await link.close();
      t.cleanup();
    }
  });

  it('fails instead of reporting the entry as acknowledged, and the entry is delivered again', async () => {
    const t = tempDir();
    const target = new URL(REDIS_URL);
    const link = await TcpLink.start(target.hostname, Number(target.port || 6379));
    const broker = await startTestBroker(path.join(t.dir, 'broker-store'), { redisUrl: link.through(REDIS_URL) });
    const client = new SyncClient(broker.address, { retries: 0 });
    const topic = `datasets/heart/ack-lost-${process.pid}-${Date.now()}`;
    const edge = await newRepo(path.join(t.dir, 'edge'));
    const node = await newRepo(path.join(t.dir, 'node'));
    try {
      const commit = await commitFiles(edge, { 'ecg.csv': rows(2_000, 1) });
      await client.publish(edge, topic);
      const abort = new AbortController();
      const subscribing = client.subscribe(node, topic, 'ack-lost', {
        follow: true,
        signal: abort.signal,
        // Redis goes away while the entry is applied: the ack that follows cannot move the cursor.
        onEntry: async () => {
          link.cut();
          abort.abort();
        },
      });
      await expect(subscribing).rejects.toThrow(/acknowledge.*seq 1.*delivered again/);
      expect(await node.refs.resolve(topicRef(topic as TopicName))).toMatchObject({ commit });

      link.restore();
      // The broker may take a moment to reach Redis again; until then a subscribe fails.
      const again = async () => client.subscribe(node, topic, 'ack-lost').catch(() => undefined);
      let result: Awaited<ReturnType<typeof again>>;
      await waitUntil(async () => (result = await again()) !== undefined, 'a subscribe once Redis is back');
      expect(result).toMatchObject({ commits: 1, seqFrom: 1, seqTo: 1, head: commit });
    } finally {
      client.close();
      await node.close();
      await edge.close();
      await broker.close();
      await link.close();
      t.cleanup();
    }
  });
});
