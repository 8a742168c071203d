import fc from 'fast-check';
import { IntegrityError, InvalidArgumentError, NotFoundError } from '../errors/trib-error';
import { sha256 } from '../hashing/sha256';
import { ObjectId } from '../ids/ids';
import { encodeChunkList } from './chunk-list.codec';
import { commonPrefix, commonSuffix, fileRefFromChunks, readChunkRefs, readFileBytes, writeFileContent } from './file-content';
import { ObjectSink, ObjectSource } from './object-source';
import { ChunkRef, FileRef } from './object-types';
import { readAllBytes, seededBytes } from '../testing/file-fixtures';

class MemoryStore implements ObjectSource, ObjectSink {
  readonly objects = new Map<ObjectId, Buffer>();
  gets = 0;
  async put(bytes: Buffer): Promise<ObjectId> {
    const id = sha256(bytes);
    this.objects.set(id, Buffer.from(bytes));
    return id;
  }
  async get(id: ObjectId): Promise<Buffer> {
    this.gets++;
    const bytes = this.objects.get(id);
    if (!bytes) throw new NotFoundError(`object ${id} not found`);
    return bytes;
  }
}

async function* blocks(data: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

function fakeChunks(seed: string, count: number): ChunkRef[] {
  return Array.from({ length: count }, (_, i) => ({ id: sha256(Buffer.from(`${seed}/${i}`)), size: 20_000 + ((i * 7919) % 200_000) }));
}

/** Stores `count` small real chunks and returns their refs. */
async function smallChunks(store: MemoryStore, seed: number, count: number, size = 100): Promise<ChunkRef[]> {
  const refs: ChunkRef[] = [];
  for (let i = 0; i < count; i++) refs.push({ id: await store.put(seededBytes(seed * 100_003 + i, size)), size });
  return refs;
}

describe('writeFileContent and readFileBytes', () => {
  it('property: bytes round-trip, and the FileRef depends only on the bytes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 2 ** 31 }),
        fc.integer({ min: 0, max: 1_200_000 }),
        fc.integer({ min: 1, max: 300_000 }),
        async (seed, size, blockSize) => {
          const data = seededBytes(seed, size);
          const store = new MemoryStore();
          const file = await writeFileContent(store, blocks(data, blockSize));
          expect(file.size).toBe(size);
          expect((await readAllBytes(store, file)).equals(data)).toBe(true);
          const again = await writeFileContent(new MemoryStore(), blocks(data, 1 << 20));
          expect(again).toEqual(file);
          const refs = await collect(readChunkRefs(store, file));
          expect(file.chunked).toBe(refs.length >= 2);
          let offset = 0;
          for (const r of refs) {
            expect(r.offset).toBe(offset);
            offset += r.size;
          }
          expect(offset).toBe(size);
        },
      ),
      { numRuns: 25 },
    );
  });

  it('stores the empty chunk for an empty file, and uses the chunk id for a one-chunk file', async () => {
    const store = new MemoryStore();
    const empty = await writeFileContent(store, blocks(Buffer.alloc(0), 1));
    expect(empty).toEqual({ id: sha256(new Uint8Array(0)), chunked: false, size: 0 });
    expect(store.objects.has(empty.id)).toBe(true);
    const small = Buffer.from('id,value\n1,2\n');
    expect(await writeFileContent(store, blocks(small, 4))).toEqual({ id: sha256(small), chunked: false, size: small.length });
    expect(await collect(readFileBytes(store, empty))).toEqual([]);
  });

  it('reports each stored chunk to onChunk, in order', async () => {
    const data = seededBytes(5, 600_000);
    const seen: ChunkRef[] = [];
    const store = new MemoryStore();
    const file = await writeFileContent(store, blocks(data, 65_536), {
      onChunk: (ref, bytes) => {
        expect(sha256(bytes)).toBe(ref.id);
        expect(store.objects.has(ref.id)).toBe(true);
        seen.push(ref);
      },
    });
    expect(seen).toEqual((await collect(readChunkRefs(store, file))).map(({ id, size }) => ({ id, size })));
  });

  it('property: reading from an offset gives the bytes from that offset', async () => {
    const data = seededBytes(11, 900_000);
    const store = new MemoryStore();
    const file = await writeFileContent(store, blocks(data, 100_000));
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: data.length }), async (from) => {
        expect((await readAllBytes(store, file, from)).equals(data.subarray(from))).toBe(true);
      }),
      { numRuns: 30 },
    );
  });

  it('seeks by reading only the nodes on the path', async () => {
    const store = new MemoryStore();
    const refs = await smallChunks(store, 1, 3000);
    const file = await fileRefFromChunks(store, refs);
    store.gets = 0;
    const it = readFileBytes(store, file, 150_050);
    const first = (await it.next()).value as Buffer;
    await it.return(undefined);
    expect(first).toEqual(store.objects.get(refs[1500].id)!.subarray(50));
    expect(store.gets).toBeLessThanOrEqual(4); // root, level 1, level 0, one chunk
  });

  it('reads a range up to an end offset, and no chunk past it', async () => {
    const store = new MemoryStore();
    const refs = await smallChunks(store, 3, 30);
    const file = await fileRefFromChunks(store, refs);
    const all = Buffer.concat(await collect(readFileBytes(store, file)));
    for (const [from, to] of [[0, 300], [50, 250], [100, 200], [150, 151], [120, 120], [0, 3000]]) {
      store.gets = 0;
      expect(Buffer.concat(await collect(readFileBytes(store, file, from, to)))).toEqual(all.subarray(from, to));
      const chunks = to === from ? 0 : Math.ceil(to / 100) - Math.floor(from / 100);
      expect(store.gets).toBeLessThanOrEqual(chunks + 2); // the chunks in range, and the list nodes on the way
    }
    await expect(collect(readFileBytes(store, file, 200, 100))).rejects.toThrow(InvalidArgumentError);
    await expect(collect(readFileBytes(store, file, 0, 3001))).rejects.toThrow(InvalidArgumentError);
  });

  it('rejects offsets outside the file', async () => {
    const store = new MemoryStore();
    const file = await fileRefFromChunks(store, await smallChunks(store, 2, 3));
    for (const bad of [-1, 301, 1.5]) {
      await expect(collect(readFileBytes(store, file, bad))).rejects.toThrow(InvalidArgumentError);
    }
    expect(await collect(readFileBytes(store, file, 300))).toEqual([]);
  });

  it('rejects a tree whose nodes disagree with their parents, and chunks of the wrong length', async () => {
    const store = new MemoryStore();
    const [a, b, c] = await smallChunks(store, 3, 3);
    const leaf = await store.put(encodeChunkList({ level: 0, children: [a, b] }));
    const wrongSize = await store.put(encodeChunkList({ level: 1, children: [{ id: leaf, size: 150 }, c] }));
    await expect(collect(readChunkRefs(store, { id: wrongSize, chunked: true, size: 250 }))).rejects.toThrow(IntegrityError);
    const wrongLevel = await store.put(encodeChunkList({ level: 1, children: [a, b] }));
    await expect(collect(readChunkRefs(store, { id: wrongLevel, chunked: true, size: 200 }))).rejects.toThrow(/not a chunk list/);
    const outer = await store.put(encodeChunkList({ level: 2, children: [{ id: leaf, size: 200 }] }));
    await expect(collect(readChunkRefs(store, { id: outer, chunked: true, size: 200 }))).rejects.toThrow(/does not match/);
    await expect(collect(readChunkRefs(store, { id: leaf, chunked: true, size: 201 }))).rejects.toThrow(IntegrityError);
    const lying = await store.put(encodeChunkList({ level: 0, children: [a, { ...b, size: 99 }] }));
    await expect(collect(readFileBytes(store, { id: lying, chunked: true, size: 199 }))).rejects.toThrow(/has 100 bytes/);
    await expect(collect(readFileBytes(store, { id: a.id, chunked: true, size: 100 }))).rejects.toThrow(IntegrityError);
  });

  it('rewrites only the edited chunk and a few nodes after a 100-byte edit in the middle', async () => {
    const data = seededBytes(21, 32 << 20);
    const store = new MemoryStore();
    await writeFileContent(store, blocks(data, 1 << 20));
    const known = new Set(store.objects.keys());
    const edited = Buffer.from(data);
    edited.fill(0x41, 16 << 20, (16 << 20) + 100);
    const file = await writeFileContent(store, blocks(edited, 1 << 20));
    expect((await readAllBytes(store, file)).equals(edited)).toBe(true);
    const added = [...store.objects].filter(([id]) => !known.has(id)).map(([, bytes]) => bytes);
    const nodes = added.filter((b) => b.subarray(0, 7).toString('latin1') === 'list 1\n');
    expect(added.length - nodes.length).toBeLessThanOrEqual(2);
    expect(nodes.length).toBeLessThanOrEqual(3);
    expect(added.reduce((s, b) => s + b.length, 0)).toBeLessThanOrEqual(256 * 1024);
  });
});

