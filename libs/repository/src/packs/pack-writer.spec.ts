import { Readable } from 'node:stream';
import { AlreadyExistsError, InvalidArgumentError, sha256, UnavailableError } from '@tributary/core';
import { MemoryStore } from '@tributary/storage';
import {
  encodeIndex,
  encodePackHeader,
  encodeRecordHeader,
  IndexEntry,
  PACK_HEADER_BYTES,
  RECORD_DELTA,
  RECORD_FULL,
  RECORD_HEADER_BYTES,
} from './pack-format';
import { newPackName, PackWriter } from './pack-writer';

async function keys(store: MemoryStore): Promise<string[]> {
  const out: string[] = [];
  for await (const info of store.list('packs/')) out.push(info.key);
  return out.sort();
}

/** A store whose stream puts wait for `open()` before reading a byte, and which logs put starts and ends. */
class GatedStore extends MemoryStore {
  readonly log: string[] = [];
  private release!: () => void;
  private readonly gate = new Promise<void>((r) => (this.release = r));

  open(): void {
    this.release();
  }

  override async putIfAbsent(key: string, data: Buffer | Readable): Promise<void> {
    this.log.push(`start ${key}`);
    if (!Buffer.isBuffer(data)) await this.gate;
    await super.putIfAbsent(key, data);
    this.log.push(`done ${key}`);
  }
}

/** A store that reads `failAfter` bytes of a streamed put and then fails like a dropped connection. */
class FailingStore extends MemoryStore {
  constructor(private readonly failAfter: number) {
    super('failing');
  }

  override async putIfAbsent(key: string, data: Buffer | Readable): Promise<void> {
    if (Buffer.isBuffer(data)) return super.putIfAbsent(key, data);
    let seen = 0;
    for await (const chunk of data) {
      seen += (chunk as Buffer).length;
      if (seen > this.failAfter) {
        data.destroy();
        throw new UnavailableError('connection reset');
      }
    }
  }
}

