import { CommitId } from '@tributary/core';
import { CommitReader } from '@tributary/repository';

/** The annotation that records which batch a commit ingested: sha256 of the batch file's bytes. */
export const BATCH_SHA256 = 'trib.batch.sha256';
export const BATCH_NAME = 'trib.batch.name';
export const REGION = 'trib.region';

/** How many first-parent commits back from the branch head a batch counts as already committed. */
export const RECENT_BATCH_WINDOW = 1000;

/**
 * The batches committed in the last RECENT_BATCH_WINDOW commits of a branch's first-parent history, by sha256.
 *
 * The truth is the history itself; this is a cache of it, checked against the head on every lookup: it walks from
 * the head given back to the head it last saw (normally zero or one commit, because the caller records its own
 * commits), and rebuilds from scratch when the branch moved elsewhere. So a process restart costs one walk of the
 * window, and each batch after that O(1) commit reads.
 */
export class RecentBatches {
  private head: CommitId | undefined;
  /** Newest first, at most RECENT_BATCH_WINDOW. */
  private entries: { commit: CommitId; sha?: string }[] = [];
  private bySha = new Map<string, CommitId>();
  private synced = false;

  constructor(private readonly window = RECENT_BATCH_WINDOW) {}

  /** The newest commit within the window of `head`'s first-parent history that ingested the batch `sha`. */
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
    const fresh: { commit: CommitId; sha?: string }[] = [];
    let id = head;
    while (id !== undefined && fresh.length < this.window && !(this.synced && id === this.head)) {
      const c = await repo.readCommit(id);
      fresh.push({ commit: id, sha: c.annotations[BATCH_SHA256] });
      id = c.parents[0];
    }
    const joined = this.synced && id === this.head && id !== undefined;
    this.entries = joined ? fresh.concat(this.entries) : fresh;
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
