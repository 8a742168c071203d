import { randomBytes } from 'node:crypto';
import { BigIntStats, promises as fs, lstatSync, Stats } from 'node:fs';
import * as path from 'node:path';
import { ChunkRef, FileRef, IntegrityError, InvalidArgumentError, readChunkRefs, splitRelativePath, TreeEntry, TreeId, walkFiles } from '@tributary/core';
import { ObjectDatabase } from '../objects/object-database';
import { StatCache } from './stat-cache';
import { crashPoint } from '../testing/crash-points';

/**
 * Makes sure every directory on the way to `relPath` under `root` is a real directory, creating missing ones.
 * Throws InvalidArgumentError if one is a symlink or a file: a write must never follow a link out of the tree.
 */
export async function prepareParents(root: string, relPath: string): Promise<void> {
  const parts = splitRelativePath(relPath);
  let dir = root;
  for (let i = 0; i < parts.length - 1; i++) {
    dir = path.join(dir, parts[i]);
    let st: Stats | undefined;
    try {
      st = lstatSync(dir);
    } catch {
      st = undefined;
    }
    if (!st) await fs.mkdir(dir).catch((e) => (e.code === 'EEXIST' ? undefined : Promise.reject(e)));
    else if (st.isSymbolicLink()) throw new InvalidArgumentError(`unsafe path: ${parts.slice(0, i + 1).join('/')} is a symlink, will not write beneath it`);
    else if (!st.isDirectory()) throw new InvalidArgumentError(`cannot write ${relPath}: ${parts.slice(0, i + 1).join('/')} is a file`);
  }
}

/**
 * Writes one tree entry (file or symlink) to `root/relPath`: into a temp file beside it, then a rename, so a reader
 * or a crash never sees a half-written file, and an existing symlink at the path is replaced, never followed. Every
 * chunk is verified against its id before a byte is written. Returns the new file's stat.
 */
export async function writeEntry(db: ObjectDatabase, root: string, relPath: string, entry: Omit<TreeEntry, 'name'>): Promise<BigIntStats> {
  await prepareParents(root, relPath);
  const abs = path.join(root, ...relPath.split('/'));
  const tmp = path.join(path.dirname(abs), `.trib-tmp-${randomBytes(6).toString('hex')}`);
  try {
    if (entry.kind === 'symlink') {
      const target = await db.get(entry.id);
      await fs.symlink(target.toString('utf8'), tmp);
    } else {
      const fh = await fs.open(tmp, 'wx', entry.executable ? 0o755 : 0o644);
      try {
        for await (const buf of readChunksBatched(db, entry)) await fh.write(buf);
        if (entry.executable) await fh.chmod(0o755);
      } finally {
        await fh.close();
      }
    }
    crashPoint('checkout.before-rename');
    await fs.rename(tmp, abs);
  } catch (e) {
    await fs.unlink(tmp).catch(() => undefined);
    throw e;
  }
  return lstatSync(abs, { bigint: true });
}

/** Chunks fetched per request: neighbours in a pack come back in one ranged read, not one GET per 64 KiB. */
const CHUNKS_PER_READ = 64;

/** A file's bytes, chunk by chunk, each verified against its id, fetched in batches through the coalescing path. */
async function* readChunksBatched(db: ObjectDatabase, file: FileRef): AsyncGenerator<Buffer> {
  if (!file.chunked) {
    const bytes = await db.get(file.id);
    if (bytes.length !== file.size) throw new IntegrityError(`file ${file.id} is ${bytes.length} bytes, its tree entry says ${file.size}`);
    yield bytes;
    return;
  }
  let batch: ChunkRef[] = [];
  // A list node's ids are verified but its sizes are only claims: a chunk of another length means a forged list.
  const fetch = async (refs: ChunkRef[]) => {
    const bufs = await db.getMany(refs.map((r) => r.id));
    bufs.forEach((b, i) => {
      if (b.length !== refs[i].size) throw new IntegrityError(`chunk ${refs[i].id} is ${b.length} bytes, its list says ${refs[i].size}`);
    });
    return bufs;
  };
  for await (const ref of readChunkRefs(db, file)) {
    batch.push(ref);
    if (batch.length === CHUNKS_PER_READ) {
      yield* await fetch(batch);
      batch = [];
    }
  }
  if (batch.length) yield* await fetch(batch);
}

export interface MaterializeResult {
  readonly files: number;
  readonly bytes: number;
}

/**
 * Writes every file and symlink of `tree` under `dest` (which must exist). With `cache`, records each written file
 * so a later commit does not rehash it.
 */
export async function materializeTree(
  db: ObjectDatabase,
  tree: TreeId,
  dest: string,
  opts: { cache?: StatCache; onProgress?: (bytes: number) => void } = {},
): Promise<MaterializeResult> {
  let files = 0;
  let bytes = 0;
  for await (const { path: rel, entry } of walkFiles(db, tree)) {
    const st = await writeEntry(db, dest, rel, entry);
    opts.cache?.set(rel, st, entry);
    files++;
    bytes += entry.size;
    opts.onProgress?.(bytes);
  }
  return { files, bytes };
}

/** Removes a file or link and then any directories it leaves empty, up to (not including) `root`. */
export async function removeEntry(root: string, relPath: string): Promise<void> {
  const abs = path.join(root, ...splitRelativePath(relPath));
  await fs.unlink(abs).catch((e) => (e.code === 'ENOENT' ? undefined : Promise.reject(e)));
  let dir = path.dirname(abs);
  while (dir.length > root.length && dir.startsWith(root)) {
    try {
      await fs.rmdir(dir);
    } catch {
      break;
    }
    dir = path.dirname(dir);
  }
}
