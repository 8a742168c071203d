import { randomBytes } from 'node:crypto';
import {
  BigIntStats,
  closeSync,
  fchmodSync,
  fstatSync,
  promises as fs,
  lstatSync,
  mkdirSync,
  openSync,
  renameSync,
  Stats,
  symlinkSync,
  unlinkSync,
} from 'node:fs';
import * as path from 'node:path';
import { ChunkRef, FailedPreconditionError, IntegrityError, InvalidArgumentError, NotFoundError, PositionedChunkRef, quotePath, readChunkRefs, splitRelativePath, TreeEntry, TreeId, TribError, walkFiles } from '@tributary/core';
import { quietly, SYNC_IO_MAX_BYTES, writeFully, writeFullySync } from '@tributary/storage';
import { ObjectDatabase } from '../objects/object-database';
import { readAhead, ReadAheadLimits } from '../objects/read-ahead';
import { ChunkListPrefetcher } from './chunk-list-prefetch';
import { StatCache } from './stat-cache';
import { crashPoint } from '../testing/crash-points';

/** Names of the temp files a file is written to before its rename into place: the prefix and 12 hex digits. */
const WORKTREE_TEMP_PREFIX = '.trib-tmp-';
const WORKTREE_TEMP_NAME = /^\.trib-tmp-[0-9a-f]{12}$/;

/**
 * Whether `name` is one of those temp files, which a scan of the working tree skips and an interrupted move's
 * clean-up deletes. Exactly the names written: a user's own `.trib-tmp-notes.txt` is a file like any other.
 */
export function isWorktreeTempName(name: string): boolean {
  return WORKTREE_TEMP_NAME.test(name);
}

/** The temp files of this process's entry writers, from when they are made until renamed into place or removed. */
const unfinishedTempFiles = new Set<string>();

/**
 * Removes every temp file this process is still writing, synchronously: for a process about to exit on Ctrl-C,
 * whose writers will never finish or abort, so that what it leaves is files in place and nothing half-written.
 */
export function removeUnfinishedTempFiles(): void {
  for (const tmp of unfinishedTempFiles) quietly(() => unlinkSync(tmp));
  unfinishedTempFiles.clear();
}

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
    if (!st) {
      try {
        mkdirSync(dir);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
    }
    else if (st.isSymbolicLink()) throw new InvalidArgumentError(`unsafe path: ${quotePath(parts.slice(0, i + 1).join('/'))} is a symlink, will not write beneath it`);
    else if (!st.isDirectory()) throw new InvalidArgumentError(`cannot write ${quotePath(relPath)}: ${quotePath(parts.slice(0, i + 1).join('/'))} is a file`);
  }
}

/**
 * Whether every folder on the way to `relPath` under `root` is a real folder: none is missing, a file or a symlink.
 * Nothing beneath a symlink is the working tree's, and a link may lead out of it: look at nothing there.
 */
export function parentsAreFolders(root: string, relPath: string): boolean {
  let dir = root;
  for (const part of splitRelativePath(relPath).slice(0, -1)) {
    dir = path.join(dir, part);
    if (!lstatSync(dir, { throwIfNoEntry: false })?.isDirectory()) return false;
  }
  return true;
}

/** An executable entry stays one whatever the umask: the owner may always run it (the bit trib tracks). */
function keepOwnerRunBit(fd: number): void {
  const mode = fstatSync(fd).mode & 0o777;
  if ((mode & 0o100) === 0) fchmodSync(fd, mode | 0o100);
}

/** One file or symlink to write, where it goes, and its place in the tree. */
export interface EntryToWrite {
  readonly path: string;
  readonly entry: Omit<TreeEntry, 'name'>;
}

export interface WriteEntriesOptions {
  /** Called as each entry is put in place, with its stat (not necessarily in the order of the entries). */
  readonly onWritten?: (written: EntryToWrite, st: BigIntStats) => void;
  /** Bounds of the chunk reads ahead of the writer; readAheadFor(db.store) unless given. */
  readonly readAhead?: ReadAheadLimits;
}

