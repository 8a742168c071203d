import type * as grpc from '@grpc/grpc-js';
import {
  CommitId,
  ConflictError,
  decodeCommit,
  FailedPreconditionError,
  InvalidArgumentError,
  isObjectId,
  parseTopicName,
  TopicName,
  UnavailableError,
} from '@tributary/core';
import { crashPoint } from '@tributary/repository';
import type { PublishRequest__Output } from '../generated/tributary/v1/PublishRequest';
import type { PublishResponse } from '../generated/tributary/v1/PublishResponse';
import { TopicEntry } from '../topics/topic-log';
import { ReceiverChannel, TransferMessage } from '../transfer/transfer-channel';
import { TransferReceiver } from '../transfer/transfer-receiver';
import { MessageStream } from '../wire/message-stream';
import { BrokerContext } from './broker-context';
import { endCall, failCall } from './call-end';
import { rememberAppended } from './recent-entries';
import { StagedObjects } from './staged-objects';

export type PublishCall = grpc.ServerDuplexStream<PublishRequest__Output, PublishResponse>;

/** Offered commits per publish; a longer first-parent chain is published in several calls. */
const MAX_OFFERED = 100_000;

/**
 * The broker's side of Publish: hello -> state, start -> for each offered commit a transfer (the client sends,
 * this side verifies into a staging area), the fast-forward check, then the durable append and `appended`.
 * Only after the log entry is durable does the client hear `appended`. Never rejects: failures end the call with
 * their status.
 */
export async function handlePublish(ctx: BrokerContext, call: PublishCall): Promise<void> {
  const io = new MessageStream<PublishRequest__Output, PublishResponse>(call);
  let topic = '';
  try {
    const hello = await io.receive();
    if (!hello?.hello) throw new InvalidArgumentError('a publish starts with hello');
    topic = parseTopicName(hello.hello.topic);
    const t = topic as TopicName;
    const wanted = hello.hello.commit;
    if (wanted && !isObjectId(wanted)) throw new InvalidArgumentError(`bad commit id ${JSON.stringify(wanted)}`);
    await settled(ctx, t);
    const [head, indexed] = await Promise.all([ctx.log.head(t), wanted ? ctx.log.seqOf(t, wanted as CommitId).then((s) => s ?? 0) : 0]);
    // The head is read from the log itself, while the commit index may lag it (a broker killed right after an append
    // writes it on the next settle): a publisher whose commit is the head learns so from the head.
    const commitSeq = head && wanted === head.commit ? head.seq : indexed;
    // Another broker may have appended (and written packs) since this one last looked. Reloading lists every pack,
    // so only when the head says so. The publisher takes the head named in `state` as held (SendOptions.baseHeld).
    if (head && !ctx.db.has(head.commit)) {
      await ctx.db.reload();
      if (!ctx.db.has(head.commit)) throw new UnavailableError(`the objects of ${head.commit}, the head of topic ${t}, are not visible here yet`);
    }
    await io.send({ state: { head: head?.commit ?? '', seq: head?.seq ?? 0, commitSeq } });

    const next = await io.receive();
    if (!next) return endCall(call);
    if (!next.start) throw new InvalidArgumentError('expected start after state');
    const base = next.start.base || undefined;
    if (base !== undefined && !isObjectId(base)) throw new InvalidArgumentError(`bad base commit id ${JSON.stringify(base)}`);
    const offered = next.start.commits ?? [];
    if (offered.length === 0 || offered.length > MAX_OFFERED) throw new InvalidArgumentError(`a publish offers 1 to ${MAX_OFFERED} commits`);
    for (const c of offered) if (!isObjectId(c)) throw new InvalidArgumentError(`bad commit id ${JSON.stringify(c)}`);
    // The head read for `state`, not a fresh one: the append below is the arbiter (create-if-absent at the next
    // seq), so a head that moved meanwhile is found there, after a transfer that only a race costs.
    if ((head?.commit ?? undefined) !== base) throw notFastForward(t, head, base);

    const channel = receiverChannel(io);
    let presumed: Presumed = { head };
    for (const commit of offered as CommitId[]) {
      const staged = await StagedObjects.open(ctx.db);
      try {
        const got = await new TransferReceiver(staged, channel).receiveCommit();
        if (got.commit !== commit) throw new InvalidArgumentError(`expected the objects of ${commit}, got ${got.commit}`);
        // The previous commit's index and hint (written after its ack, while this one travelled) come first.
        await settled(ctx, t);
        const { entry, already } = await appendCommit(ctx, t, commit, got.commitBytes ?? (await staged.get(commit)), staged, presumed);
        presumed = 'commit' in entry ? { head: entry } : undefined;
        // `already`: another publish appended it (this one lost the race at the append), so this one did not.
        await io.send({ appended: { commit, seq: entry.seq, already } });
        ctx.packs.afterWrite();
      } catch (e) {
        await staged.abort().catch(() => undefined);
        throw e;
      }
    }
    const extra = await io.receive();
    if (extra) throw new InvalidArgumentError('unexpected message after the last commit');
    endCall(call);
  } catch (e) {
    failCall(call, e, ctx.logger, `publish ${topic || '?'}`, ctx.stopping);
  }
}

