import { CommitId, describeError, isTribError, quotePath, sleep, TribError } from '@tributary/core';
import { BacklogPublisher, CLAIMED_DIR, DivergedEvent, IngestEvent, InboxWatcher, ingestLanded, PublishSummary, TopicPublisher } from '@tributary/ingest';
import { PackMaintenance, Repository } from '@tributary/repository';

export interface EdgeAgentDeps {
  readonly repo: Repository;
  readonly client: TopicPublisher;
  readonly region: string;
  readonly dataset: string;
  readonly inbox: string;
  /** How long a batch file must go unmodified before it is taken (TRIB_INBOX_SETTLE_MS; see InboxWatcher). */
  readonly settleMs: number;
  /** Empty: a new file per batch under batches/<date>/. */
  readonly appendTo: string;
  /** Author of the agent's commits (TRIB_AUTHOR); empty: `edge-agent/<region>`. */
  readonly author?: string;
  readonly log: (line: string) => void;
  /** The backoff between failed ingest rounds, doubling from `min` up to `max` (default 1 s to 30 s). */
  readonly ingestRetryMs?: { readonly min: number; readonly max: number };
}

/** Why no batch can be committed: what /health shows as `ingestError`, until an ingest round goes through. */
export interface IngestProblem {
  /** One line: `ingest failed: <why>`, as the latest try failed. */
  message: string;
  /** Always false: every such failure (a store away, the inbox gone, a full disk) is retried with backoff. */
  readonly permanent: false;
  /** When this problem was first seen, ISO 8601. */
  readonly since: string;
  /** Failed rounds in a row with this message (but for the random names in it: sameFailure). */
  failures: number;
  /** How long until the next try, in ms. */
  retryInMs: number;
}

const RETRY_INGEST_MIN_MS = 1000;
const RETRY_INGEST_MAX_MS = 30_000;
/**
 * With a settle time, the inbox is looked at no more often than this many times per settle time: a writer writing a
 * batch in place makes an inbox change of every write (hundreds a second), and each look lists and stats the inbox.
 * Without one (writers that rename into place), every change is looked at at once.
 */
const LOOKS_PER_SETTLE = 10;

/**
 * One region's agent: on start, on every inbox change and at least once a second, commits landed batches one at a
 * time (files unmodified for `settleMs`; each durable before its file moves to .done), then publishes HEAD's
 * backlog to `datasets/<dataset>/<region>`, retrying with backoff while the broker is away. Committing never waits
 * for publishing. Each commit leaves a small pack, so the agent merges them in the background as a broker and a hub
 * do (PackMaintenance).
 */
export class EdgeAgent {
  readonly topic: string;
  private readonly watcher: InboxWatcher;
  private readonly publisher: BacklogPublisher;
  private readonly packs: PackMaintenance;
  private stopWatching: (() => void) | undefined;
  private pending = false;
  private running: Promise<void> | undefined;
  /** Aborted by stop: ends the pause after a failed ingest. */
  private readonly stopping = new AbortController();
  private readonly counts = { committed: 0, duplicates: 0, failed: 0, published: 0 };
  private lastCommit: CommitId | undefined;
  /** Why the last ingest round failed, until one goes through. */
  private ingestProblem: IngestProblem | undefined;
  /** Failed rounds in a row, whatever their messages (they set the backoff). */
  private ingestFailures = 0;

  constructor(private readonly deps: EdgeAgentDeps) {
    this.topic = `datasets/${deps.dataset}/${deps.region}`;
    this.watcher = new InboxWatcher(deps.inbox, {
      settleMs: deps.settleMs,
      onSkip: (name, why) => deps.log(`skipped ${shown(name)} in the inbox: ${why}`),
      onStillChanging: (name, forMs) =>
        deps.log(
          `${shown(name)} in the inbox has kept changing for ${Math.round(forMs / 1000)} s; the batches after it wait until ` +
            `it has gone unmodified for ${deps.settleMs} ms (a writer still at it, or a file that is no batch?)`,
        ),
    });
    this.publisher = new BacklogPublisher(deps.repo, deps.client, this.topic, {
      onPublished: (r) => this.onPublished(r),
      onError: (e, ms) => deps.log(`publish to ${this.topic} failed: ${describeError(e)}; retrying in ${ms} ms (committing goes on)`),
      onRefused: (p) => deps.log(`${p.message}; waiting cannot cure this: looking again every ${RECHECK_MS / 1000} s (committing goes on)`),
      onDiverged: (e) => this.onDiverged(e),
      merge: { region: deps.region, author: this.author, subscriber: FETCH_SUBSCRIBER },
      recheckMs: RECHECK_MS,
    });
    this.packs = new PackMaintenance(deps.repo.objects, deps.repo.store, { log: (_level, message) => deps.log(message) });
  }

