import Redis from 'ioredis';
import { UnavailableError } from '@tributary/core';
import { ObjectDatabase, PackMaintenance } from '@tributary/repository';
import { ObjectStore } from '@tributary/storage';
import { CursorRepository, redisPrefixFor } from '../cursors/cursor.repository';
import { AppendNotifier } from '../topics/append-notifier';
import { TopicLog } from '../topics/topic-log';
import { readOrCreateStoreId } from './store-identity';

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
}

const CONNECT_TIMEOUT_MS = 5000;

/**
 * Everything a broker's handlers share: the object database on its store, the topic logs, Redis cursors and append
 * notifications. A broker keeps no other state, so any number of them may run on one store and one Redis.
 */
export class BrokerContext {
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
    /** Merges the small packs publishes leave behind; call `afterWrite` after each append. */
    readonly packs: PackMaintenance,
    private readonly connections: Redis[],
  ) {}

  /**
   * Opens the store's database (loading pack indexes), reads or creates the store's identity and connects to
   * Redis. Throws UnavailableError naming the URL when Redis cannot be reached.
   */
  static async open(opts: BrokerContextOptions): Promise<BrokerContext> {
    const storeId = await readOrCreateStoreId(opts.store);
    const prefix = redisPrefixFor(storeId);
    const redis = new Redis(opts.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 2, connectTimeout: CONNECT_TIMEOUT_MS });
    const sub = redis.duplicate();
    const logger = opts.log ?? (() => undefined);
    let lastRedisError = '';
    for (const c of [redis, sub]) {
      c.on('error', (e: Error) => {
        if (e.message !== lastRedisError) logger('warn', `redis: ${e.message}`);
        lastRedisError = e.message;
      });
    }
    try {
      await Promise.all([redis.connect(), sub.connect()]);
    } catch (e) {
      redis.disconnect();
      sub.disconnect();
      throw new UnavailableError(`cannot reach Redis at ${opts.redisUrl}: ${(e as Error).message}`, { url: opts.redisUrl }, { cause: e });
    }
    const notifier = new AppendNotifier(redis, sub, prefix);
    await notifier.start();
    const db = await ObjectDatabase.open(opts.store);
    return new BrokerContext(
      opts.store,
      db,
      new TopicLog(opts.store),
      new CursorRepository(redis, prefix),
      notifier,
      storeId,
      opts.pollMs ?? 2000,
      opts.window ?? 4,
      logger,
      new PackMaintenance(db, opts.store, { log: logger }),
      [redis, sub],
    );
  }

  /** Waits for a pack merge in progress and closes the Redis connections. The store belongs to the caller. */
  async close(): Promise<void> {
    await this.packs.close();
    await Promise.all(this.connections.map((c) => c.quit().catch(() => c.disconnect())));
  }
}
