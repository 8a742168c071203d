import { promises as fs, readlinkSync } from 'node:fs';
import * as path from 'node:path';
import {
  ChunkRef,
  DirectoryLookup,
  EntryKind,
  FailedPreconditionError,
  fileRefFromChunks,
  FileRef,
  isTribError,
  lookupPath,
  ObjectId,
  quotePath,
  readChunkRefs,
  TreeEntry,
  TreeId,
  writeTreeFromPaths,
} from '@tributary/core';
import { ObjectDatabase } from '../objects/object-database';
import { FileHasherPool } from './file-hasher-pool';
import { chunkFile, HashedChunk } from './file-chunking';
import { StatCache, StatStamp } from './stat-cache';
import { crashPoint } from '../testing/crash-points';
import { loadIgnoreRules, ScannedPath, scanWorktree, unreadablePath, wasRemoved } from './worktree-scan';
import { Mutex } from '../locks/mutex';

export type PathEntry = Omit<TreeEntry, 'name'>;

/**
 * Progress of long work on the working tree: `done` of `total` bytes. While the tree is scanned, `scannedFiles` is
 * the files and links found so far, and `done` and `total` count only the bytes that need hashing (the total grows
 * as the scan finds more).
 */
export type ProgressCallback = (done: number, total: number, scannedFiles?: number) => void;

export interface SnapshotOptions {
  /**
   * The tree the working copy was last synced with; its files give delta bases for changed chunks. Its paths are
   * the tracked ones, which `.tribignore` does not hide (see IgnoredPath).
   */
  readonly previousTree?: TreeId;
  /**
   * Called as bytes are hashed (for progress bars). The total counts the files found so far that need hashing;
   * it grows while the scan is still running (only in very large trees: the scan runs ahead of hashing).
   */
  readonly onProgress?: ProgressCallback;
  /** Called with the path of each file or symlink read and hashed (the stat cache could not vouch for it). */
  readonly onHashed?: (path: string) => void;
  /**
   * Throw FailedPreconditionError for a file that changed while it was read, for a commit, which must record a
   * version the file had. Otherwise what was read is taken: the file differs from any commit either way (status).
   * Such a file's entry is never cached.
   */
  readonly refuseChangingFiles?: boolean;
}

export interface Snapshot {
  readonly tree: TreeId;
  /** Total bytes of files and links in the tree. */
  readonly size: number;
  readonly files: number;
  /** Files read and hashed because the stat cache could not vouch for them. */
  readonly hashedFiles: number;
  readonly hashedBytes: number;
}

/** Files at least this large are chunked on worker threads; smaller ones cost less inline than a round trip. */
const WORKER_THRESHOLD = 1024 * 1024;
const CONCURRENT_FILES = 8;
/** How far the scan may run ahead of the tree writer, in paths: memory stays flat however many files there are. */
const SCAN_AHEAD = 4096;

/** One scanned path on its way to the tree writer: its entry, or the hashing that will produce it. */
interface Slot {
  readonly path: string;
  readonly entry: PathEntry | Promise<PathEntry>;
}

/**
 * Stores the working tree as objects and returns its tree id, without touching refs. Unchanged files (per the stat
 * cache) are not read; changed ones are chunked, and only chunks the database lacks are written, a changed chunk as
 * a delta against the chunk at the same offset in the file's previous version when that saves space. Updates
 * `cache` in memory; the caller saves it once the result is durable.
 *
 * Streams: the scan, the hashing and the tree writer run together over a bounded window of paths, so memory
 * follows the window and the stat cache, not the number of files.
 */
