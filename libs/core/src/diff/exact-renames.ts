import { TreeEntry } from '../objects/object-types';
import { TreeChange } from './tree-diff';

/**
 * Pairs each added path with a removed one of the same content (kind and id), as git's rename detection does for
 * an exact match: a file moved without a change. Among several alike, a removed and an added path of the same
 * name pair first (pairAlike); those left pair only when one of each is left, as a guess could move one file's
 * history onto another. Empty files, all alike, are never paired. Returns the added change of each pair mapped to
 * its removed one. Costs a map of the removed paths and of the added ones like them, nothing read.
 */
export function pairExactRenames(changes: readonly TreeChange[]): Map<TreeChange, TreeChange> {
  const key = (e: TreeEntry) => `${e.kind}:${e.id}`;
  const removed = groupBy(changes.filter((c) => c.status === 'removed' && c.old && c.old.size > 0), (c) => key(c.old!));
  const pairs = new Map<TreeChange, TreeChange>();
  if (removed.size === 0) return pairs;
  const added = groupBy(changes.filter((c) => c.status === 'added' && c.new && c.new.size > 0 && removed.has(key(c.new))), (c) => key(c.new!));
  for (const [k, to] of added) for (const [a, r] of pairAlike(removed.get(k)!, to)) pairs.set(a, r);
  return pairs;
}

/** Pairs removed and added paths of one content: by a name each side has one path of, then the one path left on each side. */
function pairAlike(removed: readonly TreeChange[], added: readonly TreeChange[]): [TreeChange, TreeChange][] {
  const removedByName = groupBy(removed, (c) => baseName(c.path));
  const addedByName = groupBy(added, (c) => baseName(c.path));
  const pairs: [TreeChange, TreeChange][] = [];
  for (const [name, from] of removedByName) {
    const to = addedByName.get(name);
    if (from.length === 1 && to?.length === 1) pairs.push([to[0], from[0]]);
  }
  const paired = new Set(pairs.flat());
  const fromLeft = removed.filter((c) => !paired.has(c));
  const toLeft = added.filter((c) => !paired.has(c));
  if (fromLeft.length === 1 && toLeft.length === 1) pairs.push([toLeft[0], fromLeft[0]]);
  return pairs;
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

function groupBy<T>(items: readonly T[], keyOf: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const list = groups.get(keyOf(item));
    if (list) list.push(item);
    else groups.set(keyOf(item), [item]);
  }
  return groups;
}
