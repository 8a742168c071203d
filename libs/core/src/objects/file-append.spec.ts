import fc from 'fast-check';
import { IntegrityError } from '../errors/trib-error';
import { sha256 } from '../hashing/sha256';
import { ObjectId } from '../ids/ids';
import { MemoryObjects } from '../testing/memory-objects';
import { ChunkListBuilder, encodeChunkList, isChunkListBoundary } from './chunk-list.codec';
import { appendToFile, resumeBeforeLastChunk } from './file-append';
import { fileRefFromChunks, writeFileContent } from './file-content';
import { ChunkRef, FileRef } from './object-types';
import { blocks, readAllBytes, seededBytes } from '../testing/file-fixtures';

/** Fake chunk refs (never read): `boundaryEvery` 0 means natural ids, n > 0 means only every n-th id closes a node. */
function fakeRefs(seed: string, count: number, boundaryEvery: number): ChunkRef[] {
  const out: ChunkRef[] = [];
  for (let i = 0, salt = 0; out.length < count; salt++) {
    const id = sha256(Buffer.from(`${seed}/${out.length}/${salt}`));
    if (boundaryEvery > 0 && isChunkListBoundary(id) !== ((i + 1) % boundaryEvery === 0)) continue;
    out.push({ id, size: 1 + ((out.length * 7919) % 300_000) });
    i++;
  }
  return out;
}

describe('resumeBeforeLastChunk', () => {
  it('property: resuming a file and adding its last chunk and more gives the tree of all chunks (deep and capped trees)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 6000 }),
        fc.integer({ min: 0, max: 700 }),
        fc.constantFrom(0, 0, 1_000_000, 3),
        fc.string({ maxLength: 4 }),
        async (count, extra, boundaryEvery, seed) => {
          const refs = fakeRefs(seed, count + extra, boundaryEvery);
          const objects = new MemoryObjects();
          const old = await fileRefFromChunks(objects, refs.slice(0, count));
          objects.resetCounts();
          const { builder, last } = await resumeBeforeLastChunk(objects, objects, old);
          const depth = objects.gets;
          if (count > 0) {
            expect(last).toEqual({ ...refs[count - 1], offset: old.size - refs[count - 1].size });
            await builder.add(refs[count - 1]);
          } else {
            expect(last).toBeUndefined();
          }
          for (const r of refs.slice(count)) await builder.add(r);
          const resumed = await builder.finish();
          const fresh = await fileRefFromChunks(new MemoryObjects(), refs);
          expect(resumed).toEqual(fresh);
          expect(depth).toBeLessThanOrEqual(old.chunked ? 1 + Math.ceil(Math.log2(count)) : 0);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('reads one node per level and no chunk', async () => {
    const refs = fakeRefs('deep', 40_000, 0);
    const objects = new MemoryObjects();
    const file = await fileRefFromChunks(objects, refs);
    objects.resetCounts();
    await resumeBeforeLastChunk(objects, objects, file);
    // 40 000 chunks at 1/32 boundary odds: level 0, 1, 2 and usually 3.
    expect(objects.gets).toBeGreaterThanOrEqual(3);
    expect(objects.gets).toBeLessThanOrEqual(5);
  });

  it('rejects a spine node whose size disagrees with its parent, and a root with one child', async () => {
    const objects = new MemoryObjects();
    const [a, b] = fakeRefs('bad', 2, 1_000_000);
    const node = await objects.put(encodeChunkList({ level: 0, children: [a, b] }));
    await expect(resumeBeforeLastChunk(objects, objects, { id: node, chunked: true, size: a.size + b.size + 1 })).rejects.toThrow(IntegrityError);
    const lonely = await objects.put(encodeChunkList({ level: 0, children: [a] }));
    await expect(resumeBeforeLastChunk(objects, objects, { id: lonely, chunked: true, size: a.size })).rejects.toThrow(IntegrityError);
  });

  it('ChunkListBuilder.resume refuses states add() could never reach', () => {
    const objects = new MemoryObjects();
    const refs = fakeRefs('cap', 256, 1_000_000);
    expect(() => ChunkListBuilder.resume(objects, [refs])).toThrow(/level 0 is not an open node/);
    const boundary = fakeRefs('b', 3, 1);
    expect(() => ChunkListBuilder.resume(objects, [boundary.slice(0, 2)])).toThrow(/not an open node/);
    expect(() => ChunkListBuilder.resume(objects, [[], []])).toThrow(/level 1 is not an open node/);
    expect(() => ChunkListBuilder.resume(objects, [[], [], refs.slice(0, 1)])).not.toThrow();
  });
});

describe('appendToFile', () => {
  it('property: gives the FileRef writeFileContent gives for old + appended bytes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 1_500_000 }),
        fc.integer({ min: 0, max: 400_000 }),
        fc.integer({ min: 1, max: 200_000 }),
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        async (oldSize, addSize, blockSize, seed) => {
          const data = seededBytes(seed, oldSize + addSize);
          const objects = new MemoryObjects();
          const old = await writeFileContent(objects, blocks(data.subarray(0, oldSize), 65_536));
          const appended = await appendToFile(objects, objects, old, blocks(data.subarray(oldSize), blockSize));
          const fresh = await writeFileContent(new MemoryObjects(), [data]);
          expect(appended).toEqual(fresh);
          expect((await readAllBytes(objects, appended)).equals(data)).toBe(true);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('handles text with repeated content (cuts fall on the same bytes again)', async () => {
    const row = Buffer.from('2026-01-01T00:00:00Z,na-aws,72,0.81,normal\n');
    const data = Buffer.concat(Array.from({ length: 60_000 }, (_, i) => Buffer.concat([row, Buffer.from(`${i % 97}\n`)])));
    for (const cut of [0, 1, 65_536, 1_000_003, data.length - 5, data.length]) {
      const objects = new MemoryObjects();
      const old = await writeFileContent(objects, [data.subarray(0, cut)]);
      const appended = await appendToFile(objects, objects, old, [data.subarray(cut)]);
      expect(appended).toEqual(await writeFileContent(new MemoryObjects(), [data]));
    }
  });

  it('reads only the spine and the old last chunk, and writes only new chunks and nodes', async () => {
    const data = seededBytes(7, 8_000_000);
    const objects = new MemoryObjects();
    const old = await writeFileContent(objects, blocks(data, 1 << 20));
    expect(old.chunked).toBe(true);
    const before = objects.objects.size;
    objects.resetCounts();
    const appended = await appendToFile(objects, objects, old, [seededBytes(8, 10_000)]);
    // Root and level-0 spine nodes (8 MB: ~125 chunks, two levels), plus the last chunk.
    expect(objects.gets).toBeLessThanOrEqual(4);
    // At most a few new chunks (the re-cut tail) and one new node per level.
    expect(objects.objects.size - before).toBeLessThanOrEqual(6);
    expect(appended.size).toBe(old.size + 10_000);
  });

  it('appending nothing returns the same file', async () => {
    const objects = new MemoryObjects();
    for (const size of [0, 10, 300_000, 2_000_000]) {
      const old = await writeFileContent(objects, [seededBytes(size + 1, size)]);
      expect(await appendToFile(objects, objects, old, [])).toEqual(old);
    }
  });

  it('rejects an old last chunk whose length disagrees with its file', async () => {
    const objects = new MemoryObjects();
    const id: ObjectId = await objects.put(Buffer.from('abc'));
    await expect(appendToFile(objects, objects, { id, chunked: false, size: 4 }, [Buffer.from('d')])).rejects.toThrow(IntegrityError);
  });
});
