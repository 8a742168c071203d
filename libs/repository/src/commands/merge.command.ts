import {
  Annotations,
  CommitId,
  comparePaths,
  diffTrees,
  editPath,
  FailedPreconditionError,
  lookupPath,
  MergeConflict,
  mergeFollowingRenames,
  MergeOptions,
  mergeTrees,
  MergeResult,
  quotePath,
  recordFormatOf,
  rowUnionMerge,
  TreeEntry,
  TreeId,
} from '@tributary/core';
import { isAncestor, mergeBases } from '../history/commit-walk';
import { Repository } from '../repository';
import { ProgressCallback } from '../worktree/snapshot';
import { WorkingCopy } from '../worktree/working-copy';
import { defaultAuthor } from './commit.command';
import { staleWorktree } from '../worktree/worktree-base';
import { crashPoint } from '../testing/crash-points';

export type MergeStrategy = 'ours' | 'theirs';

/**
 * Three-way merge of two commits' trees from their merge base, without touching refs or working files. CSV and JSONL
 * files that both sides only appended to are row-unioned (base, ours' records, theirs' records); a file one side
 * moved without changing it takes the other side's change at its new path (mergeFollowingRenames); other two-sided
 * changes are conflicts unless `strategy` picks a side.
 */
export async function mergeCommitTrees(
  repo: Repository,
  ours: CommitId,
  theirs: CommitId,
  strategy?: MergeStrategy,
): Promise<MergeResult & { bases: CommitId[] }> {
  const bases = await mergeBases(repo, ours, theirs);
  const ourTree = (await repo.readCommit(ours)).tree;
  const theirTree = (await repo.readCommit(theirs)).tree;
  const db = repo.objects;
  const opts: MergeOptions = {
    strategy,
    mergeFile: async (path: string, b: TreeEntry | undefined, o: TreeEntry, t: TreeEntry) => {
      if (!b || !recordFormatOf(path) || b.kind !== 'file' || o.kind !== 'file' || t.kind !== 'file') return undefined;
      const merged = await rowUnionMerge(db, db, path, b, o, t);
      return merged && { ...o, id: merged.id, size: merged.size, chunked: merged.chunked };
    },
  };
  // Files one side moved without changing them are followed: a change to the old path lands at the new one.
  const mergeFrom = async (base: CommitId | undefined) => {
    const baseTree = await repo.treeOf(base);
    return baseTree ? mergeFollowingRenames(db, db, baseTree, ourTree, theirTree, opts) : mergeTrees(db, db, undefined, ourTree, theirTree, opts);
  };
  const results: MergeResult[] = [];
  for (const base of bases.length ? bases : [undefined]) results.push(await mergeFrom(base));
  return { ...(await agreeAcrossBases(repo, results, { ours: ourTree, theirs: theirTree }, strategy)), bases };
}

/**
 * One merge from the merges from each best common ancestor (several after a criss-cross merge). Where they agree,
 * that result. A path on which they disagree was resolved differently on the two sides since (one side kept its
 * version, the other took the other's), so no single base tells which to keep: a modify/modify conflict, which a
 * strategy settles by taking its side's version of the path.
 */
async function agreeAcrossBases(
  repo: Repository,
  results: readonly MergeResult[],
  sides: { ours: TreeId; theirs: TreeId },
  strategy: MergeStrategy | undefined,
): Promise<MergeResult> {
  const conflicts = new Map<string, MergeConflict>();
  for (const r of results) for (const c of r.conflicts) conflicts.set(c.path, c);
  const first = results[0];
  const disagree = new Set<string>();
  for (const r of results.slice(1)) {
    if (!first.tree || !r.tree || r.tree.id === first.tree.id) continue;
    for await (const change of diffTrees(repo.objects, first.tree.id, r.tree.id)) disagree.add(change.path);
  }
  for (const p of disagree) if (!conflicts.has(p)) conflicts.set(p, { path: p, kind: 'modify/modify' });
  const sorted = [...conflicts.values()].sort((a, b) => comparePaths(a.path, b.path));
  if (results.some((r) => !r.tree) || (disagree.size > 0 && !strategy)) return { conflicts: sorted };
  let tree = first.tree!;
  const side = strategy === 'theirs' ? sides.theirs : sides.ours;
  for (const p of disagree) {
    tree = await editPath(repo.objects, repo.objects, tree.id, p, await lookupPath(repo.objects, side, p));
  }
  return { tree, conflicts: sorted };
}