describe('commonPrefix', () => {
  it('skips identical files without reading', async () => {
    const store = new MemoryStore();
    const file = await fileRefFromChunks(store, fakeChunks('same', 500));
    store.gets = 0;
    expect(await commonPrefix(store, file, file)).toEqual({ bytes: file.size, nextA: undefined, nextB: undefined });
    expect(store.gets).toBe(0);
  });

  it('reads only a handful of nodes for a 2000-chunk file against its appended version', async () => {
    const store = new MemoryStore();
    const refs = fakeChunks('log', 2000);
    const grownLast = { id: sha256(Buffer.from('grown last chunk')), size: refs[1999].size + 5000 };
    const appended = [...refs.slice(0, 1999), grownLast, ...fakeChunks('more', 30)];
    const a = await fileRefFromChunks(store, refs);
    const b = await fileRefFromChunks(store, appended);
    store.gets = 0;
    const prefix = await commonPrefix(store, a, b);
    expect(prefix).toEqual({ bytes: a.size - refs[1999].size, nextA: refs[1999], nextB: grownLast });
    expect(store.gets).toBeLessThanOrEqual(6);
  });

  it('property: agrees with a chunk-by-chunk comparison', async () => {
    const pool = fakeChunks('pool', 4);
    const tail = fc.array(fc.constantFrom(...pool), { maxLength: 300 });
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: 1500 }), tail, tail, fc.boolean(), async (shared, tailA, tailB, flat) => {
        const base = fakeChunks('base', shared);
        const refsA = [...base, ...tailA];
        const refsB = flat ? refsA.slice(0, 1) : [...base, ...tailB];
        const store = new MemoryStore();
        const a = await fileRefFromChunks(store, refsA);
        const b = await fileRefFromChunks(store, refsB);
        let k = 0;
        while (k < refsA.length && k < refsB.length && refsA[k].id === refsB[k].id) k++;
        const bytes = refsA.slice(0, k).reduce((s, r) => s + r.size, 0);
        expect(await commonPrefix(store, a, b)).toEqual({ bytes, nextA: refsA[k], nextB: refsB[k] });
        expect(await commonPrefix(store, b, a)).toEqual({ bytes, nextA: refsB[k], nextB: refsA[k] });
      }),
      { numRuns: 40 },
    );
  });

  it('handles empty files', async () => {
    const store = new MemoryStore();
    const empty = await fileRefFromChunks(store, []);
    const file = await fileRefFromChunks(store, fakeChunks('x', 3));
    expect(await commonPrefix(store, empty, file)).toEqual({ bytes: 0, nextA: undefined, nextB: fakeChunks('x', 1)[0] });
  });
});

