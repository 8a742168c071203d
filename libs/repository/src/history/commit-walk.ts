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
 * How far a commit's clock may run behind its parent's and still be walked past: commits are ordered by their
 * authors' clocks, which disagree between machines.
 */
export const CLOCK_SKEW_MS = 24 * 60 * 60 * 1000;

/**
 * True when `ancestor` is reachable from `descendant` (or equal). Walks the commits newer than `ancestor`, and those
 * up to CLOCK_SKEW_MS older: a child stamped before its parent by a clock running behind is still seen.
 */
export async function isAncestor(repo: CommitReader, ancestor: CommitId, descendant: CommitId): Promise<boolean> {
  if (ancestor === descendant) return true;
  const oldest = Date.parse((await repo.readCommit(ancestor)).time) - CLOCK_SKEW_MS;
  for await (const { id, commit } of walkCommits(repo, [descendant])) {
    if (id === ancestor) return true;
    if (Date.parse(commit.time) < oldest) return false;
  }
  return false;
}

/**
 * The newest common ancestor of `a` and `b`, or undefined for unrelated histories. Both sides are walked together,
 * newest first, so the cost follows the commits since the fork, not the whole history.
 */
export async function mergeBase(repo: CommitReader, a: CommitId, b: CommitId): Promise<CommitId | undefined> {
  if (a === b) return a;
  const A = 1;
  const B = 2;
  const flags = new Map<CommitId, number>();
  const queue = new CommitQueue();
  flags.set(a, A);
  flags.set(b, (flags.get(b) ?? 0) | B);
  queue.push(a, await repo.readCommit(a));
  queue.push(b, await repo.readCommit(b));
  const popped = new Set<CommitId>();
  for (let next = queue.shift(); next; next = queue.shift()) {
    const f = flags.get(next.id)!;
    if (f === (A | B)) return next.id;
    popped.add(next.id);
    for (const p of next.commit.parents) {
      const pf = flags.get(p);
      if (pf === undefined) {
        flags.set(p, f);
        queue.push(p, await repo.readCommit(p));
      } else if ((pf | f) !== pf) {
        flags.set(p, pf | f);
        // Clock skew can make a parent look newer than its child; revisit it so its new flag propagates.
        if (popped.delete(p)) queue.push(p, await repo.readCommit(p));
      }
    }
  }
  return undefined;
}
