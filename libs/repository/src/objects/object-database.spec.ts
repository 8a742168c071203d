import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { IntegrityError, NotFoundError, ObjectId, sha256, UnavailableError } from '@tributary/core';
import { ByteRange, LocalStore, MemoryStore } from '@tributary/storage';
import { MAX_DELTA_DEPTH, PACK_HEADER_BYTES, RECORD_DELTA, RECORD_FULL, RECORD_HEADER_BYTES } from '../packs/pack-format';
import { HashPool } from './hash-pool';
import { ObjectDatabase } from './object-database';

/** Counts ranged reads, so tests can see coalescing. */
class CountingStore extends MemoryStore {
  ranges: ByteRange[] = [];

  override async getRange(key: string, range: ByteRange): Promise<Buffer> {
    this.ranges.push(range);
    return super.getRange(key, range);
  }
}

/** Counts listings, so tests can see a database did not list the store. */
class ListCountingStore extends CountingStore {
  listings = 0;

  override list(prefix: string) {
    this.listings++;
    return super.list(prefix);
  }
}

async function keys(store: MemoryStore, suffix = ''): Promise<string[]> {
  const out: string[] = [];
  for await (const info of store.list('packs/')) if (info.key.endsWith(suffix)) out.push(info.key);
  return out.sort();
}

/** What another process's gc does to `old`, which holds only `bytes`: a new pack holding them, then `old` deleted. */
async function moveToNewPack(store: MemoryStore, old: { packKey: string; idxKey: string }, bytes: Buffer): Promise<void> {
  const copy = await ObjectDatabase.open(new MemoryStore());
  await copy.put(bytes);
  await copy.flush();
  const moved = copy.packs()[0];
  await store.putIfAbsent(moved.packKey, await copy.store.get(moved.packKey));
  await store.putIfAbsent(moved.idxKey, await copy.store.get(moved.idxKey));
  await store.delete(old.idxKey);
  await store.delete(old.packKey);
}

/** Replaces a stored object's bytes (the store itself never allows it). */
async function rewrite(store: MemoryStore, key: string, edit: (b: Buffer) => Buffer): Promise<void> {
  const bytes = await store.get(key);
  await store.delete(key);
  await store.putIfAbsent(key, edit(bytes));
}

async function collect(db: ObjectDatabase): Promise<ObjectId[]> {
  const out: ObjectId[] = [];
  for await (const id of db.ids()) out.push(id);
  return out;
}

/** Buffer equality without jest's slow element-by-element diff of large buffers. */
function same(actual: Buffer, expected: Buffer): void {
  expect(actual.length).toBe(expected.length);
  expect(actual.equals(expected)).toBe(true);
}

const blob = (n: number, size = 100) => Buffer.concat([Buffer.from(`object ${n}:`), randomBytes(size)]);