export async function snapshotWorktree(
  db: ObjectDatabase,
  root: string,
  cache: StatCache,
  pool: FileHasherPool,
  opts: SnapshotOptions = {},
): Promise<Snapshot> {
  const scan = scanWorktree(root, loadIgnoreRules(root), { askTracked: opts.previousTree !== undefined });
  const trackedKind = trackedKinds(db, opts.previousTree);
  // The scan's question about an ignored path while it is looked up, then the answer, for the scan's next step.
  let asking: Promise<void> | undefined;
  let answer: EntryKind | undefined;
  // Marks the paths still there, to drop the cache entries of deleted files afterwards.
  cache.beginSweep();
  let files = 0;
  let totalToHash = 0;
  let hashedBytes = 0;
  let hashedFiles = 0;
  const progress = (n: number) => {
    hashedBytes += n;
    opts.onProgress?.(hashedBytes, totalToHash, files);
  };

  // Files hashed at once would interleave their chunks record by record in the pack; storing each batch whole
  // keeps a file's chunks in runs of a batch (a few MiB), so a later read of one file's chunks is a few ranged reads.
  const storing = new Mutex();

  const hashOne = async (s: ScannedPath): Promise<PathEntry> => {
    hashedFiles++;
    opts.onHashed?.(s.path);
    const abs = path.join(root, s.path);
    if (s.kind === 'symlink') {
      let target: Buffer;
      try {
        target = readlinkSync(abs, { encoding: 'buffer' });
      } catch (e) {
        throw readFailure(s.path, e);
      }
      const id = await db.put(target);
      const entry: PathEntry = { kind: 'symlink', executable: false, size: target.length, id, chunked: false };
      cache.set(s.path, s.stat, entry);
      return entry;
    }
    const deltaBases = await previousChunkOffsets(db, s.path, cache, opts.previousTree);
    const refs: ChunkRef[] = [];
    const onBatch = (batch: HashedChunk[]) =>
      storing.run(async () => {
        for (const c of batch) {
          if (!db.has(c.id)) {
            await db.putWithId(c.id, c.bytes, { deltaBase: deltaBases?.get(c.offset) });
            crashPoint('commit.chunk');
          } else db.noteReused(c.id);
          refs.push({ id: c.id, size: c.bytes.length });
          progress(c.bytes.length);
        }
      });
    const size = Number(s.stat.size);
    try {
      if (size >= WORKER_THRESHOLD) await pool.hash(abs, onBatch);
      else await chunkFile(abs, onBatch, { sizeHint: size });
    } catch (e) {
      throw readFailure(s.path, e);
    }
    const ref: FileRef = await fileRefFromChunks(db, refs);
    const entry: PathEntry = { kind: 'file', executable: s.executable, size: ref.size, id: ref.id, chunked: ref.chunked };
    // The bytes read are one version of the file only if it is still as the scan found it, and that long.
    const now = await fs.lstat(abs, { bigint: true }).catch(() => undefined);
    if (!now || !sameContentStamp(now, s.stat) || Number(now.size) !== ref.size) {
      if (opts.refuseChangingFiles) {
        throw new FailedPreconditionError(`${quotePath(s.path)} changed while it was being read: commit again once nothing writes to it`, { path: s.path });
      }
      return entry;
    }
    cache.set(s.path, s.stat, entry);
    return entry;
  };

  // The window: slots [head, slots.length) are scanned and not yet written; a ring would save little here.
  let slots: Slot[] = [];
  let head = 0;
  let inFlight = 0;
  let scanDone = false;
  const fill = () => {
    while (!scanDone && !asking && inFlight < CONCURRENT_FILES && slots.length - head < SCAN_AHEAD) {
      const r = scan.next(answer);
      answer = undefined;
      if (r.done) {
        scanDone = true;
        break;
      }
      const s = r.value;
      if (s.kind === 'ignored') {
        asking = trackedKind(s.path).then((kind) => {
          answer = kind;
          asking = undefined;
        });
        asking.catch(() => undefined); // Surfaces when awaited below.
        break;
      }
      // A scan of many unchanged files hashes nothing: count it every so often, so a large tree shows it is moving.
      if ((++files & 1023) === 0) opts.onProgress?.(hashedBytes, totalToHash, files);
      cache.keep(s.path);
      const c = cache.lookup(s.path, s.stat);
      // The object may be gone since: gc keeps only what refs and this working copy's cache reach. Then hash again.
      if (c && c.kind === s.kind && c.executable === s.executable && db.has(c.id)) {
        db.noteReused(c.id);
        slots.push({ path: s.path, entry: { kind: c.kind, executable: c.executable, size: c.size, id: c.id, chunked: c.chunked } });
        continue;
      }
      totalToHash += Number(s.stat.size);
      inFlight++;
      const p = hashOne(s).finally(() => {
        inFlight--;
        fill(); // Keep every worker busy while the writer waits for an earlier, larger file.
      });
      p.catch(() => undefined); // Surfaces when awaited in order below.
      slots.push({ path: s.path, entry: p });
    }
  };

  async function* inOrder(): AsyncGenerator<{ path: string; entry: PathEntry }> {
    for (;;) {
      fill();
      if (head === slots.length) {
        if (scanDone) return;
        if (asking) await asking;
        continue;
      }
      const slot = slots[head];
      slots[head++] = undefined as never;
      if (head > SCAN_AHEAD && head * 2 > slots.length) {
        slots = slots.slice(head);
        head = 0;
      }
      yield { path: slot.path, entry: await slot.entry };
    }
  }

  // A full pack's fsync then overlaps with hashing the next files; the caller's flush waits for it.
  const background = db.finishPacksInBackground;
  db.finishPacksInBackground = true;
  try {
    const tree = await writeTreeFromPaths(db, inOrder());
    cache.sweep();
    return { tree: tree.id, size: tree.size, files, hashedFiles, hashedBytes };
  } finally {
    db.finishPacksInBackground = background;
  }
}

