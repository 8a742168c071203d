import { constants as fsConstants, promises as fs, watch as fsWatch, FSWatcher } from 'node:fs';
import { InvalidArgumentError } from '@tributary/core';
import { makeDirectory } from '@tributary/storage';
import * as path from 'node:path';

export const DONE_DIR = '.done';
export const FAILED_DIR = '.failed';
/** Where a batch goes while it is committed, so that a new file landing under the same name is a file of its own. */
export const CLAIMED_DIR = '.claimed';
const RESCAN_MS = 1000;
/** How long a file may keep changing before onStillChanging hears of it, and then again after as long each time. */
export const STILL_CHANGING_MS = 60_000;

export interface InboxWatcherOptions {
  /**
   * How long a file must go unmodified before it counts as landed (0: at once; the agent's TRIB_INBOX_SETTLE_MS). A
   * writer that writes in place (`cp`, `scp`) rather than writing elsewhere and renaming may still be at it.
   */
  readonly settleMs: number;
  /**
   * Hears, once each, of entries in the inbox that look like batches but that the agent will never take: folders,
   * symlinks, names that are not valid UTF-8. Without it they would sit there unnoticed.
   */
  readonly onSkip?: (name: string, why: string) => void;
  /**
   * Hears of a file that has kept changing for `stillChangingMs` (default STILL_CHANGING_MS) since it was first
   * seen, and again after each further such stretch: every batch after it waits, so a writer that never stops (a
   * log file dropped into the inbox, say) would hold the agent up without a word.
   */
  readonly onStillChanging?: (name: string, forMs: number) => void;
  readonly stillChangingMs?: number;
}

/** A file that has landed in the inbox: its full path, name, modification time and size when it was listed. */
export interface LandedFile {
  readonly path: string;
  readonly name: string;
  readonly mtimeMs: number;
  readonly size: number;
  /** True once it is in `<inbox>/.claimed/` (see claim). */
  readonly claimed?: boolean;
}

/**
 * An agent's inbox folder. A file has landed once it appears under its final name and has gone unmodified for
 * `settleMs`: names starting with `.` or ending in `.tmp` are writers' work in progress (write, then rename) and are
 * ignored, as are directories (`.done/`, `.failed/` and `.claimed/` live here too), and so are empty files.
 *
 * Why the wait: a file written in place is visible while it grows, and claiming it moves the very file its writer
 * is still appending to, so the commit would hold part of the batch and the rest would go to `.done/` uncommitted.
 * Unmodified means its size and mtime are the same as at an earlier look of this watcher, and either its mtime is
 * `settleMs` old by this machine's clock or it has stayed the same over `settleMs` of looking. The first keeps a
 * renamed-in batch from waiting long; the second covers mtimes from another clock, ahead (`cp -p`) or behind (a
 * file server), so no file is taken on its mtime alone.
 */
export class InboxWatcher {
  /** Entries already reported to `onSkip`, so each is told once. */
  private readonly skipped = new Set<string>();
  private readonly settleMs: number;
  private readonly onSkip: (name: string, why: string) => void;
  private readonly onStillChanging: (name: string, forMs: number) => void;
  private readonly stillChangingMs: number;
  /**
   * What each file in the inbox looked like when first seen so, when (this process's clock), and if it has settled;
   * when it was first seen at all, and when onStillChanging last heard of it.
   */
  private readonly looks = new Map<string, { size: number; mtimeMs: number; since: number; settled: boolean; firstSeen: number; told: number }>();

  constructor(
    readonly inbox: string,
    options: InboxWatcherOptions,
  ) {
    this.settleMs = options.settleMs;
    this.onSkip = options.onSkip ?? (() => undefined);
    this.onStillChanging = options.onStillChanging ?? (() => undefined);
    this.stillChangingMs = options.stillChangingMs ?? STILL_CHANGING_MS;
  }

  /** Empty files the last look of the inbox found: each waits for its data. */
  private empty: string[] = [];

  /**
   * Names of the files in the inbox the last look left waiting: until they have gone unmodified for `settleMs`, or,
   * for an empty one, until it holds data.
   */
  get settling(): string[] {
    const names: string[] = [];
    for (const [name, look] of this.looks) if (!look.settled) names.push(name);
    return [...names, ...this.empty];
  }

