import { randomBytes } from 'node:crypto';
import { linkSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { FailedPreconditionError, quotePath } from '@tributary/core';
import { isProcessAlive, quietly, removeOnExit } from '@tributary/storage';

const POLL_MS = 25;

/**
 * An exclusive lock on a working copy, held by one `trib` process at a time (a file created with O_EXCL holding
 * the owner's pid). A lock left by a killed process is broken once its pid is gone, so kill -9 never wedges a
 * repository. Waits up to `waitMs` for a live holder, then throws FailedPreconditionError.
 *
 * Its file calls are synchronous: each takes microseconds, less than a round trip through libuv's thread pool, and
 * an edge agent takes the lock for every batch it commits.
 */
export class RepositoryLock {
  private held = false;
  /** Unregisters the lock from removal at exit (an interrupted command leaves no lock behind). */
  private forget: () => void = () => undefined;

  constructor(private readonly path: string) {}

  async acquire(waitMs = 10_000): Promise<void> {
    const deadline = Date.now() + waitMs;
    // The lock appears with its pid already in it (a link to a finished draft): a kill between creating and writing
    // it can never leave an empty lock that no owner check could ever break.
    const draft = `${this.path}.draft-${process.pid}-${randomBytes(4).toString('hex')}`;
    writeFileSync(draft, `${process.pid}\n`);
    try {
      await this.acquireFrom(draft, deadline);
    } finally {
      quietly(() => unlinkSync(draft));
    }
  }

  private async acquireFrom(draft: string, deadline: number): Promise<void> {
    for (;;) {
      try {
        linkSync(draft, this.path);
        this.held = true;
        this.forget = removeOnExit(this.path);
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const owner = pidIn(this.path);
      if (Number.isFinite(owner) && owner > 0 && !isProcessAlive(owner)) {
        // Renaming first means only one waiter removes the stale lock; the others see ENOENT and retry.
        const stale = `${this.path}.stale-${process.pid}`;
        if (quietly(() => renameSync(this.path, stale))) {
          const moved = pidIn(stale);
          // Another waiter may have broken the stale lock and taken a fresh one between our read and our rename:
          // put a live owner's lock back rather than steal it.
          if (moved !== owner && isProcessAlive(moved)) quietly(() => linkSync(stale, this.path));
          quietly(() => unlinkSync(stale));
        }
        continue;
      }
      if (Date.now() > deadline) {
        throw new FailedPreconditionError(`repository is locked by process ${owner || '?'} (${quotePath(this.path)})`);
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  async release(): Promise<void> {
    if (!this.held) return;
    this.held = false;
    this.forget();
    quietly(() => unlinkSync(this.path));
  }

  async run<T>(fn: () => Promise<T>, waitMs?: number): Promise<T> {
    await this.acquire(waitMs);
    try {
      return await fn();
    } finally {
      await this.release();
    }
  }
}

/** The pid a lock file holds; NaN when it is gone or unreadable. */
function pidIn(file: string): number {
  try {
    return Number.parseInt(readFileSync(file, 'utf8'), 10);
  } catch {
    return Number.NaN;
  }
}
