import { diffTrees, recordFormatOf, rowDiff, RowDiff, TreeChange, TreeId } from '@tributary/core';
import { Repository } from '../repository';
import { ProgressCallback } from '../worktree/snapshot';
import { WorkingCopy } from '../worktree/working-copy';

export interface PathDiff {
  readonly path: string;
  readonly status: TreeChange['status'];
  readonly oldSize?: number;
  readonly newSize?: number;
  /** Row-level changes, for `.csv` and `.jsonl` files when asked for. */
  readonly rows?: RowDiff;
}

export interface DiffOutcome {
  readonly from: string;
  readonly to: string;
  readonly changes: PathDiff[];
  /** Objects read to compute the diff between the two trees (not counting the working-tree snapshot). */
  readonly objectsRead: number;
}

/**
 * `trib diff`, as `git diff`: no revision compares HEAD with the working tree, one compares A with the working tree,
 * two compare A with B. Cost follows the changed paths: equal subtrees are never read, and row diffs of appended
 * files read only the appended part.
 */
export async function diffRevisions(
  repo: Repository,
  a?: string,
  b?: string,
  /** `onProgress`: for the working tree (no `b`), the bytes hashed so far of those that need it. */
  opts: { rows?: boolean; maxRows?: number; onProgress?: ProgressCallback } = {},
): Promise<DiffOutcome> {
  const from = a ?? 'HEAD';
  const to = b ?? 'working tree';
  const treeOf = async (rev: string) => (await repo.readCommit(await repo.resolve(rev))).tree;
  const fromTree = a === undefined ? await repo.treeOf((await repo.head()).commit) : await treeOf(a);
  const toTree = b === undefined ? await workingTree(repo, opts.onProgress) : await treeOf(b);
  const changes: PathDiff[] = [];
  const readsBefore = repo.objects.stats.gets;
  for await (const c of diffTrees(repo.objects, fromTree, toTree)) {
    let rows: RowDiff | undefined;
    const oldFile = c.old?.kind === 'file' ? c.old : undefined;
    const newFile = c.new?.kind === 'file' ? c.new : undefined;
    if (opts.rows && recordFormatOf(c.path) && (oldFile || newFile)) {
      rows = await rowDiff(repo.objects, c.path, oldFile, newFile, { maxDistinct: opts.maxRows });
    }
    changes.push({ path: c.path, status: c.status, oldSize: c.old?.size, newSize: c.new?.size, rows });
  }
  return { from, to, changes, objectsRead: repo.objects.stats.gets - readsBefore };
}

/** The working tree as a tree (its new objects stored for reuse by the next commit), under the repository lock. */
async function workingTree(repo: Repository, onProgress?: ProgressCallback): Promise<TreeId> {
  const headTree = await repo.treeOf((await repo.head()).commit);
  return repo.lock.run(async () => {
    const wc = await WorkingCopy.open(repo);
    try {
      const s = await wc.snapshot({ previousTree: headTree, onProgress });
      await repo.objects.flush();
      await wc.cache.save();
      return s.tree;
    } finally {
      await wc.close();
    }
  });
}
