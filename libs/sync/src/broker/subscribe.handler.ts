import type * as grpc from '@grpc/grpc-js';
import {
  CommitId,
  InvalidArgumentError,
  isObjectId,
  NotFoundError,
  parseSubscriberId,
  parseTopicName,
  SubscriberId,
  TopicName,
  TribError,
  UnavailableError,
} from '@tributary/core';
import { readAheadFor } from '@tributary/repository';
import { checkSettled, conflictNote } from '../cursors/cursor.repository';
import type { SubscribeRequest__Output } from '../generated/tributary/v1/SubscribeRequest';
import type { SubscribeResponse } from '../generated/tributary/v1/SubscribeResponse';
import { SenderChannel, TransferMessage } from '../transfer/transfer-channel';
import { TopicEntry } from '../topics/topic-log';
import { TransferSender } from '../transfer/transfer-sender';
import { MessageStream } from '../wire/message-stream';
import { BrokerContext } from './broker-context';
import { endCall, failCall } from './call-end';
import { readEntry } from './recent-entries';
import { reloadingReader } from './staged-objects';

export type SubscribeCall = grpc.ServerDuplexStream<SubscribeRequest__Output, SubscribeResponse>;

/**
 * The broker's side of Subscribe: start -> state, then for each entry after the cursor, in order: `entry`, the
 * transfer of its objects (this side sends, only what the subscriber lacks), `commit_end`. Acks arrive
 * asynchronously; each advances the Redis cursor with a Lua max, so only an acknowledged entry is never delivered
 * again; an ack's conflict note (the subscriber kept the entry aside) is recorded in the same step, for ListTopics,
 * and the notes of the seqs it settles are cleared.
 * At most `ctx.window` entries are unacknowledged at a time. Caught up without follow: waits for the last ack,
 * sends `caught_up` and ends OK. With follow: waits for appends (notification, or a poll) and for a topic
 * that does not exist yet, until the subscriber half-closes. Writes honour backpressure, so a slow subscriber
 * slows only its own call. Never rejects: failures end the call with their status.
 */
export async function handleSubscribe(ctx: BrokerContext, call: SubscribeCall): Promise<void> {
  const io = new MessageStream<SubscribeRequest__Output, SubscribeResponse>(call);
  let label = 'subscribe';
  const session = new Session();
  let pump: Promise<void> = Promise.resolve();
  try {
    const first = await io.receive();
    if (!first?.start) throw new InvalidArgumentError('a subscribe starts with start');
    const topic = parseTopicName(first.start.topic);
    const subscriber = parseSubscriberId(first.start.subscriber);
    label = `subscribe ${topic} as ${subscriber}`;
    const { follow, latest } = first.start;
    const fromSeq = Number(first.start.fromSeq ?? 0);
    if (!Number.isSafeInteger(fromSeq) || fromSeq < 0) throw new InvalidArgumentError(`bad from_seq ${first.start.fromSeq}`);
    if (fromSeq > 0 && latest) throw new InvalidArgumentError('a subscribe starts from a seq or at the latest entry, not both');
    const held = first.start.held || undefined;
    if (held !== undefined && !isObjectId(held)) {
      throw new InvalidArgumentError(`bad held commit id ${JSON.stringify(held)}`);
    }

    let head = await ctx.log.head(topic);
    if (!head && !follow) throw new NotFoundError(`topic ${topic} does not exist`, { topic });
    let cursor: number;
    if (fromSeq > 0) {
      // Past the next entry, the cursor would skip entries that do not exist yet, for good.
      const next = (head?.seq ?? 0) + 1;
      if (fromSeq > next) {
        throw new InvalidArgumentError(`cannot start at seq ${fromSeq}: the next entry of ${topic} will be seq ${next}`);
      }
      cursor = fromSeq - 1;
      await ctx.cursors.reset(topic, subscriber, cursor);
    } else if (latest) {
      // The head entry itself comes (its version; not the entries before it), unless the repository holds it: the
      // repository then holds the head like any other subscriber's, so later calls and reconnects go on from there
      // instead of bringing the entries skipped.
      cursor = head === undefined ? 0 : held === head.commit ? head.seq : head.seq - 1;
      await ctx.cursors.reset(topic, subscriber, cursor);
    } else {
      const stored = await storedCursor(ctx, topic, subscriber, head);
      head = stored.head;
      cursor = await startAfterHeld(ctx, topic, stored.cursor, held as CommitId | undefined);
      await ctx.cursors.register(topic, subscriber);
    }
    await io.send({ state: { cursor, headSeq: head?.seq ?? 0 } });

    session.acked = cursor;
    session.sent = cursor;
    session.delivered = cursor;
    session.startedAt = cursor;
    pump = pumpRequests(ctx, io, session, topic, subscriber);
    const sender = new TransferSender(reloadingReader(ctx.db), senderChannel(io, session), { readAhead: readAheadFor(ctx.store) });
    if (held) sender.receiverHolds(held as CommitId);
    let next = cursor + 1;
    while (!session.stopped()) {
      if (session.sent - session.acked >= ctx.window) {
        await session.changed();
        continue;
      }
      // Listen before looking: an append landing between the look and the wait must wake this loop at once, not
      // after a poll interval. Looking is one read of the next entry (entries are dense), not a head probe.
      const abort = new AbortController();
      const appended = follow ? ctx.notifier.wait(topic, ctx.pollMs, abort.signal) : undefined;
      const entry = await readEntry(ctx, topic, next);
      if (entry) {
        abort.abort();
        if (!ctx.db.has(entry.commit)) await ctx.db.reload();
        await io.send({ entry: { seq: entry.seq, commit: entry.commit } });
        session.sent = entry.seq;
        await sender.sendCommit(entry.commit, { base: entry.parent ?? undefined });
        next++;
        continue;
      }
      if (!follow) {
        if (session.acked < session.sent) {
          await session.changed();
          continue;
        }
        head = (await ctx.log.head(topic)) ?? head;
        await io.send({ caughtUp: { seq: head?.seq ?? cursor } });
        break;
      }
      await Promise.race([session.changed(abort.signal), appended]);
      abort.abort();
    }
    session.stop();
    io.stopReading();
    await pump;
    if (session.error && !session.peerEnded) throw session.error;
    endCall(call);
  } catch (e) {
    session.stop();
    io.stopReading();
    if (session.peerEnded && !session.error) return endCall(call);
    failCall(call, session.error ?? e, ctx.logger, label, ctx.stopping);
  }
}

