import { closeSync, openSync, readSync } from 'node:fs';
import { Chunker, ObjectId, sha256 } from '@tributary/core';

/** A chunk cut from a file: its id, its bytes, and where it starts in the file. */
export interface HashedChunk {
  readonly id: ObjectId;
  readonly offset: number;
  readonly bytes: Buffer;
}

export const READ_BLOCK = 4 * 1024 * 1024;

/**
 * Reads a file block by block, chunks and hashes it, and hands chunks over in batches. The same code runs inline
 * and inside worker threads. `emit` is awaited, which is the backpressure that keeps memory flat for huge files.
 * Returns the file's length.
 */
export async function chunkFile(absPath: string, emit: (batch: HashedChunk[]) => Promise<void>, batchBytes = 8 * 1024 * 1024): Promise<number> {
  const fd = openSync(absPath, 'r');
  try {
    const chunker = new Chunker();
    let offset = 0;
    let batch: HashedChunk[] = [];
    let batched = 0;
    const take = async (chunks: Buffer[]) => {
      for (const c of chunks) {
        // Copy: chunks may be views into the read block, which is reused.
        batch.push({ id: sha256(c), offset, bytes: Buffer.from(c) });
        offset += c.length;
        batched += c.length;
      }
      if (batched >= batchBytes) {
        const b = batch;
        batch = [];
        batched = 0;
        await emit(b);
      }
    };
    const block = Buffer.allocUnsafe(READ_BLOCK);
    for (;;) {
      const n = readSync(fd, block, 0, block.length, null);
      if (n === 0) break;
      await take(chunker.push(block.subarray(0, n)));
    }
    await take(chunker.finish());
    if (batch.length) await emit(batch);
    return offset;
  } finally {
    closeSync(fd);
  }
}
