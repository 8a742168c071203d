import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { Chunker, DEFAULT_CHUNKER_PARAMS, findCutPoint, ObjectId, sha256 } from '@tributary/core';

/** A chunk cut from a file: its id, its bytes, and where it starts in the file. */
export interface HashedChunk {
  readonly id: ObjectId;
  readonly offset: number;
  readonly bytes: Buffer;
}

export const READ_BLOCK = 4 * 1024 * 1024;
export const DEFAULT_BATCH_BYTES = 4 * 1024 * 1024;
/** Files up to this size are read whole and cut in place: no streaming chunker, no read block, no copy. */
export const WHOLE_FILE_MAX = 1024 * 1024;

export interface ChunkFileOptions {
  /** Largest batch, in bytes (a batch always holds at least one chunk). */
  readonly batchBytes?: number;
  /** The file's size from a stat the caller just made: saves a syscall; a stale one is harmless. */
  readonly sizeHint?: number;
  /**
   * Gives the buffer a streamed batch is built in, at least `minBytes` long and owned by the batch from then on
   * (a worker recycles buffers the main thread hands back). Default: a new buffer per batch.
   */
  readonly allocate?: (minBytes: number) => Buffer;
}

/**
 * Reads a file, chunks and hashes it, and hands chunks over in batches of at most `max(batchBytes, one chunk)`
 * bytes. The same code runs inline and inside worker threads. Every batch's bytes live in one ArrayBuffer owned
 * by that batch (each chunk's `bytes` is a view into it), so a worker can transfer a batch instead of copying it. `emit` is awaited, which is the backpressure that keeps memory flat for huge files. Returns the
 * file's length (what was read, if the file changed meanwhile).
 */
export async function chunkFile(absPath: string, emit: (batch: HashedChunk[]) => Promise<void>, opts: ChunkFileOptions = {}): Promise<number> {
  const batchBytes = opts.batchBytes ?? DEFAULT_BATCH_BYTES;
  const fd = openSync(absPath, 'r');
  try {
    // The size from a stat the caller just made saves a syscall per file; it only picks the strategy and buffer
    // sizes, so a file that changed since is still read whole and correctly.
    const expected = opts.sizeHint ?? fstatSync(fd).size;
    if (expected <= WHOLE_FILE_MAX) {
      const whole = readWhole(fd, expected);
      if (whole) {
        if (whole.length > 0) await emit(cutInPlace(whole));
        return whole.length;
      }
    }
    return await chunkStream(fd, expected, emit, batchBytes, opts.allocate);
  } finally {
    closeSync(fd);
  }
}

/** The whole file when it still fits WHOLE_FILE_MAX (it may have grown since its stat); undefined otherwise. */
function readWhole(fd: number, expected: number): Buffer | undefined {
  // One spare byte shows whether the file grew. A regular file gives a short read only at its end, so one read
  // suffices: no second read just to see 0 (a syscall per file, in trees of a million files).
  const buf = Buffer.allocUnsafeSlow(expected + 1);
  const n = readSync(fd, buf, 0, buf.length, 0);
  return n < buf.length ? buf.subarray(0, n) : undefined;
}

/** Cuts bytes that are the whole file exactly as the streaming Chunker would, as views into `whole`. */
function cutInPlace(whole: Buffer): HashedChunk[] {
  const out: HashedChunk[] = [];
  for (let at = 0; at < whole.length; ) {
    const n = findCutPoint(whole, at, whole.length, true);
    const bytes = whole.subarray(at, at + n);
    out.push({ id: sha256(bytes), offset: at, bytes });
    at += n;
  }
  return out;
}

async function chunkStream(
  fd: number,
  expected: number,
  emit: (batch: HashedChunk[]) => Promise<void>,
  batchBytes: number,
  allocate: (minBytes: number) => Buffer = (n) => Buffer.allocUnsafeSlow(n),
): Promise<number> {
  const capacity = Math.max(batchBytes, DEFAULT_CHUNKER_PARAMS.maxSize);
  const chunker = new Chunker();
  let offset = 0;
  let batch: HashedChunk[] = [];
  let area: Buffer | undefined;
  let used = 0;
  const ship = async () => {
    const b = batch;
    batch = [];
    area = undefined;
    used = 0;
    if (b.length) await emit(b);
  };
  const take = async (chunks: Buffer[]) => {
    for (const c of chunks) {
      if (area && used + c.length > Math.min(area.length, capacity)) await ship();
      // Copy: chunks may be views into the read block, which is reused. The area is sized to what is left of
      // the file, so the last batch of a file does not cost a whole batch buffer.
      area ??= allocate(Math.max(c.length, Math.min(capacity, expected - offset)));
      c.copy(area, used);
      batch.push({ id: sha256(c), offset, bytes: area.subarray(used, used + c.length) });
      used += c.length;
      offset += c.length;
    }
  };
  const block = Buffer.allocUnsafeSlow(READ_BLOCK);
  for (;;) {
    const n = readSync(fd, block, 0, block.length, null);
    if (n === 0) break;
    await take(chunker.push(block.subarray(0, n)));
  }
  await take(chunker.finish());
  await ship();
  return offset;
}
