import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  fstatSync,
  fsync as fsyncCallback,
  linkSync,
  lstatSync,
  openSync,
  promises as fs,
  readdirSync,
  readFileSync,
  renameSync,
  rmdirSync,
  statSync,
  Stats,
  unlinkSync,
} from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { hostname } from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import {
  ConflictError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  PermissionDeniedError,
  ResourceExhaustedError,
  sleep,
  TribError,
  UnavailableError,
  isTribError,
} from '@tributary/core';
import { asBuffer, isBytes } from './bytes';
import { keyChanged, keyExists, keyNotFound } from './key-errors';
import { ByteRange, ObjectInfo, ObjectStore, Versioned } from './object-store.port';
import { validateByteRange, validateListPrefix, validateStoreKey } from './store-keys';
import { forEachBatch } from './stream-batches';
import { isProcessAlive, makeDirectory, quietly, readAt } from './local-io';
import { writeFully, writeFullySync } from './write-fully';
import { removeOnExit } from './exit-cleanup';

/** A lock older than this is taken to belong to a writer that hung or died on another host. */
const STALE_LOCK_MS = 30_000;
const READ_CHUNK = 256 * 1024;
const WRITE_BATCH = 1024 * 1024;
const VALID_SEGMENT = /^[A-Za-z0-9._-]+$/;
/**
 * Metadata calls (open, stat, close, link, rename, unlink) are synchronous, and so are the writes of values up to
 * this size and reads up to SYNC_IO_MAX_BYTES (readAt); only fsyncs, larger writes and larger reads go through
 * libuv's thread pool. Every asynchronous call is a round trip through that pool; on a busy machine a
 * compare-and-swap made of some twenty of them took several milliseconds while its two fsyncs took half a
 * millisecond. A metadata call or a small write on a local file costs microseconds, and only the fsyncs wait on the
 * disk, still off the event loop.
 */
const SMALL_VALUE_BYTES = 1024 * 1024;
/** A write's temp file beside its key: `.tmp-<16 hex>~` (the `~` keeps it from ever being a key). */
const TEMP_RANDOM_BYTES = 8;
const TEMP_NAME = new RegExp(`^\\.tmp-[0-9a-f]{${TEMP_RANDOM_BYTES * 2}}~$`);

export interface LocalStoreOptions {
  /** Age after which a per-key lock is broken even if its process seems alive (default 30 s). */
  readonly staleLockMs?: number;
}

/**
 * The object store on a local (or mounted) filesystem: key `a/b/c` is the file `<root>/a/b/c`.
 *
 * Durability: every write goes to a temp file in the target directory, is fsynced, then made visible by `link`
 * (create-if-absent) or `rename` (compare-and-swap), and the directory is fsynced. A writer killed at any moment
 * leaves either the old state or the new one, plus at worst an orphan temp file that `list` never shows.
 *
 * Names the adapter writes beside objects (temp files `.tmp-<hex>~`, per-key locks `<name>~lock`) contain `~`,
 * which no key may hold, so they can never collide with a key. Compare-and-swap is atomic across processes
 * on one host, and across hosts on filesystems where `open(O_EXCL)` is atomic.
 */
export class LocalStore implements ObjectStore {
  readonly root: string;
  readonly url: string;
  private readonly staleLockMs: number;

  /** Uses `root` as is (see `LocalStore.open` to check or create it). Throws InvalidArgumentError if relative. */
  constructor(root: string, options: LocalStoreOptions = {}) {
    if (!path.isAbsolute(root)) {
      throw new InvalidArgumentError(`local store root must be an absolute path, got ${JSON.stringify(root)}`);
    }
    this.root = path.resolve(root);
    this.url = pathToFileURL(this.root).href;
    this.staleLockMs = options.staleLockMs ?? STALE_LOCK_MS;
  }

