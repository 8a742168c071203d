import { FileRef } from '../objects/object-types';
import { readFileBytes } from '../objects/file-content';
import { ObjectSource } from '../objects/object-source';

/**
 * Helpers for the file-content specs. Test-only: exported from no index.
 */

/** `size` pseudo-random bytes from `seed` (xorshift32): the same bytes on every run, so chunk boundaries repeat. */
export function seededBytes(seed: number, size: number): Buffer {
  const out = Buffer.alloc(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** `data` in pieces of `size` bytes, as a stream of reads would give it. */
export function* blocks(data: Buffer, size: number): Generator<Buffer> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

/** A stored file's bytes from `from` on, joined. */
export async function readAllBytes(src: ObjectSource, file: FileRef, from = 0): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const b of readFileBytes(src, file, from)) parts.push(b);
  return Buffer.concat(parts);
}
