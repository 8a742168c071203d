import { writev, writevSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';

/**
 * Writes every byte of `bufs` to an open file (a FileHandle, or a descriptor) with `writev`, going on after a short
 * write where it stopped: at `position` and on from there, or at the file's current position when `position` is
 * undefined. No copy in user space.
 */
export async function writeFully(file: FileHandle | number, bufs: readonly Buffer[], position?: number): Promise<void> {
  const writeSome =
    typeof file === 'number'
      ? (parts: Buffer[], at: number | undefined) =>
          new Promise<number>((resolve, reject) =>
            writev(file, parts, at ?? null, (e, n) => (e ? reject(e) : resolve(n))),
          )
      : async (parts: Buffer[], at: number | undefined) => (await file.writev(parts, at)).bytesWritten;
  let rest = bufs.filter((b) => b.length > 0);
  while (rest.length > 0) {
    const written = await writeSome(rest, position);
    if (position !== undefined) position += written;
    rest = afterWrite(rest, written);
  }
}

/**
 * `writeFully` without the thread pool, for a few small buffers: on a local file such a write costs microseconds,
 * less than a round trip through the pool.
 */
export function writeFullySync(fd: number, bufs: readonly Buffer[], position?: number): void {
  let rest = bufs.filter((b) => b.length > 0);
  while (rest.length > 0) {
    const written = writevSync(fd, rest, position);
    if (position !== undefined) position += written;
    rest = afterWrite(rest, written);
  }
}

/** What is left of `bufs` after a write that took its first `written` bytes. */
function afterWrite(bufs: Buffer[], written: number): Buffer[] {
  let i = 0;
  while (i < bufs.length && written >= bufs[i].length) written -= bufs[i++].length;
  const rest = bufs.slice(i);
  if (written > 0) rest[0] = rest[0].subarray(written);
  return rest;
}
