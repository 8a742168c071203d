import * as net from 'node:net';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import {
  CommitId,
  encodeCheckedTreePage,
  encodeCommit,
  FailedPreconditionError,
  NotFoundError,
  ObjectId,
  sha256,
  TopicName,
  treeSize,
  UnavailableError,
} from '@tributary/core';
import { branchRef, Repository, topicRef } from '@tributary/repository';
import { unreadableTrees } from '../libs/core/src/testing/unreadable-trees';
import { SyncClient } from '../libs/sync/src/client/sync.client';
import { loadTributaryProto } from '../libs/sync/src/wire/proto-loader';
import { freePort } from '../libs/sync/src/testing/private-redis';
import {
  callStatus,
  commitFiles,
  newRepo,
  rawSyncClient,
  startTestBroker,
  storeKeys,
  tempDir,
  TempDir,
} from '../libs/sync/src/testing/sync-harness';
import { waitUntil } from './support/wait';

const TOPIC = 'datasets/heart/na-aws';

describe('sync: publish', () => {
  let t: TempDir;
  let broker: Awaited<ReturnType<typeof startTestBroker>>;
  let client: SyncClient;
  let repo: Repository;
  const commits: CommitId[] = [];

  beforeAll(async () => {
    t = tempDir();
    broker = await startTestBroker(path.join(t.dir, 'broker-store'));
    client = new SyncClient(broker.address);
    repo = await newRepo(path.join(t.dir, 'edge'));
    for (let i = 1; i <= 5; i++) commits.push(await commitFiles(repo, { [`batches/b${i}.csv`]: `id,v\n${i},${'x'.repeat(i * 100)}\n`, 'all.csv': `rows ${i}\n` }));
  });
  afterAll(async () => {
    client?.close();
    await repo?.close();
    await broker?.close();
    t?.cleanup();
  });

  it('appends five new commits as five sequence numbers, oldest first', async () => {
    const r = await client.publish(repo, TOPIC);
    expect(r).toMatchObject({ topic: TOPIC, commits: 5, seqFrom: 1, seqTo: 5, head: commits[4] });
    expect(r.wireBytes).toBeGreaterThan(0);
    expect(r.datasetBytes).toBe(await sizeOfHead(repo));
    expect(r.datasetBytes).toBe(1547); // b1..b5.csv (8 + 100 i bytes each) and all.csv (7 bytes)
    const topics = await client.listTopics();
    expect(topics).toEqual([{ topic: TOPIC, head: commits[4], seq: 5, subscribers: [], subscribersOmitted: 0 }]);
    for (let i = 0; i < 5; i++) expect(await broker.context.log.entry(TOPIC as never, i + 1)).toMatchObject({ seq: i + 1, commit: commits[i] });
  });

  it('answers a republish with the same seqs and stores nothing new', async () => {
    const before = await storeKeys(broker.store);
    const again = await client.publish(repo, TOPIC);
    expect(again).toMatchObject({ commits: 0, seqFrom: 5, seqTo: 5, head: commits[4], wireBytes: 0 });
    const older = await client.publish(repo, TOPIC, 'HEAD~2');
    expect(older).toMatchObject({ commits: 0, seqFrom: 3, seqTo: 3, head: commits[2] });
    expect(await storeKeys(broker.store)).toEqual(before);
  });

  it('publishes a resolved commit without reading a ref, and refuses a string that is not a commit id', async () => {
    const reads = jest.spyOn(repo.store, 'readVersioned');
    try {
      const r = await client.publishCommit(repo, TOPIC, commits[3]);
      expect(r).toMatchObject({ commits: 0, seqFrom: 4, seqTo: 4, head: commits[3] });
      // Refs are the store's versioned values; the objects are read from packs.
      expect(reads).not.toHaveBeenCalled();
    } finally {
      reads.mockRestore();
    }
    await expect(client.publishCommit(repo, TOPIC, 'HEAD' as CommitId)).rejects.toThrow(/not a commit id/);
  });

  it('refuses a publish that is not a fast-forward with FAILED_PRECONDITION, before sending anything', async () => {
    const other = await newRepo(path.join(t.dir, 'other'));
    try {
      await commitFiles(other, { 'x.csv': 'other history\n' });
      const before = await storeKeys(broker.store);
      const err = await client.publish(other, TOPIC).catch((e) => e);
      expect(err).toBeInstanceOf(FailedPreconditionError);
      expect(err.message).toMatch(/not a fast-forward/);
      expect(await storeKeys(broker.store)).toEqual(before);
    } finally {
      await other.close();
    }
  });

  it('re-checks the fast-forward rule on the broker: a commit whose first parent is not the head is refused', async () => {
    const other = await newRepo(path.join(t.dir, 'liar'));
    try {
      const c = await commitFiles(other, { 'x.csv': 'unrelated\n' });
      const before = await storeKeys(broker.store);
      const { raw, call, status } = await openRawPublish(broker.address, TOPIC, c);
      // Claims to build on the head, but its commit has no parents.
      call.write({ start: { base: commits[4], commits: [c] } });
      const bytes = await other.objects.get(c);
      const treeId = JSON.parse(bytes.toString().slice('commit 1\n'.length)).tree as ObjectId;
      const frames: object[] = [];
      for (const [id, kind] of await closureOf(other, treeId)) frames.push({ id: Buffer.from(id, 'hex'), kind, data: await other.objects.get(id) });
      frames.push({ id: Buffer.from(c, 'hex'), kind: 'OBJECT_KIND_COMMIT', data: bytes });
      call.write({ objects: { objects: frames } });
      call.write({ commitEnd: { commit: Buffer.from(c, 'hex') } });
      const s = await status;
      expect(s.code).toBe(grpc.status.FAILED_PRECONDITION);
      expect(s.details).toMatch(/not a fast-forward/);
      raw.close();
      expect(await storeKeys(broker.store)).toEqual(before);
    } finally {
      await other.close();
    }
  });

  it('answers NOT_FOUND to a subscriber of an unknown topic', async () => {
    const sub = await newRepo(path.join(t.dir, 'sub-nf'));
    try {
      await expect(client.subscribe(sub, 'datasets/none', 'hub')).rejects.toBeInstanceOf(NotFoundError);
    } finally {
      await sub.close();
    }
  });

  it('refuses a base that is not a commit id as bad input, not as a publisher behind the head', async () => {
    const { raw, call, status } = await openRawPublish(broker.address, 'datasets/bad-base');
    call.write({ start: { base: 'zz', commits: [sha256(Buffer.from('c'))] } });
    const s = await status;
    raw.close();
    expect([s.code, s.details]).toEqual([grpc.status.INVALID_ARGUMENT, 'bad base commit id "zz"']);
  });

  it('rejects bytes that do not match their id with DATA_LOSS and stores nothing', async () => {
    const before = await storeKeys(broker.store);
    const claimed = sha256(Buffer.from('the bytes the id promises'));
    const { raw, call, status } = await openRawPublish(broker.address, 'datasets/bad');
    call.write({ start: { base: '', commits: [claimed] } });
    call.write({ objects: { objects: [{ id: Buffer.from(claimed, 'hex'), kind: 'OBJECT_KIND_CHUNK', data: Buffer.from('other bytes') }] } });
    const s = await status;
    expect(s.code).toBe(grpc.status.DATA_LOSS);
    expect(s.details).toMatch(/does not match its id/);
    raw.close();
    expect(await storeKeys(broker.store)).toEqual(before);
    expect(await client.listTopics()).toHaveLength(1);
  });

  it('rejects wrong bytes for an object the broker holds already with DATA_LOSS too', async () => {
    const held = sha256(Buffer.from('rows 1\n'));
    expect(broker.context.db.has(held as never)).toBe(true);
    const { raw, call, status } = await openRawPublish(broker.address, 'datasets/bad-held');
    call.write({ start: { base: '', commits: [sha256(Buffer.from('c'))] } });
    call.write({ objects: { objects: [{ id: Buffer.from(held, 'hex'), kind: 'OBJECT_KIND_CHUNK', data: Buffer.from('other bytes') }] } });
    const s = await status;
    raw.close();
    expect([s.code, s.details]).toEqual([grpc.status.DATA_LOSS, `object ${held} does not match its id`]);
    expect((await broker.context.db.get(held as never)).toString()).toBe('rows 1\n');
  });

  it('says DATA_LOSS for bad bytes still being hashed when the publisher closes its side, not that it left', async () => {
    const before = await storeKeys(broker.store);
    const claimed = sha256(Buffer.from('the bytes the id promises'));
    const { raw, call, status } = await openRawPublish(broker.address, 'datasets/bad-then-end');
    call.write({ start: { base: '', commits: [claimed] } });
    // Enough bytes to be hashed off the event loop, so the end of the stream comes before the verdict.
    const good = Array.from({ length: 6 }, (_, i) => Buffer.alloc(1 << 20, i));
    const frames = [
      ...good.map((b) => ({ id: Buffer.from(sha256(b), 'hex'), kind: 'OBJECT_KIND_CHUNK' as const, data: b })),
      { id: Buffer.from(claimed, 'hex'), kind: 'OBJECT_KIND_CHUNK' as const, data: Buffer.alloc(200_000, 7) },
    ];
    call.write({ objects: { objects: frames } });
    call.end();
    const s = await status;
    raw.close();
    expect([s.code, s.details]).toEqual([grpc.status.DATA_LOSS, expect.stringMatching(/does not match its id/)]);
    expect(await storeKeys(broker.store)).toEqual(before);
  });

  it('rejects a tree with an unsafe name before anything becomes reachable (INVALID_ARGUMENT)', async () => {
    const before = await storeKeys(broker.store);
    const chunk = Buffer.from('pwned\n');
    const chunkId = sha256(chunk);
    const tree = encodeCheckedTreePage([{ name: '..', kind: 'file', executable: false, chunked: false, id: chunkId, size: chunk.length }]);
    const commit = encodeCommit({ tree: sha256(tree), parents: [], author: 'mallory', time: '2026-11-24T00:00:00.000Z', message: 'evil', annotations: {} });
    const { raw, call, status } = await openRawPublish(broker.address, 'datasets/evil', sha256(commit));
    call.write({ start: { base: '', commits: [sha256(commit)] } });
    call.write({
      objects: {
        objects: [
          { id: Buffer.from(chunkId, 'hex'), kind: 'OBJECT_KIND_CHUNK', data: chunk },
          { id: Buffer.from(sha256(tree), 'hex'), kind: 'OBJECT_KIND_TREE', data: tree },
          { id: Buffer.from(sha256(commit), 'hex'), kind: 'OBJECT_KIND_COMMIT', data: commit },
        ],
      },
    });
    call.write({ commitEnd: { commit: Buffer.from(sha256(commit), 'hex') } });
    const s = await status;
    expect(s.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(s.details).toMatch(/unsafe path/);
    raw.close();
    expect(await storeKeys(broker.store)).toEqual(before);
    expect((await client.listTopics()).map((x) => x.topic)).toEqual([TOPIC]);
  });

  it('rejects a commit that names a chunk the broker holds as a folder (DATA_LOSS), so no subscriber is stuck', async () => {
    const before = await storeKeys(broker.store);
    const held = Buffer.from(`id,v\n1,${'x'.repeat(100)}\n`); // batches/b1.csv of the first test, one chunk
    const tree = encodeCheckedTreePage([{ name: 'd', kind: 'dir', executable: false, chunked: false, id: sha256(held), size: held.length }]);
    const commit = encodeCommit({ tree: sha256(tree), parents: [], author: 'mallory', time: '2026-11-24T00:00:00.000Z', message: 'odd', annotations: {} });
    const { raw, call, status } = await openRawPublish(broker.address, 'datasets/odd', sha256(commit));
    call.write({ start: { base: '', commits: [sha256(commit)] } });
    call.write({
      objects: {
        objects: [
          { id: Buffer.from(sha256(tree), 'hex'), kind: 'OBJECT_KIND_TREE', data: tree },
          { id: Buffer.from(sha256(commit), 'hex'), kind: 'OBJECT_KIND_COMMIT', data: commit },
        ],
      },
    });
    call.write({ commitEnd: { commit: Buffer.from(sha256(commit), 'hex') } });
    const s = await status;
    expect(s.code).toBe(grpc.status.DATA_LOSS);
    expect(s.details).toMatch(new RegExp(`names ${sha256(held)} as a tree, but it is not one`));
    raw.close();
    expect(await storeKeys(broker.store)).toEqual(before);
    expect((await client.listTopics()).map((x) => x.topic)).toEqual([TOPIC]);
  });

  it('refuses trees whose nodes do not fit together (DATA_LOSS), pages it holds among them, and the head stays', async () => {
    const made = await newRepo(path.join(t.dir, 'unreadable'));
    try {
      const { chunk, trees } = await unreadableTrees(made.objects);
      const frame = async (id: ObjectId, kind: 'OBJECT_KIND_CHUNK' | 'OBJECT_KIND_TREE' | 'OBJECT_KIND_COMMIT') => ({ id: Buffer.from(id, 'hex'), kind, data: await made.objects.get(id) });
      const commitOf = async (tree: ObjectId, parents: CommitId[]) =>
        (await made.writeCommit({ tree, parents, author: 'mallory', time: '2026-11-24T00:00:00.000Z', message: 'unreadable', annotations: {} })) as CommitId;
      const head = (await client.publish(repo, TOPIC)).head as CommitId;
      const refused = async (commit: CommitId, nodes: readonly ObjectId[]) => {
        const objects = [await frame(chunk, 'OBJECT_KIND_CHUNK')];
        for (const id of nodes) objects.push(await frame(id, 'OBJECT_KIND_TREE'));
        objects.push(await frame(commit, 'OBJECT_KIND_COMMIT'));
        const { raw, call, status } = await openRawPublish(broker.address, TOPIC, commit);
        call.write({ start: { base: head, commits: [commit] } });
        call.write({ objects: { objects } });
        call.write({ commitEnd: { commit: Buffer.from(commit, 'hex') } });
        const s = await status;
        raw.close();
        return s;
      };
      for (const tree of trees) {
        const s = await refused(await commitOf(tree.tree, [head]), tree.nodes);
        expect([tree.what, s.code]).toEqual([tree.what, grpc.status.DATA_LOSS]);
        expect(s.details).toMatch(tree.refusal);
        expect((await client.listTopics()).find((x) => x.topic === TOPIC)!.head).toBe(head);
      }

      // The broker holds the first page (another topic's tree); the publisher sends only the page after it.
      const [first, second] = trees.find((x) => x.what === 'the same name on two pages')!.nodes;
      const heldPage = await commitOf(first, []);
      await made.refs.update(branchRef('main'), (await made.refs.read(branchRef('main')))?.version, { commit: heldPage });
      await client.publish(made, 'datasets/held-page');
      const dup = trees.find((x) => x.what === 'the same name on two pages')!;
      const s = await refused(await commitOf(dup.tree, [head]), [second, dup.tree]);
      expect([s.code, s.details]).toEqual([grpc.status.DATA_LOSS, expect.stringMatching(dup.refusal)]);
      expect((await client.listTopics()).find((x) => x.topic === TOPIC)!.head).toBe(head);
    } finally {
      await made.close();
    }
  });

  it('refuses a message over the size limit with RESOURCE_EXHAUSTED while another stream carries on', async () => {
    const sub = await newRepo(path.join(t.dir, 'sub-big'));
    const abort = new AbortController();
    const seen: number[] = [];
    const following = client.subscribe(sub, TOPIC, 'watcher', {
      follow: true,
      signal: abort.signal,
      onEntry: async (e) => {
        seen.push(e.seq);
      },
    });
    try {
      await waitUntil(() => seen.length === 5);
      const { raw, call, status } = await openRawPublish(broker.address, TOPIC);
      call.write({ start: { base: commits[4], commits: [commits[4]] } });
      call.write({ objects: { objects: [{ id: Buffer.alloc(32), kind: 'OBJECT_KIND_CHUNK', data: Buffer.alloc(9 * 1024 * 1024) }] } });
      const s = await status;
      expect(s.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
      raw.close();

      const c6 = await commitFiles(repo, { 'all.csv': 'rows 6\n' });
      commits.push(c6);
      const r = await client.publish(repo, TOPIC);
      expect(r).toMatchObject({ commits: 1, seqFrom: 6, seqTo: 6 });
      await waitUntil(() => seen.length === 6);
      expect(seen).toEqual([1, 2, 3, 4, 5, 6]);
    } finally {
      abort.abort();
      await following;
      await sub.close();
    }
    expect((await client.listTopics())[0].subscribers).toEqual([{ name: 'watcher', cursor: 6, lag: 0, conflicts: [] }]);
  });

  it('gives UnavailableError after a few bounded retries when no broker listens', async () => {
    const nobody = new SyncClient(`127.0.0.1:${await freePort()}`, { retryDelayMs: 50 });
    try {
      await expect(nobody.publish(repo, TOPIC)).rejects.toBeInstanceOf(UnavailableError);
      await expect(nobody.listTopics()).rejects.toBeInstanceOf(UnavailableError);
    } finally {
      nobody.close();
    }
  });

  it("reports its own store failing as that store's failure, not the broker's, and does not retry it", async () => {
    const edge = await newRepo(path.join(t.dir, 'edge-store-down'));
    const client2 = new SyncClient(broker.address, { retryDelayMs: 10 });
    try {
      await commitFiles(edge, { 'b.csv': 'id\n1\n' });
      const down = new UnavailableError(`cannot read packs/p.pack in ${edge.store.url}: cannot reach the endpoint`, { url: edge.store.url, key: 'packs/p.pack' });
      jest.spyOn(edge.objects, 'getMany').mockRejectedValue(down);
      const attempts = jest.spyOn(client2 as unknown as { publishOnce: () => Promise<void> }, 'publishOnce');
      await expect(client2.publish(edge, 'datasets/heart/store-down')).rejects.toThrow(down);
      expect(attempts).toHaveBeenCalledTimes(1);
    } finally {
      jest.restoreAllMocks();
      client2.close();
      await edge.close();
    }
  });

  it('gives UnavailableError, not a hang, when the broker takes the call and never answers', async () => {
    // A peer that accepts connections and says nothing: a frozen broker, or not a broker at all.
    const held: net.Socket[] = [];
    const silent = net.createServer((socket) => held.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const address = `127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
    const client2 = new SyncClient(address, { retryDelayMs: 10, retries: 0, deadlineMs: 300 });
    const sub = await newRepo(path.join(t.dir, 'sub-silent'));
    try {
      await expect(client2.publish(repo, TOPIC)).rejects.toThrow(UnavailableError);
      // Said in words, naming the broker once, for a stream's first answer and for a unary call's deadline alike.
      await expect(client2.subscribe(sub, TOPIC, 'quiet')).rejects.toMatchObject({
        code: 'UNAVAILABLE',
        message: `broker ${address} is unavailable: it took the call but did not answer within 0.3 s`,
      });
      await expect(client2.listTopics()).rejects.toMatchObject({
        code: 'UNAVAILABLE',
        message: `broker ${address} is unavailable: no answer within 0.3 s, and no gRPC connection could be set up meanwhile (is it a Tributary broker?)`,
      });
    } finally {
      client2.close();
      await sub.close();
      for (const socket of held) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('asks a broker that answers UNAVAILABLE exactly 1 + retries times, and does not retry other errors', async () => {
    let answer = grpc.status.UNAVAILABLE;
    let calls = 0;
    const server = new grpc.Server();
    server.addService(loadTributaryProto().tributary.v1.AdminService.service, {
      ListTopics: (_call: unknown, cb: grpc.sendUnaryData<unknown>) => {
        calls++;
        cb({ code: answer, details: 'not now' });
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
    );
    const clients: SyncClient[] = [];
    const ask = async (retries: number) => {
      const c = new SyncClient(`127.0.0.1:${port}`, { retries, retryDelayMs: 1 });
      clients.push(c);
      calls = 0;
      const e = await c.listTopics().then(() => undefined, (err: unknown) => err);
      return { e, calls };
    };
    try {
      const two = await ask(2);
      expect(two.calls).toBe(3);
      expect(two.e).toBeInstanceOf(UnavailableError);
      expect((two.e as Error).message).toContain(`127.0.0.1:${port}`);
      expect((await ask(0)).calls).toBe(1);
      answer = grpc.status.INVALID_ARGUMENT;
      const refused = await ask(2);
      expect(refused.calls).toBe(1);
      expect(refused.e).not.toBeInstanceOf(UnavailableError);
    } finally {
      for (const c of clients) c.close();
      server.forceShutdown();
    }
  });

  it('finds a head that moved during the transfer at the append: its own commit is answered with its seq, another refused', async () => {
    const race = 'datasets/heart/race';
    await client.publish(repo, race, commits[2]);
    const rawPublish = async (commit: CommitId, base: CommitId, meanwhile: () => Promise<unknown>) => {
      const raw = rawSyncClient(broker.address);
      const call = raw.Publish();
      const status = callStatus(call);
      const replies: { appended?: { seq: string | number; already: boolean } }[] = [];
      call.on('data', (m) => replies.push(m));
      call.write({ hello: { topic: race, commit } });
      await waitUntil(() => replies.length === 1);
      // The broker told this publisher the head is `base`; now someone else moves it.
      await meanwhile();
      call.write({ start: { base, commits: [commit] } });
      const tree = (await repo.readCommit(commit)).tree;
      const frames: object[] = [];
      for (const [id, kind] of await closureOf(repo, tree)) frames.push({ id: Buffer.from(id, 'hex'), kind, data: await repo.objects.get(id) });
      frames.push({ id: Buffer.from(commit, 'hex'), kind: 'OBJECT_KIND_COMMIT', data: await repo.objects.get(commit) });
      call.write({ objects: { objects: frames } });
      call.write({ commitEnd: { commit: Buffer.from(commit, 'hex') } });
      // `appended`, or the call ends with its status.
      await Promise.race([waitUntil(() => replies.length === 2), status]);
      call.end();
      const s = await status;
      raw.close();
      return { status: s, appended: replies[1]?.appended };
    };

    // The same commit, published by another call meanwhile: the append conflicts, the log holds it once.
    const same = await rawPublish(commits[3], commits[2], () => client.publish(repo, race, commits[3]));
    expect(same.status.code).toBe(grpc.status.OK);
    expect(Number(same.appended?.seq)).toBe(4);
    // In the log, but not by this call: the publisher must not count it.
    expect(same.appended?.already).toBe(true);

    // Another commit took the next seq meanwhile: refused, and the log is the winner's.
    const tree = (await repo.readCommit(commits[4])).tree;
    const winner = await repo.objects.put(encodeCommit({ tree, parents: [commits[3]], author: 'test', time: new Date().toISOString(), message: 'winner', annotations: {} }));
    await repo.objects.flush();
    const lost = await rawPublish(commits[4], commits[3], () => client.publish(repo, race, winner));
    expect(lost.status.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(lost.status.details).toMatch(/not a fast-forward/);
    const log = broker.context.log;
    expect(await log.entry(race as TopicName, 4)).toMatchObject({ commit: commits[3] });
    expect(await log.entry(race as TopicName, 5)).toMatchObject({ commit: winner });
    expect(await log.entry(race as TopicName, 6)).toBeUndefined();
  });

  it('counts a commit two publishes race to the same seq as published by the one that appended it only', async () => {
    const topic = 'datasets/heart/same-commit';
    await client.publish(repo, topic, commits[0]);
    const log = broker.context.log;
    const append = log.appendEntry.bind(log);
    // The first publish to reach the append waits there until the second has appended: both were told the topic
    // lacks the commit (hello) and both transferred it, so the first finds its seq taken, by the same commit.
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let calls = 0;
    const held = jest.spyOn(log, 'appendEntry').mockImplementation(async (...args) => {
      if (++calls === 1) {
        await released;
        return append(...args);
      }
      try {
        return await append(...args);
      } finally {
        release();
      }
    });
    const other = new SyncClient(broker.address);
    try {
      const results = await Promise.all([client.publish(repo, topic, commits[1]), other.publish(repo, topic, commits[1])]);
      expect(calls).toBe(2);
      expect(results.map((r) => r.commits).sort()).toEqual([0, 1]);
      for (const r of results) expect(r).toMatchObject({ seqFrom: 2, seqTo: 2, head: commits[1] });
      expect(await log.entry(topic as TopicName, 2)).toMatchObject({ commit: commits[1] });
      expect(await log.entry(topic as TopicName, 3)).toBeUndefined();
    } finally {
      held.mockRestore();
      other.close();
    }
  });

  it('half-closes the call after the last commit is sent, before reading its appended', async () => {
    // Then the broker ends the call right behind `appended`, and the call's status costs no round trip of its own.
    const topic = 'datasets/heart/half-close';
    const edge = await newRepo(path.join(t.dir, 'half-close'));
    for (let i = 1; i <= 5; i++) await commitFiles(edge, { [`batches/b${i}.csv`]: `id,v\n${i}\n` });
    const events: string[] = [];
    type PublishCall = grpc.ClientDuplexStream<unknown, { body?: string }>;
    const service = (client as unknown as { sync: { Publish(): PublishCall } }).sync;
    const open = service.Publish.bind(service);
    const spy = jest.spyOn(service, 'Publish').mockImplementation(() => {
      const call = open();
      const end = call.end.bind(call);
      call.end = ((...args: Parameters<typeof end>) => {
        events.push('end');
        return end(...args);
      }) as typeof call.end;
      call.on('data', (msg) => events.push(msg.body ?? '?'));
      return call;
    });
    try {
      const r = await client.publish(edge, topic);
      expect(r).toMatchObject({ commits: 5, seqFrom: 1, seqTo: 5 });
    } finally {
      spy.mockRestore();
      await edge.close();
    }
    const calls = events.filter((e) => e !== 'haveReply');
    expect(calls).toEqual(['state', 'appended', 'appended', 'appended', 'appended', 'end', 'appended']);
  });

  it('says how to publish a merge of the topic into local work, which reaches the head only as a second parent', async () => {
    const lab = await newRepo(path.join(t.dir, 'lab-merge'));
    const topic = 'datasets/merge/lab';
    try {
      await client.publish(repo, topic);
      await client.subscribe(lab, topic, 'lab');
      const head = (await lab.refs.resolve(topicRef(topic))).commit!;
      const local = await commitFiles(lab, { 'labels.txt': 'mine\n' });
      const tree = (await lab.readCommit(local)).tree;
      const merge = await lab.writeCommit({ tree, parents: [local, head], author: 'lab', time: new Date().toISOString(), message: 'merge', annotations: {} });
      const err = await client.publishCommit(lab, topic, merge).catch((e) => e);
      expect(err).toBeInstanceOf(FailedPreconditionError);
      expect(err.message).toMatch(new RegExp(`only through a merge's second parent.*trib branch up ${head} && trib switch up && `));
    } finally {
      await lab.close();
    }
  });

});

/** A raw Publish call to `address` with its hello for `topic` (and `commit`) sent and answered; its status to await. */
async function openRawPublish(address: string, topic: string, commit = '') {
  const raw = rawSyncClient(address);
  const call = raw.Publish();
  const status = callStatus(call);
  call.write({ hello: { topic, commit } });
  await once(call, 'data');
  return { raw, call, status };
}

function once(emitter: NodeJS.EventEmitter, event: string): Promise<unknown> {
  return new Promise((resolve) => emitter.once(event, resolve));
}

async function sizeOfHead(repo: Repository): Promise<number> {
  const head = await repo.head();
  return treeSize(repo.objects, (await repo.readCommit(head.commit!)).tree);
}

/** Every object beneath a tree, children first, with its wire kind. */
async function closureOf(repo: Repository, tree: ObjectId): Promise<[ObjectId, string][]> {
  const { decodeTreeNode, decodeChunkList } = await import('@tributary/core');
  const out: [ObjectId, string][] = [];
  const visit = async (id: ObjectId, kind: string): Promise<void> => {
    if (kind === 'OBJECT_KIND_TREE') {
      const node = decodeTreeNode(await repo.objects.get(id), id);
      if (node.type === 'index') for (const c of node.children) await visit(c.id, 'OBJECT_KIND_TREE');
      else for (const e of node.entries) await visit(e.id, e.kind === 'dir' ? 'OBJECT_KIND_TREE' : e.chunked ? 'OBJECT_KIND_CHUNK_LIST' : 'OBJECT_KIND_CHUNK');
    } else if (kind === 'OBJECT_KIND_CHUNK_LIST') {
      const node = decodeChunkList(await repo.objects.get(id), id);
      for (const c of node.children) await visit(c.id, node.level === 0 ? 'OBJECT_KIND_CHUNK' : 'OBJECT_KIND_CHUNK_LIST');
    }
    out.push([id, kind]);
  };
  await visit(tree, 'OBJECT_KIND_TREE');
  return out;
}
