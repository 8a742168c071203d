import Redis from 'ioredis';
import { InvalidArgumentError, SubscriberId, TopicName } from '@tributary/core';
import { redisError } from '../redis/redis-errors';

/**
 * The one rule for reading a stored cursor, here and in ADVANCE_SCRIPT: a string of 1 to CURSOR_DIGITS decimal digits
 * and nothing else. A value that breaks it (written by hand, by another program, cut short), or a key of another type
 * (a list, a hash), is unreadable and reads as 0, "nothing acknowledged": the subscriber gets the topic again (a
 * harmless redelivery) and its next ack overwrites the value.
 */
const CURSOR_DIGITS = 15;

/**
 * Lua: deletes `key` when it is of a Redis type other than `kind` (written by hand or by another program), so the
 * write after it cannot fail with WRONGTYPE for good; its contents were never trib's to lose.
 */
const CLAIM_KEY_LUA = `
local function claim(key, kind)
  local t = redis.call('TYPE', key).ok
  if t ~= 'none' and t ~= kind then redis.call('DEL', key) end
end
`;

/**
 * Clears the notes of the settled seqs (ARGV[5] on), then records the ack's conflict note (ARGV[3]; empty: the entry
 * applied cleanly, so an earlier note of that seq goes), keeping the highest MAX_CONFLICTS seqs; then registers the
 * subscriber and sets the cursor to max(current, acked). Returns the cursor after the call. One script, so the note
 * is never missing once the cursor has moved past it.
 */
const ADVANCE_SCRIPT = `${CLAIM_KEY_LUA}
local acked = tonumber(ARGV[1])
claim(KEYS[2], 'set')
claim(KEYS[3], 'hash')
if #ARGV > 4 then redis.call('HDEL', KEYS[3], unpack(ARGV, 5)) end
if ARGV[3] ~= '' then
  redis.call('HSET', KEYS[3], ARGV[1], ARGV[3])
  local n = redis.call('HLEN', KEYS[3])
  local keep = tonumber(ARGV[4])
  if n > keep then
    local seqs = redis.call('HKEYS', KEYS[3])
    for i = 1, #seqs do seqs[i] = tonumber(seqs[i]) end
    table.sort(seqs)
    for i = 1, n - keep do redis.call('HDEL', KEYS[3], tostring(seqs[i])) end
  end
else
  redis.call('HDEL', KEYS[3], ARGV[1])
end
local current = 0
if redis.call('TYPE', KEYS[1]).ok == 'string' then
  local stored = redis.call('GET', KEYS[1])
  if #stored <= ${CURSOR_DIGITS} and string.find(stored, '^%d+$') then current = tonumber(stored) end
end
redis.call('SADD', KEYS[2], ARGV[2])
if acked > current then
  -- SET replaces a key of any type.
  redis.call('SET', KEYS[1], ARGV[1])
  return acked
end
return current
`;

/** Registers ARGV[1] in the subscribers set KEYS[1]. */
const REGISTER_SCRIPT = `${CLAIM_KEY_LUA}
claim(KEYS[1], 'set')
return redis.call('SADD', KEYS[1], ARGV[1])
`;

/** Sets the cursor KEYS[1] to ARGV[1] (a key of any type: SET replaces it) and registers ARGV[2] in the set KEYS[2]. */
const RESET_SCRIPT = `${CLAIM_KEY_LUA}
redis.call('SET', KEYS[1], ARGV[1])
claim(KEYS[2], 'set')
return redis.call('SADD', KEYS[2], ARGV[2])
`;

/** The cursor key's type, and its value when that is a string: {'none'}, {'string', value} or {'list'} and so on. */
const READ_SCRIPT = `
local kind = redis.call('TYPE', KEYS[1]).ok
if kind == 'string' then return {kind, redis.call('GET', KEYS[1])} end
return {kind}
`;

/**
 * Sets the cursor to ARGV[3] only if the key is still as `repair` read it: of type ARGV[1] and, for a string, holding
 * ARGV[2] (an ack turns a key of another type into a string). 1 if it did.
 */