/** State shared by the request pump and the sending loop of one call. */
class Session {
  /** Highest seq acknowledged in this call (or the cursor it started from). */
  acked = 0;
  /** Highest seq whose transfer has begun (its `entry` sent). */
  sent = 0;
  /** Highest seq whose transfer is complete: its `commit_end` handed to the transport, so it may be acked. */
  delivered = 0;
  /** The cursor the call started from: acks must be above it (an older entry was not delivered in this call). */
  startedAt = 0;
  peerEnded = false;
  error: TribError | undefined;
  private done = false;
  private waiters: (() => void)[] = [];
  readonly haveReplies: Buffer[] = [];
  /** Have-queries sent and not answered yet: a reply to none is refused, so a subscriber cannot pile them up here. */
  haveQueriesOpen = 0;

  stopped(): boolean {
    return this.done || this.peerEnded || this.error !== undefined;
  }

  stop(): void {
    this.done = true;
    this.notify();
  }

  notify(): void {
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w();
  }

  /** Resolves on the next notify, or when `signal` aborts (then the waiter is dropped, so idle polls leak nothing). */
  changed(signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const waiter = () => {
        signal?.removeEventListener('abort', drop);
        resolve();
      };
      const drop = () => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve();
      };
      this.waiters.push(waiter);
      signal?.addEventListener('abort', drop, { once: true });
    });
  }
}

/** Reads the subscriber's messages: acks advance the cursor, have-replies feed the transfer. */
async function pumpRequests(
  ctx: BrokerContext,
  io: MessageStream<SubscribeRequest__Output, SubscribeResponse>,
  session: Session,
  topic: TopicName,
  subscriber: SubscriberId,
): Promise<void> {
  try {
    for (;;) {
      const msg = await io.receive();
      if (!msg) {
        if (!session.stopped()) session.peerEnded = true;
        session.notify();
        return;
      }
      if (msg.ack) {
        const seq = Number(msg.ack.seq);
        if (!Number.isSafeInteger(seq) || seq <= session.startedAt || seq > session.delivered) {
          throw new InvalidArgumentError(`ack of seq ${msg.ack.seq}, which was not delivered in this call`);
        }
        const settled = (msg.ack.settled ?? []).map(Number);
        checkSettled(settled);
        // The note is recorded in the step that moves the cursor, so a parked conflict is never acked unseen.
        await ctx.cursors.advance(topic, subscriber, seq, msg.ack.conflict, settled);
        if (msg.ack.conflict) ctx.logger('warn', `${topic}: ${subscriber} acknowledged seq ${seq} with a conflict: ${conflictNote(msg.ack.conflict)}`);
        session.acked = Math.max(session.acked, seq);
      } else if (msg.haveReply) {
        if (session.haveQueriesOpen === 0) throw new InvalidArgumentError('a have-reply to no have-query');
        session.haveQueriesOpen--;
        session.haveReplies.push(Buffer.from(msg.haveReply.missing ?? Buffer.alloc(0)));
      } else {
        throw new InvalidArgumentError(`unexpected ${msg.body ?? 'empty'} message from a subscriber`);
      }
      session.notify();
    }
  } catch (e) {
    session.error = e instanceof TribError ? e : new TribError('INTERNAL', String(e));
    session.notify();
  }
}