  /**
   * Opens the store rooted at the directory `root`. With `create`, makes the directory (and its parents) durably
   * if missing. Throws NotFoundError naming the store when the root is missing and `create` is not set, and
   * FailedPreconditionError when it is not a directory.
   */
  static async open(root: string, options: LocalStoreOptions & { create?: boolean } = {}): Promise<LocalStore> {
    const store = new LocalStore(root, options);
    let stat;
    try {
      stat = await fs.stat(store.root);
    } catch (e) {
      if (errno(e) !== 'ENOENT') throw fsError(e, `open store ${store.url}`);
      if (!options.create) {
        throw new NotFoundError(`no store at ${store.url}: the directory does not exist`, { url: store.url });
      }
      await mkdirDurable(store.root).catch((err: unknown) => {
        throw fsError(err, `create store ${store.url}`);
      });
      return store;
    }
    if (!stat.isDirectory()) {
      throw new FailedPreconditionError(`store ${store.url} is not a directory`, { url: store.url });
    }
    return store;
  }

  async putIfAbsent(key: string, data: Buffer | Readable): Promise<void> {
    validateStoreKey(key);
    const file = this.pathOf(key);
    const dir = path.dirname(file);
    try {
      // Fails fast before consuming a large body; the link below is what actually decides.
      if (isPresent(file)) throw this.existsError(key, file);
      await this.withTemp(dir, data, 0o444, (temp) => {
        try {
          linkSync(temp, file);
        } catch (e) {
          if (errno(e) === 'EEXIST') throw this.existsError(key, file);
          throw e;
        }
      });
      await fsyncDir(dir);
    } catch (e) {
      if (!Buffer.isBuffer(data) && !(data instanceof Uint8Array)) data.destroy();
      throw this.fail(e, 'write', key);
    }
  }

  async get(key: string): Promise<Buffer> {
    validateStoreKey(key);
    const { fd, size } = this.openForRead(key);
    try {
      return await readAt(fd, 0, size);
    } catch (e) {
      throw this.fail(e, 'read', key);
    } finally {
      closeQuietly(fd);
    }
  }

  async getRange(key: string, range: ByteRange): Promise<Buffer> {
    validateStoreKey(key);
    validateByteRange(range);
    const { fd, size } = this.openForRead(key);
    try {
      const start = Math.min(range.offset, size);
      return await readAt(fd, start, Math.min(range.length, size - start));
    } catch (e) {
      throw this.fail(e, 'read', key);
    } finally {
      closeQuietly(fd);
    }
  }

  /** The stream must be consumed or destroyed, or its file handle stays open until garbage collection. */
  async getStream(key: string, range?: ByteRange): Promise<Readable> {
    validateStoreKey(key);
    if (range) validateByteRange(range);
    const { fh, size } = await this.openHandleForRead(key);
    const start = Math.min(range?.offset ?? 0, size);
    const end = range ? Math.min(size, start + range.length) : size;
    const fail = (e: unknown) => this.fail(e, 'read', key);
    async function* chunks(): AsyncGenerator<Buffer> {
      try {
        for (let pos = start; pos < end; ) {
          const buf = Buffer.allocUnsafe(Math.min(READ_CHUNK, end - pos));
          const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
          if (bytesRead === 0) return;
          pos += bytesRead;
          yield buf.subarray(0, bytesRead);
        }
      } catch (e) {
        throw fail(e);
      } finally {
        await fh.close().catch(ignore);
      }
    }
    return Readable.from(chunks(), { objectMode: false });
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    validateStoreKey(key);
    try {
      const stat = statSync(this.pathOf(key));
      return stat.isFile() ? { key, size: stat.size, modified: stat.mtime } : undefined;
    } catch (e) {
      if (isAbsence(e)) return undefined;
      throw this.fail(e, 'stat', key);
    }
  }

  async *list(prefix: string): AsyncGenerator<ObjectInfo> {
    validateListPrefix(prefix);
    const cut = prefix.lastIndexOf('/') + 1;
    const dirKey = prefix.slice(0, cut);
    const dir = path.join(this.root, ...dirKey.split('/').filter((s) => s !== ''));
    yield* this.walk(dir, dirKey, prefix.slice(cut));
  }

  async delete(key: string): Promise<void> {
    validateStoreKey(key);
    try {
      unlinkSync(this.pathOf(key));
    } catch (e) {
      if (isAbsence(e)) return;
      throw this.fail(e, 'delete', key);
    }
  }

  async readVersioned(key: string): Promise<Versioned | undefined> {
    validateStoreKey(key);
    try {
      const data = readFileSync(this.pathOf(key));
      return { data, version: versionOf(data) };
    } catch (e) {
      if (isAbsence(e)) return undefined;
      throw this.fail(e, 'read', key);
    }
  }

