/** A pack as the merge plan sees it: only its size matters. */
export interface SizedPack<T> {
  readonly pack: T;
  readonly bytes: number;
}

export interface PackMergeRule {
  /** Packs at least this large are left alone (a merge writes packs up to the database's target size). */
  readonly maxPackBytes: number;
  /** Fewer mergeable packs than this are left alone, so a merge is always worth its rewrite. */
  readonly minPacks: number;
}

/**
 * Which packs to merge into one, so that a store written one small pack per commit keeps few packs without
 * rewriting the same bytes over and over (a lookup costs one index search per pack).
 *
 * Geometric, as in git's `repack --geometric=2`: sorted by size, every pack smaller than twice the sum of the packs
 * smaller than it joins the merge. What is left over forms a progression in which each pack is at least twice all
 * smaller ones together, so n bytes end up in O(log n) packs and each byte is rewritten O(log n) times.
 */
export function packsToMerge<T>(packs: readonly SizedPack<T>[], rule: PackMergeRule): T[] {
  const small = packs.filter((p) => p.bytes < rule.maxPackBytes).sort((a, b) => a.bytes - b.bytes);
  let smaller = 0;
  let take = 0;
  for (let i = 0; i < small.length; i++) {
    if (small[i].bytes < 2 * smaller) take = i + 1;
    smaller += small[i].bytes;
  }
  // The smallest pack never has smaller ones: it goes with the second whenever that one goes.
  if (take === 1) take = 0;
  if (take < rule.minPacks) return [];
  return small.slice(0, take).map((p) => p.pack);
}
