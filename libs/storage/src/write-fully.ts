import type { FileHandle } from 'node:fs/promises';

/**
 * Writes every byte of `bufs` with `writev`, going on after a short write where it stopped: at `position` and on
 * from there, or at the file's current position when `position` is undefined. No copy in user space.
 */
export async function writeFully(fh: FileHandle, bufs: readonly Buffer[], position?: number): Promise<void> {
  let rest = bufs.filter((b) => b.length > 0);
  while (rest.length > 0) {
    let written = (await fh.writev(rest, position)).bytesWritten;
    if (position !== undefined) position += written;
    let i = 0;
    while (i < rest.length && written >= rest[i].length) written -= rest[i++].length;
    rest = rest.slice(i);
    if (written > 0) rest[0] = rest[0].subarray(written);
  }
}