  /** The author of the agent's commits (TRIB_AUTHOR, else `edge-agent/<region>`). */
  private get author(): string {
    return this.deps.author || `edge-agent/${this.deps.region}`;
  }

  async start(): Promise<void> {
    await this.watcher.ensure().catch((e: unknown) => {
      throw isTribError(e) ? new TribError(e.code, `${e.message} (TRIB_INBOX)`, e.details, { cause: e }) : e;
    });
    this.lastCommit = (await this.deps.repo.head()).commit;
    this.stopWatching = this.watcher.watch(() => this.trigger()).close;
    this.trigger();
    // A backlog left by a previous run (killed between commit and publish) goes out now.
    this.publisher.kick();
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    this.stopWatching?.();
    this.publisher.stop();
    await this.running;
    await this.publisher.drain();
    await this.packs.close();
  }

  status(): Record<string, unknown> {
    const settling = this.watcher.settling;
    return {
      app: 'edge-agent',
      region: this.deps.region,
      topic: this.topic,
      inbox: this.deps.inbox,
      appendTo: this.deps.appendTo || undefined,
      settling: settling.length,
      settlingFiles: settling.slice(0, SETTLING_FILES_SHOWN),
      head: this.lastCommit ?? null,
      lastPublished: this.publisher.lastPublished ?? null,
      ...this.counts,
      error: this.publisher.problem ?? null,
      ingestError: this.ingestProblem ? { ...this.ingestProblem } : null,
    };
  }

  private trigger(): void {
    if (this.stopping.signal.aborted) return;
    this.pending = true;
    if (!this.running) this.running = this.ingestLoop().finally(() => (this.running = undefined));
  }

  private async ingestLoop(): Promise<void> {
    while (this.pending && !this.stopping.signal.aborted) {
      this.pending = false;
      try {
        const n = await ingestLanded(
          this.deps.repo,
          this.watcher,
          {
            region: this.deps.region,
            appendTo: this.deps.appendTo || undefined,
            author: this.author,
            signal: this.stopping.signal,
          },
          (e) => this.onIngest(e),
        );
        if (n > 0) this.publisher.kick();
        this.ingestRecovered();
      } catch (e) {
        const wait = this.ingestFailed(e);
        await sleep(wait, this.stopping.signal);
        this.pending = true;
      }
      // Changes meanwhile set `pending` again, and the loop (still running, so no new one starts) looks once for all.
      if (this.deps.settleMs > 0) await sleep(this.deps.settleMs / LOOKS_PER_SETTLE, this.stopping.signal);
    }
  }

  /**
   * Notes a failed ingest round (a store unreachable, the inbox gone, a disk full: what fails every batch, so the
   * round is tried again whole) and returns how long to wait before the next: doubling from the minimum to the
   * maximum. Logged once per distinct failure (sameFailure), not once per try; /health shows it as `ingestError`
   * meanwhile.
   */
  private ingestFailed(e: unknown): number {
    const min = this.deps.ingestRetryMs?.min ?? RETRY_INGEST_MIN_MS;
    const max = this.deps.ingestRetryMs?.max ?? RETRY_INGEST_MAX_MS;
    const wait = Math.min(max, min * 2 ** Math.min(this.ingestFailures, 30));
    this.ingestFailures++;
    const message = `ingest failed: ${describeError(e)}`;
    if (this.ingestProblem && sameFailure(this.ingestProblem.message, message)) {
      this.ingestProblem.message = message;
      this.ingestProblem.failures++;
      this.ingestProblem.retryInMs = wait;
    } else {
      this.ingestProblem = { message, permanent: false, since: new Date().toISOString(), failures: 1, retryInMs: wait };
      this.deps.log(
        `${message}; no batch is committed until it clears: retrying with backoff (${wait} ms now, at most ${max} ms), ` +
          `logged again only if the failure changes or clears (/health: ingestError)`,
      );
    }
    return wait;
  }

  /** An ingest round went through: a failure logged before is over, and says so once. */
  private ingestRecovered(): void {
    const problem = this.ingestProblem;
    this.ingestFailures = 0;
    if (!problem) return;
    this.ingestProblem = undefined;
    this.deps.log(`ingesting again after ${problem.failures} failed tr${problem.failures === 1 ? 'y' : 'ies'} since ${problem.since} (${problem.message})`);
  }

