import {
  Commit,
  CommitId,
  decodeChunkList,
  diffTrees,
  encodeCheckedTreePage,
  encodeCommit,
  IntegrityError,
  InvalidArgumentError,
  lookupPath,
  ObjectId,
  readFileBytes,
  sha256,
  TreeEntry,
  TreeId,
  UnavailableError,
  walkFiles,
  writeTreeFromPaths,
} from '@tributary/core';
import * as path from 'node:path';
import { HashPool, ObjectDatabase } from '@tributary/repository';
import { MemoryStore } from '@tributary/storage';
import { unreadableTrees } from '../../../core/src/testing/unreadable-trees';
import { memoryChannels } from '../testing/memory-channel';
import { commitFiles, randomBytesSeeded } from '../testing/object-fixtures';
import { databaseTarget } from './database-target';
import { CHUNK } from './object-kinds';
import { ObjectReader, ObjectTarget, ReceiverChannel, TransferMessage } from './transfer-channel';
import type { ObjectFrame } from '../generated/tributary/v1/ObjectFrame';
import { TransferReceiver } from './transfer-receiver';
import { VerifiedKinds } from './verified-kinds';
import { TransferSender, TransferSenderOptions } from './transfer-sender';

async function db(): Promise<ObjectDatabase> {
  return ObjectDatabase.open(new MemoryStore());
}

/**
 * Sends `commit` from `src` (or a wrapper of it, `opts.reader`) to `dst` over a memory channel. With
 * `deliveredFirst`, the same sender sends that commit first and the receiver applies it; the tap, the messages and
 * the round trips returned are those of `commit` alone.
 */
async function transfer(
  src: ObjectReader,
  dst: ObjectDatabase,
  commit: CommitId,
  opts: {
    base?: CommitId;
    baseHeld?: boolean;
    deliveredFirst?: CommitId;
    tap?: (m: TransferMessage) => TransferMessage;
    sender?: TransferSenderOptions;
    /**
     * Hand the receiver each batch as gRPC would, in a buffer of its own (or as `lay` puts it), and let it hash them
     * with `hashes`.
     */
    wire?: { hashes: HashPool; lay?: (m: TransferMessage) => TransferMessage };
  } = {},
) {
  const lay = opts.wire?.lay ?? onWire;
  let tapping = opts.deliveredFirst === undefined;
  const tap = (m: TransferMessage) => {
    const tapped = tapping && opts.tap ? opts.tap(m) : m;
    return opts.wire ? lay(tapped) : tapped;
  };
  const ch = memoryChannels(tap);
  const sender = new TransferSender(src, ch.sender, opts.sender);
  const receiver = new TransferReceiver(
    databaseTarget(dst),
    opts.wire ? { ...ch.receiver, ownsMessageBuffers: true } : ch.receiver,
    undefined,
    opts.wire?.hashes,
  );
  if (opts.deliveredFirst) {
    await Promise.all([sender.sendCommit(opts.deliveredFirst), receiver.receiveCommit()]);
    ch.sent.length = 0;
    tapping = true;
  }
  const before = ch.roundTrips();
  const [sent, got] = await Promise.all([
    sender.sendCommit(commit, { base: opts.base, baseHeld: opts.baseHeld }),
    receiver.receiveCommit(),
  ]);
  return { sent, got, messages: ch.sent, roundTrips: ch.roundTrips() - before };
}

/**
 * A receiver holding commit `one` (files plus 20 batches under batches/2026-11-24/), and `two`, which adds a 21st
 * batch there: a new file deep in a tree the receiver holds.
 */
async function newFileDeepInHeldTree() {
  const src = await db();
  const dst = await db();
  const deep: Record<string, Buffer> = { ...files() };
  for (let i = 0; i < 20; i++) deep[`batches/2026-11-24/b${i}.csv`] = Buffer.from(`batch ${i}\n`);
  const one = await commitFiles(src, deep);
  await transfer(src, dst, one.commit);
  const added = { ...deep, 'batches/2026-11-24/b20.csv': Buffer.from('batch 20\n') };
  const two = await commitFiles(src, added, [one.commit]);
  return { src, dst, one, two };
}

/** An ObjectBatch as a gRPC receiver gets it: every byte field a view of one buffer that belongs to the message. */
function onWire(m: TransferMessage): TransferMessage {
  if (!m.objects) return m;
  const frames = m.objects.objects as ObjectFrame[];
  const fields = frames.flatMap((f) => [f.id, f.data].filter((b): b is Buffer => b instanceof Uint8Array));
  const message = Buffer.from(new ArrayBuffer(fields.reduce((n, b) => n + b.length, 0)));
  let at = 0;
  const copy = (b: Uint8Array | undefined) => {
    if (!(b instanceof Uint8Array)) return b;
    message.set(b, at);
    at += b.length;
    return message.subarray(at - b.length, at);
  };
  const objects = frames.map((f) => ({ ...f, id: copy(f.id as Buffer), data: copy(f.data as Buffer) }));
  return { objects: { objects } };
}

/** The compiled hashing worker (`tsc -b` runs before jest in `npm test`). */
const HASH_WORKER = path.resolve(__dirname, '../../../repository/dist/objects/hash.worker.js');

/** Runs `fn` with a one-worker HashPool and a spy on its `digest`, then stops the worker. */
async function withHashWorker(fn: (hashes: HashPool, moved: jest.SpyInstance) => Promise<void>): Promise<void> {
  const hashes = new HashPool(1, HASH_WORKER);
  try {
    await fn(hashes, jest.spyOn(hashes, 'digest'));
  } finally {
    await hashes.close();
  }
}

