import { CommitId, diffTrees, TreeChange } from '@tributary/core';
import { HeadState, Repository } from '../repository';
import { ProgressCallback } from '../worktree/snapshot';
import { WorkingCopy } from '../worktree/working-copy';
import { firstChangeNotHeld } from '../worktree/worktree-base';

export interface WorktreeStatus {
  readonly head: HeadState;
  /** The commit the working files are at (see WorktreeBase); HEAD's commit unless another working copy moved it. */
  readonly at: CommitId | undefined;
  /** HEAD's branch has moved on past `at`, and the files do not hold what it brought: `trib switch` takes it. */
  readonly behind: boolean;
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
    const wc = await WorkingCopy.open(repo);
    try {
      const at = wc.at(head.commit);
      const atTree = await repo.treeOf(at);
      const { snapshot, changes } = await wc.changes(atTree, opts);
      await wc.cache.save();
      if (at === head.commit) return { head, at, behind: false, changes };
      const headTree = await repo.treeOf(head.commit);
      if ((await firstChangeNotHeld(repo.objects, atTree, headTree, snapshot.tree)) !== undefined) return { head, at, behind: true, changes };
      await wc.recordBase(head.commit);
      const sinceHead: TreeChange[] = [];
      for await (const c of diffTrees(repo.objects, headTree, snapshot.tree)) sinceHead.push(c);
      return { head, at: head.commit, behind: false, changes: sinceHead };
    } finally {
      await wc.close();
    }
  });
}
