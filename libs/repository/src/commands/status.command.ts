import { CommitId, diffTrees, TreeChange } from '@tributary/core';
import { HeadState, Repository } from '../repository';
import { ProgressCallback } from '../worktree/snapshot';
import { WorkingCopy } from '../worktree/working-copy';
import { staleWorktree } from '../worktree/worktree-base';

export interface WorktreeStatus {
  readonly head: HeadState;
  /** The commit the working files are at (see WorktreeBase); HEAD's commit unless another working copy moved it. */
  readonly at: CommitId | undefined;
  /** The branch the working files were last made to match (see WorktreeBase); undefined for a detached HEAD's. */
  readonly atBranch: string | undefined;
  /**
   * Why the files cannot be committed on HEAD as they are (another working copy of the store switched HEAD, or
   * moved its branch on), and how to take it; undefined when they can.
   */
  readonly stale?: string;
  /** The working files against `at`: the local changes. */
  readonly changes: TreeChange[];
}

/**
 * The working files against the commit they are at, under the repository lock. Files that already hold every change
 * HEAD's branch brought since (made here by a commit cut short, say) count as at HEAD, which is recorded.
 */
export async function worktreeStatus(repo: Repository, opts: { onProgress?: ProgressCallback } = {}): Promise<WorktreeStatus> {
  return repo.lock.run(async () => {
    const head = await repo.head();
    const wc = await WorkingCopy.open(repo, head);
    try {
      const base = wc.at;
      const atTree = await repo.treeOf(base.commit);
      const { snapshot, changes } = await wc.changes(atTree, opts);
      await wc.cache.save();
      const stale = await staleWorktree(repo, head, base, snapshot.tree);
      if (stale) return { head, at: base.commit, atBranch: base.branch, stale, changes };
      if (base.commit === head.commit) return { head, at: base.commit, atBranch: base.branch, changes };
      await wc.recordBase(head.commit, head.branch);
      const headTree = await repo.treeOf(head.commit);
      const sinceHead: TreeChange[] = [];
      for await (const c of diffTrees(repo.objects, headTree, snapshot.tree)) sinceHead.push(c);
      return { head, at: head.commit, atBranch: head.branch, changes: sinceHead };
    } finally {
      await wc.close();
    }
  });
}