  /** Creates the inbox (and parents) if absent. Throws InvalidArgumentError, naming it, if it cannot be a folder. */
  async ensure(): Promise<void> {
    try {
      await makeDirectory(this.inbox);
      if (!(await fs.stat(this.inbox)).isDirectory()) throw Object.assign(new Error('not a folder'), { code: 'ENOTDIR' });
      await fs.access(this.inbox, fsConstants.R_OK | fsConstants.W_OK);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      const why = err.code === 'EEXIST' || err.code === 'ENOTDIR' ? 'not a folder' : (err.code ?? err.message);
      throw new InvalidArgumentError(`inbox ${this.inbox} cannot be used: ${why}`, { inbox: this.inbox }, { cause: e });
    }
  }

  /**
   * The landed files, oldest first (by modification time, then by name), after any that an earlier run claimed and
   * did not finish. A file removed meanwhile is skipped, and so is one not yet settled (see the class comment), with
   * every file after it, so that none overtakes it. A file written in place sorts by when its writer last wrote.
   */
  async landed(): Promise<LandedFile[]> {
    const claimed = await this.filesIn(path.join(this.inbox, CLAIMED_DIR), true);
    const files = await this.filesIn(this.inbox, false);
    const now = Date.now();
    const seen = new Set(files.map((f) => f.name));
    for (const name of this.looks.keys()) if (!seen.has(name)) this.looks.delete(name);
    const settled = files.map((f) => this.settled(f, now));
    const firstUnsettled = settled.indexOf(false);
    return [...claimed, ...(firstUnsettled < 0 ? files : files.slice(0, firstUnsettled))];
  }

  /**
   * Whether `file` is still as `landed` listed it (same size and mtime), checked just before it is claimed: a writer
   * may have started writing it in place again since. A claimed file is not checked: nothing writes there.
   */
  async unchanged(file: LandedFile): Promise<boolean> {
    if (file.claimed || this.settleMs === 0) return true;
    const st = await fs.stat(file.path).catch(() => undefined);
    return st !== undefined && sameLook(st, file);
  }

  /**
   * Moves a landed file into `<inbox>/.claimed/` before it is read, so that the batch committed and the file moved
   * to `.done/` afterwards are one and the same, whatever a writer renames into the inbox meanwhile. Returns the file
   * where it now is, or undefined if it is gone, if an earlier claim of that name is not finished yet (that one
   * comes first in `landed`), or if the agent may not move it (EPERM: another user's file in a sticky inbox, or an
   * immutable one), which `onSkip` hears of once: it stays where it is, and the batches after it go on.
   */
  async claim(file: LandedFile): Promise<LandedFile | undefined> {
    if (file.claimed) return file;
    const dir = path.join(this.inbox, CLAIMED_DIR);
    await fs.mkdir(dir, { recursive: true });
    const dest = path.join(dir, file.name);
    if (await exists(dest)) return undefined;
    try {
      await fs.rename(file.path, dest);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return undefined;
      if (code === 'EPERM') {
        this.skip(file.name, `the agent may not move it (${code}: another user's file in a sticky inbox?); land it as the agent's user, or give it to that user`);
        return undefined;
      }
      throw e;
    }
    await syncDir(dir);
    await syncDir(this.inbox);
    return { ...file, path: dest, claimed: true };
  }

  /** Whether `file` has gone unmodified for settleMs (see the class comment), noting how it looks now. */
  private settled(file: LandedFile, now: number): boolean {
    if (this.settleMs === 0) return true;
    const before = this.looks.get(file.name);
    if (!before || !sameLook(before, file)) {
      const firstSeen = before?.firstSeen ?? now;
      const told = before?.told ?? firstSeen;
      const look = { size: file.size, mtimeMs: file.mtimeMs, since: now, settled: false, firstSeen, told };
      this.looks.set(file.name, look);
      if (now - look.told >= this.stillChangingMs) {
        look.told = now;
        this.onStillChanging(file.name, now - firstSeen);
      }
      return false;
    }
    before.settled ||= now - file.mtimeMs >= this.settleMs || now - before.since >= this.settleMs;
    return before.settled;
  }

