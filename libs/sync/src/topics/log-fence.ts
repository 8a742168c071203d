import Redis from 'ioredis';
import { AlreadyExistsError, NotFoundError, TopicName, UnavailableError } from '@tributary/core';
import { crashPoint } from '@tributary/repository';
import { redisError } from '../redis/redis-errors';
import { ObjectStore } from '@tributary/storage';

/** How a topic log's appends are arbitrated (see the three implementations below). */
export type LogFenceMode = 'store' | 'redis' | 'exclusive';

/**
 * Decides which writer takes each seq of a topic log, so that an entry once written is never overwritten.
 *
 * Contract: `createEntry` resolves only when `data` is durable in the store as the entry at `key`, and then no
 * other writer's `createEntry` of that seq resolves; it throws AlreadyExistsError when the seq is taken (the caller
 * re-reads the head). `recoverEntry` is called for a seq the store has no entry at: it returns the bytes of an entry
 * a writer claimed but may not have written (it died midway), after writing them to the store, or undefined when
 * nobody claimed the seq. The store is always the durable copy; whatever a fence keeps elsewhere only arbitrates.
 */
export interface LogFence {
  readonly mode: LogFenceMode;
  createEntry(topic: TopicName, seq: number, key: string, data: Buffer): Promise<void>;
  recoverEntry(topic: TopicName, seq: number, key: string): Promise<Buffer | undefined>;
}

/** A store that enforces create-if-absent arbitrates by itself; any number of brokers may share it. */
export class StoreFence implements LogFence {
  readonly mode = 'store';

  constructor(private readonly store: ObjectStore) {}

  createEntry(_topic: TopicName, _seq: number, key: string, data: Buffer): Promise<void> {
    return this.store.putIfAbsent(key, data);
  }

  async recoverEntry(): Promise<undefined> {
    return undefined;
  }
}

/** Whether this broker may still write: its lease on the store is current (see BrokerLease). */
export interface WriteLease {
  /** Throws UnavailableError when the lease lapsed (Redis unreachable) or was lost to another broker. */
  assertHeld(): void;
}

/**
 * For a store that ignores conditions, run by one broker only (its lease excludes any other): appends of one seq are
 * serialized in this process and the store is checked for the entry before it is written.
 */
export class ExclusiveFence implements LogFence {
  readonly mode = 'exclusive';
  private readonly writing = new Map<string, Promise<void>>();

  constructor(private readonly store: ObjectStore, private readonly lease: WriteLease) {}

  async createEntry(topic: TopicName, seq: number, key: string, data: Buffer): Promise<void> {
    this.lease.assertHeld();
    // Two publishes of one topic through this broker: the store would let the second overwrite the first.
    while (this.writing.has(key)) await this.writing.get(key)!.catch(() => undefined);
    const run = (async () => {
      if (await this.store.head(key)) throw new AlreadyExistsError(`topic ${topic}: seq ${seq} is taken`, { topic, seq });
      await this.store.putIfAbsent(key, data);
    })();
    this.writing.set(key, run);
    try {
      await run;
    } finally {
      this.writing.delete(key);
    }
  }

  async recoverEntry(): Promise<undefined> {
    return undefined;
  }
}

/** How long a claim stays in Redis: far longer than any writer takes between claiming a seq and writing it. */
export const CLAIM_TTL_SECONDS = 24 * 3600;

/**
 * For a store that ignores conditions, shared by several brokers: each seq is claimed in Redis first, atomically
 * (`SET NX` of `<prefix>topic-claim:<topic>:<seq>` holding the entry's exact bytes), and only the claimant writes
 * the entry to the store. An entry's bytes are fixed when it is claimed, so anyone who finds a claim without its
 * entry (its claimant died between the two steps) can finish the write with exactly those bytes; that entry was
 * never acknowledged, and its publisher's retry finds it appended.
 *
 * Claims expire after CLAIM_TTL_SECONDS, long after their entries are in the store. A claim won while the store
 * already has the entry (Redis lost its data) is refused. The remaining risk: Redis losing a claim (a restart
 * without persistence, a failover) while its claimant's write is still in flight; the read-back after the write
 * narrows that to writes landing in the same instant. Run Redis with persistence (AOF) for the fence.
 */
export class RedisFence implements LogFence {
  readonly mode = 'redis';

  constructor(
    private readonly store: ObjectStore,
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly lease: WriteLease,
  ) {}

  claimKey(topic: TopicName, seq: number): string {
    return `${this.prefix}topic-claim:${topic}:${seq}`;
  }

  async createEntry(topic: TopicName, seq: number, key: string, data: Buffer): Promise<void> {
    this.lease.assertHeld();
    const claim = this.claimKey(topic, seq);
    const won = await this.redisCall(() => this.redis.set(claim, data, 'EX', CLAIM_TTL_SECONDS, 'NX'));
    if (won !== 'OK') {
      await this.recoverEntry(topic, seq, key);
      throw taken(topic, seq);
    }
    const existing = await readOrUndefined(this.store, key);
    if (existing) {
      // Written under a claim Redis has since lost: the claim now tells the truth again.
      await this.redisCall(() => this.redis.set(claim, existing, 'EX', CLAIM_TTL_SECONDS));
      throw taken(topic, seq);
    }
    crashPoint('sync.fence.after-claim');
    try {
      await this.store.putIfAbsent(key, data);
    } catch (e) {
      if (e instanceof AlreadyExistsError) throw taken(topic, seq);
      throw e;
    }
    const stored = await this.store.get(key);
    if (!stored.equals(data)) throw taken(topic, seq);
  }

  async recoverEntry(topic: TopicName, seq: number, key: string): Promise<Buffer | undefined> {
    const claimed = await this.redisCall(() => this.redis.getBuffer(this.claimKey(topic, seq)));
    if (!claimed) return undefined;
    const existing = await readOrUndefined(this.store, key);
    if (existing) return existing;
    try {
      await this.store.putIfAbsent(key, claimed);
    } catch (e) {
      if (!(e instanceof AlreadyExistsError)) throw e;
    }
    return this.store.get(key);
  }

  private async redisCall<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (e) {
      throw redisError(e, 'topic log fence');
    }
  }
}

function taken(topic: TopicName, seq: number): AlreadyExistsError {
  return new AlreadyExistsError(`topic ${topic}: seq ${seq} is taken`, { topic, seq });
}

async function readOrUndefined(store: ObjectStore, key: string): Promise<Buffer | undefined> {
  try {
    return await store.get(key);
  } catch (e) {
    if (e instanceof NotFoundError) return undefined;
    throw e;
  }
}
