import { Commit, CommitId } from '@tributary/core';

export interface CommitReader {
  readCommit(id: CommitId): Promise<Commit>;
}

/** Newest first by commit time, ties broken by id so the order is stable. */
class CommitQueue {
  private items: { id: CommitId; commit: Commit }[] = [];
  push(id: CommitId, commit: Commit): void {
    const items = this.items;
    let lo = 0;
    let hi = items.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const m = items[mid];
      if (m.commit.time > commit.time || (m.commit.time === commit.time && m.id > id)) lo = mid + 1;
      else hi = mid;
    }
    items.splice(lo, 0, { id, commit });
  }
  shift(): { id: CommitId; commit: Commit } | undefined {
    return this.items.shift();
  }
  some(test: (id: CommitId) => boolean): boolean {
    return this.items.some((i) => test(i.id));
  }
  get size(): number {
    return this.items.length;
  }
}

/** Every commit reachable from `starts`, newest first, following all parents; each commit once. */
export async function* walkCommits(repo: CommitReader, starts: readonly CommitId[]): AsyncGenerator<{ id: CommitId; commit: Commit }> {
  const seen = new Set<CommitId>();
  const queue = new CommitQueue();
  for (const s of starts) {
    if (seen.has(s)) continue;
    seen.add(s);
    queue.push(s, await repo.readCommit(s));
  }
  for (let next = queue.shift(); next; next = queue.shift()) {
    yield next;
    for (const p of next.commit.parents) {
      if (seen.has(p)) continue;
      seen.add(p);
      queue.push(p, await repo.readCommit(p));
    }
  }
}

/**
 * True when `ancestor` is reachable from `descendant` (or equal). Walks both histories together (paintDown), so
 * the cost follows the commits since the two met or forked, and clocks that disagree, however far (an edge device
 * whose clock runs days behind), only change the order of the walk, never the answer.
 */
export async function isAncestor(repo: CommitReader, ancestor: CommitId, descendant: CommitId): Promise<boolean> {
  if (ancestor === descendant) return true;
  return (await paintDown(repo, ancestor, descendant, { untilAReached: true })) === 'reached';
}

/**
 * The best common ancestors of `a` and `b`: the common ancestors that are not ancestors of another one, newest
 * first; empty for unrelated histories. Usually one; two or more after criss-cross merges (each side merged the
 * other), where a merge from any single one of them could silently drop what the other side resolved.
 */
export async function mergeBases(repo: CommitReader, a: CommitId, b: CommitId): Promise<CommitId[]> {
  if (a === b) return [a];
  const candidates = (await paintDown(repo, a, b, { untilAReached: false })) as CommitId[];
  if (candidates.length < 2) return candidates;
  // A candidate that is an ancestor of another (possible when a clock ran behind) is dropped.
  const best: CommitId[] = [];
  for (const c of candidates) {
    const others = candidates.filter((o) => o !== c);
    if (!(await anyAsync(others, (o) => isAncestor(repo, c, o)))) best.push(c);
  }
  return best;
}

/**
 * Git's paint-down-to-common. Walks `a`'s and `b`'s histories together, newest first, flagging each commit with
 * the side it is reached from. A commit reached from both is a common ancestor (a candidate) and everything beneath
 * it is marked stale; the walk ends once only stale commits are queued, so its cost follows the commits since the
 * fork, not the whole history (unrelated histories are walked whole). A commit of `b`'s side can never be stale
 * while `a` is beneath it unreached, so with `untilAReached` the answer 'reached' (a is an ancestor of b) is never
 * missed. Commit times only order the walk: a parent stamped after its child is walked again once its flags grow.
 */
async function paintDown(repo: CommitReader, a: CommitId, b: CommitId, opts: { untilAReached: boolean }): Promise<CommitId[] | 'reached'> {
  const A = 1;
  const B = 2;
  const STALE = 4;
  const flags = new Map<CommitId, number>([[a, A]]);
  flags.set(b, (flags.get(b) ?? 0) | B);
  const queue = new CommitQueue();
  queue.push(a, await repo.readCommit(a));
  queue.push(b, await repo.readCommit(b));
  const popped = new Set<CommitId>();
  const candidates: CommitId[] = [];
  const live = (id: CommitId) => !(flags.get(id)! & STALE);
  while (queue.some(live)) {
    const next = queue.shift()!;
    let f = flags.get(next.id)!;
    if ((f & (A | B)) === (A | B) && !(f & STALE)) {
      candidates.push(next.id);
      f |= STALE;
      flags.set(next.id, f);
    }
    popped.add(next.id);
    for (const p of next.commit.parents) {
      const pf = flags.get(p);
      if (opts.untilAReached && p === a && f & B) return 'reached';
      if (pf === undefined) {
        flags.set(p, f);
        queue.push(p, await repo.readCommit(p));
      } else if ((pf | f) !== pf) {
        flags.set(p, pf | f);
        // Clock skew can make a parent look newer than its child; revisit it so its new flags propagate.
        if (popped.delete(p)) queue.push(p, await repo.readCommit(p));
      }
    }
  }
  return candidates;
}

async function anyAsync<T>(items: readonly T[], test: (item: T) => Promise<boolean>): Promise<boolean> {
  for (const item of items) if (await test(item)) return true;
  return false;
}