  private async filesIn(dir: string, claimed: boolean): Promise<LandedFile[]> {
    const out: LandedFile[] = [];
    const empty: string[] = [];
    const entries = await fs.readdir(dir, { withFileTypes: true }).catch((e: NodeJS.ErrnoException) => {
      if (claimed && e.code === 'ENOENT') return [];
      throw e;
    });
    for (const d of entries) {
      if (d.name.startsWith('.') || d.name.endsWith('.tmp')) continue;
      const p = path.join(dir, d.name);
      if (!d.isFile()) {
        if (d.isDirectory()) this.skip(d.name, 'a folder: batches are files');
        else if (d.isSymbolicLink()) this.skip(d.name, 'a symlink: batches are regular files');
        continue;
      }
      const st = await fs.stat(p).catch(() => undefined);
      // An empty file is a writer that has not written yet (or a batch of nothing): it is taken once it has bytes.
      if (st?.isFile() && st.size === 0 && !claimed) {
        this.skip(d.name, 'empty: it is taken once it holds data');
        empty.push(d.name);
      } else if (st?.isFile()) out.push({ path: p, name: d.name, mtimeMs: st.mtimeMs, size: st.size, ...(claimed && { claimed }) });
      // Node reads a name that is not UTF-8 with U+FFFD in it, under which no file can be found.
      else if (!st && d.name.includes('\ufffd')) this.skip(d.name, 'its name is not valid UTF-8; rename it');
    }
    if (!claimed) this.empty = empty;
    return out.sort((a, b) => a.mtimeMs - b.mtimeMs || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /**
   * Moves a committed batch to `<inbox>/.done/` (a name already there gets a numeric suffix) and makes the move
   * durable by syncing both folders. Call only after the commit is durable: a crash before the move makes the
   * agent see the file again (in `.claimed/`), and the commit's `trib.batch.sha256` turns that into a no-op.
   */
  async markDone(file: LandedFile): Promise<string> {
    return this.moveTo(DONE_DIR, file);
  }

  /** Moves a batch that can never be committed (bad name, header mismatch) to `<inbox>/.failed/`, durably. */
  async markFailed(file: LandedFile): Promise<string> {
    return this.moveTo(FAILED_DIR, file);
  }

  /**
   * Calls `onChange` on every change the OS reports in the inbox and at least once a second (fs.watch can miss
   * events, and on some filesystems it reports none). Returns a handle that stops both.
   */
  watch(onChange: () => void): { close(): void } {
    let watcher: FSWatcher | undefined;
    try {
      watcher = fsWatch(this.inbox, { persistent: true }, () => onChange());
      watcher.on('error', () => undefined);
    } catch {
      // No inotify here: the rescan alone keeps the agent going.
    }
    const timer = setInterval(onChange, RESCAN_MS);
    return {
      close: () => {
        clearInterval(timer);
        watcher?.close();
      },
    };
  }

  private skip(name: string, why: string): void {
    if (this.skipped.has(name)) return;
    this.skipped.add(name);
    this.onSkip(name, why);
  }

  private async moveTo(dirName: string, file: LandedFile): Promise<string> {
    const dir = path.join(this.inbox, dirName);
    await fs.mkdir(dir, { recursive: true });
    let dest = path.join(dir, file.name);
    for (let n = 1; await exists(dest); n++) dest = path.join(dir, `${file.name}.${n}`);
    await fs.rename(file.path, dest);
    await syncDir(dir);
    await syncDir(path.dirname(file.path));
    return dest;
  }
}

/** Whether two looks at a file found it the same: a writer at it changes its size or mtime, or both. */
export function sameLook(a: { size: number; mtimeMs: number }, b: { size: number; mtimeMs: number }): boolean {
  return a.size === b.size && a.mtimeMs === b.mtimeMs;
}

async function exists(p: string): Promise<boolean> {
  return fs.lstat(p).then(() => true, () => false);
}

async function syncDir(dir: string): Promise<void> {
  const fh = await fs.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