describe('commonSuffix', () => {
  it('reads only the nodes on the path to a mid-file edit of a 2000-chunk file', async () => {
    const store = new MemoryStore();
    const refs = fakeChunks('data', 2000);
    const edited = [...refs.slice(0, 1000), ...fakeChunks('edit', 2), ...refs.slice(1001)];
    const a = await fileRefFromChunks(store, refs);
    const b = await fileRefFromChunks(store, edited);
    store.gets = 0;
    expect(await commonSuffix(store, a, b)).toBe(refs.slice(1001).reduce((s, r) => s + r.size, 0));
    expect(store.gets).toBeLessThanOrEqual(12);
    store.gets = 0;
    expect(await commonSuffix(store, a, a)).toBe(a.size);
    expect(store.gets).toBe(0);
  });

  it('property: agrees with a chunk-by-chunk comparison from the end', async () => {
    const pool = fakeChunks('pool', 4);
    const head = fc.array(fc.constantFrom(...pool), { maxLength: 300 });
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: 1500 }), head, head, async (shared, headA, headB) => {
        const end = fakeChunks('end', shared);
        const refsA = [...headA, ...end];
        const refsB = [...headB, ...end];
        const store = new MemoryStore();
        const a = await fileRefFromChunks(store, refsA);
        const b = await fileRefFromChunks(store, refsB);
        let k = 0;
        while (k < refsA.length && k < refsB.length && refsA[refsA.length - 1 - k].id === refsB[refsB.length - 1 - k].id) k++;
        const bytes = refsA.slice(refsA.length - k).reduce((s, r) => s + r.size, 0);
        expect(await commonSuffix(store, a, b)).toBe(bytes);
        expect(await commonSuffix(store, b, a)).toBe(bytes);
      }),
      { numRuns: 40 },
    );
  });

  it('handles empty files', async () => {
    const store = new MemoryStore();
    const empty = await fileRefFromChunks(store, []);
    expect(await commonSuffix(store, empty, await fileRefFromChunks(store, fakeChunks('x', 3)))).toBe(0);
  });
});
