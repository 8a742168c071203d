import { createCipheriv } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { Chunker, sha256 } from '@tributary/core';
import { chunkFile, HashedChunk, WHOLE_FILE_MAX } from './file-chunking';

/** Deterministic incompressible bytes (the chunker cuts random data at its natural average). */
function bytes(n: number, seed: number): Buffer {
  const key = Buffer.alloc(32, seed);
  return createCipheriv('aes-256-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(n));
}

function reference(data: Buffer): { id: string; offset: number; size: number }[] {
  const chunker = new Chunker();
  const out: { id: string; offset: number; size: number }[] = [];
  let offset = 0;
  for (const c of [...chunker.push(data), ...chunker.finish()]) {
    out.push({ id: sha256(c), offset, size: c.length });
    offset += c.length;
  }
  return out;
}

async function collect(file: string, opts?: Parameters<typeof chunkFile>[2]) {
  const batches: HashedChunk[][] = [];
  const length = await chunkFile(file, async (b) => void batches.push(b), opts);
  return { length, batches, chunks: batches.flat() };
}

describe('chunkFile', () => {
  let dir: string;
  beforeAll(() => (dir = mkdtempSync(path.join(tmpdir(), 'chunk-file-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('cuts exactly as the streaming Chunker, for whole-file and streamed sizes (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.nat({ max: 70_000 }), fc.integer({ min: WHOLE_FILE_MAX - 70_000, max: WHOLE_FILE_MAX + 300_000 })),
        fc.nat({ max: 255 }),
        fc.option(fc.nat({ max: WHOLE_FILE_MAX + 300_000 })),
        async (n, seed, hint) => {
          const data = bytes(n, seed);
          const file = path.join(dir, `f-${n}-${seed}`);
          writeFileSync(file, data);
          // A wrong size hint (the file changed since its stat) must not change the result.
          const { length, chunks } = await collect(file, hint === null ? {} : { sizeHint: hint });
          expect(length).toBe(n);
          expect(chunks.map((c) => ({ id: c.id, offset: c.offset, size: c.bytes.length }))).toEqual(reference(data));
          for (const c of chunks) expect(c.bytes.equals(data.subarray(c.offset, c.offset + c.bytes.length))).toBe(true);
          rmSync(file);
        },
      ),
      { numRuns: 25 },
    );
  });

  it('gives each batch its own buffer, bounded by the batch size, so a worker can transfer it', async () => {
    const data = bytes(6 << 20, 9);
    const file = path.join(dir, 'big');
    writeFileSync(file, data);
    const { batches, chunks } = await collect(file, { batchBytes: 1 << 20 });
    expect(chunks.map((c) => c.id)).toEqual(reference(data).map((c) => c.id));
    const buffers = batches.map((b) => b[0].bytes.buffer);
    expect(new Set(buffers).size).toBe(batches.length);
    for (const b of batches) {
      for (const c of b) expect(c.bytes.buffer).toBe(b[0].bytes.buffer);
      expect(b.reduce((s, c) => s + c.bytes.length, 0)).toBeLessThanOrEqual(1 << 20);
    }
  });

  it('emits nothing for an empty file', async () => {
    const file = path.join(dir, 'empty');
    writeFileSync(file, '');
    expect(await collect(file)).toEqual({ length: 0, batches: [], chunks: [] });
  });
});
