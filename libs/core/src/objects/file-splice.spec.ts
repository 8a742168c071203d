import fc from 'fast-check';
import { InvalidArgumentError } from '../errors/trib-error';
import { MemoryObjects } from '../testing/memory-objects';
import { readFileBytes, writeFileContent } from './file-content';
import { sha256 } from '../hashing/sha256';
import { ChunkListBuilder } from './chunk-list.codec';
import { fileRefFromChunks } from './file-content';
import { addFileSuffix, insertIntoFile, spliceFile } from './file-splice';
import { ChunkRef, FileRef } from './object-types';
import { blocks, readAllBytes, seededBytes } from '../testing/file-fixtures';

function csvRows(count: number, tag: string): Buffer {
  return Buffer.from(Array.from({ length: count }, (_, i) => `2026-01-01T00:00:${String(i % 60).padStart(2, '0')}Z,${tag},${60 + (i % 41)},${i % 97}\n`).join(''));
}

async function check(old: Buffer, offset: number, insert: Buffer, blockSize = 65_536, remove = 0): Promise<MemoryObjects> {
  const objects = new MemoryObjects();
  const file = await writeFileContent(objects, blocks(old, 1 << 20));
  const spliced =
    remove === 0
      ? await insertIntoFile(objects, objects, file, offset, blocks(insert, blockSize))
      : await spliceFile(objects, objects, file, offset, remove, blocks(insert, blockSize));
  const expected = Buffer.concat([old.subarray(0, offset), insert, old.subarray(offset + remove)]);
  expect(spliced).toEqual(await writeFileContent(new MemoryObjects(), [expected]));
  expect((await readAllBytes(objects, spliced)).equals(expected)).toBe(true);
  return objects;
}

describe('insertIntoFile', () => {
  it('property: gives the FileRef writeFileContent gives for the spliced bytes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 1_500_000 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer({ min: 0, max: 300_000 }),
        fc.integer({ min: 1, max: 200_000 }),
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        async (oldSize, where, insertSize, blockSize, seed) => {
          const old = seededBytes(seed, oldSize);
          await check(old, Math.floor(where * oldSize), seededBytes(seed + 1, insertSize), blockSize);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('property: spliceFile (remove, then insert) gives the FileRef writeFileContent gives for the result', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 1_500_000 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer({ min: 0, max: 300_000 }),
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        async (oldSize, where, howMuch, insertSize, seed) => {
          const old = seededBytes(seed, oldSize);
          const offset = Math.floor(where * oldSize);
          const remove = Math.floor(howMuch * howMuch * (oldSize - offset));
          await check(old, offset, seededBytes(seed + 1, insertSize), 50_000, remove);
        },
      ),
      { numRuns: 60 },
    );
    for (const [offset, remove, insert] of [[0, 3, 'abc'], [0, 3, ''], [1, 1, ''], [0, 0, '']] as const) {
      await check(Buffer.from('xyz'), offset, Buffer.from(insert), 1, remove);
    }
  });

  it('at chunk boundaries, the start, the end, and with nothing inserted', async () => {
    const old = seededBytes(3, 2_000_000);
    const objects = new MemoryObjects();
    const file = await writeFileContent(objects, [old]);
    const starts: number[] = [];
    let pos = 0;
    for await (const b of readFileBytes(objects, file)) {
      starts.push(pos);
      pos += b.length;
    }
    for (const offset of [0, starts[1], starts[2] - 1, starts[2] + 1, starts[starts.length - 1], old.length - 1, old.length]) {
      for (const insert of [Buffer.alloc(0), Buffer.from('x'), seededBytes(offset + 9, 70_000)]) await check(old, offset, insert);
    }
  });

  it('multi-level chunk lists: CSV text with inserts in the middle (subtrees reused whole)', async () => {
    const old = csvRows(400_000, 'na-aws'); // ~17 MB, ~270 chunks: two levels of chunk lists
    const insert = csvRows(300, 'eu-azure');
    for (const offset of [0, 44, Math.floor(old.length / 3), old.length - 100_000]) {
      const lineStart = old.lastIndexOf(0x0a, offset - 1) + 1;
      await check(old, lineStart, insert);
    }
  });

  it('reads and writes a few chunks and nodes, not the rest of the file', async () => {
    const old = seededBytes(11, 24_000_000);
    const objects = new MemoryObjects();
    const file = await writeFileContent(objects, blocks(old, 1 << 20));
    const before = objects.objects.size;
    objects.resetCounts();
    const spliced = await insertIntoFile(objects, objects, file, 7_000_123, [seededBytes(12, 5_000)]);
    // ~370 chunks in ~12 level-0 nodes. Reads: the path down (2 nodes) three times and a few chunks. Writes: the
    // re-cut chunks and the nodes on their path; re-adding the chunks after them one by one would write every
    // level-0 node after the insertion again.
    expect(objects.gets).toBeLessThanOrEqual(14);
    expect(objects.puts).toBeLessThanOrEqual(8);
    expect(objects.objects.size - before).toBeLessThanOrEqual(8);
    const expected = Buffer.concat([old.subarray(0, 7_000_123), seededBytes(12, 5_000), old.subarray(7_000_123)]);
    expect(spliced).toEqual(await writeFileContent(new MemoryObjects(), [expected]));
  });

  it('refuses a range outside the file', async () => {
    const objects = new MemoryObjects();
    const file = await writeFileContent(objects, [Buffer.from('abc')]);
    for (const offset of [-1, 4, 1.5]) await expect(insertIntoFile(objects, objects, file, offset, [])).rejects.toThrow(InvalidArgumentError);
    await expect(spliceFile(objects, objects, file, 2, 2, [])).rejects.toThrow(InvalidArgumentError);
    await expect(spliceFile(objects, objects, file, 0, -1, [])).rejects.toThrow(InvalidArgumentError);
  });
});

function fakeRefs(seed: string, count: number): ChunkRef[] {
  return Array.from({ length: count }, (_, i) => ({ id: sha256(Buffer.from(`${seed}/${i}`)), size: 1 + ((i * 7919) % 300_000) }));
}

describe('addFileSuffix', () => {
  it('property: a new prefix plus a stored file from one of its chunk boundaries gives the tree of all chunks (deep trees)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 20_000 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer({ min: 0, max: 3_000 }),
        fc.string({ maxLength: 3 }),
        async (count, where, prefixCount, seed) => {
          const refs = fakeRefs(`old${seed}`, count);
          const prefix = fakeRefs(`new${seed}`, prefixCount);
          const from = Math.min(count - 1, Math.floor(where * count));
          const objects = new MemoryObjects();
          const file = await fileRefFromChunks(objects, refs);
          const builder = new ChunkListBuilder(objects);
          for (const r of prefix) await builder.add(r);
          objects.resetCounts();
          await addFileSuffix(objects, builder, file, refs.slice(0, from).reduce((s, r) => s + r.size, 0));
          expect(await builder.finish()).toEqual(await fileRefFromChunks(new MemoryObjects(), [...prefix, ...refs.slice(from)]));
        },
      ),
      { numRuns: 80 },
    );
  });
});
