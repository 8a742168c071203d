import * as path from 'node:path';
import { CommitId, diffTrees, FailedPreconditionError, NotFoundError, quotePath, sameEntry, TreeChange, TreeId } from '@tributary/core';
import { HeadState, Repository } from '../repository';
import { isAncestor } from '../history/commit-walk';
import { FileHasherPool } from './file-hasher-pool';
import { removeEntry, writeEntries } from './materialize';
import { Blocker, firstLocalClash, hiddenBlockers, removeBlockers, removedBeforeWrites, removeWriteTemps } from './move-plan';
import { beginMove, endMove, MoveJournal, moveJournalPath, readMove } from './move-journal';
import { crashPoint } from '../testing/crash-points';
import { ProgressCallback, Snapshot, SnapshotOptions, snapshotWorktree } from './snapshot';
import { StatCache } from './stat-cache';
import { readWorktreeBase, WorktreeBase, writeWorktreeBase } from './worktree-base';

/**
 * The working files of a repository together with their stat cache. Callers hold the repository lock around any
 * method that writes (everything but construction).
 */
export class WorkingCopy {
  private pool?: FileHasherPool;

  private constructor(
    readonly repo: Repository,
    readonly cache: StatCache,
    private base: WorktreeBase,
  ) {}

  /**
   * Opens the working copy; call it under the repository lock. A move of the working files that a kill cut short
   * (see moveTo) is settled first: only forgotten if HEAD names the tree it went to, else undone, as if it had not
   * begun. A bare repository has none: FailedPreconditionError.
   * `head`: HEAD as the caller has just read it under the lock, so it is not read again.
   */
  static async open(repo: Repository, head?: HeadState): Promise<WorkingCopy> {
    if (repo.bare) {
      throw new FailedPreconditionError(
        `${repo.workdir} has no working files (the home of a hub or an agent); read a version with trib checkout REF --to DIR`,
      );
    }
    const recorded = await readWorktreeBase(repo.tribDir);
    const current = head ?? (await repo.head());
    const base = await baseFrom(recorded, current, repo);
    // Hashes of files whose objects went to a scratch space must not vouch for those files at the next commit.
    const cache = await StatCache.load(path.join(repo.tribDir, 'index'), { persist: !repo.scratchWrites });
    const wc = new WorkingCopy(repo, cache, base);
    if (!recorded || recorded.pending || wc.base.commit !== recorded.commit) await writeWorktreeBase(repo.tribDir, wc.base);
    await wc.settleCutShortMove(current);
    return wc;
  }

  /** The commit the working files are at, and the branch HEAD was on then (see WorktreeBase). */
  get at(): WorktreeBase {
    return this.base;
  }

  /** Records durably that the working files now match `commit` (undefined: no commit), with HEAD on `branch`. */
  async recordBase(commit: CommitId | undefined, branch: string | undefined): Promise<void> {
    if (this.base.commit === commit && this.base.branch === branch && !this.base.pending) return;
    this.base = { commit, ...(branch !== undefined ? { branch } : {}) };
    await writeWorktreeBase(this.repo.tribDir, this.base);
  }

  /** Records, before HEAD moves from the base to `commit`, that it is about to (see WorktreeBase.pending). */
  async recordPendingBase(commit: CommitId): Promise<void> {
    this.base = { ...this.base, pending: commit };
    await writeWorktreeBase(this.repo.tribDir, this.base);
  }

  /** Stores the working tree's objects (see snapshotWorktree) and returns its tree. */
  async snapshot(opts: SnapshotOptions = {}): Promise<Snapshot> {
    this.pool ??= new FileHasherPool();
    return snapshotWorktree(this.repo.objects, this.repo.workdir, this.cache, this.pool, opts);
  }

  /**
   * Changes from `headTree` to the working tree; the snapshot's objects are flushed so they survive for reuse.
   * `onProgress` is told the bytes hashed so far of those that need it (see snapshot).
   */
  async changes(
    headTree: TreeId | undefined,
    opts: { onProgress?: ProgressCallback } = {},
  ): Promise<{ snapshot: Snapshot; changes: TreeChange[] }> {
    const snapshot = await this.snapshot({ previousTree: headTree, onProgress: opts.onProgress });
    await this.repo.objects.flush();
    const changes: TreeChange[] = [];
    for await (const c of diffTrees(this.repo.objects, headTree, snapshot.tree)) changes.push(c);
    return { snapshot, changes };
  }

