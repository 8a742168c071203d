import * as grpc from '@grpc/grpc-js';
import {
  CommitId,
  ConflictError,
  FailedPreconditionError,
  IntegrityError,
  InvalidArgumentError,
  isObjectId,
  parseSubscriberId,
  parseTopicName,
  sleep,
  TopicName,
  treeSize,
  TribError,
  UnavailableError,
} from '@tributary/core';
import { isAncestor, readAheadFor, REFETCH, Repository, ReuseWatch, sharedHashPool, topicRef, vanishedError } from '@tributary/repository';
import type { AdminServiceClient } from '../generated/tributary/v1/AdminService';
import type { ListTopicsResponse__Output } from '../generated/tributary/v1/ListTopicsResponse';
import type { PublishRequest } from '../generated/tributary/v1/PublishRequest';
import type { PublishResponse__Output } from '../generated/tributary/v1/PublishResponse';
import type { SubscribeRequest } from '../generated/tributary/v1/SubscribeRequest';
import type { SubscribeResponse__Output } from '../generated/tributary/v1/SubscribeResponse';
import type { SyncServiceClient } from '../generated/tributary/v1/SyncService';
import { databaseTarget } from '../transfer/database-target';
import { ReceiverChannel, SenderChannel, TransferMessage, TransferStats } from '../transfer/transfer-channel';
import { TransferReceiver } from '../transfer/transfer-receiver';
import { TransferSender } from '../transfer/transfer-sender';
import { CHANNEL_OPTIONS } from '../wire/grpc-options';
import { MessageStream } from '../wire/message-stream';
import { loadTributaryProto } from '../wire/proto-loader';
import { fromGrpcError } from '../wire/status-mapping';
import { DeliveredEntry, EntryOutcome, SyncResult, TopicInfo } from './sync-result';

export interface SyncClientOptions {
  /** Deadline of unary calls (listTopics). Default 10 s. */
  readonly deadlineMs?: number;
  /** Extra attempts after an UNAVAILABLE failure, before giving up with UnavailableError. Default 2. */
  readonly retries?: number;
  /** First back-off delay; doubles per attempt. Default 200 ms. */
  readonly retryDelayMs?: number;
}

export interface PublishOptions {
  /** Called as objects are queued, with the payload bytes so far. */
  onProgress?(wireBytes: number): void;
  /**
   * What the caller already knows: `at`'s history does not hold `topicHead` (a merge of the two conflicted). While
   * the broker's head is still `topicHead`, a first-parent walk that reaches `at` refuses the publish as not a
   * fast-forward there, having read only the commits since `at`, instead of walking on to the root to find that out.
   */
  diverged?: { readonly topicHead: CommitId; readonly at: CommitId };
}

export interface SubscribeOptions {
  /**
   * Inclusive first seq (resets the cursor to from - 1), or 'latest': the topic's head entry (unless the repository
   * holds it already) and those appended after it, none before it.
   */
  from?: number | 'latest';
  /** Keep applying new entries until `signal` aborts; wait for a topic that does not exist yet. */
  follow?: boolean;
  signal?: AbortSignal;
  /**
   * Called once an entry's objects are durable, while `refs/topics/<topic>` moves to it (both are done before the
   * ack; nothing here may rely on the ref). A throw stops. Returning `{ conflict }` sends the note with the ack,
   * `{ settled }` clears earlier ones (see EntryOutcome).
   */
  onEntry?(e: DeliveredEntry): Promise<void | EntryOutcome>;
  /**
   * True when `onEntry` makes the repository's objects durable itself before it lets anything durable refer to
   * them (the hub's merge flushes before main moves, and before it parks a conflict on a branch). The received
   * objects are then not flushed before `onEntry` but after it, before the topic ref moves and the ack: one flush
   * per entry instead of two on the way to the merge. A watch of what the entry's objects reuse (watchReuse) runs
   * until `onEntry` returns: `onEntry` must call `checkReused` after its flush and before a ref names the entry, and
   * throw if anything is gone, vanishedError's error (details.refetch): the entry is then not acknowledged,
   * and is fetched again at once. Default false.
   */
  entryMakesDurable?: boolean;
  /** Called as objects arrive, with the payload bytes received so far in this call (all entries). */
  onProgress?(wireBytes: number): void;
  /**
   * Called when the broker first answers (link up), then once each time it stops answering and the subscription
   * starts retrying it (with `follow`, for as long as it takes), and once when it answers again: not on every retry.
   */
  onLinkChange?(change: LinkChange): void;
}