/**
 * Writes one tree entry (file or symlink) to `root/relPath` (see writeEntries). Returns the new file's stat.
 */
export async function writeEntry(db: ObjectDatabase, root: string, relPath: string, entry: Omit<TreeEntry, 'name'>): Promise<BigIntStats> {
  let st: BigIntStats | undefined;
  await writeEntries(db, root, [{ path: relPath, entry }], { onWritten: (_, s) => (st = s) });
  return st!;
}

/**
 * Writes tree entries (files and symlinks) under `root`. Each goes into a temp file beside its path, then a rename,
 * so a reader or a crash never sees a half-written file, and an existing symlink at the path is replaced, never
 * followed. Every chunk is verified against its id (and its length against the file's list) before a byte of it is
 * written.
 *
 * Reads go in pack order, not file order: the chunks of a window of entries (up to WINDOW_CHUNKS chunks and
 * WINDOW_FILES files) are sorted by where they are stored and fetched with coalesced ranged reads, several in
 * flight (readAhead), each written at its place in its file. A commit that chunked several files at once
 * interleaves them in its pack, and file order would then cost one small request per run of a file's chunks.
 * Memory is bounded by the window's chunk refs and the read-ahead, not by file size. Entries are put in place as
 * they complete, so not necessarily in the order given. On an error the entries not yet in place are left as they
 * were (their temp files removed); those already renamed stay.
 */
export async function writeEntries(
  db: ObjectDatabase,
  root: string,
  entries: AsyncIterable<EntryToWrite> | Iterable<EntryToWrite>,
  opts: WriteEntriesOptions = {},
): Promise<void> {
  const open = new Set<EntryWriter>();
  const writes = new PendingWrites();
  const finishIfDone = async (w: EntryWriter) => {
    if (!w.done) return;
    await writes.flush(w);
    open.delete(w);
    const st = await w.finish();
    opts.onWritten?.(w.written, st);
  };
  try {
    for await (const window of windowsOf(db, entries)) {
      for (const w of window.started) {
        await w.begin(root);
        open.add(w);
      }
      const sorted = sortByPlace(db, window.pieces);
      for await (const { item, bytes } of readAhead(db, sorted, (p) => p.chunk, opts.readAhead)) {
        await writes.add(item.writer, item.position, bytes!);
        item.writer.writtenPieces++;
        await finishIfDone(item.writer);
      }
      for (const w of [...open]) await finishIfDone(w);
    }
    if (open.size) throw new TribError('INTERNAL', `${[...open].map((w) => quotePath(w.written.path)).join(', ')} not complete after the last chunk`);
  } catch (e) {
    for (const w of open) await w.abort();
    throw e;
  }
}

/** Most chunks read in one pack-ordered window (~1 GiB at the 64 KiB average); their refs are held in memory. */
const WINDOW_CHUNKS = 16384;
/** Most entries started in one window: each holds an open temp file until its last chunk is written. */
const WINDOW_FILES = 128;

/** A chunk of a file and where it goes. */
interface Piece {
  readonly writer: EntryWriter;
  readonly position: number;
  readonly chunk: ChunkRef;
}

interface Window {
  /** Entries first seen in this window, in the order given. */
  readonly started: EntryWriter[];
  /** Chunks of this window, in file order. */
  readonly pieces: Piece[];
}

