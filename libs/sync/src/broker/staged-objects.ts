import { Readable } from 'node:stream';
import { NotFoundError, ObjectId } from '@tributary/core';
import { ObjectDatabase } from '@tributary/repository';
import { ByteRange, ObjectInfo, ObjectStore, Versioned } from '@tributary/storage';
import { ObjectReader, ObjectTarget } from '../transfer/transfer-channel';

const PACKS_PREFIX = 'packs/';
/** Received objects up to this size are remembered for the shared database's cache (the trees, lists, commit)... */
const RECENT_MAX_OBJECT = 32 << 10;
/** ...up to this many bytes per publish. */
const RECENT_BUDGET = 1 << 20;

/**
 * One publish's objects, staged apart from the broker's shared object database until the commit is accepted.
 *
 * Objects go to a private ObjectDatabase writing packs into the same store, so nothing of a transfer that fails
 * (bad bytes, unsafe tree, not a fast-forward) is ever stored: `abort` drops the private pack, and concurrent
 * publishes never drop each other's pending objects (ObjectDatabase.abort drops everything pending in its pack).
 * `commit` makes the pack durable and hands it to the shared database. Lookups see both.
 *
 * The private database starts with no packs loaded (it sees the store through PacklessView), so opening one costs
 * nothing; the price is that received deltas are stored whole on the broker (a delta needs its base loaded). A
 * transfer larger than a pack (64 MiB) rolls over into several packs; the earlier ones are durable at once, which is
 * harmless: they hold only verified, complete sub-graphs.
 */
export class StagedObjects implements ObjectTarget {
  private readonly recent: [ObjectId, Buffer][] = [];
  private recentBytes = 0;

  private constructor(
    private readonly shared: ObjectDatabase,
    private readonly staged: ObjectDatabase,
  ) {}

  static async open(shared: ObjectDatabase): Promise<StagedObjects> {
    // A full pack is finished (uploaded or fsynced, then indexed) while the transfer goes on into the next one.
    const staged = await ObjectDatabase.open(new PacklessView(shared.store), { finishPacksInBackground: true });
    return new StagedObjects(shared, staged);
  }

  has(id: ObjectId): boolean {
    return this.shared.has(id) || this.staged.has(id);
  }

  readable(id: ObjectId): boolean {
    return this.shared.isStored(id) || this.staged.has(id);
  }

  sizeOf(id: ObjectId): number | undefined {
    return this.shared.sizeOf(id) ?? this.staged.sizeOf(id);
  }

  get(id: ObjectId): Promise<Buffer> {
    return this.staged.has(id) ? this.staged.get(id) : this.shared.get(id);
  }

  async getMany(ids: readonly ObjectId[]): Promise<Buffer[]> {
    if (!ids.some((id) => this.staged.has(id))) return this.shared.getMany(ids);
    return Promise.all(ids.map((id) => this.get(id)));
  }

  async put(id: ObjectId, bytes: Buffer): Promise<void> {
    if (this.shared.has(id)) return;
    await this.staged.putWithId(id, bytes, { handedOver: true });
    if (bytes.length <= RECENT_MAX_OBJECT && this.recentBytes + bytes.length <= RECENT_BUDGET) {
      this.recent.push([id, bytes]);
      this.recentBytes += bytes.length;
    }
  }

  /** The transfer is complete; durability waits for `commit`, after the broker has accepted the commit. */
  async flush(): Promise<void> {}

  /** Makes the staged objects durable and visible to the shared database (`persist`, then `load`). */
  async commit(): Promise<void> {
    await this.persist();
    await this.load();
  }

  /** Makes the staged objects durable in the store; the shared database does not see them until `load`. */
  async persist(): Promise<void> {
    await this.staged.flush();
  }

  /**
   * Makes what `persist` wrote visible to the shared database: it adopts the packs (no listing of the store) and
   * caches the small objects, which subscribers are about to be sent.
   */
  async load(): Promise<void> {
    this.shared.adopt(this.staged.packs(), this.recent);
  }

  /** Drops every staged object not yet durable. */
  async abort(): Promise<void> {
    this.recent.length = 0;
    await this.staged.abort();
  }
}

/** The store as it is, except that listing `packs/` shows nothing: a database opened on it loads no pack. */
class PacklessView implements ObjectStore {
  readonly url: string;

  constructor(private readonly store: ObjectStore) {
    this.url = store.url;
  }

  async *list(prefix: string): AsyncGenerator<ObjectInfo> {
    if (prefix.startsWith(PACKS_PREFIX)) return;
    for await (const info of this.store.list(prefix)) if (!info.key.startsWith(PACKS_PREFIX)) yield info;
  }

  putIfAbsent(key: string, data: Buffer | Readable): Promise<void> {
    return this.store.putIfAbsent(key, data);
  }
  get(key: string): Promise<Buffer> {
    return this.store.get(key);
  }
  getRange(key: string, range: ByteRange): Promise<Buffer> {
    return this.store.getRange(key, range);
  }
  getStream(key: string, range?: ByteRange): Promise<Readable> {
    return this.store.getStream(key, range);
  }
  head(key: string): Promise<ObjectInfo | undefined> {
    return this.store.head(key);
  }
  delete(key: string): Promise<void> {
    return this.store.delete(key);
  }
  readVersioned(key: string): Promise<Versioned | undefined> {
    return this.store.readVersioned(key);
  }
  compareAndSwap(key: string, expected: string | undefined, data: Buffer): Promise<string> {
    return this.store.compareAndSwap(key, expected, data);
  }
  deleteVersioned(key: string, expected: string): Promise<void> {
    return this.store.deleteVersioned(key, expected);
  }
  /** The view shares the broker's store; closing it is the broker's job. */
  async close(): Promise<void> {}
}

/** Reads from the shared database, reloading once on a miss: another broker may have written the pack. */
export function reloadingReader(db: ObjectDatabase): Required<ObjectReader> {
  return {
    async getMany(ids: readonly ObjectId[], opts?: { verify?: boolean }): Promise<Buffer[]> {
      try {
        return await db.getMany(ids, opts);
      } catch (e) {
        if (!(e instanceof NotFoundError)) throw e;
        await db.reload();
        return db.getMany(ids, opts);
      }
    },
    async get(id: ObjectId): Promise<Buffer> {
      try {
        return await db.get(id);
      } catch (e) {
        if (!(e instanceof NotFoundError)) throw e;
        await db.reload();
        return db.get(id);
      }
    },
  };
}