/** The link of a subscription to its broker went down (`down`: why) or came back up (no `down`). */
export interface LinkChange {
  /** The broker's address. */
  readonly broker: string;
  /** The failure that is being retried, naming the broker; absent once the broker answers again. */
  readonly down?: UnavailableError;
}

/** Tells `onLinkChange` when a subscription's link is first up, goes down or comes back up, each change once. */
class LinkWatch {
  /** Undefined until the first answer or failure. */
  private isDown: boolean | undefined;

  constructor(
    private readonly broker: string,
    private readonly onLinkChange: SubscribeOptions['onLinkChange'],
  ) {}

  down(error: UnavailableError): void {
    if (this.isDown) return;
    this.isDown = true;
    this.onLinkChange?.({ broker: this.broker, down: error });
  }

  up(): void {
    if (this.isDown === false) return;
    this.isDown = false;
    this.onLinkChange?.({ broker: this.broker });
  }
}

/** How long a subscriber that was told to stop waits for the broker to end the call before cancelling it. */
const STOP_GRACE_MS = 5000;
const MAX_FOLLOW_BACKOFF_MS = 5000;
/** Refetches in a row, without an entry delivered between them, after which the error stands. */
const MAX_REFETCHES = 5;

interface Accumulated {
  commits: number;
  seqFrom: number;
  seqTo: number;
  wireBytes: number;
  head: CommitId | null;
}

/** What the tries of one subscribe call share. */
interface SubscribeState {
  /** As asked (SubscribeOptions.from), for every try until an entry has been delivered. */
  readonly from: number | 'latest' | undefined;
  delivered: boolean;
  /**
   * The last ack the broker has not confirmed; 0 when none. It confirms none one by one: it says caught up only once
   * it has recorded every ack, a try after a broken one starts from the cursor it recorded, and otherwise only ending
   * the call cleanly after this side stops says so.
   */
  unconfirmedAck: number;
  readonly link: LinkWatch;
}

/**
 * The client side of publish/subscribe, used by the CLI, the edge agent and the hub (plain grpc-js, no Nest).
 * Errors are TribErrors mapped from the broker's status: FailedPreconditionError (not a fast-forward),
 * NotFoundError (unknown topic), IntegrityError (DATA_LOSS), InvalidArgumentError, and UnavailableError when the
 * broker cannot be reached after `retries` extra attempts (a following subscriber retries until stopped).
 */
export class SyncClient {
  private readonly sync: SyncServiceClient;
  private readonly admin: AdminServiceClient;
  private readonly deadlineMs: number;
  private readonly retries: number;
  private readonly retryDelayMs: number;

