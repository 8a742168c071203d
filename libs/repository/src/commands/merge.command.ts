import {
  Annotations,
  CommitId,
  FailedPreconditionError,
  mergeTrees,
  MergeResult,
  recordFormatOf,
  rowUnionMerge,
  TreeEntry,
  TreeId,
} from '@tributary/core';
import { isAncestor, mergeBase } from '../history/commit-walk';
import { Repository } from '../repository';
import { WorkingCopy } from '../worktree/working-copy';
import { defaultAuthor } from './commit.command';
import { crashPoint } from '../testing/crash-points';

export type MergeStrategy = 'ours' | 'theirs';

/**
 * Three-way merge of two commits' trees from their merge base, without touching refs or working files. CSV and JSONL
 * files that both sides only appended to are row-unioned (base, ours' records, theirs' records); other two-sided
 * changes are conflicts unless `strategy` picks a side.
 */
export async function mergeCommitTrees(repo: Repository, ours: CommitId, theirs: CommitId, strategy?: MergeStrategy): Promise<MergeResult & { base?: CommitId }> {
  const base = await mergeBase(repo, ours, theirs);
  const baseTree = base ? (await repo.readCommit(base)).tree : undefined;
  const ourTree = (await repo.readCommit(ours)).tree;
  const theirTree = (await repo.readCommit(theirs)).tree;
  const db = repo.objects;
  const result = await mergeTrees(db, db, baseTree, ourTree, theirTree, {
    strategy,
    mergeFile: async (path: string, b: TreeEntry | undefined, o: TreeEntry, t: TreeEntry) => {
      if (!b || !recordFormatOf(path) || b.kind !== 'file' || o.kind !== 'file' || t.kind !== 'file') return undefined;
      const merged = await rowUnionMerge(db, db, path, b, o, t);
      return merged && { ...o, id: merged.id, size: merged.size, chunked: merged.chunked };
    },
  });
  return { ...result, base };
}

export interface MergeOutcome {
  readonly kind: 'up-to-date' | 'fast-forward' | 'merge' | 'conflict';
  readonly commit?: CommitId;
  readonly conflicts: MergeResult['conflicts'];
}

/**
 * `trib merge`: merges REF into the current branch and updates the working files. Refuses on a dirty tree. Fast-
 * forwards when possible (unless `noFf`); otherwise writes a two-parent merge commit. On conflict nothing changes:
 * not the working tree, not the refs.
 */
export async function mergeIntoWorktree(
  repo: Repository,
  spec: string,
  opts: { message?: string; noFf?: boolean; strategy?: MergeStrategy; author?: string; annotations?: Annotations; now?: Date } = {},
): Promise<MergeOutcome> {
  return repo.lock.run(async () => {
    const theirs = await repo.resolve(spec);
    const head = await repo.head();
    const wc = await WorkingCopy.open(repo);
    try {
      const headTree = head.commit ? (await repo.readCommit(head.commit)).tree : undefined;
      const { changes } = await wc.changes(headTree);
      const dirty = changes.filter((c) => c.status !== 'added');
      if (dirty.length) throw new FailedPreconditionError(`working tree has uncommitted changes (${dirty[0].path}); commit them before merging`);

      if (head.commit && (await isAncestor(repo, theirs, head.commit))) return { kind: 'up-to-date', commit: head.commit, conflicts: [] };

      const theirTree = (await repo.readCommit(theirs)).tree;
      const ff = !head.commit || (await isAncestor(repo, head.commit, theirs));
      let commit: CommitId;
      let tree: TreeId;
      let kind: MergeOutcome['kind'];
      if (ff && !(opts.noFf && head.commit)) {
        commit = theirs;
        tree = theirTree;
        kind = 'fast-forward';
      } else {
        let merged: MergeResult;
        if (ff) merged = { tree: { id: theirTree, size: 0 }, conflicts: [] };
        else merged = await mergeCommitTrees(repo, head.commit!, theirs, opts.strategy);
        if (!merged.tree) return { kind: 'conflict', conflicts: merged.conflicts };
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
      await wc.moveTo(headTree, tree, { forceHint: '' });
      await repo.advanceHead(head, commit);
      await wc.cache.save();
      return { kind, commit, conflicts: [] };
    } finally {
      await wc.close();
    }
  });
}