describe('PackWriter', () => {
  it('names packs pack- plus 128 random bits', () => {
    expect(newPackName()).toMatch(/^pack-[0-9a-f]{32}$/);
    expect(newPackName()).not.toBe(newPackName());
  });

  it('streams exactly the pack format, then an index whose offsets point at the payloads', async () => {
    const store = new MemoryStore();
    const w = PackWriter.open(store);
    const a = Buffer.from('first object');
    const b = Buffer.from('second');
    const deltaPayload = Buffer.concat([Buffer.from(sha256(a), 'hex'), Buffer.from('d')]);
    await w.append(RECORD_FULL, sha256(a), [a], a.length, 0);
    await w.append(RECORD_DELTA, sha256(b), [deltaPayload.subarray(0, 10), deltaPayload.subarray(10)], b.length, 1);
    expect(w.size).toBe(PACK_HEADER_BYTES + 2 * RECORD_HEADER_BYTES + a.length + deltaPayload.length);
    const done = await w.finish();

    const pack = await store.get(done.packKey);
    expect(pack).toEqual(
      Buffer.concat([
        encodePackHeader(),
        encodeRecordHeader(RECORD_FULL, sha256(a), a.length),
        a,
        encodeRecordHeader(RECORD_DELTA, sha256(b), deltaPayload.length),
        deltaPayload,
      ]),
    );
    expect(done.packBytes).toBe(pack.length);
    const ea = done.index.lookup(sha256(a))!;
    expect(pack.subarray(ea.offset, ea.offset + ea.storedLength)).toEqual(a);
    const eb = done.index.lookup(sha256(b))!;
    expect(eb).toMatchObject({ type: RECORD_DELTA, size: b.length, depth: 1, storedLength: deltaPayload.length });
    expect(pack.subarray(eb.offset, eb.offset + eb.storedLength)).toEqual(deltaPayload);
    expect(await store.get(done.idxKey)).toEqual(encodeIndex([...done.index.entries()]));
    expect(await keys(store)).toEqual([`packs/${w.name}.idx`, `packs/${w.name}.pack`]);
  });

  it('copies payloads, so a caller may reuse its buffer', async () => {
    const store = new MemoryStore();
    const w = PackWriter.open(store);
    const buf = Buffer.from('original bytes');
    const id = sha256(buf);
    await w.append(RECORD_FULL, id, [buf], buf.length, 0);
    buf.fill(0);
    const done = await w.finish();
    const e = done.index.lookup(id)!;
    expect(sha256((await store.get(done.packKey)).subarray(e.offset, e.offset + e.storedLength))).toBe(id);
  });


  it('writes handed-over parts uncopied and in order between staged ones, across slab boundaries', async () => {
    const store = new MemoryStore();
    const w = PackWriter.open(store);
    // Small records fill the slab part way, large handed-over ones go straight to the stream, over 1 MiB in all.
    const parts: Buffer[] = [];
    for (let i = 0; i < 40; i++) {
      const size = i % 3 === 0 ? 100 + i : 40_000 + 997 * i;
      parts.push(Buffer.alloc(size, i + 1));
    }
    const expected: Buffer[] = [encodePackHeader()];
    for (const p of parts) {
      await w.append(RECORD_FULL, sha256(p), [p], p.length, 0, true);
      expected.push(encodeRecordHeader(RECORD_FULL, sha256(p), p.length), p);
    }
    const done = await w.finish();
    const pack = await store.get(done.packKey);
    expect(pack.equals(Buffer.concat(expected))).toBe(true);
    for (const p of parts) {
      const e = done.index.lookup(sha256(p))!;
      expect(sha256(pack.subarray(e.offset, e.offset + e.storedLength))).toBe(sha256(p));
    }
  });
  it('waits for the store to read (backpressure) and writes the index only after the pack is stored', async () => {
    const store = new GatedStore();
    const w = PackWriter.open(store);
    const big = Buffer.alloc(3 << 20, 7);
    let appended = false;
    const pending = w.append(RECORD_FULL, sha256(big), [big], big.length, 0).then(() => (appended = true));
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    expect(appended).toBe(false);
    store.open();
    await pending;
    await w.finish();
    expect(store.log).toEqual([
      `start ${w.packKey}`,
      `done ${w.packKey}`,
      `start ${w.idxKey}`,
      `done ${w.idxKey}`,
    ]);
  });

  it('refuses the same id twice in one pack', async () => {
    const w = PackWriter.open(new MemoryStore());
    const a = Buffer.from('a');
    await w.append(RECORD_FULL, sha256(a), [a], 1, 0);
    await expect(w.append(RECORD_FULL, sha256(a), [a], 1, 0)).rejects.toThrow(InvalidArgumentError);
    await w.abort();
  });

  it('abort stores nothing', async () => {
    const store = new MemoryStore();
    const w = PackWriter.open(store);
    const a = Buffer.from('a');
    await w.append(RECORD_FULL, sha256(a), [a], 1, 0);
    await w.abort();
    await w.abort();
    expect(await keys(store)).toEqual([]);
    await expect(w.finish()).rejects.toThrow(/aborted/);
  });

  it('surfaces a store failure midway and writes no index', async () => {
    const store = new FailingStore(2 << 20);
    const w = PackWriter.open(store);
    let error: unknown;
    try {
      for (let i = 0; i < 8; i++) {
        const chunk = Buffer.alloc(1 << 20, i);
        await w.append(RECORD_FULL, sha256(chunk), [chunk], chunk.length, 0);
      }
      await w.finish();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UnavailableError);
    expect(w.failure).toBeInstanceOf(UnavailableError);
    await w.abort();
    expect(await keys(store)).toEqual([]);
  });

  it('accepts its own index already stored by an earlier attempt, but not a different one', async () => {
    const a = Buffer.from('a');
    const entry: IndexEntry = { id: sha256(a), offset: PACK_HEADER_BYTES + RECORD_HEADER_BYTES, storedLength: 1, type: RECORD_FULL, size: 1, depth: 0 };

    const same = new MemoryStore();
    const name = newPackName();
    await same.putIfAbsent(`packs/${name}.idx`, encodeIndex([entry]));
    const w1 = PackWriter.open(same, name);
    await w1.append(RECORD_FULL, entry.id, [a], 1, 0);
    await expect(w1.finish()).resolves.toMatchObject({ name });

    const other = new MemoryStore();
    await other.putIfAbsent(`packs/${name}.idx`, encodeIndex([]));
    const w2 = PackWriter.open(other, name);
    await w2.append(RECORD_FULL, entry.id, [a], 1, 0);
    await expect(w2.finish()).rejects.toThrow(AlreadyExistsError);
    expect(await keys(other)).toEqual([`packs/${name}.idx`]);
  });

  it('accepts its own pack stored by a retried upload whose first answer was lost, but not a shorter one', async () => {
    const a = Buffer.from('a');
    const id = sha256(a);
    // As an upload retried after its first answer was lost: the first attempt stored the pack, the retry is refused.
    const lostAnswer = new (class extends MemoryStore {
      override async putIfAbsent(key: string, data: Buffer | Readable): Promise<void> {
        await super.putIfAbsent(key, data);
        if (key.endsWith('.pack')) throw new AlreadyExistsError(`${key} already exists`);
      }
    })();
    const w1 = PackWriter.open(lostAnswer);
    await w1.append(RECORD_FULL, id, [a], 1, 0);
    await expect(w1.finish()).resolves.toMatchObject({ name: w1.name });

    const other = new MemoryStore();
    const name = newPackName();
    await other.putIfAbsent(`packs/${name}.pack`, Buffer.from('not ours'));
    const w2 = PackWriter.open(other, name);
    await w2.append(RECORD_FULL, id, [a], 1, 0);
    await expect(w2.finish()).rejects.toThrow(AlreadyExistsError);
  });
});