  /** The version is the SHA-256 of the value, so writing back an earlier value restores its earlier version. */
  async compareAndSwap(key: string, expected: string | undefined, data: Buffer): Promise<string> {
    validateStoreKey(key);
    if (!(data instanceof Uint8Array)) throw new InvalidArgumentError(`compare-and-swap of ${key} needs a Buffer`);
    const file = this.pathOf(key);
    const dir = path.dirname(file);
    try {
      return await this.withLock(file, async (assertHeld) => {
        await this.expectVersion(key, file, expected);
        await this.withTemp(dir, data, 0o644, (temp) => {
          assertHeld();
          renameOntoKey(temp, file);
        });
        await fsyncDir(dir);
        return versionOf(data);
      });
    } catch (e) {
      throw this.fail(e, 'update', key);
    }
  }

  async deleteVersioned(key: string, expected: string): Promise<void> {
    validateStoreKey(key);
    const file = this.pathOf(key);
    try {
      await this.withLock(file, async (assertHeld) => {
        await this.expectVersion(key, file, expected);
        assertHeld();
        unlinkSync(file);
        await fsyncDir(path.dirname(file));
      });
    } catch (e) {
      throw this.fail(e, 'delete', key);
    }
  }

  async close(): Promise<void> {}

  private pathOf(key: string): string {
    return path.join(this.root, ...key.split('/'));
  }

  private async *walk(dir: string, keyPrefix: string, namePrefix: string): AsyncGenerator<ObjectInfo> {
    let handle;
    try {
      handle = await fs.opendir(dir, { bufferSize: 256 });
    } catch (e) {
      if (isAbsence(e)) return;
      throw this.fail(e, 'list', keyPrefix || '/');
    }
    try {
      // Symlinks, temp and lock files (their names hold `~`) and foreign names are not objects.
      for await (const entry of handle) {
        const name = entry.name;
        if (!name.startsWith(namePrefix) || !VALID_SEGMENT.test(name) || name === '.' || name === '..') continue;
        const full = path.join(dir, name);
        if (entry.isDirectory()) {
          yield* this.walk(full, `${keyPrefix}${name}/`, '');
        } else if (entry.isFile()) {
          const stat = statOrAbsent(full);
          if (stat) yield { key: keyPrefix + name, size: stat.size, modified: stat.mtime };
        }
      }
    } catch (e) {
      throw this.fail(e, 'list', keyPrefix || '/');
    }
  }

  /** Opens `key` for reading (synchronous calls: no thread-pool round trips); the caller closes `fd`. */
  private openForRead(key: string): { fd: number; size: number } {
    let fd: number | undefined;
    try {
      fd = openSync(this.pathOf(key), 'r');
      const stat = fstatSync(fd);
      if (!stat.isFile()) throw this.notFound(key);
      return { fd, size: stat.size };
    } catch (e) {
      if (fd !== undefined) closeQuietly(fd);
      if (isAbsence(e)) throw this.notFound(key);
      throw this.fail(e, 'read', key);
    }
  }

  /** A FileHandle, for a stream: unlike a descriptor, it is closed by garbage collection if the stream is dropped. */
  private async openHandleForRead(key: string): Promise<{ fh: FileHandle; size: number }> {
    let fh: FileHandle | undefined;
    try {
      fh = await fs.open(this.pathOf(key), 'r');
      const stat = await fh.stat();
      if (!stat.isFile()) throw this.notFound(key);
      return { fh, size: stat.size };
    } catch (e) {
      await fh?.close().catch(ignore);
      if (isAbsence(e)) throw this.notFound(key);
      throw this.fail(e, 'read', key);
    }
  }

  /**
   * Writes `data` to a new temp file in `dir` (created if missing), fsyncs it and hands its path to `place` (which
   * links or renames it into place), then removes whatever is left of it. An exit meanwhile removes it too
   * (removeOnExit). An error raised by the caller's stream is rethrown wrapped in SourceStreamError so it is not
   * mistaken for ours.
   */
  private async withTemp(dir: string, data: Buffer | Readable, mode: number, place: (temp: string) => void): Promise<void> {
    const temp = path.join(dir, `.tmp-${randomBytes(TEMP_RANDOM_BYTES).toString('hex')}~`);
    const fd = await this.creating(temp, () => openSync(temp, 'wx', mode));
    const forget = removeOnExit(temp);
    let open = true;
    try {
      if (!isBytes(data)) await pipeStream(data, fd);
      else if (data.byteLength <= SMALL_VALUE_BYTES) writeFullySync(fd, [asBuffer(data)]);
      else await writeFully(fd, [asBuffer(data)]);
      await fsyncFd(fd);
      open = false;
      closeSync(fd);
      place(temp);
    } finally {
      if (open) closeQuietly(fd);
      unlinkQuietly(temp);
      forget();
    }
  }

