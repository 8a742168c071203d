import { CommitId, sleep } from '@tributary/core';
import { crashPoint, Repository } from '@tributary/repository';

/** What the publisher needs from a sync client (SyncClient from @tributary/sync fits). */
export interface TopicPublisher {
  /** Publishes `commit` (already resolved: the publisher has just read HEAD) and its backlog to `topic`. */
  publishCommit(repo: Repository, topic: string, commit: CommitId): Promise<PublishSummary>;
}

export interface PublishSummary {
  readonly commits: number;
  readonly seqFrom: number;
  readonly seqTo: number;
  readonly head: CommitId | null;
  /** Payload bytes of the objects sent, when the client reports them. */
  readonly wireBytes?: number;
}

export interface BacklogPublisherOptions {
  readonly onPublished?: (r: PublishSummary) => void;
  /** A failed publish, and how long until the next try. */
  readonly onError?: (e: unknown, retryInMs: number) => void;
  readonly minBackoffMs?: number;
  readonly maxBackoffMs?: number;
}

/**
 * Publishes a repository's HEAD to a topic whenever asked (`kick`), one publish at a time. Each publish sends every
 * commit of HEAD's first-parent chain the topic lacks, in order, so the whole backlog goes out in one call and a
 * commit is never skipped. While the broker is unreachable (or refuses) it retries with exponential backoff, and the
 * caller keeps committing meanwhile; a kick during a backoff does not cut it short.
 */
export class BacklogPublisher {
  private dirty = false;
  private running: Promise<void> | undefined;
  private published: CommitId | undefined;
  /** Aborted by stop: ends a backoff in progress, and any started after. */
  private readonly stopping = new AbortController();
  private readonly minBackoff: number;
  private readonly maxBackoff: number;

  constructor(
    private readonly repo: Repository,
    private readonly client: TopicPublisher,
    readonly topic: string,
    private readonly opts: BacklogPublisherOptions = {},
  ) {
    this.minBackoff = opts.minBackoffMs ?? 100;
    this.maxBackoff = opts.maxBackoffMs ?? 5000;
  }

  /** The newest commit the broker has acknowledged, as far as this process knows. */
  get lastPublished(): CommitId | undefined {
    return this.published;
  }

  /** Asks for HEAD to be published (soon, or after the current publish or backoff). */
  kick(): void {
    if (this.stopping.signal.aborted) return;
    this.dirty = true;
    if (!this.running) this.running = this.loop().finally(() => (this.running = undefined));
  }

  /** Resolves once nothing is left to publish (or `stop` was called). */
  async drain(): Promise<void> {
    while (this.running) await this.running;
  }

  stop(): void {
    this.stopping.abort();
  }

  private async loop(): Promise<void> {
    let backoff = this.minBackoff;
    while (this.dirty && !this.stopping.signal.aborted) {
      this.dirty = false;
      try {
        const head = (await this.repo.head()).commit;
        if (!head || head === this.published) continue;
        crashPoint('agent.before-publish');
        const r = await this.client.publishCommit(this.repo, this.topic, head);
        this.published = r.head ?? head;
        backoff = this.minBackoff;
        this.opts.onPublished?.(r);
        // HEAD may have moved during the publish: look again (a cheap ref read when it did not).
        this.dirty = true;
      } catch (e) {
        this.dirty = true;
        const wait = Math.round(backoff * (0.75 + Math.random() / 2));
        this.opts.onError?.(e, wait);
        await sleep(wait, this.stopping.signal);
        backoff = Math.min(this.maxBackoff, backoff * 2);
      }
    }
  }

}