/**
 * The kind of entry `tree` holds at a path, undefined for none (or no tree). The scan asks in its order, so the
 * names of one folder come together and share its DirectoryLookup: each node of the folder is read once.
 */
function trackedKinds(db: ObjectDatabase, tree: TreeId | undefined): (relPath: string) => Promise<EntryKind | undefined> {
  let folder: { path: string; lookup: Promise<DirectoryLookup | undefined> } | undefined;
  return async (relPath) => {
    if (!tree) return undefined;
    const slash = relPath.lastIndexOf('/');
    const dir = slash < 0 ? '' : relPath.slice(0, slash);
    if (folder?.path !== dir) folder = { path: dir, lookup: folderLookup(db, tree, dir) };
    return (await (await folder.lookup)?.entry(relPath.slice(slash + 1)))?.kind;
  };
}

async function folderLookup(db: ObjectDatabase, tree: TreeId, dir: string): Promise<DirectoryLookup | undefined> {
  if (!dir) return new DirectoryLookup(db, tree);
  const e = await lookupPath(db, tree, dir);
  return e?.kind === 'dir' ? new DirectoryLookup(db, e.id) : undefined;
}

/**
 * What a failure while a scanned file or link was read and stored becomes: the store's own errors as they are, a
 * path removed meanwhile a request to run again, and any other failure to read it a refusal naming it.
 */
function readFailure(relPath: string, e: unknown): unknown {
  if (isTribError(e) || !(e as NodeJS.ErrnoException).code) return e;
  if (wasRemoved(e)) return new FailedPreconditionError(`${quotePath(relPath)} was removed while it was being read: run the command again`, { path: relPath });
  return unreadablePath(relPath, e);
}

/**
 * Whether two stats are of one version of a file's bytes: size, modification time and inode. Not the change time,
 * which a chmod or a new hard link (a backup's `cp -al`) moves without touching the bytes.
 */
function sameContentStamp(a: StatStamp, b: StatStamp): boolean {
  return a.size === b.size && a.mtimeNs === b.mtimeNs && a.ino === b.ino;
}

/** Chunk ids of the path's previous version by offset: the natural delta base for a chunk that grew or changed. */
async function previousChunkOffsets(db: ObjectDatabase, relPath: string, cache: StatCache, previousTree?: TreeId): Promise<Map<number, ObjectId> | undefined> {
  let old: FileRef | undefined;
  const c = cache.get(relPath);
  if (c && c.kind === 'file') old = c;
  else if (previousTree) {
    const e = await lookupPath(db, previousTree, relPath).catch(() => undefined);
    if (e && e.kind === 'file') old = e;
  }
  if (!old || old.size === 0 || (!old.chunked && !db.has(old.id))) return undefined;
  const map = new Map<number, ObjectId>();
  try {
    for await (const r of readChunkRefs(db, old)) map.set(r.offset, r.id);
  } catch {
    return undefined; // The old version is only a hint; a damaged one just means no delta.
  }
  return map;
}
