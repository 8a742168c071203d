import { CommitId, describeError, FailedPreconditionError, isTribError, MergeConflict, quotePath, sleep } from '@tributary/core';
import { crashPoint, Repository } from '@tributary/repository';
import { mergeTopicHead, TopicMergeOutcome } from './topic-merge';

/** What the publisher needs from a sync client (SyncClient from @tributary/sync fits). */
export interface TopicPublisher {
  /**
   * Publishes `commit` (already resolved: the publisher has just read HEAD) and its backlog to `topic`. `diverged`
   * says that `at`'s history is known not to hold `topicHead`: while that is the topic's head, the publish may be
   * refused as soon as the walk down `commit`'s first parents reaches `at` (PublishOptions in @tributary/sync).
   */
  publishCommit(
    repo: Repository,
    topic: string,
    commit: CommitId,
    opts?: { diverged?: { readonly topicHead: CommitId; readonly at: CommitId } },
  ): Promise<PublishSummary>;
  /**
   * Brings the topic's head, with everything beneath it, into `repo` and returns it (undefined: the topic has no
   * entries), subscribing as `subscriber` if that is the only way. Without it, a publish the broker refuses as not a
   * fast-forward is reported, not repaired.
   */
  fetchTopicHead?(repo: Repository, topic: string, subscriber: string): Promise<CommitId | undefined>;
}

export interface PublishSummary {
  readonly commits: number;
  readonly seqFrom: number;
  readonly seqTo: number;
  readonly head: CommitId | null;
  /** Payload bytes of the objects sent, when the client reports them. */
  readonly wireBytes?: number;
}

/** Why publishing is stuck: what /health shows, until a publish goes through. */
export interface PublishProblem {
  /** One line, naming the topic. */
  readonly message: string;
  /**
   * False for a failure that waiting cures (the broker unreachable: retried with backoff); true for one it does not
   * (a conflict with the topic's head, a refusal): looked at again only every `recheckMs`, or once the topic head
   * moves.
   */
  readonly permanent: boolean;
  /** When this problem (this message) was first seen, ISO 8601. */
  readonly since: string;
  /** The topic head the agent's history conflicts with, and the conflicting paths, for a conflict. */
  readonly topicHead?: CommitId;
  readonly conflicts?: readonly MergeConflict[];
}

/** What the publisher did about a topic whose head HEAD does not descend from. */
export type DivergedEvent =
  | { readonly kind: 'fetching'; readonly topicHead: CommitId | undefined }
  | (TopicMergeOutcome & { readonly topicHead: CommitId });

export interface BacklogPublisherOptions {
  readonly onPublished?: (r: PublishSummary) => void;
  /** A failed publish that is retried with backoff (the broker unreachable), and how long until the next try. */
  readonly onError?: (e: unknown, retryInMs: number) => void;
  /**
   * A publish refused for good (not cured by waiting, nor by a merge): called once per distinct message, then the
   * publisher looks again only every `recheckMs` (or when kicked after that).
   */
  readonly onRefused?: (problem: PublishProblem) => void;
  /**
   * The topic's head is not in HEAD's first-parent history: the publisher fetches it and merges it (with `merge`
   * set and a client that can fetch). Each fetch, merge or fast-forward is told once; a conflict once per topic head.
   */
  readonly onDiverged?: (e: DivergedEvent) => void;
  /** How the publisher merges a topic head it lacks; without it, such a refusal is reported (onRefused) only. */
  readonly merge?: {
    readonly region: string;
    readonly author?: string;
    /** The subscriber name a fetch may use (its cursor is the agent's own). */
    readonly subscriber: string;
  };
  readonly minBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** How long after a permanent failure (a conflict, a refusal) the publisher looks again. Default 30 s. */
  readonly recheckMs?: number;
}

/** Codes of failures that waiting can cure: retried with backoff. Anything else (but a bug's plain Error) is not. */
const TRANSIENT = new Set(['UNAVAILABLE', 'CONFLICT', 'INTERNAL']);

function isTransient(e: unknown): boolean {
  return !isTribError(e) || TRANSIENT.has(e.code);
}

/** The broker's (or the client's own) refusal of a publish whose commit does not descend from the topic head. */
function isNotFastForward(e: unknown): e is FailedPreconditionError {
  return isTribError(e) && e.code === 'FAILED_PRECONDITION' && /not a fast-forward/.test(e.message);
}


/**
 * Publishes a repository's HEAD to a topic whenever asked (`kick`), one publish at a time. Each publish sends every
 * commit of HEAD's first-parent chain the topic lacks, in order, so the whole backlog goes out in one call and a
 * commit is never skipped. While the broker is unreachable it retries with exponential backoff, and the caller keeps
 * committing meanwhile; a kick during a backoff does not cut it short.
 *
 * A publish refused as not a fast-forward (the topic has entries HEAD does not descend from: this store was lost and
 * started afresh, or another agent publishes the same topic) is repaired, with `merge` set: the publisher fetches
 * the topic's head and merges it into the branch (mergeTopicHead: first parent the topic head), then publishes
 * again. If the merge conflicts, nothing moves: the conflict is `problem` (and told once per topic head) and the
 * publisher looks again every `recheckMs`, merging again only once the topic head has moved. Other refusals, which
 * no waiting cures, are told once per message and looked at again every `recheckMs`, never in a hot loop.
 */