export interface MergeOutcome {
  readonly kind: 'up-to-date' | 'fast-forward' | 'merge' | 'conflict';
  readonly commit?: CommitId;
  /** The conflicts left, which stopped the merge: empty unless `kind` is 'conflict'. */
  readonly conflicts: MergeResult['conflicts'];
  /** The conflicts the strategy settled by taking its side, in path order: empty without a strategy. */
  readonly settled: MergeResult['conflicts'];
}

/**
 * `trib merge`: merges REF into the current branch and updates the working files. Refuses on a dirty tree. Fast-
 * forwards when possible (unless `noFf`); otherwise writes a two-parent merge commit. On conflict nothing changes:
 * not the working tree, not the refs. With `strategy`, no conflict is left: each is settled and reported as such.
 */
export async function mergeIntoWorktree(
  repo: Repository,
  spec: string,
  opts: {
    message?: string;
    noFf?: boolean;
    strategy?: MergeStrategy;
    author?: string;
    annotations?: Annotations;
    now?: Date;
    /** The scan and hashing of the working tree (see ProgressCallback), then the bytes of the files the merge writes. */
    onProgress?: ProgressCallback;
  } = {},
): Promise<MergeOutcome> {
  return repo.lock.run(async () => {
    const theirs = await repo.resolve(spec);
    const head = await repo.head();
    const wc = await WorkingCopy.open(repo, head);
    try {
      const headTree = await repo.treeOf(head.commit);
      const { snapshot, changes } = await wc.changes(headTree, { onProgress: opts.onProgress });
      const stale = await staleWorktree(repo, head, wc.at, snapshot.tree);
      if (stale) throw new FailedPreconditionError(stale);
      await wc.recordBase(head.commit, head.branch);
      const dirty = changes.filter((c) => c.status !== 'added');
      if (dirty.length) throw new FailedPreconditionError(`working tree has uncommitted changes (${quotePath(dirty[0].path)}); commit them before merging`);

      if (head.commit && (await isAncestor(repo, theirs, head.commit))) {
        return { kind: 'up-to-date', commit: head.commit, conflicts: [], settled: [] };
      }

      const theirTree = (await repo.readCommit(theirs)).tree;
      const ff = !head.commit || (await isAncestor(repo, head.commit, theirs));
      let commit: CommitId;
      let tree: TreeId;
      let kind: MergeOutcome['kind'];
      let settled: MergeOutcome['settled'] = [];
      if (ff && !(opts.noFf && head.commit)) {
        commit = theirs;
        tree = theirTree;
        kind = 'fast-forward';
      } else {
        let merged: MergeResult;
        if (ff) merged = { tree: { id: theirTree, size: 0 }, conflicts: [] };
        else merged = await mergeCommitTrees(repo, head.commit!, theirs, opts.strategy);
        if (!merged.tree) return { kind: 'conflict', conflicts: merged.conflicts, settled: [] };
        settled = merged.conflicts;
        tree = merged.tree.id;
        commit = await repo.writeCommit({
          tree,
          parents: [head.commit!, theirs],
          author: opts.author?.trim() || defaultAuthor(),
          time: (opts.now ?? new Date()).toISOString(),
          message: opts.message ?? `Merge ${spec} into ${head.branch ?? 'HEAD'}`,
          annotations: opts.annotations ?? {},
        });
        kind = 'merge';
      }
      crashPoint('merge.before-worktree');
      await wc.moveTo(headTree, tree, { local: { tree: snapshot.tree, changes }, onProgress: opts.onProgress });
      await repo.advanceHead(head, commit);
      await wc.recordBase(commit, head.branch);
      await wc.cache.save();
      await wc.endMove();
      return { kind, commit, conflicts: [], settled };
    } finally {
      await wc.close();
    }
  });
}