  async sweepLeftovers(prefix: string, olderThanMs: number, opts: { dryRun?: boolean } = {}): Promise<{ files: number; bytes: number }> {
    if (!prefix.endsWith('/')) throw new InvalidArgumentError(`sweepLeftovers takes a folder prefix ending in /, got ${JSON.stringify(prefix)}`);
    validateListPrefix(prefix);
    const dir = this.pathOf(prefix.slice(0, -1));
    let names: string[];
    try {
      names = await fs.readdir(dir);
    } catch (e) {
      if (isAbsence(e)) return { files: 0, bytes: 0 };
      throw this.fail(e, 'list', prefix);
    }
    const before = Date.now() - olderThanMs;
    let files = 0;
    let bytes = 0;
    for (const name of names) {
      if (!TEMP_NAME.test(name)) continue;
      const stat = statOrAbsent(path.join(dir, name));
      if (!stat?.isFile() || stat.mtimeMs >= before) continue;
      if (!opts.dryRun) unlinkQuietly(path.join(dir, name));
      files++;
      bytes += stat.size;
    }
    return { files, bytes };
  }

  /** Runs `create` (an `open(O_CREAT|O_EXCL)` of `file`), creating missing parent directories. */
  private async creating<T>(file: string, create: () => T | Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await create();
      } catch (e) {
        // A concurrent delete of an emptied directory could undo ensureDir; a few retries absorb that.
        if (errno(e) !== 'ENOENT' || attempt === 3) throw e;
        await this.ensureDir(path.dirname(file));
      }
    }
  }

  /** mkdir -p below the root, fsyncing the parent of every directory it creates. Never creates the root. */
  private async ensureDir(dir: string): Promise<void> {
    if (dir === this.root) {
      if (isPresent(dir)) return;
      throw new NotFoundError(`no store at ${this.url}: the directory does not exist`, { url: this.url });
    }
    try {
      await fs.mkdir(dir);
    } catch (e) {
      if (errno(e) === 'EEXIST') return;
      if (errno(e) !== 'ENOENT') throw e;
      await this.ensureDir(path.dirname(dir));
      try {
        await fs.mkdir(dir);
      } catch (e2) {
        if (errno(e2) === 'EEXIST') return;
        throw e2;
      }
    }
    await fsyncDir(path.dirname(dir));
  }

  private async expectVersion(key: string, file: string, expected: string | undefined): Promise<void> {
    let current: string | undefined;
    try {
      current = versionOf(readFileSync(file));
    } catch (e) {
      if (!isAbsence(e)) throw e;
    }
    if (current !== expected) {
      throw keyChanged(this.url, key, expected, { found: { version: current } });
    }
  }

  /**
   * Runs `fn` holding the lock file `<file>~lock`, created with O_EXCL and holding the owner's pid, host, time
   * and a random token. Waits while another live writer holds it; breaks it when that writer's process is dead
   * (same host) or the lock is older than staleLockMs. `fn` gets a check to call just before it publishes, which
   * throws ConflictError if the lock was broken meanwhile.
   */
  private async withLock<T>(file: string, fn: (assertHeld: () => void) => Promise<T>): Promise<T> {
    const lockPath = `${file}~lock`;
    const token = randomBytes(12).toString('hex');
    await this.acquireLock(lockPath, token);
    const assertHeld = () => {
      if (readLock(lockPath)?.token !== token) {
        throw new ConflictError(`lock on ${path.relative(this.root, file)} in ${this.url} was taken over; retry`);
      }
    };
    try {
      return await fn(assertHeld);
    } finally {
      if (readLockQuietly(lockPath)?.token === token) unlinkQuietly(lockPath);
    }
  }

  private async acquireLock(lockPath: string, token: string): Promise<void> {
    const body = JSON.stringify({ pid: process.pid, host: hostname(), time: Date.now(), token });
    // The lock appears already holding its owner (a link to a finished draft), so a writer killed at any moment can
    // never leave an empty lock that only the staleLockMs age rule would break.
    const draft = `${lockPath}~${token}`;
    const fd = await this.creating(draft, () => openSync(draft, 'wx', 0o644));
    try {
      writeFullySync(fd, [Buffer.from(body)]);
    } finally {
      closeSync(fd);
    }
    try {
      for (let attempt = 0; ; attempt++) {
        try {
          linkSync(draft, lockPath);
          return;
        } catch (e) {
          if (errno(e) !== 'EEXIST') throw e;
          if (!(await this.breakIfStale(lockPath))) await sleep(1 + Math.random() * Math.min(50, 2 ** attempt));
        }
      }
    } finally {
      unlinkQuietly(draft);
    }
  }

  /** Removes the lock if stale. Returns true when the caller should retry at once (lock gone or removed). */
  private async breakIfStale(lockPath: string): Promise<boolean> {
    const seen = readLock(lockPath);
    if (!seen) return true;
    if (!this.isStale(seen)) return false;
    // Breakers take a guard first, so one breaker cannot remove a fresh lock another breaker has just replaced.
    const guardPath = `${lockPath}~break`;
    let guard: number;
    try {
      guard = openSync(guardPath, 'wx');
    } catch (e) {
      if (errno(e) !== 'EEXIST') throw e;
      const guardStat = statQuietly(guardPath, statSync);
      if (guardStat && Date.now() - guardStat.mtimeMs > this.staleLockMs) unlinkQuietly(guardPath);
      return false;
    }
    try {
      const again = readLock(lockPath);
      if (again?.raw === seen.raw) unlinkQuietly(lockPath);
      return true;
    } finally {
      closeQuietly(guard);
      unlinkQuietly(guardPath);
    }
  }

  private isStale(lock: LockInfo): boolean {
    if (Date.now() - lock.time > this.staleLockMs) return true;
    return lock.pid !== undefined && lock.host === hostname() && !isProcessAlive(lock.pid);
  }

  private existsError(key: string, file: string): TribError {
    if (statQuietly(file, lstatSync)?.isDirectory()) {
      return new FailedPreconditionError(`cannot write ${key} in ${this.url}: a directory holds other keys under it`, {
        url: this.url,
        key,
      });
    }
    return keyExists(this.url, key);
  }

  private notFound(key: string): NotFoundError {
    return keyNotFound(this.url, key);
  }

  private fail(e: unknown, action: string, key: string): unknown {
    if (e instanceof SourceStreamError) return e.cause;
    if (isTribError(e)) return e;
    return fsError(e, `${action} ${key} in ${this.url}`, { url: this.url, key, action });
  }
}

