import { CommitId, UnavailableError } from '@tributary/core';
import { Repository } from '@tributary/repository';
import { PublishSummary, TopicPublisher } from '../backlog-publisher';

/**
 * A broker stand-in for specs: one topic's log, kept in memory. A publish appends the first-parent chain of the
 * commit that the log lacks, oldest first, and answers as the broker does. While `up` is false every publish fails
 * UNAVAILABLE, as an unreachable broker would.
 */
export class InMemoryTopicLog implements TopicPublisher {
  readonly log: CommitId[] = [];
  /** Publishes asked for, failed ones included. */
  calls = 0;

  constructor(public up = true) {}

  async publishCommit(repo: Repository, _topic: string, commit: CommitId): Promise<PublishSummary> {
    this.calls++;
    if (!this.up) throw new UnavailableError('broker unreachable');
    const chain: CommitId[] = [];
    for (let id: CommitId | undefined = commit; id && !this.log.includes(id); ) {
      chain.unshift(id);
      id = (await repo.readCommit(id)).parents[0];
    }
    const seqFrom = this.log.length + 1;
    this.log.push(...chain);
    return { commits: chain.length, seqFrom, seqTo: this.log.length, head: this.log[this.log.length - 1] ?? null };
  }
}