/** The entries' chunks in windows, listing chunk-list nodes as it goes; a large file spans several windows. */
async function* windowsOf(db: ObjectDatabase, entries: AsyncIterable<EntryToWrite> | Iterable<EntryToWrite>): AsyncGenerator<Window> {
  let window: Window = { started: [], pieces: [] };
  const full = () => window.pieces.length >= WINDOW_CHUNKS || window.started.length >= WINDOW_FILES;
  for await (const written of entries) {
    if (full()) {
      yield window;
      window = { started: [], pieces: [] };
    }
    const writer = new EntryWriter(db, written);
    window.started.push(writer);
    const { entry } = written;
    if (entry.kind !== 'symlink') {
      // A file of one chunk is read too, even an empty one, so its bytes are verified against its id.
      const refs: AsyncIterable<PositionedChunkRef> | PositionedChunkRef[] = entry.chunked ? readChunkRefs(new ChunkListPrefetcher(db), entry) : [{ id: entry.id, size: entry.size, offset: 0 }];
      for await (const ref of refs) {
        if (window.pieces.length >= WINDOW_CHUNKS) {
          yield window;
          window = { started: [], pieces: [] };
        }
        window.pieces.push({ writer, position: ref.offset, chunk: { id: ref.id, size: ref.size } });
        writer.listedPieces++;
      }
    }
    writer.listed = true;
  }
  if (window.started.length || window.pieces.length) yield window;
}

/** Pieces in the order they are stored (pack, offset); those with no place (cached, pending) go last. */
function sortByPlace(db: ObjectDatabase, pieces: Piece[]): Piece[] {
  const placed = pieces.map((piece, i) => ({ piece, i, place: db.placeOf(piece.chunk.id) }));
  placed.sort((a, b) => {
    if (!a.place || !b.place) return a.place ? -1 : b.place ? 1 : a.i - b.i;
    if (a.place.pack !== b.place.pack) return a.place.pack < b.place.pack ? -1 : 1;
    return a.place.offset - b.place.offset || a.i - b.i;
  });
  return placed.map((p) => p.piece);
}

/** Bytes gathered for one vectored write into a file, and for all files together before they are written. */
const WRITE_RUN_BYTES = 1 << 20;
const WRITE_PENDING_BYTES = 8 << 20;

/** Consecutive chunks of a file gathered into one vectored write at its position. */
interface WriteRun {
  position: number;
  bytes: number;
  bufs: Buffer[];
}

/** Verified chunks waiting to be written, gathered into runs per file so a file gets few, large writes. */
class PendingWrites {
  private readonly runs = new Map<EntryWriter, WriteRun>();
  private bytes = 0;

  async add(w: EntryWriter, position: number, buf: Buffer): Promise<void> {
    let run = this.runs.get(w);
    if (run && run.position + run.bytes !== position) {
      await this.flush(w);
      run = undefined;
    }
    if (!run) this.runs.set(w, (run = { position, bytes: 0, bufs: [] }));
    run.bufs.push(buf);
    run.bytes += buf.length;
    this.bytes += buf.length;
    if (run.bytes >= WRITE_RUN_BYTES) await this.flush(w);
    if (this.bytes >= WRITE_PENDING_BYTES) for (const other of [...this.runs.keys()]) await this.flush(other);
  }

  async flush(w: EntryWriter): Promise<void> {
    const run = this.runs.get(w);
    if (!run) return;
    this.runs.delete(w);
    this.bytes -= run.bytes;
    await w.writeAt(run.bufs, run.position);
  }
}

/** One entry on its way into place: a temp file (or, for a symlink, a temp link) renamed when complete. */
class EntryWriter {
  listedPieces = 0;
  writtenPieces = 0;
  /** Every chunk of the entry has been listed (so listedPieces is final). */
  listed = false;
  private abs = '';
  private tmp = '';
  private fd: number | undefined;

  constructor(
    private readonly db: ObjectDatabase,
    readonly written: EntryToWrite,
  ) {}

  get done(): boolean {
    return this.listed && this.writtenPieces === this.listedPieces;
  }

  async begin(root: string): Promise<void> {
    await prepareParents(root, this.written.path);
    this.abs = path.join(root, ...this.written.path.split('/'));
    this.tmp = path.join(path.dirname(this.abs), `${WORKTREE_TEMP_PREFIX}${randomBytes(6).toString('hex')}`);
    const { entry } = this.written;
    // As git creates them: the umask decides what others may do (open applies it).
    if (entry.kind !== 'symlink') this.fd = openSync(this.tmp, 'wx', entry.executable ? 0o777 : 0o666);
    unfinishedTempFiles.add(this.tmp);
  }