  /** The working tree's snapshot tree and its changes from `from`. */
  private async localChanges(from: TreeId | undefined, onProgress?: ProgressCallback): Promise<{ tree: TreeId; changes: TreeChange[] }> {
    const { snapshot, changes } = await this.changes(from, { onProgress });
    return { tree: snapshot.tree, changes };
  }

  /**
   * Moves the working files from tree `from` (the one they are at) to tree `to`, touching only paths that differ and
   * do not already hold `to`'s version. Refuses (exit 2 in the CLI), before changing anything, when that would
   * overwrite a local change or an untracked file (ignored ones too), unless `force`: a FailedPreconditionError
   * whose details say `overridable`, which `force` would have gone past (and which also throws local changes away,
   * see forceTo). Untracked files elsewhere are left alone.
   * The move is recorded durably before the first change; the caller points HEAD at `to` and then calls `endMove`.
   * A kill in between is settled by the next `open`.
   */
  async moveTo(
    from: TreeId | undefined,
    to: TreeId,
    /**
     * `onProgress`: the scan of the working tree (see ProgressCallback), then the bytes of files written so far, of
     * all the move writes. `local`: the working tree (its snapshot's tree, and its changes from `from`), when the
     * caller has just taken it (`changes`) under the same lock: not scanned again.
     */
    opts: {
      force?: boolean;
      refuseDirty?: boolean;
      local?: { readonly tree: TreeId; readonly changes: readonly TreeChange[] };
      onProgress?: ProgressCallback;
    } = {},
  ): Promise<{ written: number; removed: number }> {
    if (opts.force) return this.forceTo(from, to, opts.onProgress);
    const { tree: localTree, changes: local } = opts.local ?? (await this.localChanges(from, opts.onProgress));
    // A local file that already holds what the move would write there needs nothing (both sides made the change).
    const localNew = new Map(local.map((c) => [c.path, c.new]));
    const plan = (await this.planMove(from, to)).filter((c) => !(localNew.has(c.path) && sameEntry(localNew.get(c.path), c.new)));
    if (opts.refuseDirty) {
      const dirty = local.filter((c) => c.status !== 'added');
      if (dirty.length) throw new FailedPreconditionError(`working tree has uncommitted changes (${quotePath(dirty[0].path)}${dirty.length > 1 ? `, and ${dirty.length - 1} more` : ''}); commit them first`);
    }
    const clash = firstLocalClash(plan, local.map((c) => c.path));
    if (clash !== undefined) {
      const what = local.find((c) => c.path === clash)!.status === 'added' ? 'untracked file' : 'uncommitted change to';
      throw new FailedPreconditionError(`would overwrite ${what} ${quotePath(clash)}; commit it or move it away`, { path: clash, overridable: true });
    }
    const blockers = this.blockersOf(plan, opts);
    return this.applyRecorded({ from, to, local: localTree }, plan, blockers, opts.onProgress);
  }

  /**
   * A forced move, as `git switch --force`: local changes to tracked files (those of `from` or `to`) are thrown
   * away, so every tracked path ends as `to` has it; untracked files are kept unless `to` writes one of their paths.
   * The move starts from the working tree as it is (its snapshot is what the move journal records): a kill midway
   * is undone back to the local changes, or, when HEAD already names `to` (the current branch), finished.
   */
  private async forceTo(
    from: TreeId | undefined,
    to: TreeId,
    onProgress?: ProgressCallback,
  ): Promise<{ written: number; removed: number }> {
    const { snapshot, changes: local } = await this.changes(from, { onProgress });
    const untracked = new Set(local.filter((c) => c.status === 'added').map((c) => c.path));
    const plan = (await this.planMove(snapshot.tree, to)).filter((c) => c.new !== undefined || !untracked.has(c.path));
    const blockers = this.blockersOf(plan, { force: true });
    return this.applyRecorded({ from: snapshot.tree, to }, plan, blockers, onProgress);
  }