describe('ObjectDatabase', () => {
  it('finds a delta on a delta on a vanished base gone too, and has() says so until each is stored again', async () => {
    const store = new MemoryStore();
    const base = randomBytes(20_000);
    const z = Buffer.from(base);
    z[100] ^= 1;
    const y = Buffer.from(z);
    y[200] ^= 1;
    const [bId, zId, yId] = [sha256(base), sha256(z), sha256(y)];
    const old = await ObjectDatabase.open(store);
    await old.putWithId(bId, base);
    await old.flush();
    const [oldPack] = old.packs();

    const db = await ObjectDatabase.open(store);
    const watch = db.watchReuse();
    await db.putWithId(zId, z, { deltaBase: bId });
    await db.flush();
    await db.putWithId(yId, y, { deltaBase: zId });
    await db.flush();
    await store.delete(oldPack.idxKey);
    await store.delete(oldPack.packKey);

    expect((await db.confirmReused(watch)).sort()).toEqual([bId, yId, zId].sort());
    expect([db.has(zId), db.has(yId)]).toEqual([false, false]);
    await db.putWithId(zId, z);
    await db.putWithId(yId, y);
    await db.flush();
    expect([db.has(zId), db.has(yId)]).toEqual([true, true]);
    same(await (await ObjectDatabase.open(store)).get(yId), y);
  });

  it('keeps overlapping watches apart: confirming one ends only it, and checkReused checks every one running', async () => {
    const store = new MemoryStore();
    const held = blob(1);
    const old = await ObjectDatabase.open(store);
    const heldId = await old.put(held);
    await old.flush();
    const [oldPack] = old.packs();

    const db = await ObjectDatabase.open(store);
    // A commit's watch, then a fetch's in the same process (an agent merging its topic's head while it commits).
    const commit = db.watchReuse();
    const fetch = db.watchReuse();
    expect(await db.put(held)).toBe(heldId);
    await db.put(blob(2));
    await db.flush();
    // Nothing gone: the fetch's confirm ends its watch only.
    expect(await db.confirmReused(fetch)).toEqual([]);
    await store.delete(oldPack.idxKey);
    await store.delete(oldPack.packKey);
    // The commit's watch still runs, and saw the reuse made while both ran.
    expect(await db.checkReused()).toEqual([heldId]);
    expect(await db.confirmReused(commit)).toEqual([heldId]);
    // With no watch running there is nothing to check, and nothing is listed.
    const list = jest.spyOn(store, 'list');
    expect(await db.checkReused()).toEqual([]);
    expect(list).not.toHaveBeenCalled();
  });

  it('round-trips objects and a fresh open after flush sees every one', async () => {
    const store = new MemoryStore();
    const db = await ObjectDatabase.open(store);
    const objects = [Buffer.alloc(0), Buffer.from('hello'), randomBytes(300_000), blob(1)];
    const ids = await Promise.all(objects.map((o) => db.put(o)));
    expect(ids).toEqual(objects.map((o) => sha256(o)));
    for (const id of ids) expect(db.has(id)).toBe(true);
    await db.flush();

    const fresh = await ObjectDatabase.open(store);
    for (let i = 0; i < objects.length; i++) {
      expect(fresh.has(ids[i])).toBe(true);
      same(await fresh.get(ids[i]), objects[i]);
    }
    expect(await collect(fresh)).toEqual([...ids].sort());
    expect(await keys(store)).toHaveLength(2);
  });

  it('works on the local filesystem store', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'trib-odb-'));
    try {
      const store = await LocalStore.open(path.join(dir, 'objects'), { create: true });
      const db = await ObjectDatabase.open(store);
      const a = randomBytes(200_000);
      const id = await db.put(a);
      await db.flush();
      const fresh = await ObjectDatabase.open(store);
      same(await fresh.get(id), a);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('throws NotFoundError for an absent id and writes a duplicate only once', async () => {
    const db = await ObjectDatabase.open(new MemoryStore());
    await expect(db.get(sha256(Buffer.from('nope')))).rejects.toThrow(NotFoundError);
    const a = blob(1);
    await db.put(a);
    await db.put(a);
    await db.putWithId(sha256(a), a);
    await db.flush();
    await db.put(a);
    expect(db.stats.objectsWritten).toBe(1);
  });

  it('keeps unflushed objects invisible to other readers, and readable here', async () => {
    const store = new MemoryStore();
    const db = await ObjectDatabase.open(store, { cacheBytes: 0 });
    const small = blob(1);
    const large = randomBytes(100_000);
    const ids = [await db.put(small), await db.put(large)];
    expect((await ObjectDatabase.open(store)).has(ids[0])).toBe(false);
    // With no cache a pending get flushes first: the pack then exists.
    same(await db.get(ids[1]), large);
    same(await db.get(ids[0]), small);
    expect((await ObjectDatabase.open(store)).has(ids[1])).toBe(true);
  });

  it('serves small pending objects from the cache without flushing', async () => {
    const store = new MemoryStore();
    const db = await ObjectDatabase.open(store);
    const bytes = blob(1);
    const id = await db.put(bytes);
    same(await db.get(id), bytes);
    same(await db.get(id), bytes);
    expect(await keys(store)).toEqual([]);
    expect(db.stats.gets).toBe(2);
  });

  it('caches a small object put with an id the caller hashed (hashed), and one the caller only vouches for not', async () => {
    const store = new MemoryStore();
    const db = await ObjectDatabase.open(store);
    const hashed = blob(2);
    await db.putWithId(sha256(hashed), hashed, { hashed: true });
    same(await db.get(sha256(hashed)), hashed);
    expect(await keys(store)).toEqual([]);
    const vouched = blob(3);
    await db.putWithId(sha256(vouched), vouched);
    same(await db.get(sha256(vouched)), vouched);
    // Not cached: reading it back flushed the pack.
    expect(await keys(store, '.pack')).toHaveLength(1);
  });

  it('abort drops the open pack: nothing becomes visible', async () => {
    const store = new MemoryStore();
    const db = await ObjectDatabase.open(store);
    const kept = await db.put(blob(0));
    await db.flush();
    const id = await db.put(blob(1));
    await db.abort();
    expect(db.has(id)).toBe(false);
    expect(db.has(kept)).toBe(true);
    await expect(db.get(id)).rejects.toThrow(NotFoundError);
    expect(await keys(store, '.pack')).toHaveLength(1);
    expect((await ObjectDatabase.open(store)).has(id)).toBe(false);
  });

  it('counts every logical get, and reads the store once for a repeated small object', async () => {
    const store = new MemoryStore();
    const id = await (async () => {
      const w = await ObjectDatabase.open(store);
      const i = await w.put(blob(1, 1000));
      await w.flush();
      return i;
    })();
    const db = await ObjectDatabase.open(store);
    await db.get(id);
    const afterFirst = db.stats.bytesRead;
    await db.get(id);
    expect(db.stats.gets).toBe(2);
    expect(afterFirst).toBeGreaterThan(1000);
    expect(db.stats.bytesRead).toBe(afterFirst);
  });

  it('returns buffers the caller may modify', async () => {
    const db = await ObjectDatabase.open(new MemoryStore());
    const a = blob(1);
    const id = await db.put(a);
    (await db.get(id)).fill(0);
    same(await db.get(id), a);
  });

  it('serializes concurrent puts, duplicates included', async () => {
    const store = new MemoryStore();
    const db = await ObjectDatabase.open(store, { packTargetBytes: 4096 });
    const objects = Array.from({ length: 60 }, (_, i) => blob(i % 40, 300));
    const distinct = new Map(objects.map((o) => [sha256(o), o]));
    await Promise.all(objects.map((o) => db.put(o)));
    await db.flush();
    const fresh = await ObjectDatabase.open(store);
    expect(await collect(fresh)).toEqual([...distinct.keys()].sort());
    for (const [id, o] of distinct) same(await fresh.get(id), o);
  });

  describe('deltas', () => {
    it('stores base + appended bytes as a delta costing about the appended size', async () => {
      const store = new MemoryStore();
      const db = await ObjectDatabase.open(store);
      const base = randomBytes(256 * 1024);
      const baseId = await db.put(base);
      await db.flush();
      const appended = randomBytes(2000);
      const target = Buffer.concat([base, appended]);
      const before = db.stats.bytesWritten;
      await db.putWithId(sha256(target), target, { deltaBase: baseId });
      await db.flush();
      const cost = db.stats.bytesWritten - before;
      expect(cost).toBeGreaterThanOrEqual(appended.length);
      expect(cost).toBeLessThan(appended.length + 512);

      const fresh = await ObjectDatabase.open(store);
      same(await fresh.get(sha256(target)), target);
      const entry = fresh.packs().map((p) => p.index.lookup(sha256(target))).find((e) => e)!;
      expect(entry).toMatchObject({ type: RECORD_DELTA, depth: 1, size: target.length });
    });

    it('stores whole when the base is not held or the delta would not save space', async () => {
      const db = await ObjectDatabase.open(new MemoryStore());
      const target = randomBytes(10_000);
      await db.putWithId(sha256(target), target, { deltaBase: sha256(Buffer.from('absent')) });
      const unrelated = randomBytes(10_000);
      const baseId = await db.put(randomBytes(10_000));
      await db.putWithId(sha256(unrelated), unrelated, { deltaBase: baseId });
      await db.flush();
      const types = db.packs().flatMap((p) => [...p.index.entries()].map((e) => e.type));
      expect(types).toEqual([RECORD_FULL, RECORD_FULL, RECORD_FULL]);
    });

    it('bounds chains at MAX_DELTA_DEPTH and resolves every link', async () => {
      const store = new MemoryStore();
      const db = await ObjectDatabase.open(store, { cacheBytes: 0 });
      let current = randomBytes(64 * 1024);
      let prev = await db.put(current);
      const versions = [current];
      for (let i = 0; i < 2 * MAX_DELTA_DEPTH + 2; i++) {
        current = Buffer.concat([current, randomBytes(500)]);
        const id = sha256(current);
        await db.putWithId(id, current, { deltaBase: prev });
        await db.flush();
        versions.push(current);
        prev = id;
      }
      const fresh = await ObjectDatabase.open(store, { cacheBytes: 0 });
      const depths = versions.map((v) => fresh.packs().map((p) => p.index.lookup(sha256(v))).find((e) => e)!.depth);
      expect(Math.max(...depths)).toBe(MAX_DELTA_DEPTH);
      expect(depths.filter((d) => d === 0).length).toBeGreaterThan(1);
      for (const v of versions) same(await fresh.get(sha256(v)), v);
    });

    it('uses a pending base only from the cache, so it never flushes to make a delta', async () => {
      const store = new MemoryStore();
      const db = await ObjectDatabase.open(store, { cacheBytes: 1 << 20 });
      const small = randomBytes(20_000);
      const smallId = await db.put(small);
      const target = Buffer.concat([small, Buffer.from('more')]);
      await db.putWithId(sha256(target), target, { deltaBase: smallId });
      const large = randomBytes(100_000);
      const largeId = await db.put(large);
      const target2 = Buffer.concat([large, Buffer.from('more')]);
      await db.putWithId(sha256(target2), target2, { deltaBase: largeId });
      expect(await keys(store)).toEqual([]);
      await db.flush();
      const type = (id: ObjectId) => db.packs()[0].index.lookup(id)!.type;
      expect(type(sha256(target))).toBe(RECORD_DELTA);
      expect(type(sha256(target2))).toBe(RECORD_FULL);
      same(await (await ObjectDatabase.open(store)).get(sha256(target)), target);
    });
  });

  describe('putWithId', () => {
    it('with verify, refuses bytes that do not hash to the id', async () => {
      const db = await ObjectDatabase.open(new MemoryStore());
      await expect(db.putWithId(sha256(Buffer.from('a')), Buffer.from('b'), { verify: true })).rejects.toThrow(IntegrityError);
      expect(db.has(sha256(Buffer.from('a')))).toBe(false);
    });

    it('without verify, a lying caller is caught on read', async () => {
      const db = await ObjectDatabase.open(new MemoryStore());
      const id = sha256(Buffer.from('a'));
      await db.putWithId(id, Buffer.from('b'));
      await expect(db.get(id)).rejects.toMatchObject({ code: 'INTEGRITY', details: { id } });
    });
  });

  describe('damage', () => {
    async function stored(objects: Buffer[]): Promise<{ store: MemoryStore; ids: ObjectId[]; packKey: string; idxKey: string }> {
      const store = new MemoryStore();
      const db = await ObjectDatabase.open(store);
      const ids: ObjectId[] = [];
      for (const o of objects) ids.push(await db.put(o));
      await db.flush();
      const p = db.packs()[0];
      return { store, ids, packKey: p.packKey, idxKey: p.idxKey };
    }

    it('a flipped payload byte gives IntegrityError naming the object, from get and verifyStored', async () => {
      const objects = [blob(1), blob(2)];
      const { store, ids, packKey } = await stored(objects);
      await rewrite(store, packKey, (b) => {
        b[PACK_HEADER_BYTES + RECORD_HEADER_BYTES + 20] ^= 0xff;
        return b;
      });
      const db = await ObjectDatabase.open(store);
      await expect(db.get(ids[0])).rejects.toMatchObject({ code: 'INTEGRITY', details: { id: ids[0] } });
      await expect(db.verifyStored(ids[0])).rejects.toThrow(IntegrityError);
      same(await db.get(ids[1]), objects[1]);
      await expect(db.verifyStored(ids[1])).resolves.toBeUndefined();
    });

    it('verifyStoredMany re-reads a pack with one ranged read and names each damaged or missing object', async () => {
      const objects = Array.from({ length: 40 }, (_, i) => blob(i, 2000));
      const store = new CountingStore();
      const writer = await ObjectDatabase.open(store);
      const ids: ObjectId[] = [];
      for (const o of objects) ids.push(await writer.put(o));
      await writer.flush();
      const db = await ObjectDatabase.open(store);
      store.ranges = [];
      expect(await db.verifyStoredMany(ids)).toEqual(ids.map(() => undefined));
      expect(store.ranges).toHaveLength(1);

      const at = (await ObjectDatabase.open(store, { cacheBytes: 0 })).placeOf(ids[7])!;
      await rewrite(store, db.packs()[0].packKey, (b) => {
        b[at.offset + 100] ^= 0xff;
        return b;
      });
      const absent = sha256(Buffer.from('absent'));
      const fresh = await ObjectDatabase.open(store);
      const results = await fresh.verifyStoredMany([...ids, absent]);
      expect(results[7]).toBeInstanceOf(IntegrityError);
      expect(results[7]!.message).toContain(ids[7]);
      expect(results[40]).toBeInstanceOf(NotFoundError);
      expect(results.filter((r) => r !== undefined)).toHaveLength(2);
    });

    it('verifyStoredMany reports the cut objects of a truncated pack and passes the others', async () => {
      const { store, ids, packKey } = await stored([blob(1), blob(2), blob(3)]);
      await rewrite(store, packKey, (b) => b.subarray(0, b.length - 10));
      const results = await (await ObjectDatabase.open(store)).verifyStoredMany(ids);
      expect(results[0]).toBeUndefined();
      expect(results[1]).toBeUndefined();
      expect(results[2]).toBeInstanceOf(IntegrityError);
    });

    it('a damaged record header is detected', async () => {
      const { store, ids, packKey } = await stored([blob(1)]);
      await rewrite(store, packKey, (b) => {
        b[PACK_HEADER_BYTES + 3] ^= 1;
        return b;
      });
      await expect((await ObjectDatabase.open(store)).get(ids[0])).rejects.toThrow(/does not match its index/);
    });

    it('a truncated pack gives IntegrityError for the cut objects only', async () => {
      const { store, ids, packKey } = await stored([blob(1), blob(2)]);
      await rewrite(store, packKey, (b) => b.subarray(0, b.length - 10));
      const db = await ObjectDatabase.open(store);
      await expect(db.get(ids[1])).rejects.toThrow(/truncated/);
      await expect(db.getMany([ids[0], ids[1]])).rejects.toThrow(IntegrityError);
      expect(sha256(await db.get(ids[0]))).toBe(ids[0]);
    });

    it('a corrupt index fails open with IntegrityError naming its key', async () => {
      const { store, idxKey } = await stored([blob(1)]);
      await rewrite(store, idxKey, (b) => {
        b[30] ^= 1;
        return b;
      });
      await expect(ObjectDatabase.open(store)).rejects.toThrow(IntegrityError);
      await expect(ObjectDatabase.open(store)).rejects.toThrow(idxKey);
    });

    it('a pack gone while its index stays gives IntegrityError naming the pack and the store, not NotFoundError', async () => {
      const { store, ids, packKey, idxKey } = await stored([blob(1), blob(2)]);
      await store.delete(packKey);
      const db = await ObjectDatabase.open(store, { cacheBytes: 0 });
      const missing = { code: 'INTEGRITY', details: { key: packKey, idx: idxKey } };
      await expect(db.get(ids[0])).rejects.toMatchObject(missing);
      await expect(db.get(ids[0])).rejects.toThrow(`pack ${packKey} is missing from ${store.url}`);
      await expect(db.getMany(ids)).rejects.toMatchObject(missing);
      await expect(db.verifyStored(ids[1])).rejects.toMatchObject(missing);
      const results = await db.verifyStoredMany(ids);
      for (const r of results) expect(r).toBeInstanceOf(IntegrityError);
      // An id no index lists is still simply not found.
      await expect(db.get(sha256(Buffer.from('absent')))).rejects.toThrow(NotFoundError);
    });

    it('getMany and verifyStored survive another process rewriting the pack they were about to read', async () => {
      const a = blob(1);
      const { store, ids, packKey, idxKey } = await stored([a]);
      const reader = await ObjectDatabase.open(store, { cacheBytes: 0 });
      await moveToNewPack(store, { packKey, idxKey }, a);
      const [got] = await reader.getMany(ids);
      same(got, a);
      const other = await ObjectDatabase.open(store, { cacheBytes: 0 });
      await moveToNewPack(store, other.packs()[0], a);
      await expect(other.verifyStored(ids[0])).resolves.toBeUndefined();
    });

    it('a pack without its index is invisible', async () => {
      const { store, ids, idxKey } = await stored([blob(1)]);
      await store.delete(idxKey);
      const db = await ObjectDatabase.open(store);
      expect(db.has(ids[0])).toBe(false);
      await expect(db.get(ids[0])).rejects.toThrow(NotFoundError);
      expect(await collect(db)).toEqual([]);
    });
  });

  it('rolls over to a new pack before one would exceed packTargetBytes', async () => {
    const store = new MemoryStore();
    const target = 64 * 1024;
    const db = await ObjectDatabase.open(store, { packTargetBytes: target });
    const objects = Array.from({ length: 20 }, (_, i) => blob(i, 10 * 1024));
    for (const o of objects) await db.put(o);
    expect((await keys(store, '.idx')).length).toBe(3); // three full packs finished while writing
    await db.flush();
    const packs = [];
    for await (const info of store.list('packs/')) if (info.key.endsWith('.pack')) packs.push(info);
    expect(packs).toHaveLength(4);
    for (const p of packs) expect(p.size).toBeLessThanOrEqual(target);
    const fresh = await ObjectDatabase.open(store);
    for (const o of objects) same(await fresh.get(sha256(o)), o);
    expect(db.stats.bytesWritten).toBe(
      packs.reduce((n, p) => n + p.size, 0) + (await Promise.all((await keys(store, '.idx')).map((k) => store.get(k)))).reduce((n, b) => n + b.length, 0),
    );
  });

  it('getMany reads neighbouring records of one pack with one ranged read', async () => {
    const store = new CountingStore();
    const writer = await ObjectDatabase.open(store);
    const objects = Array.from({ length: 50 }, (_, i) => blob(i, 2000));
    const ids = [];
    for (const o of objects) ids.push(await writer.put(o));
    await writer.flush();

    const db = await ObjectDatabase.open(store, { cacheBytes: 0 });
    store.ranges = [];
    const picked = [ids[40], ids[3], ids[17], ids[3]];
    const got = await db.getMany(picked);
    expect(got).toHaveLength(4);
    [objects[40], objects[3], objects[17], objects[3]].forEach((o, i) => same(got[i], o));
    expect(store.ranges).toHaveLength(1);
    expect(db.stats.gets).toBe(4);
    await expect(db.getMany([ids[0], sha256(Buffer.from('absent'))])).rejects.toThrow(NotFoundError);
  });

  it('getMany reads records far apart in a pack a few ranges at a time, not one round trip after another', async () => {
    const store = new (class extends CountingStore {
      inFlight = 0;
      most = 0;
      override async getRange(key: string, range: ByteRange): Promise<Buffer> {
        this.most = Math.max(this.most, ++this.inFlight);
        try {
          await new Promise((r) => setTimeout(r, 2));
          return await super.getRange(key, range);
        } finally {
          this.inFlight--;
        }
      }
    })();
    const writer = await ObjectDatabase.open(store);
    // 100 KiB apart, past the coalescing gap: every picked record is a range of its own.
    const objects = Array.from({ length: 40 }, (_, i) => blob(i, 100 * 1024));
    const ids = [];
    for (const o of objects) ids.push(await writer.put(o));
    await writer.flush();

    const db = await ObjectDatabase.open(store, { cacheBytes: 0 });
    store.ranges = [];
    const picked = ids.filter((_, i) => i % 2 === 0).reverse();
    const got = await db.getMany(picked);
    objects.filter((_, i) => i % 2 === 0).reverse().forEach((o, i) => same(got[i], o));
    expect(store.ranges).toHaveLength(20);
    expect(store.most).toBeGreaterThan(1);
    expect(store.most).toBeLessThanOrEqual(8);
  });

  describe('getMany and verifyStoredMany hashing on worker threads', () => {
    // Specs run TypeScript sources; the worker is the compiled script (`tsc -b` runs before jest in `npm test`).
    const WORKER = path.resolve(__dirname, '../../dist/objects/hash.worker.js');
    let hashes: HashPool;
    beforeAll(() => {
      hashes = new HashPool(1, WORKER);
    });
    afterAll(() => hashes.close());

    async function packOf(store: MemoryStore, sizes: number[]) {
      const writer = await ObjectDatabase.open(store);
      const objects = sizes.map((size, i) => blob(i, size));
      const ids: ObjectId[] = [];
      for (const o of objects) ids.push(await writer.put(o));
      await writer.flush();
      return { objects, ids, packKey: writer.packs()[0].packKey };
    }

    it('sends large objects to the workers, and readers sharing one ranged read each get every byte', async () => {
      expect(hashes.movesBuffers).toBe(true);
      const store = new CountingStore();
      // Chunk-sized objects, enough for several jobs, and small ones (tree pages, nodes) hashed in place.
      const { objects, ids } = await packOf(store, [300, 70_000, 20_000, 600_000, 500, 400_000, 90_000, 1_000_000]);
      const db = await ObjectDatabase.open(store, { cacheBytes: 0, hashes });
      const digest = jest.spyOn(hashes, 'digest');
      try {
        store.ranges = [];
        const [a, b] = await Promise.all([db.getMany(ids), db.getMany(ids)]);
        expect(store.ranges).toHaveLength(1);
        objects.forEach((o, i) => (same(a[i], o), same(b[i], o)));
        // Large objects go to the worker while it has room (the rest are hashed in place); small ones never do.
        const sent = digest.mock.calls.flatMap(([, spans]) => spans.map(([, length]) => length));
        expect(sent.length).toBeGreaterThan(0);
        const large = objects.filter((o) => o.length >= 16 << 10).map((o) => o.length);
        for (const length of sent) expect(large).toContain(length);
      } finally {
        digest.mockRestore();
      }
    });

    it('a flipped byte in an object hashed there, or in one hashed in place, gives IntegrityError naming it', async () => {
      for (const [sizes, damaged] of [[[500, 200_000, 300], 1], [[200_000, 500, 300_000], 1]] as const) {
        const store = new MemoryStore();
        const { objects, ids, packKey } = await packOf(store, [...sizes]);
        const at = PACK_HEADER_BYTES + objects.slice(0, damaged).reduce((n, o) => n + RECORD_HEADER_BYTES + o.length, 0) + RECORD_HEADER_BYTES + 20;
        await rewrite(store, packKey, (b) => {
          b[at] ^= 0xff;
          return b;
        });
        const db = await ObjectDatabase.open(store, { hashes });
        await expect(db.getMany(ids)).rejects.toMatchObject({ code: 'INTEGRITY', details: { id: ids[damaged] } });
        // Nothing damaged went to the cache on the way: a read alone fails as well.
        await expect(db.get(ids[damaged])).rejects.toThrow(IntegrityError);
        const errors = await db.verifyStoredMany(ids);
        expect(errors.map((e) => e?.constructor)).toEqual(ids.map((_, i) => (i === damaged ? IntegrityError : undefined)));
        expect(errors[damaged]).toMatchObject({ details: { id: ids[damaged], key: packKey } });
      }
    });
  });

  describe('ranged reads shared by concurrent readers', () => {
    async function packOf(store: MemoryStore, count: number, size: number) {
      const writer = await ObjectDatabase.open(store);
      const objects = Array.from({ length: count }, (_, i) => blob(i, size));
      const ids: ObjectId[] = [];
      for (const o of objects) ids.push(await writer.put(o));
      await writer.flush();
      return { objects, ids };
    }

    it('joins a read already under way instead of reading the range again', async () => {
      const store = new CountingStore();
      const { objects, ids } = await packOf(store, 20, 4000);
      const db = await ObjectDatabase.open(store, { cacheBytes: 0 });
      store.ranges = [];
      const [a, b] = await Promise.all([db.getMany(ids, { verify: false }), db.getMany(ids, { verify: false })]);
      objects.forEach((o, i) => (same(a[i], o), same(b[i], o)));
      expect(store.ranges).toHaveLength(1);
      // Without sharedReadBytes nothing is kept: a reader that comes later reads again.
      await db.getMany(ids, { verify: false });
      expect(store.ranges).toHaveLength(2);
    });

    it('with sharedReadBytes serves a later reader from the recent reads, within the budget', async () => {
      const store = new CountingStore();
      const { objects, ids } = await packOf(store, 20, 4000);
      const db = await ObjectDatabase.open(store, { cacheBytes: 0, sharedReadBytes: 1 << 20 });
      store.ranges = [];
      await db.getMany(ids, { verify: false });
      const bytesRead = db.stats.bytesRead;
      const again = await db.getMany(ids);
      objects.forEach((o, i) => same(again[i], o));
      expect(store.ranges).toHaveLength(1);
      expect(db.stats.bytesRead).toBe(bytesRead);

      // A budget smaller than four times the read keeps nothing.
      const small = await ObjectDatabase.open(store, { cacheBytes: 0, sharedReadBytes: 100_000 });
      store.ranges = [];
      await small.getMany(ids, { verify: false });
      await small.getMany(ids, { verify: false });
      expect(store.ranges).toHaveLength(2);
    });

    it('a failed read is not kept: the next reader tries the store again', async () => {
      const store = new (class extends CountingStore {
        failNext = true;
        override async getRange(key: string, range: ByteRange): Promise<Buffer> {
          if (this.failNext) {
            this.failNext = false;
            throw new UnavailableError('store down for a moment');
          }
          return super.getRange(key, range);
        }
      })();
      const { objects, ids } = await packOf(store, 5, 1000);
      const db = await ObjectDatabase.open(store, { cacheBytes: 0, sharedReadBytes: 1 << 20 });
      await expect(db.getMany(ids, { verify: false })).rejects.toThrow(UnavailableError);
      const got = await db.getMany(ids, { verify: false });
      objects.forEach((o, i) => same(got[i], o));
    });
  });

  it('idsWithPrefix finds stored and pending ids once each', async () => {
    const store = new MemoryStore();
    const db = await ObjectDatabase.open(store);
    const other = await ObjectDatabase.open(store);
    const stored = Array.from({ length: 300 }, (_, i) => blob(i, 10));
    for (const o of stored) await db.put(o);
    await db.flush();
    for (const o of stored.slice(0, 50)) await other.put(o);
    await other.flush();
    await db.reload();
    expect(db.packs().filter((p) => p.index.has(sha256(stored[0])))).toHaveLength(2);
    const pending = blob(1000, 10);
    await db.put(pending);
    const all = [...stored, pending].map((o) => sha256(o));
    for (const prefix of ['', 'a', sha256(pending).slice(0, 4), sha256(stored[7]).slice(0, 2)]) {
      expect(db.idsWithPrefix(prefix)).toEqual(all.filter((id) => id.startsWith(prefix)).sort());
    }
  });

  it('reload picks up packs written by another process and forgets deleted ones', async () => {
    const store = new MemoryStore();
    const db = await ObjectDatabase.open(store);
    const other = await ObjectDatabase.open(store);
    const id = await other.put(blob(1));
    await other.flush();
    expect(db.has(id)).toBe(false);
    await db.reload();
    expect(db.has(id)).toBe(true);
    const p = other.packs()[0];
    await store.delete(p.idxKey);
    await db.reload();
    expect(db.has(id)).toBe(false);
  });

  it('adopt makes the finished packs of another database readable without listing the store', async () => {
    const store = new ListCountingStore();
    const db = await ObjectDatabase.open(store);
    const other = await ObjectDatabase.open(store);
    const bytes = blob(2);
    const id = await other.put(bytes);
    await other.flush();
    const listings = store.listings;
    db.adopt(other.packs());
    db.adopt(other.packs());
    expect(store.listings).toBe(listings);
    expect(db.packs()).toHaveLength(1);
    same(await db.get(id), bytes);
    // A later reload keeps the adopted pack: it is in the listing too.
    await db.reload();
    expect(db.packs()).toHaveLength(1);
    expect(db.has(id)).toBe(true);
  });

  it('adopt caches the recent objects it is given, only those that hash to their id', async () => {
    const store = new ListCountingStore();
    const db = await ObjectDatabase.open(store);
    const other = await ObjectDatabase.open(store);
    const [a, b] = [blob(3), blob(4)];
    const ids = [await other.put(a), await other.put(b)];
    await other.flush();
    db.adopt(other.packs(), [
      [ids[0], a],
      [ids[1], blob(5)],
    ]);
    const reads = store.ranges.length;
    same(await db.get(ids[0]), a);
    expect(store.ranges.length).toBe(reads);
    // Bytes that are not the object's are not believed: the object is read from the pack.
    same(await db.get(ids[1]), b);
    expect(store.ranges.length).toBe(reads + 1);
  });

  it('a get survives another process rewriting the pack it was about to read', async () => {
    const store = new MemoryStore();
    const first = await ObjectDatabase.open(store);
    const a = blob(1);
    const id = await first.put(a);
    await first.flush();
    const reader = await ObjectDatabase.open(store, { cacheBytes: 0 });

    // Another process copies the object into a new pack and deletes the old one, as gc does.
    const gc = await ObjectDatabase.open(store);
    await moveToNewPack(store, gc.packs()[0], a);
    await gc.abort();

    same(await reader.get(id), a);
  });

  it('finds an object moved by another process even after a reload that raced with the move saw neither pack', async () => {
    const store = new MemoryStore();
    // The reader's reload lists the store before the move and fetches the index after it: the old pack is gone by
    // then, and the new one was not in the listing.
    let staleListing: string[] | undefined;
    const racing = Object.assign(Object.create(store) as MemoryStore, {
      async *list(prefix: string) {
        const stale = staleListing;
        staleListing = undefined;
        if (!stale) yield* store.list(prefix);
        else for (const key of stale) if (key.startsWith(prefix)) yield { key, size: 0, modified: new Date() };
      },
    });
    const reader = await ObjectDatabase.open(racing, { cacheBytes: 0 });
    const first = await ObjectDatabase.open(store);
    const a = blob(2);
    const id = await first.put(a);
    await first.flush();
    const old = first.packs()[0];
    await moveToNewPack(store, old, a);
    staleListing = [old.packKey, old.idxKey];
    await reader.reload();
    expect(reader.packs()).toHaveLength(0);

    same(await reader.get(id), a);
    same((await reader.getMany([id]))[0], a);
  });

  describe('finding ids among many packs', () => {
    it('answers has() for ids no pack holds without searching the packs one by one', async () => {
      const store = new MemoryStore();
      const writer = await ObjectDatabase.open(store);
      for (let p = 0; p < 40; p++) {
        for (let i = 0; i < 5; i++) await writer.put(blob(p * 5 + i));
        await writer.flush();
      }
      const db = await ObjectDatabase.open(store);
      expect(db.packs()).toHaveLength(40);
      const before = db.stats.indexSearches;
      for (let i = 0; i < 2000; i++) expect(db.has(sha256(randomBytes(16)))).toBe(false);
      // Pack by pack, that would be 80,000 index searches; the id filter leaves those of its rare false positives.
      expect(db.stats.indexSearches - before).toBeLessThan(2000);
    });

    it('finds every id of packs flushed, finished in the background, reloaded or adopted', async () => {
      const store = new MemoryStore();
      // Packs of about 30 objects; 8,000 ids are more than the filter's first size holds, so it grows on the way.
      const other = await ObjectDatabase.open(store, { packTargetBytes: 4096 });
      const db = await ObjectDatabase.open(store, { packTargetBytes: 4096 });
      db.finishPacksInBackground = true;
      const ids: ObjectId[] = [];
      for (let i = 0; i < 4000; i++) ids.push(await db.put(blob(i, 16)));
      await db.flush();
      for (let i = 4000; i < 6000; i++) ids.push(await other.put(blob(i, 16)));
      await other.flush();
      await db.reload();
      const third = await ObjectDatabase.open(new MemoryStore());
      const adopted = await ObjectDatabase.open(store);
      for (let i = 6000; i < 8000; i++) ids.push(await adopted.put(blob(i, 16)));
      await adopted.flush();
      db.adopt(adopted.packs());
      for (const id of ids) expect(db.has(id)).toBe(true);
      const fresh = await ObjectDatabase.open(store);
      for (const id of ids) expect(fresh.has(id)).toBe(true);
      for (const id of ids.filter((_, i) => i % 500 === 0)) expect(sha256(await fresh.get(id))).toBe(id);
      expect(third.has(ids[0])).toBe(false);
    });
  });

  it('a store failure while writing surfaces at flush and drops the pending objects', async () => {
    class FailingStore extends MemoryStore {
      override async putIfAbsent(key: string, data: Buffer | Readable): Promise<void> {
        if (!Buffer.isBuffer(data)) {
          data.destroy();
          throw new UnavailableError('store down');
        }
        return super.putIfAbsent(key, data);
      }
    }
    const db = await ObjectDatabase.open(new FailingStore());
    const a = blob(1);
    const id = sha256(a);
    // The failure may already reach put (a fast store fails before the first await); flush always reports it.
    await db.put(a).catch(() => undefined);
    await expect(db.flush()).rejects.toThrow(UnavailableError);
    expect(db.has(id)).toBe(false);
    await expect(db.flush()).resolves.toBeUndefined();
  });

  it('a store that fails for a while fails the writes of that while, one flush after, and then none', async () => {
    let down = true;
    class FlakyStore extends MemoryStore {
      override async putIfAbsent(key: string, data: Buffer | Readable): Promise<void> {
        if (down && !Buffer.isBuffer(data)) {
          data.destroy();
          throw new UnavailableError('store down');
        }
        return super.putIfAbsent(key, data);
      }
    }
    const db = await ObjectDatabase.open(new FlakyStore());
    const [a, b, c, d] = [blob(1), blob(2), blob(3), blob(4)];
    // The pack's upload fails under the first put or soon after: a later put of that while throws it.
    let thrown: unknown;
    for (const o of [a, b]) {
      await db.put(o).catch((e: unknown) => (thrown = e));
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(thrown).toBeInstanceOf(UnavailableError);
    down = false;
    // Writes go on into a new pack; the next flush still says the lost pack's objects are not durable, once.
    await db.put(c);
    await expect(db.flush()).rejects.toThrow('store down');
    await db.put(d);
    await expect(db.flush()).resolves.toBeUndefined();
    expect([a, b, c, d].map((o) => db.has(sha256(o)))).toEqual([false, false, true, true]);
    const fresh = await ObjectDatabase.open(db.store);
    same(await fresh.get(sha256(c)), c);
    same(await fresh.get(sha256(d)), d);
  });
});