  constructor(readonly address: string, opts: SyncClientOptions = {}) {
    const proto = loadTributaryProto().tributary.v1;
    this.sync = new proto.SyncService(address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
    this.admin = new proto.AdminService(address, grpc.credentials.createInsecure(), { ...CHANNEL_OPTIONS, channelOverride: this.sync.getChannel() });
    this.deadlineMs = opts.deadlineMs ?? 10_000;
    this.retries = opts.retries ?? 2;
    this.retryDelayMs = opts.retryDelayMs ?? 200;
  }

  /**
   * Publishes REF (default HEAD): appends, oldest first, every commit of REF's first-parent chain after the topic's
   * head, each once its objects are stored; only objects the broker lacks travel. A commit already in the log is not
   * sent again (commits 0, seqFrom = seqTo = its seq). Throws FailedPreconditionError before sending anything when
   * REF does not descend from the head.
   */
  async publish(repo: Repository, topic: string, ref = 'HEAD', opts: PublishOptions = {}): Promise<SyncResult> {
    const t = parseTopicName(topic);
    return this.publishResolved(repo, t, await repo.resolve(ref), opts);
  }

  /**
   * `publish` of a commit the caller has already resolved, such as the HEAD an edge agent has just read: no ref is
   * read again (on a cloud store, two requests less per publish).
   */
  async publishCommit(
    repo: Repository,
    topic: string,
    commit: CommitId,
    opts: PublishOptions = {},
  ): Promise<SyncResult> {
    const t = parseTopicName(topic);
    if (!isObjectId(commit)) throw new InvalidArgumentError(`not a commit id: ${JSON.stringify(commit)}`);
    return this.publishResolved(repo, t, commit, opts);
  }

  /** Both publish entry points, after their topic and commit are checked. */
  private async publishResolved(
    repo: Repository,
    topic: TopicName,
    commit: CommitId,
    opts: PublishOptions,
  ): Promise<SyncResult> {
    const acc: Accumulated = { commits: 0, seqFrom: 0, seqTo: 0, wireBytes: 0, head: commit };
    await this.withRetries(() => this.publishOnce(repo, topic, commit, acc, opts), repo);
    return { topic, ...acc, datasetBytes: await this.datasetBytes(repo, commit) };
  }

  /**
   * Brings every entry after the subscriber's cursor into `repo`, in order: objects (only those missing), durably,
   * then `refs/topics/<topic>` moves to the entry's commit while `onEntry` runs, then the ack. Without `follow` it
   * returns once caught up; with `follow` it returns after `signal` aborts and what was applied is acknowledged. It
   * throws if the broker fails before confirming the last acks: those entries stay here and may be delivered again.
   * Throws NotFoundError for an unknown topic without `follow`.
   */
  async subscribe(repo: Repository, topic: string, subscriber: string, opts: SubscribeOptions = {}): Promise<SyncResult> {
    const t = parseTopicName(topic);
    const name = parseSubscriberId(subscriber);
    if (opts.from !== undefined && opts.from !== 'latest' && (!Number.isSafeInteger(opts.from) || opts.from < 1)) {
      throw new InvalidArgumentError(`--from must be a sequence number from 1, or latest: ${String(opts.from)}`);
    }
    // The first batch is hashed on a worker thread, which takes a while to start: start it while connecting.
    sharedHashPool().warm();
    const acc: Accumulated = { commits: 0, seqFrom: 0, seqTo: 0, wireBytes: 0, head: null };
    const state: SubscribeState = { from: opts.from, delivered: false, unconfirmedAck: 0, link: new LinkWatch(this.address, opts.onLinkChange) };
    let refetches = 0;
    let deliveredAtRefetch = -1;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.subscribeOnce(repo, t, name, opts, state, acc);
        break;
      } catch (e) {
        const err = fromGrpcError(e);
        // Objects an entry relied on vanished from this repository's store (a gc elsewhere; see REFETCH): it is
        // fetched again at once. Not the broker's doing, so the link stays up and no retry of the broker's is spent;
        // only so many times in a row without an entry delivered, then it fails as it is.
        if (err.details[REFETCH] === true && !opts.signal?.aborted) {
          if (acc.commits !== deliveredAtRefetch) [refetches, deliveredAtRefetch] = [0, acc.commits];
          if (++refetches > MAX_REFETCHES) throw err;
          attempt--;
          continue;
        }
        if (!(err instanceof UnavailableError) || ownStoreFailed(err, repo)) throw err;
        // Stopped while the broker was away: entries acked since it last confirmed may come again, and the user
        // should hear so rather than see a clean stop.
        if (opts.signal?.aborted) throw state.unconfirmedAck > 0 ? ackNotConfirmed(err, state.unconfirmedAck) : err;
        if (!opts.follow && attempt >= this.retries) throw this.unreachable(err);
        state.link.down(this.unreachable(err));
        await sleep(Math.min(this.retryDelayMs * 2 ** attempt, MAX_FOLLOW_BACKOFF_MS), opts.signal);
        if (opts.signal?.aborted) {
          if (state.unconfirmedAck > 0) throw ackNotConfirmed(err, state.unconfirmedAck);
          break;
        }
      }
    }
    if (!acc.head) acc.head = (await repo.refs.resolve(topicRef(t))).commit ?? null;
    return { topic: t, ...acc, datasetBytes: acc.head ? await this.datasetBytes(repo, acc.head) : 0 };
  }

  /**
   * Brings the topic's head entry, with everything beneath it (its whole history), into `repo` and returns its
   * commit (undefined when the topic has no entries yet); `refs/topics/<topic>` moves to it. The protocol has no
   * cursorless fetch, so this subscribes as `subscriber` from the head's seq: only the head entry travels (and any
   * appended meanwhile), and that subscriber's cursor, and no other's, ends at it. Give a name of the caller's own
   * (the edge agent uses `edge-agent`): `trib topics` lists it beside the real subscribers.
   */
  async fetchTopicHead(repo: Repository, topic: string, subscriber: string): Promise<CommitId | undefined> {
    const t = parseTopicName(topic);
    const info = (await this.listTopics(t)).find((x) => x.topic === t);
    if (!info || !info.seq) return undefined;
    const r = await this.subscribe(repo, t, subscriber, { from: info.seq });
    return r.head ?? undefined;
  }

  /**
   * Every topic on the broker (or only `topic`: none if it does not exist) with its head, last seq and subscribers
   * (cursor, lag and conflicts; past the broker's limits, counted in `subscribersOmitted`).
   */
  async listTopics(topic?: string): Promise<TopicInfo[]> {
    const only = topic === undefined ? '' : parseTopicName(topic);
    const res = await this.withRetries(
      () =>
        new Promise<ListTopicsResponse__Output>((resolve, reject) =>
          this.admin.ListTopics({ topic: only }, { deadline: Date.now() + this.deadlineMs }, (e, r) => (e ? reject(fromGrpcError(e)) : resolve(r ?? { topics: [] }))),
        ),
    );
    return (res.topics ?? []).map((t) => ({
      topic: t.topic,
      head: t.head as CommitId,
      seq: Number(t.seq),
      subscribers: (t.subscribers ?? []).map((s) => ({
        name: s.name,
        cursor: Number(s.cursor),
        lag: Number(s.lag),
        conflicts: (s.conflicts ?? []).map((c) => ({ seq: Number(c.seq), note: c.note })),
      })),
      subscribersOmitted: Number(t.subscribersOmitted ?? 0),
    }));
  }

  close(): void {
    this.admin.close();
    this.sync.close();
  }

  /**
   * A streaming call's first answer, which a broker sends at once (its state): a peer that takes the connection and
   * says nothing within the deadline is UNAVAILABLE (retried like one that refuses), never a hang.
   */
  private async firstAnswer<T>(answer: Promise<T>, cancel: () => void): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const silent = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        cancel();
        // Named by `unreachable`, which every retried call's last failure goes through.
        reject(new UnavailableError(`it took the call but did not answer within ${this.deadlineMs / 1000} s`));
      }, this.deadlineMs);
    });
    answer.catch(() => undefined);
    try {
      return await Promise.race([answer, silent]);
    } finally {
      clearTimeout(timer);
    }
  }

  // ---- publish

  private async publishOnce(repo: Repository, topic: TopicName, commit: CommitId, acc: Accumulated, opts: PublishOptions): Promise<void> {
    const call = this.sync.Publish();
    const io = new MessageStream<PublishResponse__Output, PublishRequest>(call);
    try {
      await io.send({ hello: { topic, commit } });
      const state = expect(await this.firstAnswer(io.receive(), () => call.cancel()), 'state').state!;
      if (state.commitSeq > 0) {
        if (acc.commits === 0) acc.seqFrom = acc.seqTo = Number(state.commitSeq);
        call.end();
        await expectEnd(io);
        return;
      }
      const head = state.head ? (state.head as CommitId) : undefined;
      const chain = await firstParentChainAfter(repo, commit, head, topic, opts.diverged);
      await io.send({ start: { base: head ?? '', commits: chain } });
      const sender = new TransferSender(repo.objects, publishChannel(io), { readAhead: readAheadFor(repo.objects.store) });
      let base = head;
      for (const [i, c] of chain.entries()) {
        const before = acc.wireBytes;
        // The broker holds `base` (its head, or the commit it just appended), and `c`, after its head, is not in its log.
        const stats = await sender.sendCommit(c, { base, baseHeld: base !== undefined, onProgress: (s) => opts.onProgress?.(before + s.wireBytes) });
        // Nothing follows the last commit. Half-closing now lets the broker end the call right behind `appended`,
        // so the call's status does not cost a round trip of its own (a quarter of a small publish on a long link).
        if (i === chain.length - 1) call.end();
        acc.wireBytes += stats.wireBytes;
        const appended = expect(await io.receive(), 'appended').appended!;
        if (appended.commit !== c) throw new TribError('INTERNAL', `broker appended ${appended.commit}, expected ${c}`);
        if (appended.already) {
          // Another publish appended it first (it lost the race at the append): in the log, but not by this call, so
          // not counted; like a commit the broker's state names (commitSeq), it gives the seqs only if none was ours.
          if (acc.commits === 0) acc.seqFrom = acc.seqTo = Number(appended.seq);
        } else {
          if (acc.commits === 0) acc.seqFrom = Number(appended.seq);
          acc.seqTo = Number(appended.seq);
          acc.commits++;
        }
        base = c;
      }
      await expectEnd(io);
    } catch (e) {
      // The broker's status, if the call failed there, says more than the local symptom (e.g. "ended early").
      const failure = io.failure;
      call.cancel();
      throw failure ?? fromGrpcError(e);
    }
  }

  // ---- subscribe

  private async subscribeOnce(
    repo: Repository,
    topic: TopicName,
    subscriber: string,
    opts: SubscribeOptions,
    state: SubscribeState,
    acc: Accumulated,
  ): Promise<void> {
    if (opts.signal?.aborted) return;
    const call = this.sync.Subscribe();
    const io = new MessageStream<SubscribeResponse__Output, SubscribeRequest>(call);
    let idle = false;
    let stopping = false;
    let stopTimer: NodeJS.Timeout | undefined;
    let watch: ReuseWatch | undefined;
    const stop = () => {
      if (stopping) return;
      stopping = true;
      call.end();
      stopTimer = setTimeout(() => call.cancel(), STOP_GRACE_MS);
    };
    let answered = false;
    const onAbort = () => {
      if (idle) stop();
      else if (!answered) {
        // Nothing has arrived, so nothing waits for an ack: end the call now, however long the broker would take.
        stopping = true;
        call.cancel();
      }
    };
    opts.signal?.addEventListener('abort', onAbort);
    try {
      // Once an entry is here, the topic ref says where to go on; until then, a call tried again starts as asked.
      const from = state.delivered ? undefined : state.from;
      // The broker then asks about the first entry's commit in the same round trip as its changes, when the entry
      // builds on what this repository already holds (the usual case: the entry after the last one fetched). A ref
      // moves only after its objects are durable here. The ref moves swap from this same answer (readForSwap).
      const target = (await repo.refs.readForSwap(topicRef(topic)))?.target;
      const held = target && 'commit' in target ? target.commit : '';
      let first: SubscribeResponse__Output | undefined;
      try {
        await io.send({
          start: {
            topic,
            subscriber,
            fromSeq: typeof from === 'number' ? from : 0,
            latest: from === 'latest',
            follow: !!opts.follow,
            held,
          },
        });
        first = await this.firstAnswer(io.receive(), () => call.cancel());
      } catch (e) {
        if (stopping) return;
        throw e;
      }
      if (stopping) return;
      answered = true;
      state.link.up();
      const st = expect(first, 'state').state!;
      // The cursor the broker starts from covers the acks an earlier try of this call could not see confirmed.
      if (Number(st.cursor) >= state.unconfirmedAck) state.unconfirmedAck = 0;
      if (acc.commits === 0) acc.seqFrom = acc.seqTo = Number(st.cursor);
      const deferFlush = opts.entryMakesDurable === true && opts.onEntry !== undefined;
      const onProgress = opts.onProgress && ((s: TransferStats) => opts.onProgress!(acc.wireBytes + s.wireBytes));
      const receiver = new TransferReceiver(databaseTarget(repo.objects, { flushOnReceive: !deferFlush }), subscribeChannel(io), onProgress);
      for (;;) {
        if (opts.signal?.aborted) stop();
        idle = true;
        const msg = await io.receive().catch((e) => {
          if (!stopping) throw e;
          // Those entries are stored here and the topic ref has moved; if the cursor did not, they come again.
          if (state.unconfirmedAck > 0) throw ackNotConfirmed(e, state.unconfirmedAck);
          return undefined;
        });
        idle = false;
        if (!msg) return;
        if (stopping) continue;
        if (msg.caughtUp) {
          state.unconfirmedAck = 0;
          stop();
          continue;
        }
        if (!msg.entry) throw new InvalidArgumentError(`unexpected ${msg.body ?? 'empty'} message from the broker`);
        const seq = Number(msg.entry.seq);
        const commit = msg.entry.commit as CommitId;
        if (!isObjectId(commit)) throw new InvalidArgumentError(`broker sent a bad commit id ${JSON.stringify(commit)}`);
        // A gc in another working copy of the store may delete what this entry refers to (held objects it did not
        // receive again, or its own packs once older than gc's grace) before the topic ref names it, as for a commit.
        watch = repo.objects.watchReuse();
        const got = await receiver.receiveCommit().catch((e: unknown) => {
          // What the receiver refuses came from the broker (its store, or the wire); damage read here from this
          // store names one of its packs (details.key) and is left as it is.
          if (e instanceof IntegrityError && e.details.key === undefined) {
            throw new IntegrityError(`entry ${seq} of ${topic} from broker ${this.address}: ${e.message} (as the broker sent it: trib verify --read-data on the broker's store finds damage there)`, { ...e.details, seq }, { cause: e });
          }
          throw e;
        });
        acc.wireBytes += got.stats.wireBytes;
        if (got.commit !== commit) throw new InvalidArgumentError(`broker sent the objects of ${got.commit} for entry ${seq} (${commit})`);
        if (!deferFlush) {
          const gone = await repo.objects.confirmReused(watch);
          // Not acknowledged, so the entry comes again on the retry, with what is gone (has() now says so).
          if (gone.length > 0) throw vanishedError(gone, `entry ${seq} relied on`, 'fetching it again');
        }
        let outcome: void | EntryOutcome;
        if (deferFlush) {
          outcome = await opts.onEntry!({ seq, commit });
          repo.objects.stopWatchingReuse(watch);
          await repo.objects.flush();
          await moveTopicRef(repo, topic, commit);
        } else {
          // The ref and onEntry need only the durable objects, not each other: one write less to wait for.
          const [moved, handled] = await Promise.allSettled([
            moveTopicRef(repo, topic, commit),
            opts.onEntry?.({ seq, commit }),
          ]);
          if (moved.status === 'rejected') throw moved.reason;
          if (handled.status === 'rejected') throw handled.reason;
          outcome = handled.value;
        }
        state.delivered = true;
        await io.send({ ack: { seq, conflict: outcome?.conflict ?? '', settled: [...(outcome?.settled ?? [])] } });
        state.unconfirmedAck = seq;
        // An entry delivered again after the link dropped before its ack is counted once.
        if (acc.commits === 0 || seq > acc.seqTo) {
          if (acc.commits === 0) acc.seqFrom = seq;
          acc.seqTo = seq;
          acc.commits++;
        }
        acc.head = commit;
      }
    } catch (e) {
      call.cancel();
      throw e instanceof TribError ? e : fromGrpcError(e);
    } finally {
      if (watch) repo.objects.stopWatchingReuse(watch);
      clearTimeout(stopTimer);
      opts.signal?.removeEventListener('abort', onAbort);
    }
  }

  // ---- helpers

  /** `fn`, tried again while the broker is unavailable; a failure of `repo`'s own store is the store's to report. */
  private async withRetries<T>(fn: () => Promise<T>, repo?: Repository): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (e) {
        const err = fromGrpcError(e);
        if (!(err instanceof UnavailableError) || (repo && ownStoreFailed(err, repo))) throw err;
        if (attempt >= this.retries) throw this.unreachable(err);
        await sleep(this.retryDelayMs * 2 ** attempt);
      }
    }
  }

  private unreachable(e: TribError): UnavailableError {
    return new UnavailableError(`broker ${this.address} is unavailable: ${e.message}`, { address: this.address }, {
      cause: e,
    });
  }

  private async datasetBytes(repo: Repository, commit: CommitId): Promise<number> {
    return treeSize(repo.objects, (await repo.readCommit(commit)).tree);
  }
}