  /** Forgets the last move; call it once HEAD names the tree moved to, so a kill before this is settled forwards. */
  async endMove(): Promise<void> {
    crashPoint('move.before-end');
    await endMove(this.repo.tribDir);
  }

  private async planMove(from: TreeId | undefined, to: TreeId | undefined): Promise<TreeChange[]> {
    const plan: TreeChange[] = [];
    for await (const c of diffTrees(this.repo.objects, from, to)) plan.push(c);
    return plan;
  }

  /**
   * What is in the way of `plan` on disk, refused unless `force` (and a symlink even then); see hiddenBlockers.
   * `settling`: the plan settles a move cut short (see settleCutShortMove), which no option forces.
   */
  private blockersOf(plan: readonly TreeChange[], opts: { force?: boolean; settling?: boolean }): Blocker[] {
    // Ignored files are in no snapshot, so a check of local changes cannot see them in the way: look on disk,
    // before anything changes, so that a move that cannot finish does not start.
    const blockers = hiddenBlockers(this.repo.workdir, plan);
    // Not even --force removes a symlink in the way: the link, not where it points, is the user's to settle.
    const link = blockers.find((b) => b.symlink);
    if (link !== undefined) {
      throw new FailedPreconditionError(`will not write through symlink ${quotePath(link.path)}; remove it first`);
    }
    const inTheWay = blockers.find((b) => !b.empty);
    if (inTheWay !== undefined && opts.settling) {
      throw new FailedPreconditionError(
        `cannot settle the switch or merge that was cut short: it would overwrite ${quotePath(inTheWay.path)}, which is not tracked; ` +
          'move it away and run the command again',
        { path: inTheWay.path },
      );
    }
    if (inTheWay !== undefined && !opts.force) {
      const what = `${quotePath(inTheWay.path)}, which is not tracked (an ignored file?)`;
      throw new FailedPreconditionError(`would overwrite ${what}; move it away`, { path: inTheWay.path, overridable: true });
    }
    return blockers;
  }

  /**
   * Records `move`, then applies its `plan`. A move that fails part way (a damaged chunk, a full disk) is undone
   * before the error goes up, so the command fails with the files as they were; when the undo fails too, the record
   * stays and the next command settles the move.
   */
  private async applyRecorded(
    move: MoveJournal,
    plan: readonly TreeChange[],
    blockers: readonly Blocker[],
    onProgress?: ProgressCallback,
  ): Promise<{ written: number; removed: number }> {
    await beginMove(this.repo.tribDir, move);
    try {
      return await this.applyMove(plan, blockers, onProgress);
    } catch (e) {
      await this.settle(move, 'back')
        .then(() => endMove(this.repo.tribDir))
        .catch(() => undefined);
      throw e;
    }
  }

  private async applyMove(
    plan: readonly TreeChange[],
    blockers: readonly Blocker[],
    onProgress?: ProgressCallback,
  ): Promise<{ written: number; removed: number }> {
    const root = this.repo.workdir;
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
    const total = toWrite.reduce((n, w) => n + w.entry.size, 0);
    let bytes = 0;
    await writeEntries(this.repo.objects, root, toWrite, {
      onWritten: ({ path: p, entry }, st) => {
        this.cache.set(p, st, entry);
        written++;
        bytes += entry.size;
        onProgress?.(bytes, total);
      },
    });
    return { written, removed };
  }