async function readAllFiles(src: ObjectDatabase, tree: ObjectId): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const reader = { get: (id: ObjectId) => src.get(id) };
  for await (const { path, entry } of walkFiles(reader, tree)) {
    const parts: Buffer[] = [];
    for await (const b of readFileBytes(reader, entry)) parts.push(b);
    out[path] = Buffer.concat(parts).toString('base64');
  }
  return out;
}

const files = () => ({
  'a.csv': randomBytesSeeded(700_000, 1),
  'dir/b.bin': randomBytesSeeded(90_000, 2),
  'dir/sub/c.txt': Buffer.from('hello\n'),
  'empty': Buffer.alloc(0),
});

describe('object transfer', () => {
  it('copies a commit and everything beneath it to an empty receiver, which can then read every file', async () => {
    const src = await db();
    const dst = await db();
    const { commit, tree } = await commitFiles(src, files());
    const { sent, got } = await transfer(src, dst, commit);
    expect(got.commit).toBe(commit);
    expect(got.stats.objects).toBe(sent.objects);
    expect(sent.wireBytes).toBeGreaterThan(790_000);
    expect(dst.has(commit)).toBe(true);
    expect(await readAllFiles(dst, tree)).toEqual(await readAllFiles(src, tree));
    // Durable: a fresh database on the receiver's store sees it.
    expect((await ObjectDatabase.open(dst.store)).has(commit)).toBe(true);
  });

  it('sends nothing but one question when the receiver holds the commit', async () => {
    const src = await db();
    const { commit } = await commitFiles(src, files());
    const { sent, messages } = await transfer(src, src, commit);
    expect(sent.objects).toBe(0);
    expect(sent.haveQueries).toBe(1);
    expect(messages.map((m) => Object.keys(m)[0])).toEqual(['haveQuery', 'commitEnd']);
  });

  it('sends only what changed, and an appended file mostly as a delta of its old last chunk', async () => {
    const src = await db();
    const dst = await db();
    const f = files();
    const one = await commitFiles(src, f);
    await transfer(src, dst, one.commit);
    const appended = randomBytesSeeded(7_000, 9);
    const two = await commitFiles(src, { ...f, 'a.csv': Buffer.concat([f['a.csv'], appended]) }, [one.commit]);
    const { sent } = await transfer(src, dst, two.commit, { base: one.commit });
    expect(sent.deltas).toBeGreaterThan(0);
    // New bytes, plus the changed list node, directory page and commit: a few hundred bytes of metadata.
    expect(sent.wireBytes).toBeLessThan(appended.length + 2048);
    expect(sent.wireBytes).toBeGreaterThanOrEqual(appended.length);
    expect(await readAllFiles(dst, two.tree)).toEqual(await readAllFiles(src, two.tree));
  });

  it('a new file deep in a tree the receiver holds costs two questions: the commit with its base, then the file', async () => {
    const { src, dst, one, two } = await newFileDeepInHeldTree();
    const asked: number[] = [];
    const { sent } = await transfer(src, dst, two.commit, {
      base: one.commit,
      tap: (m) => {
        if (m.haveQuery) asked.push((m.haveQuery.ids as Buffer).length / 32);
        return m;
      },
    });
    // Unchanged siblings are held (same path in the base), changed directories are presumed missing.
    expect(asked).toEqual([2, 1]);
    expect(sent.haveQueries).toBe(2);
    expect(await readAllFiles(dst, two.tree)).toEqual(await readAllFiles(src, two.tree));
    expect((await ObjectDatabase.open(dst.store)).has(two.commit)).toBe(true);
  });

  it('with a base known to be held (a publish), a new file deep in the tree costs one question', async () => {
    const { src, dst, one, two } = await newFileDeepInHeldTree();
    const { sent } = await transfer(src, dst, two.commit, { base: one.commit, baseHeld: true });
    expect(sent.haveQueries).toBe(1);
    expect(await readAllFiles(dst, two.tree)).toEqual(await readAllFiles(src, two.tree));
    // Told the commit is new when the receiver holds it already: its trees and the commit travel in vain, no file.
    const again = await transfer(src, dst, two.commit, { base: one.commit, baseHeld: true });
    expect(again.got.commit).toBe(two.commit);
    expect(again.sent.wireBytes).toBeLessThan(2048);
  });

  it('a new file in a held folder of many pages reads each held page once, and its page travels as a delta', async () => {
    const src = await db();
    const dst = await db();
    // A day's batches/ folder some thousands of batches in: several pages under an index.
    const day: Record<string, Buffer> = {};
    for (let i = 0; i < 3000; i++) day[`batches/2026-11-24/b${String(i).padStart(5, '0')}.csv`] = Buffer.from(`batch ${i}\n`);
    const one = await commitFiles(src, day);
    await transfer(src, dst, one.commit);
    const two = await commitFiles(src, { ...day, 'batches/2026-11-24/b03000.csv': Buffer.from('batch 3000\n') }, [one.commit]);
    let reads = 0;
    const counting = {
      get: (id: ObjectId) => (reads++, src.get(id)),
      getMany: (ids: readonly ObjectId[], opts?: { verify?: boolean }) => ((reads += ids.length), src.getMany(ids, opts)),
    };
    const { sent } = await transfer(counting, dst, two.commit, { base: one.commit, baseHeld: true });
    expect(sent.haveQueries).toBe(1);
    expect(await readAllFiles(dst, two.tree)).toEqual(await readAllFiles(src, two.tree));
    // Both commits, their root and batches/ trees, the day's index and changed page in each, and the new file: each
    // read a few times over (negotiating, then sending), where one read per entry of the changed page is hundreds.
    expect(reads).toBeLessThan(40);
    // The new file, and each changed node as a delta of the held one: the day's page alone is some 20 KB whole.
    expect(sent.wireBytes).toBeLessThan(2048);
  });

  it('applies a delta against a base a gc on its store is deleting (readable, no longer held for new writes)', async () => {
    const { src, dst, one, two } = await newFileDeepInHeldTree();
    // What a gc's notice does to the old commit's trees: still in their pack and readable, but not `has` any more.
    const condemned = new Set<ObjectId>();
    for await (const c of diffTrees(src, one.tree, two.tree)) if (c.old?.kind === 'dir') condemned.add(c.old.id);
    condemned.add(one.tree);
    const inner = databaseTarget(dst);
    const target: ObjectTarget = { ...inner, has: (id) => !condemned.has(id) && inner.has(id) };
    const ch = memoryChannels();
    const [sent, got] = await Promise.all([
      new TransferSender(src, ch.sender).sendCommit(two.commit, { base: one.commit, baseHeld: true }),
      new TransferReceiver(target, ch.receiver).receiveCommit(),
    ]);
    expect(sent.deltas).toBeGreaterThan(0);
    expect(got.commit).toBe(two.commit);
    expect(await readAllFiles(dst, two.tree)).toEqual(await readAllFiles(src, two.tree));
  });

  it('asks about a commit on the base it just sent with its changes in one round trip; none on a replay', async () => {
    const { src, dst, one, two } = await newFileDeepInHeldTree();
    const asked: number[] = [];
    const tap = (m: TransferMessage) => {
      if (m.haveQuery) asked.push((m.haveQuery.ids as Buffer).length / 32);
      return m;
    };
    const base = one.commit;
    const { sent, roundTrips } = await transfer(src, dst, two.commit, { base, deliveredFirst: base, tap });
    // The commit and the new file, together; from a sender that had not sent the base: [2, 1], the commit with its
    // base, then the file.
    expect(asked).toEqual([2]);
    expect(roundTrips).toBe(1);
    expect(sent.wireBytes).toBeLessThan(2048);
    expect(await readAllFiles(dst, two.tree)).toEqual(await readAllFiles(src, two.tree));
    expect((await ObjectDatabase.open(dst.store)).has(two.commit)).toBe(true);

    const replay = await transfer(src, dst, two.commit, { base, deliveredFirst: base });
    expect(replay.got.commit).toBe(two.commit);
    expect(replay.sent).toMatchObject({ objects: 0, wireBytes: 0 });
    expect(replay.roundTrips).toBe(1);
  });

  it('a directory changed back to a version the receiver holds arrives complete (sent again, its files not)', async () => {
    const src = await db();
    const dst = await db();
    const big = randomBytesSeeded(300_000, 5);
    const one = await commitFiles(src, { 'd/big.bin': big, 'd/x.txt': Buffer.from('one\n') });
    const two = await commitFiles(src, { 'd/big.bin': Buffer.from('small now\n'), 'd/x.txt': Buffer.from('two\n') }, [one.commit]);
    await transfer(src, dst, one.commit);
    await transfer(src, dst, two.commit, { base: one.commit });
    const three = await commitFiles(src, { 'd/big.bin': big, 'd/x.txt': Buffer.from('one\n') }, [two.commit]);
    const { sent, got } = await transfer(src, dst, three.commit, { base: two.commit });
    expect(got.commit).toBe(three.commit);
    // The root and d/ go again (held, so the receiver skips them); the files were asked about and stay home.
    expect(sent.wireBytes).toBeLessThan(2048);
    expect(await readAllFiles(dst, three.tree)).toEqual(await readAllFiles(src, three.tree));
  });

  it('settles three levels of a new tree per round trip', async () => {
    const src = await db();
    const dst = await db();
    // Below the commit: root, p/, q/, r/, the file's chunk list, its chunks. Six levels, asked in two rounds.
    const { commit, tree } = await commitFiles(src, { 'p/q/r/big.bin': randomBytesSeeded(700_000, 3) });
    const { sent, roundTrips } = await transfer(src, dst, commit);
    expect(roundTrips).toBe(1 + 2);
    expect(sent.haveRounds).toBe(roundTrips);
    expect(await readAllFiles(dst, tree)).toEqual(await readAllFiles(src, tree));
    expect((await ObjectDatabase.open(dst.store)).has(commit)).toBe(true);
  });

  it('asks about a level of more ids than one query holds in one round trip', async () => {
    const src = await db();
    const dst = await db();
    const many: Record<string, Buffer> = {};
    for (let i = 0; i < 5000; i++) many[`many/f${i}.txt`] = Buffer.from(`file ${i}\n`);
    const { commit, tree } = await commitFiles(src, many);
    const asked: number[] = [];
    const { sent, roundTrips } = await transfer(src, dst, commit, {
      tap: (m) => {
        if (m.haveQuery) asked.push((m.haveQuery.ids as Buffer).length / 32);
        return m;
      },
    });
    // The commit; the root with many/; then many/'s pages, if it has any, with the 5000 files (two queries).
    expect(Math.max(...asked)).toBe(4096);
    expect(asked.reduce((a, b) => a + b, 0)).toBeGreaterThan(5000);
    expect(roundTrips).toBe(3);
    expect(sent.haveQueries).toBeGreaterThan(roundTrips);
    expect(await readAllFiles(dst, tree)).toEqual(await readAllFiles(src, tree));
  });

  it('brings missing history along (parents are part of a commit closure), in few round trips', async () => {
    const src = await db();
    const dst = await db();
    let parents: CommitId[] = [];
    const ids: CommitId[] = [];
    for (let i = 0; i < 40; i++) {
      const c = await commitFiles(src, { 'n.txt': Buffer.from(`version ${i}\n`) }, parents);
      ids.push(c.commit);
      parents = [c.commit];
    }
    const { sent } = await transfer(src, dst, ids[39]);
    for (const id of ids) expect(dst.has(id)).toBe(true);
    expect(sent.haveQueries).toBeLessThan(12);
  });

  it('sends the base and its history too when the receiver turns out not to hold the base', async () => {
    const src = await db();
    const dst = await db();
    const one = await commitFiles(src, { 'f.txt': Buffer.from('one\n') });
    const two = await commitFiles(src, { 'f.txt': Buffer.from('two\n') }, [one.commit]);
    const three = await commitFiles(src, { 'f.txt': Buffer.from('three\n') }, [two.commit]);
    await transfer(src, dst, three.commit, { base: two.commit });
    for (const c of [one, two, three]) expect(dst.has(c.commit)).toBe(true);
    expect(await readAllFiles(dst, one.tree)).toEqual({ 'f.txt': Buffer.from('one\n').toString('base64') });
  });

  it('rejects bytes that do not match their id, and stores nothing that would reference them', async () => {
    const src = await db();
    const dst = await db();
    const { commit } = await commitFiles(src, files());
    let tampered = false;
    const tap = (m: TransferMessage): TransferMessage => {
      if (!m.objects || tampered) return m;
      tampered = true;
      const [first, ...rest] = m.objects.objects!;
      const data = Buffer.from(first.data as Buffer);
      data[0] ^= 1;
      return { objects: { objects: [{ ...first, data }, ...rest] } };
    };
    await expect(transfer(src, dst, commit, { tap })).rejects.toThrow(IntegrityError);
    expect(dst.has(commit)).toBe(false);
  });

  it('hashes batches on a worker when the channel owns its buffers, and still rejects damaged bytes', () =>
    withHashWorker(async (hashes, moved) => {
      const src = await db();
      const dst = await db();
      const { commit, tree } = await commitFiles(src, { ...files(), 'big.bin': randomBytesSeeded(3_000_000, 4) });
      const { got } = await transfer(src, dst, commit, { wire: { hashes } });
      expect(got.commit).toBe(commit);
      expect(moved.mock.calls.length).toBeGreaterThanOrEqual(3);
      expect(await readAllFiles(dst, tree)).toEqual(await readAllFiles(src, tree));

      const other = await db();
      let damaged: ObjectId | undefined;
      const tap = (m: TransferMessage): TransferMessage => {
        const frames = m.objects?.objects as ObjectFrame[] | undefined;
        if (!frames || damaged || frames.length < 2) return m;
        const data = Buffer.from(frames[1].data as Buffer);
        data[data.length >> 1] ^= 1;
        damaged = Buffer.from(frames[1].id as Buffer).toString('hex') as ObjectId;
        return { objects: { objects: [frames[0], { ...frames[1], data }, ...frames.slice(2)] } };
      };
      await expect(transfer(src, other, commit, { tap, wire: { hashes } })).rejects.toThrow(IntegrityError);
      expect(damaged).toBeDefined();
      expect(other.has(damaged!)).toBe(false);
      expect(other.has(commit)).toBe(false);
    }));

  it('hashes in place a batch whose buffer holds more than the message, though the channel owns it', () =>
    withHashWorker(async (hashes, moved) => {
      const src = await db();
      const dst = await db();
      const { commit, tree } = await commitFiles(src, { 'big.bin': randomBytesSeeded(1_000_000, 6) });
      const shared = Buffer.alloc(8 << 20);
      const views: Buffer[] = [];
      // Every batch a view into one larger buffer, as a decoder that sliced its input without copying would give.
      const lay = (m: TransferMessage): TransferMessage => {
        const wire = onWire(m);
        if (!wire.objects) return wire;
        const frames = wire.objects.objects as ObjectFrame[];
        const first = frames.find((f) => f.data) as ObjectFrame | undefined;
        const data = first?.data as Buffer | undefined;
        if (!data) return wire;
        const whole = Buffer.from(data.buffer);
        const at = views.length * 1_100_000;
        shared.set(whole, at);
        views.push(shared.subarray(at, at + whole.length));
        const rebase = (b: unknown) =>
          b instanceof Uint8Array ? shared.subarray(at + b.byteOffset, at + b.byteOffset + b.length) : b;
        const objects = frames.map((f) => ({ ...f, id: rebase(f.id) as Buffer, data: rebase(f.data) as Buffer }));
        return { objects: { objects } };
      };
      const { got } = await transfer(src, dst, commit, { wire: { hashes, lay } });
      expect(got.commit).toBe(commit);
      expect(views.length).toBeGreaterThan(0);
      expect(moved).not.toHaveBeenCalled();
      expect(shared.buffer.byteLength).toBe(8 << 20);
      expect(await readAllFiles(dst, tree)).toEqual(await readAllFiles(src, tree));
    }));

  it('reads ahead of the stream only up to its bound, also for a folder of many one-chunk files', async () => {
    const src = await db();
    const dst = await db();
    const many: Record<string, Buffer> = {};
    for (let i = 0; i < 200; i++) many[`small/f${String(i).padStart(3, '0')}.bin`] = randomBytesSeeded(10_000, 100 + i);
    const { commit } = await commitFiles(src, many);
    let inFlight = 0;
    let most = 0;
    const slow = {
      get: async (id: ObjectId) => {
        most = Math.max(most, ++inFlight);
        await new Promise((r) => setTimeout(r, 1));
        inFlight--;
        return src.get(id);
      },
    };
    await transfer(slow, dst, commit, { sender: { readAhead: { batchBytes: 32 * 1024, aheadBytes: 64 * 1024 } } });
    expect(dst.has(commit)).toBe(true);
    // 64 KiB ahead of 10 KB files: about 7 reads at a time (one more while the head is sent), never all 200.
    expect(most).toBeGreaterThan(1);
    expect(most).toBeLessThanOrEqual(8);
  });

  it('reads a large file\'s chunks in runs of the read-ahead batch size, whatever the shape of its chunk list', async () => {
    const src = await db();
    const dst = await db();
    const { commit } = await commitFiles(src, { 'big.bin': randomBytesSeeded(8 << 20, 7) });
    const reads: number[] = [];
    const counting = {
      get: (id: ObjectId) => src.get(id),
      getMany: async (ids: readonly ObjectId[], opts?: { verify?: boolean }) => {
        const got = await src.getMany(ids, opts);
        // Chunk reads only (unverified: the receiver hashes); trees and lists are read verified while negotiating.
        if (opts?.verify === false) reads.push(got.reduce((n, b) => n + b.length, 0));
        return got;
      },
    };
    const batchBytes = 512 * 1024;
    await transfer(counting, dst, commit, { sender: { readAhead: { batchBytes, aheadBytes: 4 * batchBytes } } });
    expect(dst.has(commit)).toBe(true);
    expect(reads.reduce((a, b) => a + b, 0)).toBe(8 << 20);
    // A run spans the file's list nodes: every read but the last is a full batch, not cut where a list node ends.
    expect(reads.slice(0, -1).every((n) => n >= batchBytes)).toBe(true);
    expect(reads.length).toBeLessThanOrEqual(Math.ceil((8 << 20) / batchBytes));
  });

  it('sends a file\'s list nodes after its chunks, so they land side by side in the receiver\'s pack', async () => {
    const src = await db();
    const store = new MemoryStore();
    const dst = await ObjectDatabase.open(store);
    const { commit, files: refs } = await commitFiles(src, { 'big.bin': randomBytesSeeded(12 << 20, 11) });
    await transfer(src, dst, commit);
    const fresh = await ObjectDatabase.open(store, { cacheBytes: 0 });
    const nodes: { id: ObjectId; bytes: number }[] = [];
    const walk = async (id: ObjectId): Promise<void> => {
      const bytes = await fresh.get(id);
      nodes.push({ id, bytes: bytes.length });
      const node = decodeChunkList(bytes, id);
      if (node.level > 0) for (const c of node.children) await walk(c.id);
    };
    await walk(refs.get('big.bin')!.id);
    expect(nodes.length).toBeGreaterThan(3);
    const offsets = nodes.map((n) => fresh.placeOf(n.id)!.offset);
    const span = Math.max(...offsets) - Math.min(...offsets);
    // Interleaved with their chunks they would span most of the 12 MiB; side by side, about their own bytes.
    expect(span).toBeLessThan(nodes.reduce((sum, n) => sum + n.bytes + 64, 0));
  });

  it('reads the trees and lists it negotiates a level at a time, not one round trip per node', async () => {
    const src = await db();
    const dst = await db();
    const many: Record<string, Buffer> = {};
    for (let i = 0; i < 20; i++) many[`parts/p${i}.bin`] = randomBytesSeeded(300_000, 300 + i);
    const { commit } = await commitFiles(src, many);
    let calls = 0;
    let callsAtLastQuery = 0;
    const counting = {
      get: (id: ObjectId) => (calls++, src.get(id)),
      getMany: (ids: readonly ObjectId[], opts?: { verify?: boolean }) => (calls++, src.getMany(ids, opts)),
    };
    const tap = (m: TransferMessage) => {
      if (m.haveQuery) callsAtLastQuery = calls;
      return m;
    };
    await transfer(counting, dst, commit, { tap });
    expect(dst.has(commit)).toBe(true);
    // Negotiation reads the commit, then each level (root, parts/, the 20 files' lists) in one call: not 20+.
    expect(callsAtLastQuery).toBeGreaterThan(0);
    expect(callsAtLastQuery).toBeLessThan(8);
  });

  it('streams a long history of small commits as it goes, not after reading all of it', async () => {
    const src = await db();
    const dst = await db();
    let top: CommitId | undefined;
    for (let i = 0; i < 150; i++) {
      top = (await commitFiles(src, { [`b/${i}.csv`]: Buffer.from(`id\n${i}\n`) }, top ? [top] : [])).commit;
    }
    let reads = 0;
    const counting = { get: (id: ObjectId) => (reads++, src.get(id)) };
    let readsAtLastQuery = 0;
    let readsAtFirstBatch: number | undefined;
    const tap = (m: TransferMessage) => {
      if (m.haveQuery) readsAtLastQuery = reads;
      if (m.objects && readsAtFirstBatch === undefined) readsAtFirstBatch = reads;
      return m;
    };
    await transfer(counting, dst, top!, { tap, sender: { readAhead: { batchBytes: 2048, aheadBytes: 4096 }, batchBytes: 2048 } });
    expect(dst.has(top!)).toBe(true);
    // Trees and commits in hand count against a run's bound like chunks do, so sending starts early in the send
    // phase (after negotiation), instead of after every object of the history has been gathered.
    const sendPhaseReads = reads - readsAtLastQuery;
    expect(sendPhaseReads).toBeGreaterThan(300);
    expect(readsAtFirstBatch! - readsAtLastQuery).toBeLessThan(sendPhaseReads / 4);
  });

  it('catches a chunk damaged in the sender\'s own store, which the sender reads unhashed', async () => {
    const store = new MemoryStore();
    const written = await ObjectDatabase.open(store);
    const { commit } = await commitFiles(written, { 'big.bin': randomBytesSeeded(600_000, 7) });
    await written.flush();
    // Flip a byte in the middle of the pack: inside a chunk's payload (chunks are most of its bytes).
    const damaged = new MemoryStore();
    for await (const info of store.list('')) {
      const bytes = await store.get(info.key);
      if (info.key.endsWith('.pack')) bytes[Math.floor(bytes.length / 2)] ^= 0x40;
      await damaged.putIfAbsent(info.key, bytes);
    }
    const src = await ObjectDatabase.open(damaged);
    const dst = await db();
    await expect(transfer(src, dst, commit)).rejects.toThrow(/does not match its id/);
    expect(dst.has(commit)).toBe(false);
  });

  it('rejects a tree with an unsafe name before the commit is stored', async () => {
    const src = await db();
    const dst = await db();
    const chunk = await src.put(Buffer.from('evil'));
    const tree = await src.put(encodeCheckedTreePage([{ name: '..', kind: 'file', executable: false, chunked: false, id: chunk, size: 4 }]));
    const c: Commit = { tree, parents: [], author: 'x', time: '2026-11-24T00:00:00.000Z', message: 'm', annotations: {} };
    const commit = (await src.put(encodeCommit(c))) as CommitId;
    // The sender refuses to walk it too; a hostile sender would not, so drive the receiver with hand-made frames.
    const ch = memoryChannels();
    const receiving = new TransferReceiver(databaseTarget(dst), ch.receiver).receiveCommit();
    const frame = async (id: ObjectId, kind: string) => ({ id: Buffer.from(id, 'hex'), kind, data: await src.get(id) });
    await ch.sender.send({ objects: { objects: [await frame(chunk, 'OBJECT_KIND_CHUNK'), await frame(tree, 'OBJECT_KIND_TREE'), await frame(commit, 'OBJECT_KIND_COMMIT')] } as never });
    await expect(receiving).rejects.toThrow(/unsafe path/);
    expect(dst.has(tree)).toBe(false);
    expect(dst.has(commit)).toBe(false);
  });

  describe('claims about objects the receiver already holds', () => {
    /** dst holds a commit of `x.txt` (one chunk), `big.bin` (a chunk list) and `sub/` (a tree). */
    async function held() {
      const src = await db();
      const dst = await db();
      const big = randomBytesSeeded(600 * 1024, 7);
      const first = await commitFiles(src, { 'x.txt': Buffer.from('hello'), 'big.bin': big, 'sub/y.txt': Buffer.from('y') });
      await transfer(src, dst, first.commit);
      const entries = new Map<string, TreeEntry>();
      for await (const { path: p, entry } of walkFiles(dst, first.tree)) entries.set(p, entry);
      const sub = (await lookupPath(dst, first.tree, 'sub'))!;
      expect([entries.get('big.bin')?.chunked, sub.kind]).toEqual([true, 'dir']);
      return { src, dst, x: entries.get('x.txt')!, big: entries.get('big.bin')!, sub };
    }

    /**
     * Sends a commit of a one-entry root tree, `entry`, made by hand: the receiver holds what the entry names. The
     * receiver remembers nothing decoded before (a process just started) unless given `kinds`.
     */
    async function sendRoot(src: ObjectDatabase, dst: ObjectDatabase, entry: TreeEntry, kinds = new VerifiedKinds()) {
      const tree = await src.put(encodeCheckedTreePage([entry]));
      const c: Commit = { tree, parents: [], author: 'x', time: '2026-11-24T00:00:00.000Z', message: 'm', annotations: {} };
      const commit = (await src.put(encodeCommit(c))) as CommitId;
      const ch = memoryChannels();
      const receiving = new TransferReceiver(databaseTarget(dst), ch.receiver, undefined, undefined, kinds).receiveCommit();
      receiving.catch(() => undefined);
      const frame = async (id: ObjectId, kind: string) => ({ id: Buffer.from(id, 'hex'), kind, data: await src.get(id) });
      const objects = [await frame(tree, 'OBJECT_KIND_TREE'), await frame(commit, 'OBJECT_KIND_COMMIT')];
      await ch.sender.send({ objects: { objects } as never });
      await ch.sender.send({ commitEnd: { commit: Buffer.from(commit, 'hex') } } as never);
      return { receiving, tree, commit };
    }

    it('rejects a held chunk named as a folder, and stores nothing of the commit', async () => {
      const { src, dst, x } = await held();
      const { receiving, tree, commit } = await sendRoot(src, dst, { name: 'd', kind: 'dir', executable: false, chunked: false, id: x.id, size: 5 });
      await expect(receiving).rejects.toBeInstanceOf(IntegrityError);
      await expect(receiving).rejects.toThrow(new RegExp(`names ${x.id} as a tree, but it is not one`));
      expect(dst.has(tree)).toBe(false);
      expect(dst.has(commit)).toBe(false);
    });

    it('rejects a held chunk, list or folder named with the wrong size', async () => {
      const { src, dst, x, big, sub } = await held();
      for (const entry of [
        { ...x, name: 'a', size: 6 },
        { ...big, name: 'b', size: big.size + 1 },
        { ...sub, name: 'c', size: sub.size + 1 },
      ]) {
        const { receiving, commit } = await sendRoot(src, dst, entry);
        await expect(receiving).rejects.toThrow(new RegExp(`says ${entry.id} holds ${entry.size} bytes, but it holds ${entry.size - 1}`));
        expect(dst.has(commit)).toBe(false);
      }
    });

    it('rejects a held file\'s chunk list named as a folder, and a folder named as a chunked file', async () => {
      const { src, dst, big, sub } = await held();
      const asDir = await sendRoot(src, dst, { ...big, name: 'd', kind: 'dir', chunked: false, executable: false });
      await expect(asDir.receiving).rejects.toThrow(new RegExp(`names ${big.id} as a tree, but it is not one`));
      const asList = await sendRoot(src, dst, { ...sub, name: 'f', kind: 'file', chunked: true, executable: false });
      await expect(asList.receiving).rejects.toThrow(new RegExp(`names ${sub.id} as a chunk list, but it is not one`));
    });

    it('accepts held objects named as what they are, reading each once, in one read per new object', async () => {
      const { src, dst, x, big, sub } = await held();
      const before = dst.stats.gets;
      const { receiving, commit } = await sendRoot(src, dst, { ...sub, name: 'copy' });
      await expect(receiving).resolves.toMatchObject({ commit });
      // The root names one held folder; the chunk claims of other roots cost no read (the index knows lengths).
      expect(dst.stats.gets - before).toBe(1);
      const again = await sendRoot(src, dst, { ...x, name: 'x2' });
      await expect(again.receiving).resolves.toMatchObject({ commit: again.commit });
      const list = await sendRoot(src, dst, { ...big, name: 'big2' });
      await expect(list.receiving).resolves.toMatchObject({ commit: list.commit });
      expect(dst.stats.gets - before).toBe(2);
    });

    it('reads nothing to check held objects this process decoded before (received them, or checked them once)', async () => {
      const { src, dst, sub } = await held();
      const kinds = new VerifiedKinds();
      const before = dst.stats.gets;
      await expect((await sendRoot(src, dst, { ...sub, name: 'one' }, kinds)).receiving).resolves.toBeDefined();
      expect(dst.stats.gets - before).toBe(1);
      await expect((await sendRoot(src, dst, { ...sub, name: 'two' }, kinds)).receiving).resolves.toBeDefined();
      expect(dst.stats.gets - before).toBe(1);
      // Remembered as what it is, not as anything: a claim of another kind is still read and refused.
      const wrong = await sendRoot(src, dst, { ...sub, name: 'f', kind: 'file', chunked: true, executable: false }, kinds);
      await expect(wrong.receiving).rejects.toThrow(/as a chunk list, but it is not one/);
    });

    it('an increment deep in a wide tree reads no held object on a receiver that received the previous commit', async () => {
      const src = await db();
      const dst = await db();
      const files: Record<string, Buffer> = {};
      for (let i = 0; i < 2000; i++) files[`d${i}/x.txt`] = Buffer.from(`v${i}`);
      const one = await commitFiles(src, files);
      await transfer(src, dst, one.commit);
      files['d7/x.txt'] = Buffer.from('changed');
      const two = await commitFiles(src, files, [one.commit]);
      const before = dst.stats.gets;
      const checks = jest.spyOn(dst, 'getMany');
      await transfer(src, dst, two.commit, { base: one.commit });
      expect(checks).not.toHaveBeenCalled();
      // The two reads: the old root index and the old page that held d7, which the new ones travel as deltas of.
      expect(dst.stats.gets - before).toBe(2);
    });
  });

  it('refuses a tree whose held first page and sent second page share a name, reading the held page', async () => {
    const src = await db();
    const dst = await db();
    const { chunk, trees } = await unreadableTrees(src);
    const dup = trees.find((x) => x.what === 'the same name on two pages')!;
    const [first, second] = dup.nodes;
    for (const id of [chunk, first]) await dst.put(await src.get(id));
    const c: Commit = { tree: dup.tree, parents: [], author: 'x', time: '2026-11-24T00:00:00.000Z', message: 'm', annotations: {} };
    const commit = (await src.put(encodeCommit(c))) as CommitId;
    const ch = memoryChannels();
    const receiving = new TransferReceiver(databaseTarget(dst), ch.receiver, undefined, undefined, new VerifiedKinds()).receiveCommit();
    receiving.catch(() => undefined);
    const frame = async (id: ObjectId, kind: string) => ({ id: Buffer.from(id, 'hex'), kind, data: await src.get(id) });
    const objects = [await frame(second, 'OBJECT_KIND_TREE'), await frame(dup.tree, 'OBJECT_KIND_TREE'), await frame(commit, 'OBJECT_KIND_COMMIT')];
    await ch.sender.send({ objects: { objects } as never });
    await ch.sender.send({ commitEnd: { commit: Buffer.from(commit, 'hex') } } as never);
    await expect(receiving).rejects.toBeInstanceOf(IntegrityError);
    await expect(receiving).rejects.toThrow(dup.refusal);
    expect([dst.has(dup.tree), dst.has(commit)]).toEqual([false, false]);
  });

  it('rejects an object sent before what it references (closure), and a delta against an unknown base', async () => {
    const src = await db();
    const { commit, tree } = await commitFiles(src, { 'x.txt': Buffer.from('x') });
    const dst = await db();
    const ch = memoryChannels();
    const receiving = new TransferReceiver(databaseTarget(dst), ch.receiver).receiveCommit();
    await ch.sender.send({ objects: { objects: [{ id: Buffer.from(commit, 'hex'), kind: 'OBJECT_KIND_COMMIT', data: await src.get(commit) }] } });
    await expect(receiving).rejects.toThrow(new RegExp(`references ${tree}`));

    const ch2 = memoryChannels();
    const receiving2 = new TransferReceiver(databaseTarget(dst), ch2.receiver).receiveCommit();
    const other = Buffer.alloc(32, 1);
    await ch2.sender.send({ objects: { objects: [{ id: Buffer.from(tree, 'hex'), kind: 'OBJECT_KIND_TREE', delta: { base: other, delta: Buffer.from([0, 0]) } }] } });
    await expect(receiving2).rejects.toThrow(/not held/);
  });

  it('once it rejects, stores nothing more: a batch still being stored stops, so no pack is left unfinished', async () => {
    const dst = await db();
    const inner = databaseTarget(dst);
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    let putsStarted = 0;
    const target: ObjectTarget = {
      ...inner,
      has: (id) => inner.has(id),
      put: async (id, bytes) => {
        putsStarted++;
        await gate;
        await inner.put(id, bytes);
      },
    };
    const chunks = [Buffer.from('chunk a'), Buffer.from('chunk b')];
    let hungUp = false;
    const channel: ReceiverChannel = {
      receive: async () => {
        if (hungUp) throw new UnavailableError('the peer hung up');
        hungUp = true;
        const objects = chunks.map((c) => ({ id: Buffer.from(sha256(c), 'hex'), kind: CHUNK, payload: 'data' as const, data: c }));
        return { objects: { objects } } as unknown as TransferMessage;
      },
      sendHaveReply: async () => undefined,
    };
    const receiving = new TransferReceiver(target, channel, undefined, new HashPool(0)).receiveCommit();
    receiving.catch(() => undefined);
    // The first put waits at the gate while the peer hangs up; then the gate opens.
    while (!(hungUp && putsStarted === 1)) await new Promise((r) => setImmediate(r));
    open();
    await expect(receiving).rejects.toThrow(UnavailableError);
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    expect(putsStarted).toBe(1);
  });

  it('refuses a have reply of the wrong length as bad input (INVALID_ARGUMENT), not as its own fault', async () => {
    const src = await db();
    const { commit } = await commitFiles(src, files());
    const ch = memoryChannels();
    const sender = new TransferSender(src, { ...ch.sender, receiveHaveReply: async () => Buffer.alloc(0) });
    const sending = sender.sendCommit(commit);
    await expect(sending).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(sending).rejects.toThrow(/have reply has 0 bytes for 1 ids/);
  });

  it('never builds a batch past the message limit, even for an object of several MiB that a store holds', async () => {
    // Stored by a raw publisher as single chunks (the chunker would split them): 900 KiB, then 7.5 MiB.
    const src = await db();
    const dst = await db();
    const small = randomBytesSeeded(900 << 10, 31);
    const big = randomBytesSeeded(7.5 * (1 << 20), 32);
    const entries = [];
    for (const [name, bytes] of [['a.bin', small], ['b.bin', big]] as const) {
      const id = await src.put(bytes);
      entries.push({ path: name, entry: { kind: 'file' as const, executable: false, chunked: false, id, size: bytes.length } });
    }
    const tree = await writeTreeFromPaths(src, entries);
    const c: Commit = { tree: tree.id, parents: [], author: 'test', time: '2026-11-24T00:00:00.000Z', message: 'raw', annotations: {} };
    const commit = (await src.put(encodeCommit(c))) as CommitId;
    await src.flush();

    const { messages } = await transfer(src, dst, commit);
    const batches = messages.filter((m) => m.objects).map((m) => (m.objects!.objects as ObjectFrame[]).reduce((n, f) => n + (f.data?.length ?? 0) + 64, 0));
    expect(Math.max(...batches)).toBeLessThanOrEqual(8 << 20);
    expect((await dst.get(sha256(big))).equals(big)).toBe(true);
  });

  it('offers a new receiver a folder of 130,000 files, more than one call can take as arguments', async () => {
    const src = await db();
    const dst = await db();
    const bytes = Buffer.from('one row\n');
    const id = await src.put(bytes);
    const entries = [];
    for (let i = 0; i < 130_000; i++) {
      entries.push({ path: `wide/f${String(i).padStart(6, '0')}`, entry: { kind: 'file' as const, executable: false, chunked: false, id, size: bytes.length } });
    }
    const tree = await writeTreeFromPaths(src, entries);
    const c: Commit = { tree: tree.id, parents: [], author: 'test', time: '2026-11-24T00:00:00.000Z', message: 'wide', annotations: {} };
    const commit = (await src.put(encodeCommit(c))) as CommitId;
    await src.flush();

    const { got } = await transfer(src, dst, commit);
    expect(got.commit).toBe(commit);
    expect((await dst.get(id)).equals(bytes)).toBe(true);
  });

  it('refuses a have query of no ids, which no sender asks (1 to 4096 ids)', async () => {
    const dst = await db();
    const ch = memoryChannels();
    const receiving = new TransferReceiver(databaseTarget(dst), ch.receiver).receiveCommit();
    await ch.sender.send({ haveQuery: { ids: Buffer.alloc(0) } });
    await expect(receiving).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: 'a have query holds 1 to 4096 ids of 32 bytes' });
  });

  it('takes a held commit as the end of a transfer only if it is one, with its tree and parents held', async () => {
    const dst = await db();
    // A file's chunk whose bytes decode as a commit naming a tree nobody holds, stored as any chunk is.
    const c: Commit = { tree: 'ab'.repeat(32) as TreeId, parents: [], author: 'x', time: '2026-11-24T00:00:00.000Z', message: 'm', annotations: {} };
    const fake = await dst.put(encodeCommit(c));
    const real = await commitFiles(dst, { 'a.txt': Buffer.from('a') });
    await dst.flush();
    const end = async (commit: ObjectId) => {
      const ch = memoryChannels();
      const receiving = new TransferReceiver(databaseTarget(dst), ch.receiver, undefined, undefined, new VerifiedKinds()).receiveCommit();
      receiving.catch(() => undefined);
      await ch.sender.send({ commitEnd: { commit: Buffer.from(commit, 'hex') } });
      return receiving;
    };
    await expect(end(fake)).rejects.toThrow(new RegExp(`ended with an object held under that id that is not a commit whose tree and parents are held`));
    await expect(end(real.commit)).resolves.toMatchObject({ commit: real.commit });
  });

  it('rejects a transfer that ends without its commit', async () => {
    const dst = await db();
    const ch = memoryChannels();
    const receiving = new TransferReceiver(databaseTarget(dst), ch.receiver).receiveCommit();
    await ch.sender.send({ commitEnd: { commit: Buffer.alloc(32, 3) } });
    await expect(receiving).rejects.toThrow(/ended without the commit/);
  });
});