  private onIngest(e: IngestEvent): void {
    if (e.kind === 'committed') {
      // A batch committed is ingest working again, whether or not the rest of its round goes through.
      this.ingestRecovered();
      this.counts.committed++;
      this.lastCommit = e.commit;
      this.packs.afterWrite();
      this.deps.log(`committed ${shown(e.file.name)} -> ${e.commit} (${shown(e.path ?? '')})`);
      // Started once the batch is moved to .done and said so: 'published' never comes before its 'committed'.
      this.publisher.kick();
    } else if (e.kind === 'duplicate') {
      this.counts.duplicates++;
      this.deps.log(`${shown(e.file.name)} was already committed as ${e.commit}; moved to .done`);
    } else if (e.kind === 'changed') {
      this.deps.log(
        `${shown(e.file.name)} changed while it was committed (${e.sizeThen} bytes when taken, ${e.sizeNow} after): ` +
          `${e.commit} may hold only part of it; the whole file is ${shown(e.movedTo)}, land what it lacks as a new batch`,
      );
    } else if (e.kind === 'vanished') {
      this.deps.log(`${shown(e.file.name)} was removed from ${shown(CLAIMED_DIR)} before it could be read; nothing was committed of it`);
    } else {
      this.counts.failed++;
      this.deps.log(`refused ${shown(e.file.name)}: ${e.error.message}; moved to ${shown(e.movedTo)}`);
    }
  }

  private onDiverged(e: DivergedEvent): void {
    const log = this.deps.log;
    if (e.kind === 'fetching') {
      log(
        `${this.topic} has a head ${e.topicHead ? `${e.topicHead} ` : ''}that this agent's history does not descend from ` +
          `(a store lost and started afresh, or another agent publishing ${this.topic}): fetching it from the broker ` +
          `(as subscriber ${FETCH_SUBSCRIBER}) to merge it`,
      );
    } else if (e.kind === 'fast-forward') {
      this.lastCommit = e.commit;
      log(`moved ${e.previous ? `from ${e.previous} ` : ''}to ${e.topicHead}, the head of ${this.topic}, which holds all of this history; publishing`);
    } else if (e.kind === 'merge') {
      this.lastCommit = e.commit;
      this.packs.afterWrite();
      log(`merged ${e.topicHead}, the head of ${this.topic}, with this agent's history ${e.previous} -> ${e.commit}; publishing`);
    } else {
      const paths = e.conflicts.map((c) => `${shown(c.path)} (${c.kind})`).join(', ');
      const head = e.head;
      log(
        `cannot publish to ${this.topic}: its head ${e.topicHead} and this agent's history ${head} conflict at ${paths}; ` +
          `batches are still committed here and wait. To fix it, publish to ${this.topic} a commit on top of ` +
          `${e.topicHead} that settles those paths, e.g. with the agent stopped, in a working copy of its store ` +
          `(trib init DIR --store TRIB_STORE): trib branch fix ${e.topicHead} && trib switch fix && ` +
          `trib merge ${head} --no-ff --strategy ours|theirs && trib publish ${this.topic} fix && trib switch main; ` +
          `the agent merges the new head by itself (it looks every ${RECHECK_MS / 1000} s)`,
      );
    }
  }

  private onPublished(r: PublishSummary): void {
    this.counts.published += r.commits;
    if (r.commits === 0) return;
    const range = r.seqFrom === r.seqTo ? `seq ${r.seqTo}` : `seq ${r.seqFrom}..${r.seqTo}`;
    const wire = r.wireBytes === undefined ? '' : `, wire ${r.wireBytes} bytes`;
    this.deps.log(`published ${this.topic} ${range} (${r.commits} commit${r.commits === 1 ? '' : 's'}${wire}) head ${r.head}`);
  }
}

/**
 * The subscriber name the agent fetches its own topic's head as, after a refused publish (SyncClient.fetchTopicHead):
 * its cursor on the agent's topic is the agent's own, and `trib topics` lists it.
 */
export const FETCH_SUBSCRIBER = 'edge-agent';

/** How often a publish that waiting cannot cure (a conflict with the topic's head, a refusal) is looked at again. */
const RECHECK_MS = 30_000;

/**
 * Whether two failure messages tell the same failure: equal but for runs of 8 or more hex digits. Those are the random
 * part of the names trib gives the files it writes beside the one it means (a store's temp files `.tmp-<hex>~` and
 * lock drafts `main~lock~<hex>`, a pack being written `pack-<hex>`, a durable write's `.tmp-<pid>-<hex>`), new at
 * every try, so a message naming one differs each time though nothing else does. Matching the message, not the
 * error's code, keeps a change of failure (the same code, another cause or file) logged.
 */
export function sameFailure(a: string, b: string): boolean {
  const stable = (m: string) => m.replace(/(?<![0-9A-Za-z])[0-9a-f]{8,}(?![0-9A-Za-z])/g, '*');
  return a === b || stable(a) === stable(b);
}

/** How many of the files waiting to settle /health names. */
const SETTLING_FILES_SHOWN = 20;

/** A file name for a log line, quoted as the CLI quotes a path (a newline would fake another line). */
const shown = quotePath;