/**
 * Whether `err` is the repository's own store failing (its adapters name their URL in `details.url`), not the
 * broker: it is reported as it is, naming that store, and not retried as a broker that went away.
 */
function ownStoreFailed(err: TribError, repo: Repository): boolean {
  return err.details.url === repo.store.url;
}

/**
 * The commits of `commit`'s first-parent chain after `head`, oldest first (the whole chain when there is no head).
 * Throws FailedPreconditionError when `head` is not on the chain: the publish would not be a fast-forward. With
 * `diverged` (PublishOptions) naming this head, the walk stops at `diverged.at` with that error.
 */
export async function firstParentChainAfter(
  repo: Repository,
  commit: CommitId,
  head: CommitId | undefined,
  topic: string,
  diverged?: PublishOptions['diverged'],
): Promise<CommitId[]> {
  const chain: CommitId[] = [];
  const stopAt = head !== undefined && diverged?.topicHead === head ? diverged.at : undefined;
  for (let c: CommitId | undefined = commit; c !== undefined; ) {
    if (c === head) return chain.reverse();
    if (c === stopAt) throw notFastForward(commit, head!, topic);
    chain.push(c);
    c = (await repo.readCommit(c)).parents[0];
  }
  if (head) {
    // A merge of the topic into local work has the head as its second parent: say what would publish. The advice
    // names the head by its id, as refs/topics/<topic> exists only where the topic was subscribed to.
    if (repo.objects.has(head) && (await isAncestor(repo, head, commit))) {
      throw new FailedPreconditionError(
        `not a fast-forward: ${commit} reaches ${head}, the head of topic ${topic}, only through a merge's second ` +
          `parent, and a topic is a first-parent chain; merge your work into the topic instead: ` +
          `trib branch up ${head} && trib switch up && trib merge <your branch> --no-ff, then trib publish ${topic} up`,
        { topic, head },
      );
    }
    throw notFastForward(commit, head, topic);
  }
  return chain.reverse();
}

