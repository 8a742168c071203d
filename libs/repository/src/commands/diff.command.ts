import { CommitId, diffTrees, FileMode, fileMode, pairExactRenames, recordFormatOf, rowDiff, RowDiff, TreeChange, TreeId } from '@tributary/core';
import { Repository } from '../repository';
import { ProgressCallback } from '../worktree/snapshot';
import { WorkingCopy } from '../worktree/working-copy';
import { shortCommit } from '../worktree/worktree-base';

export interface PathDiff {
  /** The path (for a rename, the new one). */
  readonly path: string;
  /** `renamed`: a file or symlink removed at `oldPath` and added at `path` with the same content (git's R100). */
  readonly status: TreeChange['status'] | 'renamed';
  readonly oldPath?: string;
  readonly oldSize?: number;
  readonly newSize?: number;
  /** A file, an executable file or a symlink on each side (undefined where the path is absent). */
  readonly oldMode?: FileMode;
  readonly newMode?: FileMode;
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
  const to = b ?? 'working tree';
  const treeOf = async (rev: string) => (await repo.readCommit(await repo.resolve(rev))).tree;
  const work = b === undefined ? await workingTree(repo, opts.onProgress) : undefined;
  // The working files against what they are at (HEAD's commit, unless another working copy has moved it since).
  const from = a ?? (work && work.at !== work.head ? shortCommit(work.at) : 'HEAD');
  const fromTree = a !== undefined ? await treeOf(a) : work ? work.atTree : await repo.treeOf((await repo.head()).commit);
  const toTree = work ? work.tree : await treeOf(b!);
  const changes: PathDiff[] = [];
  const readsBefore = repo.objects.stats.gets;
  const treeChanges: TreeChange[] = [];
  for await (const c of diffTrees(repo.objects, fromTree, toTree)) treeChanges.push(c);
  for (const c of pairRenames(treeChanges)) {
    let rows: RowDiff | undefined;
    const oldFile = c.old?.kind === 'file' ? c.old : undefined;
    const newFile = c.new?.kind === 'file' ? c.new : undefined;
    // A mode change alone leaves the records as they were: no row diff to show.
    const sameContent = oldFile !== undefined && oldFile.id === newFile?.id;
    if (opts.rows && c.status !== 'renamed' && recordFormatOf(c.path) && (oldFile || newFile) && !sameContent) {
      rows = await rowDiff(repo.objects, c.path, oldFile, newFile, { maxDistinct: opts.maxRows });
    }
    changes.push({
      path: c.path,
      status: c.status,
      ...(c.oldPath !== undefined ? { oldPath: c.oldPath } : {}),
      oldSize: c.old?.size,
      newSize: c.new?.size,
      oldMode: fileMode(c.old),
      newMode: fileMode(c.new),
      rows,
    });
  }
  return { from, to, changes, objectsRead: repo.objects.stats.gets - readsBefore };
}

type PairedChange = Omit<TreeChange, 'status'> & { readonly status: PathDiff['status']; readonly oldPath?: string };

/** The changes with each exact rename (pairExactRenames) as one `renamed` change at its new path, in path order. */
function pairRenames(changes: readonly TreeChange[]): PairedChange[] {
  const pairs = pairExactRenames(changes);
  const moved = new Set(pairs.values());
  const out: PairedChange[] = [];
  for (const c of changes) {
    const source = pairs.get(c);
    if (source) out.push({ path: c.path, status: 'renamed', oldPath: source.path, old: source.old, new: c.new });
    else if (!moved.has(c)) out.push(c);
  }
  return out;
}

/**
 * The working tree as a tree (its new objects stored for reuse by the next commit), with HEAD's commit and the one
 * the working files are at, under the repository lock.
 */
async function workingTree(
  repo: Repository,
  onProgress?: ProgressCallback,
): Promise<{ tree: TreeId; head?: CommitId; at?: CommitId; atTree?: TreeId }> {
  return repo.lock.run(async () => {
    const headState = await repo.head();
    const head = headState.commit;
    const wc = await WorkingCopy.open(repo, headState);
    try {
      const at = wc.at.commit;
      const atTree = await repo.treeOf(at);
      const s = await wc.snapshot({ previousTree: atTree, onProgress });
      await repo.objects.flush();
      await wc.cache.save();
      return { tree: s.tree, head, at, atTree };
    } finally {
      await wc.close();
    }
  });
}
