import { read, readSync } from 'node:fs';

/**
 * Reads and writes of local files up to this many bytes, like metadata calls, are made with synchronous calls:
 * every asynchronous call is a round trip through libuv's thread pool, which costs more than a small read or write
 * that the page cache serves (tens of microseconds, and more on a virtual machine's cross-CPU wake-ups). Larger I/O
 * goes through the pool, so a slow disk never blocks the event loop for long. LocalStore, the checkout writer and
 * the edge agent's batch reader follow this.
 */
export const SYNC_IO_MAX_BYTES = 64 * 1024;

/**
 * Bytes read at `position` of an open file, up to `length` (fewer at its end): synchronously up to
 * SYNC_IO_MAX_BYTES, else through the thread pool.
 */
export async function readAt(fd: number, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length);
  let done = 0;
  if (length <= SYNC_IO_MAX_BYTES) {
    for (let n = 1; done < length && n > 0; done += n) n = readSync(fd, buf, done, length - done, position + done);
  } else {
    for (let n = 1; done < length && n > 0; done += n) {
      n = await new Promise<number>((resolve, reject) =>
        read(fd, buf, done, length - done, position + done, (e, bytesRead) => (e ? reject(e) : resolve(bytesRead))),
      );
    }
  }
  return buf.subarray(0, done);
}

/**
 * Runs a clean-up step whose failure changes nothing for the caller (removing a temp file or a stale lock, closing
 * a descriptor after another error, which is the one the caller sees); true when it succeeded.
 */
export function quietly(step: () => void): boolean {
  try {
    step();
    return true;
  } catch {
    return false;
  }
}
