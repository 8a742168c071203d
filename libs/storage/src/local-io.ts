import { read, readSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';

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

/** Whether a process with this pid runs on this machine (one we may not signal counts: it exists). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
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

/**
 * `mkdir -p`: creates `dir` and any missing parents; resolves to the first folder it created, or undefined when
 * `dir` already was one, as `fs.mkdir(dir, { recursive: true })` does. That call never returns on Node 20 when a
 * parent exists but refuses new entries with ENOENT (under /proc it loops forever); this one throws that ENOENT.
 * A `dir` that exists as something else is EEXIST; a parent that is a file, ENOTDIR.
 */
export async function makeDirectory(dir: string): Promise<string | undefined> {
  // Resolved first: `a/missing/../b` must not make `a/missing` on the way.
  dir = path.resolve(dir);
  const made = await mkdirOnce(dir);
  if (made !== 'ENOENT') return made;
  const parent = path.dirname(dir);
  if (parent === dir) return mkdirOnce(dir, true);
  const first = await makeDirectory(parent);
  const last = await mkdirOnce(dir, true);
  return first ?? last;
}

/** One `mkdir`: `dir` when made, undefined when it already is a folder, 'ENOENT' (unless `strict`) for a missing parent. */
async function mkdirOnce(dir: string, strict = false): Promise<string | undefined | 'ENOENT'> {
  try {
    await fs.mkdir(dir);
    return dir;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !strict) return 'ENOENT';
    if (code === 'EEXIST' && (await fs.stat(dir).then((st) => st.isDirectory(), () => false))) return undefined;
    throw e;
  }
}