function notFastForward(commit: CommitId, head: CommitId, topic: string): FailedPreconditionError {
  return new FailedPreconditionError(`not a fast-forward: ${commit} does not descend from ${head}, the head of topic ${topic}`, { topic, head });
}

/**
 * Points `refs/topics/<topic>` at `commit` (compare-and-swap; applying the same entry twice changes nothing). It
 * swaps from the ref as this repository last wrote or read it (RefStore.readForSwap), so a subscription reads the
 * ref once, not once per entry, and again only after another writer moved it.
 */
/**
 * The error for a call that failed, or that the broker did not end in time, after this subscriber acked `seq` and
 * asked to stop: the broker may not have recorded the acks since it last confirmed them.
 */
function ackNotConfirmed(e: unknown, seq: number): TribError {
  const cause = e instanceof TribError ? e : fromGrpcError(e);
  const message =
    `the broker did not confirm that it recorded the acknowledgement of entries up to seq ${seq} (${cause.message}); ` +
    'they are stored here, and any it did not record will be delivered again';
  return new TribError(cause.code, message, { ...cause.details, seq }, { cause });
}

async function moveTopicRef(repo: Repository, topic: TopicName, commit: CommitId): Promise<void> {
  const ref = topicRef(topic);
  for (let attempt = 0; ; attempt++) {
    const current = await repo.refs.readForSwap(ref);
    if (current && 'commit' in current.target && current.target.commit === commit) return;
    try {
      await repo.refs.update(ref, current?.version, { commit });
      return;
    } catch (e) {
      if (!(e instanceof ConflictError) || attempt >= 5) throw e;
    }
  }
}

