import { readlinkSync } from 'node:fs';
import * as path from 'node:path';
import {
  ChunkRef,
  fileRefFromChunks,
  FileRef,
  lookupPath,
  ObjectId,
  readChunkRefs,
  TreeEntry,
  TreeId,
  writeTreeFromPaths,
} from '@tributary/core';
import { ObjectDatabase } from '../objects/object-database';
import { FileHasherPool } from './file-hasher-pool';
import { chunkFile, HashedChunk } from './file-chunking';
import { StatCache } from './stat-cache';
import { crashPoint } from '../testing/crash-points';
import { loadIgnoreRules, ScannedPath, scanWorktree } from './worktree-scan';

export type PathEntry = Omit<TreeEntry, 'name'>;

export interface SnapshotOptions {
  /** The tree the working copy was last synced with; its files give delta bases for changed chunks. */
  readonly previousTree?: TreeId;
  /** Called as bytes are hashed (for progress bars). */
  readonly onProgress?: (hashedBytes: number, totalBytesToHash: number) => void;
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

/**
 * Stores the working tree as objects and returns its tree id, without touching refs. Unchanged files (per the stat
 * cache) are not read; changed ones are chunked, and only chunks the database lacks are written, a changed chunk as
 * a delta against the chunk at the same offset in the file's previous version when that saves space. Updates
 * `cache` in memory; the caller saves it once the result is durable.
 */
export async function snapshotWorktree(
  db: ObjectDatabase,
  root: string,
  cache: StatCache,
  pool: FileHasherPool,
  opts: SnapshotOptions = {},
): Promise<Snapshot> {
  const scanned: ScannedPath[] = [];
  const known: (PathEntry | undefined)[] = [];
  let totalToHash = 0;
  for (const s of scanWorktree(root, loadIgnoreRules(root))) {
    const c = cache.lookup(s.path, s.stat);
    const hit = c && c.kind === s.kind && c.executable === s.executable && (c.chunked || db.has(c.id)) ? c : undefined;
    scanned.push(s);
    known.push(hit && { kind: hit.kind, executable: hit.executable, size: hit.size, id: hit.id, chunked: hit.chunked });
    if (!hit) totalToHash += Number(s.stat.size);
  }
  cache.retainOnly(new Set(scanned.map((s) => s.path)));

  let hashedBytes = 0;
  let hashedFiles = 0;
  const progress = (n: number) => {
    hashedBytes += n;
    opts.onProgress?.(hashedBytes, totalToHash);
  };

  const hashOne = async (s: ScannedPath): Promise<PathEntry> => {
    hashedFiles++;
    const abs = path.join(root, s.path);
    if (s.kind === 'symlink') {
      const target = readlinkSync(abs, { encoding: 'buffer' });
      const id = await db.put(target);
      const entry: PathEntry = { kind: 'symlink', executable: false, size: target.length, id, chunked: false };
      cache.set(s.path, s.stat, entry);
      return entry;
    }
    const deltaBases = await previousChunkOffsets(db, s.path, cache, opts.previousTree);
    const refs: ChunkRef[] = [];
    const onBatch = async (batch: HashedChunk[]) => {
      for (const c of batch) {
        if (!db.has(c.id)) {
          await db.putWithId(c.id, c.bytes, { deltaBase: deltaBases?.get(c.offset) });
          crashPoint('commit.chunk');
        }
        refs.push({ id: c.id, size: c.bytes.length });
        progress(c.bytes.length);
      }
    };
    if (Number(s.stat.size) >= WORKER_THRESHOLD) await pool.hash(abs, onBatch);
    else await chunkFile(abs, onBatch);
    const ref: FileRef = await fileRefFromChunks(db, refs);
    const entry: PathEntry = { kind: 'file', executable: s.executable, size: ref.size, id: ref.id, chunked: ref.chunked };
    cache.set(s.path, s.stat, entry);
    return entry;
  };

  const results: (PathEntry | Promise<PathEntry>)[] = new Array(scanned.length);
  let next = 0;
  const startMore = () => {
    while (next < scanned.length && inFlight < CONCURRENT_FILES) {
      const i = next++;
      const k = known[i];
      if (k) {
        results[i] = k;
        continue;
      }
      inFlight++;
      const p = hashOne(scanned[i]).finally(() => {
        inFlight--;
        startMore();
      });
      p.catch(() => undefined); // Surfaces when awaited in order below.
      results[i] = p;
    }
  };
  let inFlight = 0;
  startMore();

  async function* inOrder(): AsyncGenerator<{ path: string; entry: PathEntry }> {
    for (let i = 0; i < scanned.length; i++) {
      while (results[i] === undefined) await new Promise((r) => setImmediate(r));
      yield { path: scanned[i].path, entry: await results[i] };
      results[i] = undefined as never;
      startMore();
    }
  }
  const tree = await writeTreeFromPaths(db, inOrder());
  return { tree: tree.id, size: tree.size, files: scanned.length, hashedFiles, hashedBytes };
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