  /**
   * Settles a move a kill cut short, which left each of its paths at either tree (or a temp file beside it). When
   * HEAD names the tree the move went to, the move is finished: a switch or merge only moves HEAD once every path
   * is there, so there is nothing left to do, but a forced switch onto HEAD's own tree may have stopped midway.
   * Otherwise its paths are put back as the tree it started from has them: the working files are then as they
   * were before it began (HEAD's, unless something else moved HEAD meanwhile, which then shows as changes, as it
   * would have without the move). Either way a path changed after the kill keeps that change (see stillAtStart),
   * and a file or folder put in the way of a path still to move is refused, never removed: the move stays recorded
   * until it is moved away.
   */
  private async settleCutShortMove(head: HeadState): Promise<void> {
    const move = await readMove(this.repo.tribDir);
    if (!move) return;
    const headTree = await this.repo.treeOf(head.commit);
    await this.settle(move, headTree === move.to ? 'forwards' : 'back');
    // Finished forwards: the files are at HEAD's commit, which the move's caller had moved before the kill.
    if (headTree === move.to) await this.recordBase(head.commit, head.branch);
    await endMove(this.repo.tribDir);
  }

  /** Puts the paths of `move` that still need it at its end, or back at its start (see settleCutShortMove). */
  private async settle(move: MoveJournal, way: 'forwards' | 'back'): Promise<void> {
    // Undone, it goes back to the files as it found them, local changes included (see MoveJournal.local).
    const [start, end] = way === 'forwards' ? [move.from, move.to] : [move.to, move.local ?? move.from];
    const plan = await this.planMove(start, end).catch((e: unknown) => {
      // Only a gc in another working copy of the store could have taken them (gc here keeps them).
      if (!(e instanceof NotFoundError)) throw e;
      throw new FailedPreconditionError(
        `cannot settle the switch or merge that was cut short, its trees are gone (${e.message}); ` +
          `remove ${quotePath(moveJournalPath(this.repo.tribDir))} and run trib switch --force with your branch`,
      );
    });
    removeWriteTemps(this.repo.workdir, plan);
    const rest = await this.stillAtStart(plan, end);
    if (rest.length > 0) {
      // Not forced: what is in the way now was put there after the kill, and is the user's.
      await this.applyMove(rest, this.blockersOf(rest, { settling: true }));
      await this.cache.save();
    }
  }

  /**
   * The changes of `plan` (towards tree `end`) whose paths still hold the version the plan starts from. A path
   * changed since the kill (a file edited before the next command) is left alone, so it shows as a local change
   * instead of being overwritten; one already as `end` has it needs nothing, except that a path `end` lacks is
   * removed again all the same, which takes away the folders the move made for it.
   */
  private async stillAtStart(plan: readonly TreeChange[], end: TreeId | undefined): Promise<TreeChange[]> {
    const { changes } = await this.changes(end);
    const now = new Map(changes.map((c) => [c.path, c.new]));
    return plan.filter((c) => (now.has(c.path) ? sameEntry(now.get(c.path), c.old) : c.new === undefined));
  }

  async close(): Promise<void> {
    await this.pool?.close();
  }
}

/**
 * The base to work from: the recorded one, with a pending HEAD move settled by what HEAD names now (HEAD at the
 * pending commit or past it: the files are at the pending commit); HEAD's commit and branch for a working copy that
 * recorded none (made before bases were kept). A base commit gone from the store (a gc in another working copy,
 * which cannot see this one's base, after its branch was deleted) leaves the files at no commit known, so nothing
 * counts as held that HEAD has.
 */
async function baseFrom(recorded: WorktreeBase | undefined, head: HeadState, repo: Repository): Promise<WorktreeBase> {
  if (!recorded) return { commit: head.commit, ...(head.branch !== undefined ? { branch: head.branch } : {}) };
  const { pending, ...settled } = recorded;
  const moved = pending !== undefined && head.commit !== undefined && (head.commit === pending || ((await isStoredNow(repo, pending)) && (await isAncestor(repo, pending, head.commit))));
  const base = moved ? { ...settled, commit: pending } : settled;
  if (base.commit && !(await isStoredNow(repo, base.commit))) return { ...base, commit: undefined };
  return base;
}

/**
 * Whether the store holds `id`, listing its packs again before saying no: they were loaded when the repository was
 * opened, before this command took the lock, and the command it waited for (a commit) may have stored `id` since.
 */
async function isStoredNow(repo: Repository, id: CommitId): Promise<boolean> {
  if (repo.objects.isStored(id)) return true;
  await repo.objects.reload();
  return repo.objects.isStored(id);
}
