import { TreeEntry } from '../objects/object-types';
import { TreeChange } from './tree-diff';

/**
 * Pairs each added path with a removed one of the same content (kind and id), as git's rename detection does for
 * an exact match: a file moved without a change. Several alike pair in path order; empty files, all alike, are
 * never paired. Returns the added change of each pair mapped to its removed one. Costs a map of the removed paths,
 * nothing read.
 */
export function pairExactRenames(changes: readonly TreeChange[]): Map<TreeChange, TreeChange> {
  const key = (e: TreeEntry) => `${e.kind}:${e.id}`;
  const removed = new Map<string, TreeChange[]>();
  for (const c of changes) {
    if (c.status !== 'removed' || !c.old || c.old.size === 0) continue;
    const list = removed.get(key(c.old));
    if (list) list.push(c);
    else removed.set(key(c.old), [c]);
  }
  const pairs = new Map<TreeChange, TreeChange>();
  if (removed.size === 0) return pairs;
  for (const c of changes) {
    if (c.status !== 'added' || !c.new || c.new.size === 0) continue;
    const source = removed.get(key(c.new))?.shift();
    if (source) pairs.set(c, source);
  }
  return pairs;
}