const REPAIR_SCRIPT = `
local kind = redis.call('TYPE', KEYS[1]).ok
if kind ~= ARGV[1] or (kind == 'string' and redis.call('GET', KEYS[1]) ~= ARGV[2]) then return 0 end
redis.call('SET', KEYS[1], ARGV[3])
return 1
`;

type RedisWithAdvance = Redis & {
  tribCursorRead(cursorKey: string): Promise<[string, string?]>;
  tribCursorRegister(setKey: string, subscriber: string): Promise<number>;
  tribCursorReset(cursorKey: string, setKey: string, seq: string, subscriber: string): Promise<number>;
  tribCursorRepair(cursorKey: string, type: string, unreadable: string, seq: string): Promise<number>;
  tribCursorAdvance(
    cursorKey: string,
    setKey: string,
    conflictsKey: string,
    seq: string,
    subscriber: string,
    conflict: string,
    keep: string,
    ...settled: string[]
  ): Promise<number>;
};

/** How many conflicts are kept per topic and subscriber: those of the highest seqs. */
export const MAX_CONFLICTS = 100;
/** How many settled seqs one ack may clear the notes of. */
export const MAX_SETTLED = 100;
/** A conflict note longer than this is cut (it is one line for `trib topics`, not a report). */
export const MAX_CONFLICT_NOTE = 1024;

/** A subscriber of a topic as `list` gives it. */
export interface ListedSubscriber {
  readonly name: SubscriberId;
  readonly cursor: number;
  readonly conflicts: SubscriberConflict[];
}

/** An entry a subscriber acknowledged with a conflict (the ack's note, e.g. the branch it parked the commit on). */
export interface SubscriberConflict {
  readonly seq: number;
  readonly note: string;
}

/** The key prefix of everything kept in Redis about the store with id `storeId`: `trib:<storeId>:`. */
export function redisPrefixFor(storeId: string): string {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(storeId)) throw new InvalidArgumentError(`bad store id ${JSON.stringify(storeId)}`);
  return `trib:${storeId}:`;
}

/**
 * Subscribers' cursors in Redis: the last seq each subscriber acknowledged on each topic, 0 when none.
 * Keys: `<prefix>cursor:<topic>:<subscriber>` (a number), `<prefix>subscribers:<topic>` (a set of names) and
 * `<prefix>conflicts:<topic>:<subscriber>` (a hash seq -> conflict note, the MAX_CONFLICTS highest seqs); the
 * prefix carries the broker store's id, so a fresh store never sees an old run's cursors. A subscribers or conflicts
 * key of another Redis type (not trib's doing) reads as empty and is replaced by the next write to it.
 *
 * Contract: `advance` never moves a cursor back (a Lua max, atomic in Redis), so a late or repeated ack is
 * harmless; only `reset` (an explicit `--from`) moves it anywhere. An ack's conflict note is written in the same
 * atomic step, before the cursor moves; the latest ack of a seq decides whether it has one (a clean ack of a seq
 * redelivered after a `--from` clears its note), and an ack clears the notes of the seqs it settles. `reset` leaves
 * notes alone. Redis failures throw UnavailableError.
 */
export class CursorRepository {
  private readonly redis: RedisWithAdvance;

  constructor(redis: Redis, readonly prefix: string) {
    if (!(redis as unknown as Partial<RedisWithAdvance>).tribCursorAdvance) {
      redis.defineCommand('tribCursorAdvance', { numberOfKeys: 3, lua: ADVANCE_SCRIPT });
    }
    if (!(redis as unknown as Partial<RedisWithAdvance>).tribCursorRead) {
      redis.defineCommand('tribCursorRead', { numberOfKeys: 1, lua: READ_SCRIPT });
    }
    if (!(redis as unknown as Partial<RedisWithAdvance>).tribCursorRepair) {
      redis.defineCommand('tribCursorRepair', { numberOfKeys: 1, lua: REPAIR_SCRIPT });
    }
    if (!(redis as unknown as Partial<RedisWithAdvance>).tribCursorRegister) {
      redis.defineCommand('tribCursorRegister', { numberOfKeys: 1, lua: REGISTER_SCRIPT });
    }
    if (!(redis as unknown as Partial<RedisWithAdvance>).tribCursorReset) {
      redis.defineCommand('tribCursorReset', { numberOfKeys: 2, lua: RESET_SCRIPT });
    }
    this.redis = redis as RedisWithAdvance;
  }

