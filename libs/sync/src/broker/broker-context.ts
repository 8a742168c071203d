import { createHash } from 'node:crypto';
import Redis from 'ioredis';
import { InvalidArgumentError, redactUrl, UnavailableError } from '@tributary/core';
import { ObjectDatabase, PackMaintenance, reclaimOrphanPacks } from '@tributary/repository';
import { ConditionalWrites, enforcesConditionalWrites, ObjectStore, probeConditionalWrites } from '@tributary/storage';
import { CursorRepository, redisPrefixFor } from '../cursors/cursor.repository';
import { AppendNotifier } from '../topics/append-notifier';
import { ExclusiveFence, LogFence, LogFenceMode, RedisFence, StoreFence } from '../topics/log-fence';
import { TopicLog } from '../topics/topic-log';
import { BrokerLease } from './broker-lease';
import { IdentityAgreement, readOrCreateStoreId } from './store-identity';
import { redisReason } from '../redis/redis-errors';

export type BrokerLogLevel = 'info' | 'warn' | 'error';
export type BrokerLogger = (level: BrokerLogLevel, message: string) => void;

export interface BrokerContextOptions {
  /** The broker's object store: packs, topic logs and its identity. */
  readonly store: ObjectStore;
  /** `redis://host:port[/db]`. */
  readonly redisUrl: string;
  /** How often a following subscriber re-reads the log when no notification came. Default 2000 ms. */
  readonly pollMs?: number;
  /** Entries a subscriber may have unacknowledged in flight. Default 4. */
  readonly window?: number;
  /** Where handlers report failures and notable events. Default: nowhere. */
  readonly log?: BrokerLogger;
  /**
   * How topic-log appends are arbitrated (TRIB_TOPIC_LOG_FENCE). `auto` (default): by the store when it enforces
   * conditional writes (probed at start-up), else by the Redis fence, so any number of brokers may share the store.
   * `redis`: always by the Redis fence. `off`: by the store when it enforces conditional writes, else this broker
   * must be the store's only one (an exclusive lease in Redis; a second broker is refused at start-up).
   */
  readonly topicLogFence?: TopicLogFenceSetting;
  /** How long this broker's lease on a store that ignores conditions lasts without a refresh. Default 15 s. */
  readonly leaseTtlMs?: number;
  /** Before deleting a pack killed brokers left, how long to wait for its index where the store needs it (ORPHAN_RECHECK_MS). */
  readonly orphanRecheckMs?: number;
}

export type TopicLogFenceSetting = 'auto' | 'redis' | 'off';

const CONNECT_TIMEOUT_MS = 5000;
/** Pack bytes a broker keeps from recent reads for subscribers just behind (ObjectDatabaseOptions.sharedReadBytes). */
const SHARED_READ_BYTES = 64 * 1024 * 1024;

/**
 * Everything a broker's handlers share: the object database on its store, the topic logs, Redis cursors and append
 * notifications. A broker keeps no other state, so any number of them may run on one store and one Redis (on a
 * store that ignores conditional writes, through the Redis fence; see BrokerContextOptions.topicLogFence).
 */
export class BrokerContext {
  /** Set once the broker begins to stop: calls it then ends were not ended by their peers. */
  stopping = false;

  private constructor(
    readonly store: ObjectStore,
    readonly db: ObjectDatabase,
    readonly log: TopicLog,
    readonly cursors: CursorRepository,
    readonly notifier: AppendNotifier,
    readonly storeId: string,
    readonly pollMs: number,
    readonly window: number,
    readonly logger: BrokerLogger,
    /** What the start-up probe found the store enforces. */
    readonly conditionalWrites: ConditionalWrites,
    /** Merges the small packs publishes leave behind; call `afterWrite` after each append. */
    readonly packs: PackMaintenance,
    private readonly connections: Redis[],
    private readonly lease: BrokerLease | undefined,
    /** The removal of what killed brokers left, which goes on in the background after start-up (see reclaimLeftoverPacks). */
    private readonly reclaim: { readonly stop: AbortController; readonly done: Promise<void> },
  ) {}

