import { writev } from 'node:fs';
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
    let written = await writeSome(rest, position);
    if (position !== undefined) position += written;
    let i = 0;
    while (i < rest.length && written >= rest[i].length) written -= rest[i++].length;
    rest = rest.slice(i);
    if (written > 0) rest[0] = rest[0].subarray(written);
  }
}