  cursorKey(topic: TopicName, subscriber: SubscriberId): string {
    return `${this.prefix}cursor:${topic}:${subscriber}`;
  }

  subscribersKey(topic: TopicName): string {
    return `${this.prefix}subscribers:${topic}`;
  }

  conflictsKey(topic: TopicName, subscriber: SubscriberId): string {
    return `${this.prefix}conflicts:${topic}:${subscriber}`;
  }

  /** The subscriber's cursor, 0 if it never acknowledged anything or the stored value is unreadable (readCursor). */
  async get(topic: TopicName, subscriber: SubscriberId): Promise<number> {
    return (await this.read(topic, subscriber)).seq;
  }

  /** The subscriber's cursor as `readCursor` reads it, with the stored value (or the key's type) when unreadable. */
  async read(topic: TopicName, subscriber: SubscriberId): Promise<StoredCursor> {
    const [type, value] = await this.call(() => this.redis.tribCursorRead(this.cursorKey(topic, subscriber)));
    if (type === 'none' || type === 'string') return readCursor(value);
    return { seq: 0, stored: null, readable: false, type };
  }

  /**
   * Replaces a cursor that cannot stand (`stored`, as `read` returned it: not a number, a key of another type, or past
   * the topic's head) by `seq`, unless the key changed meanwhile (an ack overwrote it). True if it replaced.
   */
  async repair(topic: TopicName, subscriber: SubscriberId, stored: StoredCursor, seq: number): Promise<boolean> {
    checkSeq(seq);
    const key = this.cursorKey(topic, subscriber);
    const v = await this.call(() => this.redis.tribCursorRepair(key, stored.type ?? 'string', stored.stored ?? '', String(seq)));
    return Number(v) === 1;
  }

  /** Registers the subscriber on the topic (shown by `list` even before its first ack). */
  async register(topic: TopicName, subscriber: SubscriberId): Promise<void> {
    await this.call(() => this.redis.tribCursorRegister(this.subscribersKey(topic), subscriber));
  }

  /**
   * Moves the cursor to `seq` if that is forward; returns the cursor afterwards. With a `conflict` note (made one
   * line and cut to MAX_CONFLICT_NOTE characters), records it for `seq` first; without one, clears `seq`'s note.
   * The notes of the `settled` seqs (at most MAX_SETTLED, each from 1) are cleared in the same step.
   */
  async advance(topic: TopicName, subscriber: SubscriberId, seq: number, conflict?: string, settled: readonly number[] = []): Promise<number> {
    checkSeq(seq);
    checkSettled(settled);
    const note = conflictNote(conflict);
    const v = await this.call(() =>
      this.redis.tribCursorAdvance(
        this.cursorKey(topic, subscriber),
        this.subscribersKey(topic),
        this.conflictsKey(topic, subscriber),
        String(seq),
        subscriber,
        note,
        String(MAX_CONFLICTS),
        ...settled.map(String),
      ),
    );
    return Number(v);
  }

  /** Sets the cursor to `seq`, backwards too (for `--from` and `latest`). */
  async reset(topic: TopicName, subscriber: SubscriberId, seq: number): Promise<void> {
    checkSeq(seq);
    await this.call(() => this.redis.tribCursorReset(this.cursorKey(topic, subscriber), this.subscribersKey(topic), String(seq), subscriber));
  }