  /** How this broker's topic-log appends are arbitrated. */
  get topicLogFence(): LogFenceMode {
    return this.log.fence.mode;
  }

  /**
   * Connects to Redis, probes whether the store enforces conditional writes, reads or creates the store's identity,
   * picks the topic log's fence (taking the store's lease when the store does not enforce conditions) and opens the
   * store's database (loading pack indexes). Throws UnavailableError naming the URL when Redis cannot be reached,
   * FailedPreconditionError when the store may not be shared with the brokers already on it.
   */
  static async open(opts: BrokerContextOptions): Promise<BrokerContext> {
    const redis = new Redis(opts.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 2, connectTimeout: CONNECT_TIMEOUT_MS });
    // How messages name this Redis: never with its password.
    const shown = redactUrl(opts.redisUrl);
    // The notifier subscribes again itself after a reconnect (see AppendNotifier.start): ioredis's own resubscribe
    // leaves its command's rejection unhandled, which ends the process when the connection drops before Redis answers.
    const sub = redis.duplicate({ autoResubscribe: false });
    const logger = opts.log ?? (() => undefined);
    let lastRedisError: Error | undefined;
    // Until Redis is in use, a failure is the one the open throws: logging it as well would say it twice.
    let inUse = false;
    for (const c of [redis, sub]) {
      c.on('error', (e: Error) => {
        if (inUse && e.message !== lastRedisError?.message) logger('warn', `redis: ${redisReason(e)}`);
        lastRedisError = e;
      });
    }
    try {
      await Promise.all([redis.connect(), sub.connect()]);
    } catch (e) {
      redis.disconnect();
      sub.disconnect();
      // ioredis rejects with "Connection is closed."; the reason came in its error event.
      const reason = redisReason(lastRedisError ?? e);
      throw new UnavailableError(`cannot reach Redis at ${shown}: ${reason}`, { url: shown }, { cause: e });
    }
    // ioredis only logs a refused SELECT and goes on in database 0, where cursors would land unseen by the others.
    const db = redis.options.db ?? 0;
    if (db !== 0) {
      await redis.select(db).catch((e: Error) => {
        redis.disconnect();
        sub.disconnect();
        throw new InvalidArgumentError(`cannot use database ${db} of Redis at ${shown}: ${e.message}`, { url: shown }, { cause: e });
      });
    }
    inUse = true;
    let lease: BrokerLease | undefined;
    try {
      const conditionalWrites = await probeConditionalWrites(opts.store);
      const enforced = enforcesConditionalWrites(conditionalWrites);
      const storeId = await readOrCreateStoreId(opts.store, enforced ? undefined : agreeInRedis(redis, opts.store.url));
      const prefix = redisPrefixFor(storeId);
      const setting = opts.topicLogFence ?? 'auto';
      let fence: LogFence;
      if (setting !== 'redis' && enforced) {
        fence = new StoreFence(opts.store);
      } else {
        const mode = setting === 'off' ? 'exclusive' : 'fenced';
        lease = await BrokerLease.acquire(redis, prefix, mode, opts.store.url, { ttlMs: opts.leaseTtlMs, onProblem: (m) => logger('error', m), onRecovered: (m) => logger('info', m) });
        fence = mode === 'exclusive' ? new ExclusiveFence(opts.store, lease) : new RedisFence(opts.store, redis, prefix, lease);
      }
      logger('info', describeFence(fence.mode, opts.store.url, conditionalWrites, prefix));
      const notifier = new AppendNotifier(redis, sub, prefix);
      await notifier.start();
      // Subscribers following the same topic read the same ranges at about the same time: keep recent ones.
      const db = await ObjectDatabase.open(opts.store, { sharedReadBytes: SHARED_READ_BYTES });
      const stop = new AbortController();
      const reclaim = { stop, done: reclaimLeftoverPacks(opts.store, logger, { recheckMs: opts.orphanRecheckMs, signal: stop.signal }) };
      return new BrokerContext(
        opts.store,
        db,
        new TopicLog(opts.store, fence),
        new CursorRepository(redis, prefix),
        notifier,
        storeId,
        opts.pollMs ?? 2000,
        opts.window ?? 4,
        logger,
        conditionalWrites,
        new PackMaintenance(db, opts.store, { log: logger }),
        [redis, sub],
        lease,
        reclaim,
      );
    } catch (e) {
      await lease?.release();
      redis.disconnect();
      sub.disconnect();
      throw e;
    }
  }

  /** Waits for a pack merge in progress, releases the store's lease (if held) and closes the Redis connections. The store belongs to the caller. */
  async close(): Promise<void> {
    this.reclaim.stop.abort();
    await this.reclaim.done;
    await this.packs.close();
    await this.lease?.release();
    await Promise.all(this.connections.map((c) => c.quit().catch(() => c.disconnect())));
  }
}