function expect<T extends { body?: string }>(msg: T | undefined, body: string): T {
  if (!msg) throw new UnavailableError(`the broker ended the call before sending ${body}`);
  if (msg.body !== body) throw new InvalidArgumentError(`expected ${body} from the broker, got ${msg.body ?? 'an empty message'}`);
  return msg;
}

async function expectEnd<In>(io: MessageStream<In, unknown>): Promise<void> {
  const extra = await io.receive();
  if (extra !== undefined) throw new InvalidArgumentError('unexpected message from the broker after the last reply');
}

function publishChannel(io: MessageStream<PublishResponse__Output, PublishRequest>): SenderChannel {
  return {
    send: (msg: TransferMessage) => io.send(msg),
    async receiveHaveReply(): Promise<Buffer> {
      return Buffer.from(expect(await io.receive(), 'haveReply').haveReply!.missing ?? Buffer.alloc(0));
    },
  };
}

function subscribeChannel(io: MessageStream<SubscribeResponse__Output, SubscribeRequest>): ReceiverChannel {
  return {
    // Each message is decoded from a buffer grpc-js assembled for it alone, and nothing reads it afterwards.
    ownsMessageBuffers: true,
    async receive(): Promise<TransferMessage> {
      const msg = await io.receive();
      if (!msg) throw new UnavailableError('the broker ended the call in the middle of a transfer');
      if (msg.haveQuery) return { haveQuery: msg.haveQuery };
      if (msg.objects) return { objects: msg.objects };
      if (msg.commitEnd) return { commitEnd: msg.commitEnd };
      throw new InvalidArgumentError(`unexpected ${msg.body ?? 'empty'} message during a transfer`);
    },
    sendHaveReply: (missing: Buffer) => io.send({ haveReply: { missing } }),
  };
}