  /**
   * The topic's subscribers, sorted by name, with each one's cursor and recorded conflicts (by seq): the first
   * `limit` of them (all by default), and how many it has in all.
   */
  async list(topic: TopicName, limit = Infinity): Promise<{ subscribers: ListedSubscriber[]; total: number }> {
    const all = await this.call(() => this.redis.smembers(this.subscribersKey(topic)).catch(emptyIfWrongType([])));
    const names = all.sort().slice(0, limit) as SubscriberId[];
    if (names.length === 0) return { subscribers: [], total: all.length };
    const pipeline = this.redis.pipeline().mget(...names.map((n) => this.cursorKey(topic, n)));
    for (const n of names) pipeline.hgetall(this.conflictsKey(topic, n));
    const replies = (await this.call(() => pipeline.exec())) ?? [];
    const [cursors, ...conflicts] = replies.map(([err, value]) => {
      if (err) return emptyIfWrongType({})(err);
      return value;
    }) as [(string | null)[], ...Record<string, string>[]];
    const subscribers = names.map((name, i) => ({
      name,
      cursor: readCursor(cursors[i]).seq,
      conflicts: Object.entries(conflicts[i] ?? {})
        .map(([seq, note]) => ({ seq: toSeq(seq), note }))
        .sort((a, b) => a.seq - b.seq),
    }));
    return { subscribers, total: all.length };
  }

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw redisError(e);
    }
  }
}

/**
 * A reply to a read of a key of another type than trib's (WRONGTYPE) as `empty`, which the next ack's write then
 * makes true (CLAIM_KEY_LUA); any other failure is thrown as redisError has it.
 */
function emptyIfWrongType<T>(empty: T): (e: unknown) => T {
  return (e) => {
    if (e instanceof Error && e.name === 'ReplyError' && e.message.startsWith('WRONGTYPE')) return empty;
    throw redisError(e);
  };
}

/**
 * The note as stored: one line of printable characters (a control character, such as a terminal escape, would
 * reach every `trib topics` and broker log), at most MAX_CONFLICT_NOTE characters; '' for none.
 */
export function conflictNote(conflict: string | undefined): string {
  // eslint-disable-next-line no-control-regex
  const line = (conflict ?? '').replace(/[\x00-\x1f\x7f-\x9f]+/g, ' ').trim();
  return line.length > MAX_CONFLICT_NOTE ? `${line.slice(0, MAX_CONFLICT_NOTE - 1)}…` : line;
}

function checkSeq(seq: number): void {
  if (!Number.isSafeInteger(seq) || seq < 0) throw new InvalidArgumentError(`bad sequence number ${seq}`);
}

/** Settled seqs as an ack may carry them: at most MAX_SETTLED, each a seq from 1. */
export function checkSettled(settled: readonly number[]): void {
  if (settled.length > MAX_SETTLED) throw new InvalidArgumentError(`an ack settles at most ${MAX_SETTLED} conflicts, not ${settled.length}`);
  const bad = settled.find((s) => !Number.isSafeInteger(s) || s < 1);
  if (bad !== undefined) throw new InvalidArgumentError(`bad settled sequence number ${bad}`);
}

/**
 * A cursor as read from Redis: the value stored (null: none, or a key of another type) and the seq it stands for
 * (`readable` false: 0). `type` is the key's Redis type when that is not a string ('list', 'hash', ...).
 */
export interface StoredCursor {
  readonly seq: number;
  readonly stored: string | null;
  readonly readable: boolean;
  readonly type?: string;
}

/**
 * The one rule for a stored cursor (ADVANCE_SCRIPT applies the same): none is 0; 1 to CURSOR_DIGITS decimal digits
 * are that seq; anything else (a key of another type too: see `read`) is unreadable and reads as 0, nothing
 * acknowledged, so the next ack overwrites it.
 * (A readable cursor past the topic's head is the caller's to judge, who knows the head: see the subscribe handler.)
 */
export function readCursor(stored: string | null | undefined): StoredCursor {
  if (stored === null || stored === undefined) return { seq: 0, stored: null, readable: true };
  if (stored.length <= CURSOR_DIGITS && /^[0-9]+$/.test(stored)) return { seq: Number(stored), stored, readable: true };
  return { seq: 0, stored, readable: false };
}

function toSeq(v: string): number {
  const n = Number(v);
  return Number.isSafeInteger(n) && n >= 0 ? n : 0;
}