/** Far longer than creating a store's identity takes; only a broker that died mid-creation leaves its key this long. */
const IDENTITY_AGREEMENT_SECONDS = 60;

const RELEASE_IF_MINE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/**
 * On a store that ignores create-if-absent, two brokers creating its identity at once would each keep their own id
 * (and so their own cursors and fence): the first candidate set in Redis, keyed by the store's URL, wins. The key
 * is removed once the identity is written, so a store created again later under the same URL gets a new id.
 */
function agreeInRedis(redis: Redis, storeUrl: string): IdentityAgreement {
  const key = `trib:store-identity:${createHash('sha256').update(storeUrl).digest('hex')}`;
  return async (candidate) => {
    await redis.set(key, candidate, 'EX', IDENTITY_AGREEMENT_SECONDS, 'NX');
    const id = await redis.get(key);
    if (!id) return undefined;
    return {
      id,
      release: async () => {
        await redis.eval(RELEASE_IF_MINE, 1, key, candidate);
      },
    };
  };
}

function describeFence(mode: LogFenceMode, url: string, probe: ConditionalWrites, prefix: string): string {
  const found = enforcesConditionalWrites(probe)
    ? 'enforces conditional writes'
    : `does not enforce conditional writes (create-if-absent ${probe.createIfAbsent ? 'enforced' : 'ignored'}, compare-and-swap ${probe.compareAndSwap ? 'enforced' : 'ignored'})`;
  switch (mode) {
    case 'store':
      return `topic log: store ${url} ${found}; appends are arbitrated by the store, any number of brokers may share it`;
    case 'redis':
      return `topic log: store ${url} ${found}; appends are fenced in Redis (${prefix}topic-claim:*), brokers may share it through the fence`;
    case 'exclusive':
      return `topic log: store ${url} ${found}; fence off (TRIB_TOPIC_LOG_FENCE=off): this broker holds the store exclusively`;
  }
}

/**
 * Pack files without an index, or unfinished, older than this are a killed broker's: a live one writes its pack as
 * the bytes come and its index right after the pack is stored.
 */
const ORPHAN_PACK_GRACE_MS = 60 * 60 * 1000;

/**
 * Removes the packs brokers killed mid-publish left: stored without their index (any store), or half-written
 * beside their key (local disk), as `trib gc` removes them from a repository's store. Nothing else does: gc
 * refuses a broker's store. It runs beside the broker's work, as on S3 it waits before it deletes (see
 * ORPHAN_RECHECK_MS); `signal` stops it. A failure only postpones this to the next start.
 */
async function reclaimLeftoverPacks(store: ObjectStore, log: BrokerLogger, opts: { recheckMs?: number; signal: AbortSignal }): Promise<void> {
  try {
    const r = await reclaimOrphanPacks(store, { graceMs: ORPHAN_PACK_GRACE_MS, ...opts });
    if (r.files) log('info', `removed ${r.files} unfinished pack file(s), ${r.bytes} bytes, that a broker killed mid-publish left`);
  } catch (e) {
    log('warn', `could not remove the unfinished packs killed brokers left (tried again at the next start): ${(e as Error).message}`);
  }
}