/**
 * Maps a Node.js filesystem error to the project's categories. `what` completes "cannot ...", e.g.
 * `write packs/x in file:///repo`.
 */
export function fsError(e: unknown, what: string, details: Record<string, unknown> = {}): TribError {
  const code = errno(e);
  const reason = e instanceof Error ? e.message.replace(/^[A-Z]+: /, '') : String(e);
  const message = `cannot ${what}: ${reason}`;
  const all = { ...details, errno: code };
  switch (code) {
    case 'ENOENT':
      return new NotFoundError(message, all, { cause: e });
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return new PermissionDeniedError(message, all, { cause: e });
    case 'ENOSPC':
    case 'EDQUOT':
    case 'EFBIG':
    case 'EMFILE':
    case 'ENFILE':
      return new ResourceExhaustedError(message, all, { cause: e });
    case 'ENOTDIR':
    case 'EISDIR':
    case 'EEXIST':
    case 'ENAMETOOLONG':
    case 'ELOOP':
      return new FailedPreconditionError(message, all, { cause: e });
    default:
      return new UnavailableError(message, all, { cause: e });
  }
}

class SourceStreamError {
  constructor(readonly cause: unknown) {}
}

interface LockInfo {
  readonly raw: string;
  readonly time: number;
  readonly pid?: number;
  readonly host?: string;
  readonly token?: string;
}

