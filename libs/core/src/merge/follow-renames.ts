import { TreeId } from '../ids/ids';
import { pairExactRenames } from '../diff/exact-renames';
import { diffTrees, sameEntry, TreeChange } from '../diff/tree-diff';
import { TreeEntry } from '../objects/object-types';
import { ObjectSink, ObjectSource } from '../objects/object-source';
import { editPath } from '../objects/tree-path-edit';
import { lookupPath } from '../objects/tree-reader';
import { comparePaths } from '../objects/tree.codec';
import { MergeConflict, MergeOptions, MergeResult, mergeTrees } from './tree-merge';

/**
 * mergeTrees from `base`, following the files one side moved without changing them (followExactRenames): a
 * change to the old path lands at the new one. A `rename/rename` or `rename/delete` conflict is reported with the
 * others, and without a strategy leaves no tree, as any conflict does.
 */
export async function mergeFollowingRenames(
  src: ObjectSource,
  sink: ObjectSink,
  base: TreeId,
  ours: TreeId,
  theirs: TreeId,
  opts: MergeOptions = {},
): Promise<MergeResult> {
  const trees = await followExactRenames(src, sink, { base, ours, theirs }, opts.strategy);
  const merged = await mergeTrees(src, sink, trees.base, trees.ours, trees.theirs, opts);
  if (trees.conflicts.length === 0) return merged;
  const conflicts = [...merged.conflicts, ...trees.conflicts].sort((a, b) => comparePaths(a.path, b.path));
  return opts.strategy && merged.tree ? { tree: merged.tree, conflicts } : { conflicts };
}

/** The three trees a merge should join once renames are followed, and the renames it cannot follow. */
export interface RenamesFollowed {
  readonly base: TreeId;
  readonly ours: TreeId;
  readonly theirs: TreeId;
  /**
   * At the old path, `rename/rename`: both sides moved it, to different paths; `rename/delete`: one side moved it,
   * the other deleted it. Settled when a strategy is given.
   */
  readonly conflicts: MergeConflict[];
}

type Side = 'ours' | 'theirs';

/**
 * Lets a path-by-path three-way merge follow files that one side moved without changing them (git's exact renames,
 * pairExactRenames), by moving the file in the other trees too before the merge:
 *
 * - One side moved P to Q, the other changed P: base and the other side are rewritten with P at Q, so the merge
 *   takes the change at Q (a one-sided change, or a row union of appends) instead of a modify/delete conflict that
 *   a strategy would settle by losing the change, or keeping two copies.
 * - Both moved P, to different paths: a `rename/rename` conflict at P. A strategy settles it by moving the file in
 *   the other side to its side's path, so the merge holds one copy, not two.
 * - One side moved P to Q, the other deleted it: a `rename/delete` conflict at P, as keeping the file at Q would
 *   undo the deletion, and dropping it the move. A strategy settles it with its side's result: the file at Q, or
 *   no file (for the deleting side's, Q is dropped from the moving side's tree before the merge, unless the
 *   deleting side changed Q too: the merge then settles Q as any path both sides changed, and lists it).
 * - Both moved P to the same path: nothing to do; the merge agrees.
 *
 * Cost follows the changes: the two diffs against base, and a path edit for each rename followed. The rewritten
 * trees are written to `sink`, so that the merged tree, which reuses their unchanged nodes, can be read back.
 */
export async function followExactRenames(
  src: ObjectSource,
  sink: ObjectSink,
  trees: { base: TreeId; ours: TreeId; theirs: TreeId },
  strategy?: Side,
): Promise<RenamesFollowed> {
  const changes = { ours: await collect(diffTrees(src, trees.base, trees.ours)), theirs: await collect(diffTrees(src, trees.base, trees.theirs)) };
  const renames = { ours: renamesOf(changes.ours), theirs: renamesOf(changes.theirs) };
  const out = { ...trees };
  const conflicts: MergeConflict[] = [];
  const edit = async (side: 'base' | Side, path: string, entry: Omit<TreeEntry, 'name'> | undefined) => {
    out[side] = (await editPath(src, sink, out[side], path, entry)).id;
  };
  const move = async (side: 'base' | Side, from: string, to: string) => {
    const entry = await lookupPath(src, out[side], from);
    if (!entry) return;
    const { name: _name, ...rest } = entry;
    await edit(side, from, undefined);
    await edit(side, to, rest);
  };
  const unchangedAt = async (side: Side, path: string) => sameEntry(await lookupPath(src, out[side], path), await lookupPath(src, out.base, path));
  for (const side of ['ours', 'theirs'] as const) {
    const other: Side = side === 'ours' ? 'theirs' : 'ours';
    const otherByPath = new Map(changes[other].map((c) => [c.path, c]));
    for (const [from, to] of renames[side]) {
      const theirChange = otherByPath.get(from);
      if (!theirChange) continue;
      if (theirChange.status === 'modified' && !otherByPath.has(to)) {
        await move('base', from, to);
        await move(other, from, to);
        continue;
      }
      const otherTo = renames[other].get(from);
      if (theirChange.status === 'removed' && otherTo === undefined) {
        conflicts.push({ path: from, kind: 'rename/delete' });
        if (strategy === other && (await unchangedAt(other, to))) await edit(side, to, undefined);
        continue;
      }
      // Seen from both sides: settled once, from ours'.
      if (side !== 'ours' || theirChange.status !== 'removed' || otherTo === undefined || otherTo === to) continue;
      conflicts.push({ path: from, kind: 'rename/rename' });
      if (strategy === 'ours') await move('theirs', otherTo, to);
      else if (strategy === 'theirs') await move('ours', to, otherTo);
    }
  }
  return { ...out, conflicts };
}

/** A side's exact renames, old path to new. */
function renamesOf(changes: readonly TreeChange[]): Map<string, string> {
  const renames = new Map<string, string>();
  for (const [added, removed] of pairExactRenames(changes)) renames.set(removed.path, added.path);
  return renames;
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}
