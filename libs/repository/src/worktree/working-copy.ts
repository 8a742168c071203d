import * as path from 'node:path';
import { diffTrees, FailedPreconditionError, TreeChange, TreeId } from '@tributary/core';
import { Repository } from '../repository';
import { FileHasherPool } from './file-hasher-pool';
import { materializeTree, removeEntry, writeEntries } from './materialize';
import { firstLocalClash, hiddenBlockers, removeBlockers, removedBeforeWrites } from './move-plan';
import { Snapshot, snapshotWorktree } from './snapshot';
import { StatCache } from './stat-cache';

/**
 * The working files of a repository together with their stat cache. Callers hold the repository lock around any
 * method that writes (everything but construction).
 */
export class WorkingCopy {
  private pool?: FileHasherPool;

  private constructor(
    readonly repo: Repository,
    readonly cache: StatCache,
  ) {}

  static async open(repo: Repository): Promise<WorkingCopy> {
    return new WorkingCopy(repo, await StatCache.load(path.join(repo.tribDir, 'index')));
  }

  /** Stores the working tree's objects (see snapshotWorktree) and returns its tree. */
  async snapshot(opts: { previousTree?: TreeId; onProgress?: (done: number, total: number) => void } = {}): Promise<Snapshot> {
    this.pool ??= new FileHasherPool();
    return snapshotWorktree(this.repo.objects, this.repo.workdir, this.cache, this.pool, opts);
  }

  /** Changes from `headTree` to the working tree; the snapshot's objects are flushed so they survive for reuse. */
  async changes(headTree: TreeId | undefined): Promise<{ snapshot: Snapshot; changes: TreeChange[] }> {
    const snapshot = await this.snapshot({ previousTree: headTree });
    await this.repo.objects.flush();
    const changes: TreeChange[] = [];
    for await (const c of diffTrees(this.repo.objects, headTree, snapshot.tree)) changes.push(c);
    return { snapshot, changes };
  }

  /**
   * Moves the working files from tree `from` to tree `to`, touching only paths that differ. Refuses (exit 2 in the
   * CLI), before changing anything, when that would overwrite a local change or an untracked file (ignored ones
   * too), unless `force`; untracked files elsewhere are left alone.
   */
  async moveTo(
    from: TreeId | undefined,
    to: TreeId,
    /** `forceHint`: what a refusal suggests after "move it away", for a command without --force ('' for none). */
    opts: { force?: boolean; refuseDirty?: boolean; forceHint?: string } = {},
  ): Promise<{ written: number; removed: number }> {
    const plan: TreeChange[] = [];
    for await (const c of diffTrees(this.repo.objects, from, to)) plan.push(c);
    if (!opts.force) {
      const { changes: local } = await this.changes(from);
      if (opts.refuseDirty) {
        const dirty = local.filter((c) => c.status !== 'added');
        if (dirty.length) throw new FailedPreconditionError(`working tree has uncommitted changes (${dirty[0].path}${dirty.length > 1 ? `, and ${dirty.length - 1} more` : ''}); commit them first`);
      }
      const clash = firstLocalClash(plan, local.map((c) => c.path));
      if (clash !== undefined) {
        const what = local.find((c) => c.path === clash)!.status === 'added' ? 'untracked file' : 'uncommitted change to';
        const hint = opts.forceHint ?? ', or use --force';
        throw new FailedPreconditionError(`would overwrite ${what} ${clash}; commit it or move it away${hint}`);
      }
    }
    const root = this.repo.workdir;
    // Ignored files are in no snapshot, so the check above cannot see them in the way: look on disk, before
    // anything changes, so that a move that cannot finish does not start.
    const blockers = hiddenBlockers(root, plan);
    // Not even --force removes a symlink in the way: the link, not where it points, is the user's to settle.
    const link = blockers.find((b) => b.symlink);
    if (link !== undefined) {
      throw new FailedPreconditionError(`will not write through symlink ${link.path}; remove it first`);
    }
    if (blockers.length && !opts.force) {
      const what = `${blockers[0].path}, which is not tracked (an ignored file?)`;
      throw new FailedPreconditionError(`would overwrite ${what}; move it away${opts.forceHint ?? ', or use --force'}`);
    }
    removeBlockers(root, blockers);
    let written = 0;
    let removed = 0;
    // Removals first, so a file replaced by a directory (or the reverse) has room.
    for (const c of plan) {
      if (removedBeforeWrites(c)) {
        await removeEntry(root, c.path);
        this.cache.delete(c.path);
        removed++;
      }
    }
    const toWrite = plan.flatMap((c) => (c.new ? [{ path: c.path, entry: c.new }] : []));
    await writeEntries(this.repo.objects, root, toWrite, {
      onWritten: ({ path: p, entry }, st) => {
        this.cache.set(p, st, entry);
        written++;
      },
    });
    return { written, removed };
  }

  /** Writes a whole tree into an empty directory (used by `checkout --to`). */
  async materializeInto(tree: TreeId, dest: string, onProgress?: (bytes: number) => void) {
    return materializeTree(this.repo.objects, tree, dest, { onProgress });
  }

  async close(): Promise<void> {
    await this.pool?.close();
  }
}