function senderChannel(io: MessageStream<SubscribeRequest__Output, SubscribeResponse>, session: Session): SenderChannel {
  return {
    send: (msg: TransferMessage) => {
      // Marked as it goes to the transport, not once it drains: the subscriber may ack before the write resolves.
      if (msg.commitEnd) session.delivered = session.sent;
      if (msg.haveQuery) session.haveQueriesOpen++;
      return io.send(msg);
    },
    async receiveHaveReply(): Promise<Buffer> {
      for (;;) {
        const r = session.haveReplies.shift();
        if (r) return r;
        if (session.error) throw session.error;
        if (session.peerEnded) throw new UnavailableError('the subscriber left in the middle of a transfer');
        await session.changed();
      }
    },
  };
}

/** How often storedCursor reads a cursor that an ack keeps changing while it repairs it, before it stops repairing. */
const REPAIR_ATTEMPTS = 3;

/**
 * The subscriber's cursor, under the one rule for a stored cursor (readCursor) and the rule that it cannot be past
 * the topic's head (acks are of delivered entries: a store put back from a backup, or a hand edit, puts it there).
 * A value that breaks either reads as 0, nothing acknowledged: it is replaced by 0 in Redis, logged once naming its
 * key, and the subscriber gets the topic again from seq 1 (a harmless redelivery: a repository keeps what it holds,
 * a hub skips what it merged), acking as it goes. Never refuses, so no subscriber retries in a loop over it. Also
 * returns the head, read again when the cursor was past it (an ack of a newer entry may have landed meanwhile).
 */
async function storedCursor(
  ctx: BrokerContext,
  topic: TopicName,
  subscriber: SubscriberId,
  head: TopicEntry | undefined,
): Promise<{ cursor: number; head: TopicEntry | undefined }> {
  let reread = false;
  for (let attempt = 1; ; attempt++) {
    const stored = await ctx.cursors.read(topic, subscriber);
    if (stored.readable && stored.seq > (head?.seq ?? 0) && !reread) {
      head = (await ctx.log.head(topic)) ?? head;
      reread = true;
    }
    const headSeq = head?.seq ?? 0;
    const problem = !stored.readable ? 'is not a sequence number' : stored.seq > headSeq ? `is past the head of ${topic} (seq ${headSeq})` : undefined;
    if (problem === undefined) return { cursor: stored.seq, head };
    if (await ctx.cursors.repair(topic, subscriber, stored, 0)) {
      const held = stored.type ? `a ${stored.type}` : JSON.stringify(stored.stored);
      ctx.logger(
        'warn',
        `cursor ${ctx.cursors.cursorKey(topic, subscriber)} held ${held}, which ${problem}: ` +
          `read as 0 (nothing acknowledged), so ${subscriber} gets ${topic} again from seq 1 and its acks overwrite it`,
      );
      return { cursor: 0, head };
    }
    // An ack changed the value meanwhile: judge the new one.
    if (attempt >= REPAIR_ATTEMPTS) return { cursor: 0, head };
  }
}

/**
 * Where a subscription without a start resumes: after the subscriber's cursor, or after what its repository holds
 * of the topic (`held`, its topic ref) when that is behind. The cursor belongs to the subscriber's name, and a
 * repository may hold less: a second clone subscribing under the same name, one restored from a backup. Like git
 * fetch, it then gets what it lacks (acks move the cursor only forwards, so the name's cursor stays). A held commit
 * the topic does not know leaves the cursor as it is.
 */
async function startAfterHeld(ctx: BrokerContext, topic: TopicName, cursor: number, held: CommitId | undefined): Promise<number> {
  if (cursor === 0) return 0;
  if (held === undefined) return 0;
  const seq = await ctx.log.seqOf(topic, held);
  return seq === undefined ? cursor : Math.min(cursor, seq);
}