export class BacklogPublisher {
  private dirty = false;
  private running: Promise<void> | undefined;
  private published: CommitId | undefined;
  private current: PublishProblem | undefined;
  /**
   * The topic head a merge last conflicted with, and the HEAD it conflicted with: no new merge (nor message) until
   * the topic head moves, and each recheck walks only the commits made since (TopicPublisher's `diverged`).
   */
  private conflict: { readonly topicHead: CommitId; readonly at: CommitId } | undefined;
  /** Aborted by stop: ends a backoff in progress, and any started after. */
  private readonly stopping = new AbortController();
  private readonly minBackoff: number;
  private readonly maxBackoff: number;
  private readonly recheck: number;

  constructor(
    private readonly repo: Repository,
    private readonly client: TopicPublisher,
    readonly topic: string,
    private readonly opts: BacklogPublisherOptions = {},
  ) {
    this.minBackoff = opts.minBackoffMs ?? 100;
    this.maxBackoff = opts.maxBackoffMs ?? 5000;
    this.recheck = opts.recheckMs ?? 30_000;
  }

  /** The newest commit the broker has acknowledged, as far as this process knows. */
  get lastPublished(): CommitId | undefined {
    return this.published;
  }

  /** Why the last publish failed, until one goes through. */
  get problem(): PublishProblem | undefined {
    return this.current;
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
        const r = await this.client.publishCommit(this.repo, this.topic, head, { diverged: this.conflict });
        this.published = r.head ?? head;
        backoff = this.minBackoff;
        this.current = undefined;
        this.conflict = undefined;
        this.opts.onPublished?.(r);
        // HEAD may have moved during the publish: look again (a cheap ref read when it did not).
        this.dirty = true;
      } catch (e) {
        this.dirty = true;
        let failure = e;
        let wait: number;
        try {
          wait = await this.afterFailure(e);
        } catch (again) {
          // The fetch or the merge failed on its own: as for any failure, but no repair within this one.
          failure = again;
          wait = isNotFastForward(again) ? this.refused(again) : await this.afterFailure(again);
        }
        if (wait < 0) {
          wait = Math.round(backoff * (0.75 + Math.random() / 2));
          this.opts.onError?.(failure, wait);
          backoff = Math.min(this.maxBackoff, backoff * 2);
        } else if (wait > 0) {
          backoff = this.minBackoff;
        }
        if (wait > 0) await sleep(wait, this.stopping.signal);
      }
    }
  }

  /** What to do after a failed publish: how long to wait before the next try (negative: the backoff). */
  private async afterFailure(e: unknown): Promise<number> {
    if (isTransient(e)) {
      this.setProblem(`publish to ${this.topic} failed: ${describeError(e)}`, false);
      return -1;
    }
    if (!isNotFastForward(e) || !this.opts.merge || !this.client.fetchTopicHead) return this.refused(e);
    // Not a fast-forward: the topic has a head this history does not descend from. Known to conflict: wait for it to move.
    const known = (e.details as { head?: unknown }).head;
    if (this.conflict && known === this.conflict.topicHead) return this.recheck;
    this.opts.onDiverged?.({ kind: 'fetching', topicHead: typeof known === 'string' ? (known as CommitId) : undefined });
    const topicHead = await this.client.fetchTopicHead(this.repo, this.topic, this.opts.merge.subscriber);
    // The topic has no entries (any more): publishing again is a plain append.
    if (!topicHead) return this.minBackoff;
    if (topicHead === this.conflict?.topicHead) return this.recheck;
    const outcome = await mergeTopicHead(this.repo, topicHead, { topic: this.topic, region: this.opts.merge.region, author: this.opts.merge.author });
    this.opts.onDiverged?.({ ...outcome, topicHead });
    if (outcome.kind !== 'conflict') {
      this.conflict = undefined;
      return 0;
    }
    // A conflicting merge means topicHead is not in outcome.head's history (else the merge would take HEAD's tree).
    this.conflict = { topicHead, at: outcome.head };
    const paths = outcome.conflicts.map((c) => `${quotePath(c.path)} (${c.kind})`).join(', ');
    this.setProblem(
      `cannot publish to ${this.topic}: this agent's history (${outcome.head}) and the topic's head ${topicHead}, which it ` +
        `does not descend from, conflict at ${paths}`,
      true,
      { topicHead, conflicts: outcome.conflicts },
    );
    return this.recheck;
  }

  /** A refusal no waiting cures: told once per message, looked at again after `recheckMs`. */
  private refused(e: unknown): number {
    const fresh = this.setProblem(`publish to ${this.topic} refused: ${describeError(e)}`, true);
    if (fresh) this.opts.onRefused?.(this.current!);
    return this.recheck;
  }

  /** Records the problem; true when its message differs from the one before. */
  private setProblem(message: string, permanent: boolean, extra: Partial<PublishProblem> = {}): boolean {
    if (this.current?.message === message) return false;
    this.current = { message, permanent, since: new Date().toISOString(), ...extra };
    return true;
  }
}
