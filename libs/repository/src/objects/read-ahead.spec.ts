import { randomBytes } from 'node:crypto';
import { ChunkRef, IntegrityError, ObjectId } from '@tributary/core';
import { ByteRange, MemoryStore } from '@tributary/storage';
import { RECORD_HEADER_BYTES } from '../packs/pack-format';
import { ObjectDatabase } from './object-database';
import { LOCAL_READ_AHEAD, readAhead, readAheadFor, ReadAheadLimits, REMOTE_READ_AHEAD } from './read-ahead';

/** Counts the bytes asked of the store by ranged reads, at the moment each read is asked for. */
class CountingStore extends MemoryStore {
  requested = 0;
  reads = 0;

  override async getRange(key: string, range: ByteRange): Promise<Buffer> {
    this.requested += range.length;
    this.reads++;
    return super.getRange(key, range);
  }
}

const KiB = 1024;
const LIMITS: ReadAheadLimits = { batchBytes: 256 * KiB, aheadBytes: 1024 * KiB, batchItems: 1000 };

interface Item {
  readonly n: number;
  readonly chunk?: ChunkRef;
}

/** `count` chunks of 16 KiB in one pack, read back through a fresh database that caches none of them. */
async function setup(count: number): Promise<{ store: CountingStore; db: ObjectDatabase; chunks: Buffer[]; refs: ChunkRef[] }> {
  const store = new CountingStore('read-ahead-spec');
  const writer = await ObjectDatabase.open(store, { cacheBytes: 0 });
  const chunks = Array.from({ length: count }, () => randomBytes(16 * KiB));
  const refs: ChunkRef[] = [];
  for (const c of chunks) refs.push({ id: await writer.put(c), size: c.length });
  await writer.flush();
  const db = await ObjectDatabase.open(store, { cacheBytes: 0 });
  store.requested = 0;
  store.reads = 0;
  return { store, db, chunks, refs };
}

async function* itemsOf(refs: ChunkRef[], opts: { markerEvery?: number; onClose?: () => void } = {}): AsyncGenerator<Item> {
  try {
    for (let n = 0; n < refs.length; n++) {
      if (opts.markerEvery && n % opts.markerEvery === 0) yield { n: -n };
      yield { n, chunk: refs[n] };
    }
  } finally {
    opts.onClose?.();
  }
}

describe('readAhead', () => {
  it('yields every item in order, each chunk verified, markers passed through', async () => {
    const { db, chunks, refs } = await setup(100);
    const seen: number[] = [];
    for await (const { item, bytes } of readAhead(db, itemsOf(refs, { markerEvery: 7 }), (i) => i.chunk, LIMITS)) {
      seen.push(item.n);
      if (item.chunk) expect(bytes!.equals(chunks[item.n])).toBe(true);
      else expect(bytes).toBeUndefined();
    }
    const expected: number[] = [];
    for (let n = 0; n < 100; n++) expected.push(...(n % 7 === 0 ? [-n, n] : [n]));
    expect(seen).toEqual(expected);
  });

  it('keeps several reads ahead of a slow consumer, and never more bytes than its bound', async () => {
    const { store, db, refs } = await setup(200);
    const bound = LIMITS.aheadBytes + LIMITS.batchBytes;
    const slack = (LIMITS.batchItems + 1) * RECORD_HEADER_BYTES;
    let consumed = 0;
    let most = 0;
    for await (const { bytes } of readAhead(db, itemsOf(refs), (i) => i.chunk, LIMITS)) {
      most = Math.max(most, store.requested - consumed);
      expect(store.requested - consumed).toBeLessThanOrEqual(bound + slack);
      for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
      consumed += bytes!.length;
    }
    expect(consumed).toBe(200 * 16 * KiB);
    // Reading ahead: more than one batch was asked for before the consumer finished the first.
    expect(most).toBeGreaterThan(2 * LIMITS.batchBytes);
    // Neighbours coalesce: one read per batch, not one per chunk.
    expect(store.reads).toBeLessThanOrEqual(Math.ceil((200 * 16 * KiB) / LIMITS.batchBytes) + 1);
  });

  it('throws a damaged chunk when the consumer reaches its batch, after every item of the batches before', async () => {
    const { store, db, refs } = await setup(60);
    const place = db.placeOf(refs[40].id)!;
    const key = db.packs().find((p) => p.name === place.pack)!.packKey;
    const bytes = await store.get(key);
    bytes[place.offset + 100] ^= 0xff;
    await store.delete(key);
    await store.putIfAbsent(key, bytes);
    const seen: number[] = [];
    let closed = false;
    const run = async () => {
      for await (const { item } of readAhead(db, itemsOf(refs, { onClose: () => (closed = true) }), (i) => i.chunk, LIMITS)) seen.push(item.n);
    };
    await expect(run()).rejects.toMatchObject({ code: 'INTEGRITY', details: { id: refs[40].id } });
    const perBatch = LIMITS.batchBytes / (16 * KiB);
    expect(seen).toEqual(Array.from({ length: Math.floor(40 / perBatch) * perBatch }, (_, n) => n));
    expect(closed).toBe(true);
  });

  it('rejects a chunk whose length is not what its list says', async () => {
    const { db, refs } = await setup(10);
    const lying = refs.map((r, n) => (n === 5 ? { ...r, size: r.size + 1 } : r));
    const seen: number[] = [];
    const run = async () => {
      for await (const { item } of readAhead(db, itemsOf(lying), (i) => i.chunk, LIMITS)) seen.push(item.n);
    };
    await expect(run()).rejects.toThrow(IntegrityError);
    expect(seen).toEqual([0, 1, 2, 3, 4]);
  });

  it('closes its source and settles its reads when the consumer stops early', async () => {
    const { db, refs } = await setup(100);
    let closed = false;
    for await (const { item } of readAhead(db, itemsOf(refs, { onClose: () => (closed = true) }), (i) => i.chunk, LIMITS)) {
      if (item.n === 3) break;
    }
    expect(closed).toBe(true);
  });

  it('reads in large batches from a cloud store, small ones from local disk or memory', () => {
    expect(readAheadFor(new MemoryStore('m'))).toBe(LOCAL_READ_AHEAD);
    expect(readAheadFor(Object.assign(new MemoryStore('r'), { remote: true }))).toBe(REMOTE_READ_AHEAD);
    expect(REMOTE_READ_AHEAD.batchBytes).toBeGreaterThan(LOCAL_READ_AHEAD.batchBytes);
  });

  it('refuses limits it cannot keep', () => {
    const db = {} as ObjectDatabase;
    const gen = readAhead<{ chunk?: ChunkRef; id?: ObjectId }>(db, [], (i) => i.chunk, { batchBytes: 10, aheadBytes: 5, batchItems: 1 });
    return expect(gen.next()).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});
