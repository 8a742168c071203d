import Redis from 'ioredis';
import { InvalidArgumentError, SubscriberId, TopicName, TribError, UnavailableError } from '@tributary/core';

/** Sets the cursor to max(current, acked) and registers the subscriber; returns the cursor after the call. */
const ADVANCE_SCRIPT = `
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local acked = tonumber(ARGV[1])
redis.call('SADD', KEYS[2], ARGV[2])
if acked > current then
  redis.call('SET', KEYS[1], ARGV[1])
  return acked
end
return current
`;

type RedisWithAdvance = Redis & {
  tribCursorAdvance(cursorKey: string, setKey: string, seq: string, subscriber: string): Promise<number>;
};

/** The key prefix of everything kept in Redis about the store with id `storeId`: `trib:<storeId>:`. */
export function redisPrefixFor(storeId: string): string {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(storeId)) throw new InvalidArgumentError(`bad store id ${JSON.stringify(storeId)}`);
  return `trib:${storeId}:`;
}

/**
 * Subscribers' cursors in Redis: the last seq each subscriber acknowledged on each topic, 0 when none.
 * Keys: `<prefix>cursor:<topic>:<subscriber>` (a number) and `<prefix>subscribers:<topic>` (a set of names); the
 * prefix carries the broker store's id, so a fresh store never sees an old run's cursors.
 *
 * Contract: `advance` never moves a cursor back (a Lua max, atomic in Redis), so a late or repeated ack is
 * harmless; only `reset` (an explicit `--from`) moves it anywhere. Redis failures throw UnavailableError.
 */
export class CursorRepository {
  private readonly redis: RedisWithAdvance;

  constructor(redis: Redis, readonly prefix: string) {
    if (!(redis as unknown as Partial<RedisWithAdvance>).tribCursorAdvance) {
      redis.defineCommand('tribCursorAdvance', { numberOfKeys: 2, lua: ADVANCE_SCRIPT });
    }
    this.redis = redis as RedisWithAdvance;
  }

  cursorKey(topic: TopicName, subscriber: SubscriberId): string {
    return `${this.prefix}cursor:${topic}:${subscriber}`;
  }

  subscribersKey(topic: TopicName): string {
    return `${this.prefix}subscribers:${topic}`;
  }

  /** The subscriber's cursor, 0 if it never acknowledged anything. */
  async get(topic: TopicName, subscriber: SubscriberId): Promise<number> {
    const v = await this.call(() => this.redis.get(this.cursorKey(topic, subscriber)));
    return v === null ? 0 : toSeq(v);
  }

  /** Registers the subscriber on the topic (shown by `list` even before its first ack). */
  async register(topic: TopicName, subscriber: SubscriberId): Promise<void> {
    await this.call(() => this.redis.sadd(this.subscribersKey(topic), subscriber));
  }

  /** Moves the cursor to `seq` if that is forward; returns the cursor afterwards. */
  async advance(topic: TopicName, subscriber: SubscriberId, seq: number): Promise<number> {
    checkSeq(seq);
    const v = await this.call(() =>
      this.redis.tribCursorAdvance(this.cursorKey(topic, subscriber), this.subscribersKey(topic), String(seq), subscriber),
    );
    return Number(v);
  }

  /** Sets the cursor to `seq`, backwards too (for `--from` and `latest`). */
  async reset(topic: TopicName, subscriber: SubscriberId, seq: number): Promise<void> {
    checkSeq(seq);
    await this.call(() =>
      this.redis.multi().set(this.cursorKey(topic, subscriber), String(seq)).sadd(this.subscribersKey(topic), subscriber).exec(),
    );
  }

  /** Every subscriber of the topic with its cursor, sorted by name. */
  async list(topic: TopicName): Promise<{ name: SubscriberId; cursor: number }[]> {
    const names = (await this.call(() => this.redis.smembers(this.subscribersKey(topic)))).sort() as SubscriberId[];
    if (names.length === 0) return [];
    const values = await this.call(() => this.redis.mget(...names.map((n) => this.cursorKey(topic, n))));
    return names.map((name, i) => ({ name, cursor: values[i] === null ? 0 : toSeq(values[i] as string) }));
  }

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw redisError(e);
    }
  }
}

/** Turns an ioredis failure into the project's error: unreachable Redis is UnavailableError. */
export function redisError(e: unknown): TribError {
  if (e instanceof TribError) return e;
  const message = e instanceof Error ? e.message : String(e);
  if (e instanceof Error && e.name === 'ReplyError') return new TribError('INTERNAL', `redis: ${message}`, {}, { cause: e });
  return new UnavailableError(`redis unavailable: ${message}`, {}, { cause: e });
}

function checkSeq(seq: number): void {
  if (!Number.isSafeInteger(seq) || seq < 0) throw new InvalidArgumentError(`bad sequence number ${seq}`);
}

function toSeq(v: string): number {
  const n = Number(v);
  return Number.isSafeInteger(n) && n >= 0 ? n : 0;
}
