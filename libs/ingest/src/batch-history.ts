import { CommitId } from '@tributary/core';
import { CommitReader } from '@tributary/repository';

/** The annotation that records which batch a commit ingested: sha256 of the batch file's bytes. */
export const BATCH_SHA256 = 'trib.batch.sha256';
export const BATCH_NAME = 'trib.batch.name';
export const REGION = 'trib.region';

/** How many commits back from the branch head (nearest first, see RecentBatches) a batch counts as already committed. */
export const RECENT_BATCH_WINDOW = 1000;

type Entry = { commit: CommitId; sha?: string };

/**
 * The batches committed in the RECENT_BATCH_WINDOW commits nearest a branch's head, by sha256. Nearest: by how many
 * parent steps back a commit is, first parents first at equal distance; on a linear history, the last
 * RECENT_BATCH_WINDOW commits. Both parents count because a topic-head merge (mergeTopicHead) puts the agent's own
 * history, its latest batches, on the second parent.
 *
 * The truth is the history itself; this is a cache of it, checked against the head on every lookup: it walks from
 * the head given back to the head it last saw (normally zero or one commit, because the caller records its own
 * commits), and walks the window afresh when the branch moved elsewhere or through a merge. So a process restart or a
 * merge costs one walk of the window, at most RECENT_BATCH_WINDOW commit reads, and each batch after that O(1).
 */
export class RecentBatches {
  private head: CommitId | undefined;
  /** Nearest first, at most RECENT_BATCH_WINDOW. */
  private entries: Entry[] = [];
  private bySha = new Map<string, CommitId>();
  private synced = false;

  constructor(private readonly window = RECENT_BATCH_WINDOW) {}

  /** The nearest commit within the window of `head`'s history that ingested the batch `sha`. */
  async find(repo: CommitReader, head: CommitId | undefined, sha: string): Promise<CommitId | undefined> {
    await this.sync(repo, head);
    return this.bySha.get(sha);
  }

  /** Notes a commit the caller just made on top of `parent` (the head it read), without reading it back. */
  record(parent: CommitId | undefined, commit: CommitId, sha: string): void {
    if (!this.synced || parent !== this.head) {
      this.synced = false;
      return;
    }
    this.entries.unshift({ commit, sha });
    this.head = commit;
    this.reindex();
  }

  private async sync(repo: CommitReader, head: CommitId | undefined): Promise<void> {
    if (this.synced && head === this.head) return;
    // A commit of one parent is nearer than everything beneath it, so commits of one parent each on top of the head
    // seen last go before its entries; a merge on the way is walked afresh, both sides of it.
    const fresh: Entry[] = [];
    let id = head;
    let merge: { entry: Entry; parents: readonly CommitId[] } | undefined;
    while (id !== undefined && fresh.length < this.window && !(this.synced && id === this.head)) {
      const c = await repo.readCommit(id);
      if (c.parents.length > 1) {
        merge = { entry: { commit: id, sha: c.annotations[BATCH_SHA256] }, parents: c.parents };
        break;
      }
      fresh.push({ commit: id, sha: c.annotations[BATCH_SHA256] });
      id = c.parents[0];
    }
    if (merge) this.entries = fresh.concat(await nearest(repo, merge.entry, merge.parents, this.window - fresh.length));
    else this.entries = this.synced && id === this.head && id !== undefined ? fresh.concat(this.entries) : fresh;
    this.head = head;
    this.synced = true;
    this.reindex();
  }

  private reindex(): void {
    if (this.entries.length > this.window) this.entries.length = this.window;
    this.bySha = new Map();
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const e = this.entries[i];
      if (e.sha) this.bySha.set(e.sha, e.commit);
    }
  }
}

/** `from` (already read) and the commits nearest it, breadth-first through every parent: `limit` in all, so fewer reads. */
async function nearest(repo: CommitReader, from: Entry, parents: readonly CommitId[], limit: number): Promise<Entry[]> {
  const out: Entry[] = [from];
  const queue = [...parents];
  const seen = new Set<CommitId>([from.commit, ...parents]);
  for (let next = 0; next < queue.length && out.length < limit; next++) {
    const c = await repo.readCommit(queue[next]);
    out.push({ commit: queue[next], sha: c.annotations[BATCH_SHA256] });
    for (const p of c.parents) {
      if (!seen.has(p)) {
        seen.add(p);
        queue.push(p);
      }
    }
  }
  return out;
}