/**
 * Appends `commit` to the topic unless it is there already (idempotent publish; see `foundAppended`: then `already`
 * is true, for this call appended nothing, and the publisher must not count it as published). Refuses a
 * commit whose first parent is not the head (FAILED_PRECONDITION); when another broker takes the seq first, re-reads
 * and decides again, so the loser of a race either finds its commit appended or is refused. Resolves once the
 * objects and the entry are durable and the shared database sees the objects; the entry's commit index and the head
 * hint are written afterwards (see `settled`), off the publisher's round trip.
 *
 * `presumed` is the head as this call last saw it. When the commit builds on it, the first attempt appends after it
 * without reading the log again: if the head moved, that seq is taken, the append conflicts and the full check
 * runs. (A commit that builds on the head cannot be on the log already: the log is one first-parent chain.)
 */
async function appendCommit(
  ctx: BrokerContext,
  topic: TopicName,
  commit: CommitId,
  bytes: Buffer,
  staged: StagedObjects,
  presumed: Presumed,
): Promise<{ entry: TopicEntry | { seq: number }; already: boolean }> {
  // The bytes come from the transfer: reading a pending object back from the staging database would flush it.
  const parents = decodeCommit(bytes, commit).parents;
  let head = presumed?.head;
  let checked = presumed !== undefined && parents[0] === presumed.head?.commit;
  for (;;) {
    if (!checked) {
      head = await ctx.log.head(topic);
      if (head && head.commit === commit) return { entry: await foundAppended(ctx, topic, commit, staged, head), already: true };
      if (head && parents[0] !== head.commit) {
        // Read after head(), which indexed every entry up to the head it returns: read before it, the index could
        // miss a commit another broker appended meanwhile (it writes the index after the entry, in its settle).
        const existing = await ctx.log.seqOf(topic, commit);
        if (existing !== undefined) return { entry: await foundAppended(ctx, topic, commit, staged, { seq: existing }), already: true };
        throw notFastForward(topic, head, commit, true);
      }
    }
    checked = false;
    await staged.persist();
    crashPoint('sync.publish.before-append');
    // The shared database sees the objects before the entry names them, so a subscriber never misses them.
    await staged.load();
    let appended;
    try {
      appended = await ctx.log.appendEntry(topic, head, commit);
    } catch (e) {
      if (e instanceof ConflictError) continue; // the full check runs again
      throw e;
    }
    const { entry, settle } = appended;
    settleLater(ctx, topic, settle);
    crashPoint('sync.publish.after-append');
    rememberAppended(ctx, topic, entry);
    ctx.notifier.notify(topic, entry.seq);
    ctx.logger('info', `appended ${commit} to ${topic} at seq ${entry.seq}`);
    return { entry, already: false };
  }
}