/** Reads a lock file, or undefined if there is none. A lock still being written has no pid: only its age counts. */
function readLock(lockPath: string): LockInfo | undefined {
  let raw: string;
  let mtime: number;
  try {
    const fd = openSync(lockPath, 'r');
    try {
      mtime = fstatSync(fd).mtimeMs;
      raw = readFileSync(fd, 'utf8');
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    if (isAbsence(e)) return undefined;
    throw e;
  }
  try {
    const parsed = JSON.parse(raw) as Record<string, unknown>;
    return {
      raw,
      time: typeof parsed.time === 'number' ? parsed.time : mtime,
      pid: typeof parsed.pid === 'number' ? parsed.pid : undefined,
      host: typeof parsed.host === 'string' ? parsed.host : undefined,
      token: typeof parsed.token === 'string' ? parsed.token : undefined,
    };
  } catch {
    return { raw, time: mtime };
  }
}

/**
 * Writes everything `source` yields to the file `fd`, up to WRITE_BATCH bytes per `writev`, from the stream's own
 * buffers.
 * A failure of the source is thrown as SourceStreamError; a failure to write destroys the source.
 */
function pipeStream(source: Readable, fd: number): Promise<void> {
  return forEachBatch(source, WRITE_BATCH, (bufs) => writeFully(fd, bufs), (e) => new SourceStreamError(e));
}

async function mkdirDurable(dir: string): Promise<void> {
  const first = await makeDirectory(dir);
  if (first === undefined) return;
  for (let d = dir; ; d = path.dirname(d)) {
    await fsyncDir(path.dirname(d));
    if (d === first) return;
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const fd = openSync(dir, 'r');
  try {
    await fsyncFd(fd);
  } catch (e) {
    // Some filesystems (certain FUSE and network mounts) do not support fsync on directories.
    if (errno(e) !== 'EINVAL' && errno(e) !== 'ENOTSUP') throw e;
  } finally {
    closeSync(fd);
  }
}

/** fsync(2) on the thread pool: the one step of a small write that waits on the disk stays off the event loop. */
function fsyncFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fsyncCallback(fd, (e) => (e ? reject(e) : resolve())));
}

function statQuietly(file: string, stat: (file: string) => Stats): Stats | undefined {
  try {
    return stat(file);
  } catch {
    return undefined;
  }
}

function readLockQuietly(lockPath: string): LockInfo | undefined {
  try {
    return readLock(lockPath);
  } catch {
    return undefined;
  }
}

/** Best effort: an orphan temp or lock draft is never listed, and a stale lock is broken by age. */
function unlinkQuietly(file: string): void {
  quietly(() => unlinkSync(file));
}

/** Nothing useful to do on failure: the descriptor is gone either way. */
function closeQuietly(fd: number): void {
  quietly(() => closeSync(fd));
}

function versionOf(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

function isPresent(file: string): boolean {
  return statOrAbsent(file, lstatSync) !== undefined;
}

/** The file's stat, or undefined when it is absent (say, deleted since its directory was read). */
function statOrAbsent(file: string, stat: (file: string) => Stats = statSync): Stats | undefined {
  try {
    return stat(file);
  } catch (e) {
    if (isAbsence(e)) return undefined;
    throw e;
  }
}

/**
 * Renames `temp` to `file`, where folders holding only empty folders may stand: what deleted nested keys (`a/b`,
 * `a/b/c`) left, which holds no key and so must not keep `a` from being written. A folder holding any file still
 * fails the rename. A writer creating a key inside such a folder meanwhile cannot lose its work to the rmdir: its
 * files make the folder non-empty, and one that finds the folder gone makes it again (see creating).
 */
function renameOntoKey(temp: string, file: string): void {
  try {
    renameSync(temp, file);
  } catch (e) {
    if (errno(e) !== 'EISDIR' || !removeEmptyFolders(file)) throw e;
    renameSync(temp, file);
  }
}

/** Removes `dir` if it holds nothing but folders that hold nothing, bottom up; false (leaving the rest) otherwise. */
function removeEmptyFolders(dir: string): boolean {
  try {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (!entry.isDirectory() || !removeEmptyFolders(path.join(dir, entry.name))) return false;
    }
    rmdirSync(dir);
    return true;
  } catch {
    return false;
  }
}

/** The path does not name an object: missing, or a parent is a file. */
function isAbsence(e: unknown): boolean {
  const code = errno(e);
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR';
}

function errno(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function ignore(): undefined {
  return undefined;
}
