import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { FailedPreconditionError } from '@tributary/core';

const POLL_MS = 25;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * An exclusive lock on a working copy, held by one `trib` process at a time (a file created with O_EXCL holding
 * the owner's pid). A lock left by a killed process is broken once its pid is gone, so kill -9 never wedges a
 * repository. Waits up to `waitMs` for a live holder, then throws FailedPreconditionError.
 */
export class RepositoryLock {
  private held = false;

  constructor(private readonly path: string) {}

  async acquire(waitMs = 10_000): Promise<void> {
    const deadline = Date.now() + waitMs;
    // The lock appears with its pid already in it (a link to a finished draft): a kill between creating and writing
    // it can never leave an empty lock that no owner check could ever break.
    const draft = `${this.path}.draft-${process.pid}-${randomBytes(4).toString('hex')}`;
    await fs.writeFile(draft, `${process.pid}\n`);
    try {
      await this.acquireFrom(draft, deadline);
    } finally {
      await fs.unlink(draft).catch(() => undefined);
    }
  }

  private async acquireFrom(draft: string, deadline: number): Promise<void> {
    for (;;) {
      try {
        await fs.link(draft, this.path);
        this.held = true;
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const owner = Number.parseInt(await fs.readFile(this.path, 'utf8').catch(() => ''), 10);
      if (Number.isFinite(owner) && owner > 0 && !alive(owner)) {
        // Renaming first means only one waiter removes the stale lock; the others see ENOENT and retry.
        const stale = `${this.path}.stale-${process.pid}`;
        if (await fs.rename(this.path, stale).then(() => true, () => false)) {
          const moved = Number.parseInt(await fs.readFile(stale, 'utf8').catch(() => ''), 10);
          // Another waiter may have broken the stale lock and taken a fresh one between our read and our rename:
          // put a live owner's lock back rather than steal it.
          if (moved !== owner && alive(moved)) await fs.link(stale, this.path).catch(() => undefined);
          await fs.unlink(stale).catch(() => undefined);
        }
        continue;
      }
      if (Date.now() > deadline) {
        throw new FailedPreconditionError(`repository is locked by process ${owner || '?'} (${this.path})`);
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  async release(): Promise<void> {
    if (!this.held) return;
    this.held = false;
    await fs.unlink(this.path).catch(() => undefined);
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