  /** Writes all of `bufs` at `position`: a small file's bytes synchronously, see SYNC_IO_MAX_BYTES. */
  async writeAt(bufs: Buffer[], position: number): Promise<void> {
    const bytes = bufs.reduce((n, b) => n + b.length, 0);
    if (bytes <= SYNC_IO_MAX_BYTES) writeFullySync(this.fd!, bufs, position);
    else await writeFully(this.fd!, bufs, position);
  }

  /** Puts the entry in place and returns its stat. */
  async finish(): Promise<BigIntStats> {
    try {
      if (this.fd !== undefined) {
        if (this.written.entry.executable) keepOwnerRunBit(this.fd);
        const fd = this.fd;
        this.fd = undefined;
        closeSync(fd);
      } else {
        // The target's bytes as stored: a name that is not UTF-8 would come back changed through a string.
        symlinkSync(await this.db.get(this.written.entry.id), this.tmp);
      }
      crashPoint('checkout.before-rename');
      renameSync(this.tmp, this.abs);
      unfinishedTempFiles.delete(this.tmp);
    } catch (e) {
      await this.abort();
      if ((e as NodeJS.ErrnoException).code === 'EISDIR') throw new FailedPreconditionError(`cannot write ${quotePath(this.abs)}: a folder is in its place`, { path: this.abs });
      throw e;
    }
    return lstatSync(this.abs, { bigint: true });
  }

  /** Removes the temp file; the path keeps what it had. */
  async abort(): Promise<void> {
    const fd = this.fd;
    this.fd = undefined;
    if (fd !== undefined) quietly(() => closeSync(fd));
    if (this.tmp) quietly(() => unlinkSync(this.tmp));
    unfinishedTempFiles.delete(this.tmp);
  }
}

export interface MaterializeResult {
  readonly files: number;
  readonly bytes: number;
}

/**
 * Writes every file and symlink of `tree` under `dest` (which must exist), reading ahead as writeEntries does.
 * With `cache`, records each written file so a later commit does not rehash it.
 */
export async function materializeTree(
  db: ObjectDatabase,
  tree: TreeId,
  dest: string,
  opts: { cache?: StatCache; onProgress?: (bytes: number) => void } = {},
): Promise<MaterializeResult> {
  let files = 0;
  let bytes = 0;
  await writeEntries(db, dest, walkFiles(db, tree), {
    onWritten: ({ path: rel, entry }, st) => {
      opts.cache?.set(rel, st, entry);
      files++;
      bytes += entry.size;
      opts.onProgress?.(bytes);
    },
  }).catch((e: unknown) => {
    // Every object read here is one the tree names: one the store lacks is damage (exit 1), not a name unknown.
    if (e instanceof NotFoundError && typeof e.details.id === 'string') {
      throw new IntegrityError(`${e.message}, though tree ${tree} names it: the repository is damaged (trib verify lists what else is)`, e.details, { cause: e });
    }
    throw e;
  });
  return { files, bytes };
}

/** Removes a file or link and then any directories it leaves empty, up to (not including) `root`. */
export async function removeEntry(root: string, relPath: string): Promise<void> {
  // Nothing is there when a folder on the way is missing, a file (a move cut short before it made the folder) or a link.
  if (!parentsAreFolders(root, relPath)) return;
  const abs = path.join(root, ...splitRelativePath(relPath));
  // A folder in the entry's place is not the entry (the undo of a move that never replaced it): it stays.
  if (!lstatSync(abs, { throwIfNoEntry: false })?.isDirectory()) {
    await fs.unlink(abs).catch((e) => (e.code === 'ENOENT' ? undefined : Promise.reject(e)));
  }
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
