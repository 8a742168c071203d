import { Commit, CommitId, NotFoundError, sha256 } from '@tributary/core';
import { CommitReader } from '../history/commit-walk';

/**
 * Commits by id in memory, for specs of code that walks history (pure logic: no store). Counts reads, so a spec can
 * check how far back a walk went; `head` is the last commit added.
 */
export class MemoryCommits implements CommitReader {
  readonly commits = new Map<CommitId, Commit>();
  reads = 0;
  head: CommitId | undefined;

  /**
   * Adds a commit with the given fields over dull defaults (parents: `head`, or none), under `id` or else an id
   * unique to this history, and makes it `head`.
   */
  add(fields: Partial<Commit> = {}, id?: string): CommitId {
    const commit: Commit = {
      tree: sha256(Buffer.from('tree')),
      parents: this.head ? [this.head] : [],
      author: 'a',
      time: '2026-01-01T00:00:00.000Z',
      message: 'm',
      annotations: {},
      ...fields,
    } as Commit;
    const key = (id ?? sha256(Buffer.from(`${this.commits.size} ${JSON.stringify(commit)}`))) as CommitId;
    this.commits.set(key, commit);
    this.head = key;
    return key;
  }

  async readCommit(id: CommitId): Promise<Commit> {
    this.reads++;
    const c = this.commits.get(id);
    if (!c) throw new NotFoundError(`no commit ${id} in this history`);
    return c;
  }
}