/**
 * `commit` is on the log already: another publish appended it, through this broker or another, after making its
 * objects durable. The staged copies are dropped. The publisher sends its next commit against this one
 * (SendOptions.baseHeld), so the shared database must see the commit's objects before the ack: when they are in
 * another broker's packs, by reloading. So whatever this broker acknowledges, it can read.
 */
async function foundAppended<E extends { seq: number }>(
  ctx: BrokerContext,
  topic: TopicName,
  commit: CommitId,
  staged: StagedObjects,
  entry: E,
): Promise<E> {
  await staged.abort();
  if (!ctx.db.has(commit)) {
    await ctx.db.reload();
    if (!ctx.db.has(commit)) throw new UnavailableError(`the objects of ${commit}, entry ${entry.seq} of topic ${topic}, are not visible here yet`);
  }
  return entry;
}

/** The topic head as a publish call last saw it (`head` undefined: no topic yet); undefined when not known. */
type Presumed = { readonly head: TopicEntry | undefined } | undefined;

/** Per broker and topic: the commit index and head hint writes of the last append, still running. */
const settling = new WeakMap<BrokerContext, Map<TopicName, { run: Promise<void>; failed: boolean }>>();

/**
 * Runs `settle` after the topic's earlier ones. A failure is only logged, and every later settle of the topic is
 * skipped: moving the hint past an entry whose index was not written would hide that entry from the repair in
 * `head()`, which probes forward from the hint (and advances it itself).
 */
function settleLater(ctx: BrokerContext, topic: TopicName, settle: () => Promise<void>): void {
  let pending = settling.get(ctx);
  if (!pending) settling.set(ctx, (pending = new Map()));
  const map = pending;
  const state = map.get(topic) ?? { run: Promise.resolve(), failed: false };
  map.set(topic, state);
  const run: Promise<void> = state.run.then(async () => {
    if (state.failed) return;
    try {
      await settle();
    } catch (e) {
      state.failed = true;
      ctx.logger('warn', `topic ${topic}: commit index or head hint not written, left to readers to repair: ${(e as Error).message}`);
    }
  });
  state.run = run;
}

/** Resolves once the topic's index and hint writes started so far are done (so reads need not repair them). */
async function settled(ctx: BrokerContext, topic: TopicName): Promise<void> {
  await settling.get(ctx)?.get(topic)?.run;
}

function notFastForward(topic: TopicName, head: TopicEntry | undefined, commit: string | undefined, isCommit = false): FailedPreconditionError {
  const at = head ? `${head.commit} (seq ${head.seq})` : 'nothing (new topic)';
  const what = isCommit ? `commit ${commit} does not build on it` : `the publisher builds on ${commit ?? 'nothing'}`;
  return new FailedPreconditionError(`not a fast-forward: topic ${topic} is at ${at}, and ${what}`, { topic, head: head?.commit });
}

function receiverChannel(io: MessageStream<PublishRequest__Output, PublishResponse>): ReceiverChannel {
  return {
    // Each message is decoded from a buffer grpc-js assembled for it alone, and nothing reads it afterwards.
    ownsMessageBuffers: true,
    async receive(): Promise<TransferMessage> {
      const msg = await io.receive();
      if (!msg) throw new UnavailableError('the publisher closed the stream in the middle of a transfer');
      if (msg.haveQuery) return { haveQuery: msg.haveQuery };
      if (msg.objects) return { objects: msg.objects };
      if (msg.commitEnd) return { commitEnd: msg.commitEnd };
      throw new InvalidArgumentError(`unexpected ${msg.body ?? 'empty'} message during a transfer`);
    },
    sendHaveReply: (missing: Buffer) => io.send({ haveReply: { missing } }),
  };
}
