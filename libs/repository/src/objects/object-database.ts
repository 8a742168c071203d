import {
  applyChunkDelta,
  encodeChunkDelta,
  ID_BYTES,
  idToBytes,
  IntegrityError,
  InvalidArgumentError,
  isObjectId,
  NotFoundError,
  ObjectId,
  ObjectSink,
  ObjectSource,
  sha256,
  UnavailableError,
} from '@tributary/core';
import { ObjectStore } from '@tributary/storage';
import {
  CONDEMNED_PREFIX,
  decodeCondemned,
  decodeDeltaPayload,
  decodeRecordHeader,
  encodeDeltaPayload,
  idxKey,
  IndexEntry,
  isCondemnedKey,
  MAX_DELTA_DEPTH,
  PACK_HEADER_BYTES,
  packKey,
  PACKS_PREFIX,
  parsePackKey,
  RECORD_DELTA,
  RECORD_FULL,
  RECORD_HEADER_BYTES,
  RecordType,
} from '../packs/pack-format';
import { IdFilter } from '../packs/id-filter';
import { PackIndex } from '../packs/pack-index';
import { PackWriter } from '../packs/pack-writer';
import { Mutex } from '../locks/mutex';
import { HashPool, sharedHashPool } from './hash-pool';
import { PooledHashChecks } from './pooled-hash-checks';
import { SharedRangeReads } from './shared-range-reads';
import { RecentlyUsed } from './recently-used';

export interface ObjectDatabaseOptions {
  /** A pack is finished before it would grow past this many bytes. Default 64 MiB. */
  readonly packTargetBytes?: number;
  /** Budget of the cache of small objects (trees, chunk lists, commits). Default 4 MiB; 0 turns it off. */
  readonly cacheBytes?: number;
  /** Initial value of `finishPacksInBackground`. Default false. */
  readonly finishPacksInBackground?: boolean;
  /**
   * Bytes of recent ranged pack reads kept for other readers asking for the same range (see SharedRangeReads): for
   * a database many transfers read at once, such as a broker's. Default 0: reads under way are still shared.
   */
  readonly sharedReadBytes?: number;
  /**
   * Where `getMany` and `verifyStoredMany` hash the objects of OFF_THREAD_MIN_BYTES and more, so that a checkout
   * or a verify hashes on other cores while it goes on reading and writing. Default: the process's pool
   * (sharedHashPool).
   */
  readonly hashes?: HashPool;
}

/** A pack whose index is loaded: the only kind of pack a reader sees. */
export interface LoadedPack {
  readonly name: string;
  readonly packKey: string;
  readonly idxKey: string;
  readonly index: PackIndex;
}

export interface ObjectDatabaseStats {
  /** Logical reads: every `get`, every id of `getMany`, cached or not. */
  gets: number;
  /** Pack bytes fetched from the store for object reads (index files not included). */
  bytesRead: number;
  /** Records appended to packs. */
  objectsWritten: number;
  /** Bytes sent to the store: pack files with their headers and record headers, and index files. */
  bytesWritten: number;
  /**
   * Searches of one pack's index for an id. Finding an id tries the loaded packs in turn, except where the id
   * filter shows that none holds it: the usual case for an object that is new.
   */
  indexSearches: number;
}

interface Location {
  readonly pack: LoadedPack;
  readonly entry: IndexEntry;
}

/** Records to read from each pack, `i` being the caller's index of the object (getMany, verifyStoredMany). */
type PackGroups = Map<LoadedPack, { i: number; entry: IndexEntry }[]>;

function addToPackGroup(groups: PackGroups, loc: Location, i: number): void {
  const group = groups.get(loc.pack);
  if (group) group.push({ i, entry: loc.entry });
  else groups.set(loc.pack, [{ i, entry: loc.entry }]);
}

export const DEFAULT_PACK_TARGET_BYTES = 64 << 20;
const DEFAULT_CACHE_BYTES = 4 << 20;
/** Only objects up to this size are cached: tree pages and chunk-list nodes, not the chunk stream. */
const CACHE_MAX_OBJECT = 32 << 10;
/** Neighbouring records closer than this are fetched in one ranged read... */
const COALESCE_MAX_GAP = 64 << 10;
/** ...as long as the read stays below this, so memory stays bounded. */
export const COALESCE_MAX_SPAN = 8 << 20;
/**
 * Objects this large or larger that getMany or verifyStoredMany checks are hashed on the hash pool's workers
 * (PooledHashChecks): chunks, but not the tree pages and chunk-list nodes a walk waits on, hashed in place.
 */
const OFF_THREAD_MIN_BYTES = 16 << 10;
/** Ranged reads of one getMany in flight at once, when its records lie far apart in a pack. */
const MAX_RANGES_IN_FLIGHT = 8;
/**
 * Stored chains are at most MAX_DELTA_DEPTH long; resolving may hop a little further when duplicate copies of a
 * base differ in depth, and this bound turns a cycle of such copies into an IntegrityError instead of a hang.
 */
const MAX_RESOLVE_HOPS = 4 * MAX_DELTA_DEPTH;
const INDEX_LOAD_CONCURRENCY = 8;
/** Times a read whose pack another process's gc removed meanwhile lists the packs again and retries elsewhere. */
const PACK_GONE_RETRIES = 3;
/** Packs that may be finishing in the background at once; the next rollover waits for the oldest. */
const MAX_FINISHING = 2;

/**
 * The details key of vanishedError's error: objects an entry relied on vanished from the store, so the entry is to be
 * fetched again (a subscription does so at once, not as a broker retry).
 */
export const REFETCH = 'refetch';

/**
 * The error for objects a write relied on that a gc elsewhere deleted meanwhile (confirmReused, checkReused found
 * them): `during` names what relied on them, `then` what comes next. UNAVAILABLE, with details.refetch (REFETCH).
 */
export function vanishedError(gone: readonly ObjectId[], during: string, then: string): UnavailableError {
  return new UnavailableError(`objects ${during} vanished from the store (a gc running elsewhere?), e.g. ${gone[0]}; ${then}`, { [REFETCH]: true });
}

/**
 * What writes did while a watch ran (ObjectDatabase.watchReuse): ids they referred to instead of storing them, what
 * was stored as a delta on which base, and the packs stored meanwhile.
 */
export interface ReuseWatch {
  /** How many loaded packs had vanished from listings when the watch began (ObjectDatabase's count). */
  readonly droppedAtStart: number;
  readonly reused: Set<ObjectId>;
  readonly deltasOn: Map<ObjectId, ObjectId[]>;
  readonly written: Map<string, LoadedPack>;
}

/**
 * The content-addressed object database on top of an ObjectStore: objects live in packs (`packs/<name>.pack`)
 * made visible by their index (`packs/<name>.idx`). Every read is verified against its id.
 *
 * Writes are appended to one open pack, streamed to the store as they come, and become durable and visible to
 * other processes at `flush` (or when the pack reaches `packTargetBytes` and rolls over). Mutations are
 * serialized internally, so concurrent `put` calls are safe; reads run concurrently.
 */
export class ObjectDatabase implements ObjectSource, ObjectSink {
  /** The watches running (watchReuse): each notes every write made while it runs, whoever made it. */
  private readonly watches = new Set<ReuseWatch>();
  /** How many loaded packs a listing has found gone so far: a watch begun at the same count has lost none. */
  private packsDropped = 0;
  /**
   * Packs a gc running elsewhere announced it is deleting (condemnedKey), as of the last listing. They stay
   * readable, but `has` does not count them, so nothing new comes to refer to what they hold.
   */
  private condemned: ReadonlySet<string> = new Set();
  /** Ids stored here as deltas on a base that has vanished since: `has` is false for them until stored again. */
  private readonly restore = new Set<ObjectId>();
  readonly stats: ObjectDatabaseStats = { gets: 0, bytesRead: 0, objectsWritten: 0, bytesWritten: 0, indexSearches: 0 };
  readonly packTargetBytes: number;
  /**
   * When true, a pack that fills up is finished (stored, fsynced, indexed) in the background while writes go on
   * into the next one, instead of holding every writer until it is durable. Its objects stay visible to `has` and
   * readable throughout; a failure to store it is thrown by the next write and the next `flush` (see lostPack),
   * which also waits for every such pack. For bulk writers (a commit) on a store where finishing a pack costs an fsync.
   */
  finishPacksInBackground: boolean;
  private readonly finishing = new Map<PackWriter, Promise<void>>();
  /**
   * The error of a pack that could not be stored (streamed or finished in the background), whose pending objects
   * were dropped. The first write after it throws it, so the operation writing fails early; later writes go into a
   * new pack; the next flush throws it and clears it, so whoever put objects into the lost pack learns at its flush
   * that they are not durable. A store that failed for a while thus fails the operations of that while, at most one
   * more flush, and never every write after it.
   */
  private lostPack: { readonly error: unknown; toldWrites: boolean } | undefined;
  private readonly loaded = new Map<string, LoadedPack>();
  /** Every id of every pack ever loaded here (packs since dropped leave false positives only). */
  private filter = new IdFilter();
  private lastHit: LoadedPack | undefined;
  private writer: PackWriter | undefined;
  private readonly lock = new Mutex();
  /** The gc notices read so far that were still listed at the last reload, and the packs each names. */
  private readonly notices = new Map<string, readonly string[]>();
  private readonly cache: SmallObjectCache;
  private readonly rangeReads: SharedRangeReads;
  private readonly hashes: HashPool;

  private constructor(
    readonly store: ObjectStore,
    opts: ObjectDatabaseOptions,
  ) {
    const target = opts.packTargetBytes ?? DEFAULT_PACK_TARGET_BYTES;
    if (!Number.isSafeInteger(target) || target <= PACK_HEADER_BYTES) {
      throw new InvalidArgumentError(`packTargetBytes must be an integer above ${PACK_HEADER_BYTES}, got ${target}`);
    }
    this.packTargetBytes = target;
    this.cache = new SmallObjectCache(opts.cacheBytes ?? DEFAULT_CACHE_BYTES);
    this.rangeReads = new SharedRangeReads(opts.sharedReadBytes ?? 0);
    this.hashes = opts.hashes ?? sharedHashPool();
    this.finishPacksInBackground = opts.finishPacksInBackground ?? false;
  }

  /**
   * Opens the database by loading every pack index (one listing plus one read per pack; pack files are not
   * touched). Throws IntegrityError naming the key of a corrupt index.
   */
  static async open(store: ObjectStore, opts: ObjectDatabaseOptions = {}): Promise<ObjectDatabase> {
    const db = new ObjectDatabase(store, opts);
    await db.reload();
    return db;
  }

  /**
   * Picks up packs indexed since the last load (written by other processes) and forgets packs whose index is
   * gone (removed by gc), and learns which packs a running gc has announced it is deleting. With `noticesFirst`
   * the gc notices are listed and read before the packs: then a notice missed (removed meanwhile) belongs to a gc
   * whose deletions are over, so its packs are not listed either. (One listing of both does not promise that:
   * a local folder is listed in no order.) Throws IntegrityError naming the key of a corrupt index.
   */
  async reload(opts: { noticesFirst?: boolean } = {}): Promise<void> {
    const before = new Set(this.loaded.keys());
    const listed = new Set<string>();
    const notices = new Set<string>();
    const condemned = new Set<string>();
    const readNotices = async (keys: readonly string[]) => {
      for (const key of keys) {
        notices.add(key);
        for (const name of (await this.condemnedBy(key)) ?? []) condemned.add(name);
      }
    };
    if (opts.noticesFirst) {
      const first: string[] = [];
      for await (const info of this.store.list(CONDEMNED_PREFIX)) if (isCondemnedKey(info.key)) first.push(info.key);
      await readNotices(first);
    }
    const more: string[] = [];
    for await (const info of this.store.list(PACKS_PREFIX)) {
      const parsed = parsePackKey(info.key);
      if (parsed?.kind === 'idx') listed.add(parsed.name);
      else if (isCondemnedKey(info.key) && !notices.has(info.key)) more.push(info.key);
    }
    await readNotices(more);
    this.condemned = condemned;
    for (const key of this.notices.keys()) if (!notices.has(key)) this.notices.delete(key);
    const missing = [...listed].filter((name) => !this.loaded.has(name));
    const fresh: LoadedPack[] = [];
    await forEachLimited(missing, INDEX_LOAD_CONCURRENCY, async (name) => {
      const key = idxKey(name);
      let bytes: Buffer;
      try {
        bytes = await this.store.get(key);
      } catch (e) {
        if (e instanceof NotFoundError) return; // deleted by gc since the listing
        throw e;
      }
      fresh.push({ name, packKey: packKey(name), idxKey: key, index: PackIndex.decode(bytes, key) });
    });
    // Only packs known before the listing may be dropped: one flushed meanwhile is simply not in the listing yet.
    for (const name of before) {
      if (!listed.has(name)) {
        if (this.lastHit === this.loaded.get(name)) this.lastHit = undefined;
        this.loaded.delete(name);
        this.packsDropped++;
      }
    }
    this.addLoaded(fresh.filter((p) => !this.loaded.has(p.name)));
  }

  /**
   * Makes packs that another ObjectDatabase on the same store finished (durable and indexed: its `packs()` after a
   * `flush`) visible here, without the listing and index reads of `reload`, whose cost grows with the number of
   * packs. For a writer that stages objects apart before publishing them (the broker). Packs already loaded are
   * skipped. `recent` are objects of those packs whose bytes the caller still holds: the small ones that hash to
   * their id go to the small-object cache, so reading them right back (the broker sending what it just accepted)
   * costs no store read.
   */
  adopt(packs: readonly LoadedPack[], recent: Iterable<readonly [ObjectId, Buffer]> = []): void {
    this.addLoaded(packs.filter((p) => !this.loaded.has(p.name)));
    for (const [id, bytes] of recent) {
      if (bytes.length <= CACHE_MAX_OBJECT && this.findAny(id) && sha256(bytes) === id) this.cache.set(id, bytes);
    }
  }

  /**
   * True if `id` is in a loaded index or pending in the open pack (or one finishing in the background), counting
   * no pack that a gc has announced it is deleting: a writer that finds `id` here may refer to it instead of
   * storing it again.
   */
  has(id: ObjectId): boolean {
    if (this.isPending(id)) return true;
    if (this.restore.size > 0 && this.restore.has(id)) return false;
    return this.findAny(id, this.condemned.size > 0 ? this.condemned : undefined) !== undefined;
  }

  /**
   * True if some loaded pack holds `id`, a pack a gc is deleting included, or it is pending: whether it can be read
   * now (`has` says whether new writes may refer to it).
   */
  isStored(id: ObjectId): boolean {
    return this.isPending(id) || this.findAny(id) !== undefined;
  }

  /**
   * The names of the packs whose index the store holds but whose pack file it does not: damage (a file deleted or
   * lost), which a read of their objects meets as IntegrityError. For `trib verify` without --read-data, which reads
   * no chunk. Reloads, then lists the pack files (a writer stores the file before the index), and asks again for the
   * index of each pack without one (a gc deletes the index first): two listings, and a request per such pack.
   */
  async packsWithoutFile(): Promise<Set<string>> {
    await this.reload();
    const files = new Set<string>();
    for await (const info of this.store.list(PACKS_PREFIX)) {
      const parsed = parsePackKey(info.key);
      if (parsed?.kind === 'pack') files.add(parsed.name);
    }
    const missing = new Set<string>();
    for (const pack of this.loaded.values()) {
      if (!files.has(pack.name) && (await this.store.head(pack.idxKey))) missing.add(pack.name);
    }
    return missing;
  }

  /** Whether `id` is pending, or a loaded pack not among `packs` holds it. */
  isStoredOutside(id: ObjectId, packs: ReadonlySet<string>): boolean {
    return this.isPending(id) || this.locateAll(id).some((loc) => !packs.has(loc.pack.name));
  }

  /**
   * The object's bytes, verified: sha256(bytes) equals `id` (deltas are resolved first, at most a bounded chain).
   * Throws NotFoundError if no loaded pack holds `id`, IntegrityError (details.id) if the stored bytes are damaged
   * or truncated. A pending object (put but not yet flushed) is served from the small-object cache when it is
   * there; otherwise this flushes the open pack first and reads it back, which is simple and always correct.
   * A pack removed by another process's gc triggers a reload and retry; a pack missing while its index is still
   * listed is damage: IntegrityError naming both (details.key, details.idx). The returned buffer is the caller's.
   */
  async get(id: ObjectId): Promise<Buffer> {
    this.stats.gets++;
    return Buffer.from(await this.read(id, 0));
  }

  /**
   * Like `get` for many ids at once, results in the order of `ids`. Records that sit close together in one pack
   * are fetched with one ranged read (bounded to a few MiB), which is what makes a checkout cheap on a cloud store;
   * ranges far apart are read up to 8 at a time (within one such span of bytes), not one round trip after another.
   * The caller bounds `ids.length`: all results are held in memory. The buffers are the caller's, but a result
   * may be a view of the read it came in (not a copy, which cost a checkout a tenth of its time), so a repeated id
   * may share bytes with its twin: treat them as read-only.
   *
   * `verify: false` skips hashing (sizes and record headers are still checked). Only for a caller whose consumer
   * hashes every object itself anyway: a transfer sender, since the receiver verifies each object against its id
   * before storing it, and a second hash here would only double the CPU cost per byte sent. Verified objects of
   * OFF_THREAD_MIN_BYTES or more are hashed as they are read by PooledHashChecks (on the pool's workers, and on this
   * thread when they are busy); every verdict is in before it returns.
   */
  async getMany(ids: readonly ObjectId[], opts: { verify?: boolean } = {}): Promise<Buffer[]> {
    const verify = opts.verify ?? true;
    const pooled = verify ? this.pooledChecks() : undefined;
    let mismatch: IntegrityError | undefined;
    this.stats.gets += ids.length;
    const out: (Buffer | undefined)[] = new Array(ids.length);
    if (ids.some((id) => this.isPending(id) && !this.cache.has(id))) await this.flush();
    const groups: PackGroups = new Map();
    for (let i = 0; i < ids.length; i++) {
      const cached = this.cache.get(ids[i]);
      if (cached) {
        out[i] = Buffer.from(cached);
        continue;
      }
      const loc = this.locate(ids[i]) ?? (await this.locateAfterReload(ids[i]));
      addToPackGroup(groups, loc, i);
    }
    for (const [pack, items] of groups) {
      try {
        for await (const { item, payload } of this.readCoalesced(pack, items)) {
          const { entry } = item;
          if (pooled && hashedOffThread(pack, entry, payload)) {
            out[item.i] = payload;
            await pooled.add(entry.id, payload, (ok) => (ok ? this.cache.set(entry.id, payload) : (mismatch ??= objectMismatch(pack, entry))));
          } else {
            out[item.i] = await this.materialize(pack, item.entry, payload, 0, verify);
          }
        }
      } catch (e) {
        if (!(e instanceof NotFoundError)) throw e;
        // The pack vanished (another process's gc): read the rest one by one, which reloads and retries.
        for (const item of items) if (!out[item.i]) out[item.i] = Buffer.from(await this.read(ids[item.i], 0));
      }
    }
    await pooled?.done();
    if (mismatch) throw mismatch;
    return out as Buffer[];
  }

  /** Checks on the hash pool's workers, or undefined when the pool hashes in place (no workers). */
  private pooledChecks(): PooledHashChecks | undefined {
    return this.hashes.movesBuffers ? new PooledHashChecks(this.hashes) : undefined;
  }

  /**
   * Where `getMany` would read `id` from: its pack and the record's offset there, for callers that order their
   * reads by position so neighbours coalesce. Undefined for an object that is cached, pending or not stored.
   */
  placeOf(id: ObjectId): { readonly pack: string; readonly offset: number } | undefined {
    if (this.cache.has(id) || this.isPending(id)) return undefined;
    const loc = this.locate(id);
    return loc && { pack: loc.pack.name, offset: loc.entry.offset };
  }

  /**
   * The length of a held object's bytes as its index records it (a delta's resolved length), without reading it;
   * undefined when it is not held. Like the index, it is a claim a read still verifies.
   */
  sizeOf(id: ObjectId): number | undefined {
    return (this.pendingEntry(id) ?? this.findAny(id)?.entry)?.size;
  }

  /**
   * Starts noting the objects that writes refer to because a loaded pack holds them, instead of storing them again
   * (puts skipped, delta bases, and what the caller notes with noteReused), and the packs stored, for confirmReused
   * (or checkReused). Watches may overlap (a commit and a fetch in one agent, a hub's topics): each notes every write
   * made while it runs, whoever made it, which can only make a check stricter.
   */
  watchReuse(): ReuseWatch {
    const watch: ReuseWatch = { droppedAtStart: this.packsDropped, reused: new Set(), deltasOn: new Map(), written: new Map() };
    this.watches.add(watch);
    return watch;
  }

  /** Ends a watch without confirming: a write that failed has nothing to confirm. */
  stopWatchingReuse(watch: ReuseWatch): void {
    this.watches.delete(watch);
  }

  /** Notes that the caller refers to `id` because `has(id)` said it is stored, while a watch runs (watchReuse). */
  noteReused(id: ObjectId): void {
    if (this.watches.size === 0 || this.isPending(id)) return;
    for (const watch of this.watches) watch.reused.add(id);
  }

  /**
   * Ends `watch`. Lists the packs again and returns the noted ids that no pack holds any more, or only packs a
   * gc has announced it is deleting: another process's gc is deleting them (old and, until the caller's commit,
   * unreachable) while the caller was writing. Objects stored here as deltas on such a base are returned too, and
   * `has` is false for them until they are stored again (whole, as their base is gone); so are the objects of packs
   * stored during the watch that such a gc took for dead (nothing names them until the caller's ref moves: a gc
   * with a grace period shorter than the write took). Call it after `flush`,
   * before anything durable (a ref) names what was written; the caller then stores them all again, from their
   * source, not trusting what it wrote. Costs one listing; ids are looked up only when a loaded pack has vanished
   * or a gc is announced.
   */
  async confirmReused(watch: ReuseWatch): Promise<ObjectId[]> {
    this.watches.delete(watch);
    return this.goneAmong([watch]);
  }

  /**
   * What confirmReused finds, for every watch running, ending none: for a writer whose ref names what other
   * watches' writes stored or referred to (a hub's merge of entries that subscriptions received). Call it after
   * `flush`, before the ref moves.
   */
  checkReused(): Promise<ObjectId[]> {
    return this.goneAmong([...this.watches]);
  }

  private async goneAmong(watches: readonly ReuseWatch[]): Promise<ObjectId[]> {
    if (watches.every((w) => w.reused.size === 0 && w.written.size === 0)) return [];
    await this.reload({ noticesFirst: true });
    // Whatever listing found them gone (this one, or one a read or another caller made during the watch).
    if (this.condemned.size === 0 && watches.every((w) => w.droppedAtStart === this.packsDropped)) return [];
    const gone = new Set<ObjectId>();
    for (const watch of watches) {
      for (const id of watch.reused) if (!this.has(id)) gone.add(id);
      // A pack stored during the watch, which only the caller's coming ref will name, that a gc has taken for dead.
      for (const [name, pack] of watch.written) {
        if (this.loaded.has(name) && !this.condemned.has(name)) continue;
        for (const e of pack.index.entries()) if (!this.has(e.id)) gone.add(e.id);
      }
    }
    // A delta on a gone object is as good as gone, and so is a delta on that delta (a Set iterates what is added).
    for (const base of gone) {
      for (const watch of watches) {
        for (const id of watch.deltasOn.get(base) ?? []) {
          this.restore.add(id);
          gone.add(id);
        }
      }
    }
    return [...gone];
  }

  /** Stores `bytes` under sha256(bytes) and returns the id. A no-op if `has(id)`. Durable after `flush`. */
  async put(bytes: Buffer): Promise<ObjectId> {
    const id = sha256(bytes);
    if (this.has(id)) {
      this.noteReused(id);
      return id;
    }
    await this.lock.run(async () => {
      if (this.has(id)) return;
      await this.appendLocked(RECORD_FULL, id, [bytes], bytes.length, 0);
      this.cache.set(id, bytes);
    });
    return id;
  }

  /**
   * Stores `bytes` under an id the caller already computed (hashing in worker threads). With `verify` the bytes
   * are hashed again and a mismatch throws IntegrityError; without it the caller vouches for the id (reads verify
   * anyway). With `deltaBase`, if that object is held, its chain is shorter than MAX_DELTA_DEPTH and
   * `encodeChunkDelta` finds a delta smaller than the object, a delta record is stored instead of the bytes (a
   * base still pending in the open pack is used only if it is in the small-object cache). With `handedOver` the
   * caller never changes `bytes` again, so the pack may hold them until stored instead of copying them (a transfer
   * receiver's bytes are its own, fresh from the wire). With `hashed` the caller has itself checked that `bytes`
   * hash to `id` (a transfer receiver checks every object), so a small object goes to the cache as `verify` would
   * put it there, without hashing it a second time.
   */
  async putWithId(
    id: ObjectId,
    bytes: Buffer,
    opts: { deltaBase?: ObjectId; verify?: boolean; hashed?: boolean; handedOver?: boolean } = {},
  ): Promise<void> {
    if (!isObjectId(id)) throw new InvalidArgumentError(`bad object id ${JSON.stringify(id)}`);
    const verified = opts.verify === true;
    if (verified && sha256(bytes) !== id) throw new IntegrityError(`bytes do not hash to ${id}`, { id });
    if (this.has(id)) {
      this.noteReused(id);
      return;
    }
    const baseId = opts.deltaBase;
    let delta: Buffer | undefined;
    // An object stored again because its base vanished is stored whole, and reads take the shortest chain: this copy.
    // A base new writes may not refer to (in a pack a gc is deleting) is not read: the delta would be dropped below.
    const usableBase = baseId !== undefined && baseId !== id && !this.restore.has(id) && this.has(baseId);
    if (usableBase && (this.depthOf(baseId) ?? MAX_DELTA_DEPTH) < MAX_DELTA_DEPTH) {
      const base = await this.readForDelta(baseId);
      // Any delta smaller than the chunk is kept: storing an appended file's new last chunk whole would store its
      // old tail again, so every append would cost up to a chunk more than it added.
      const d = base && encodeChunkDelta(base, bytes, { maxFraction: 1 });
      if (d && ID_BYTES + d.length < bytes.length) delta = d;
    }
    await this.lock.run(async () => {
      if (this.has(id)) return;
      const baseDepth = baseId === undefined ? undefined : this.depthOf(baseId);
      if (delta && baseId !== undefined && baseDepth !== undefined && baseDepth < MAX_DELTA_DEPTH && this.has(baseId)) {
        await this.appendLocked(RECORD_DELTA, id, encodeDeltaPayload(baseId, delta), bytes.length, baseDepth + 1);
        this.noteDeltaOn(baseId, id);
      } else {
        await this.appendLocked(RECORD_FULL, id, [bytes], bytes.length, 0, opts.handedOver);
      }
      if (verified || opts.hashed) this.cache.set(id, bytes);
    });
  }

  /**
   * Finishes the open pack: ends its stream, waits until the store holds it, then writes its index. After this
   * resolves every earlier put is durable and visible to a fresh `open`. If the pack cannot be stored, every
   * object pending in it is dropped (has() turns false) and the store's error is thrown.
   */
  flush(): Promise<void> {
    return this.lock.run(() => this.flushLocked());
  }

  /**
   * Drops the open pack and every object pending in it; nothing of it becomes visible. Packs already finishing in
   * the background complete (as full packs always do), and a failure among them is forgotten.
   */
  abort(): Promise<void> {
    return this.lock.run(async () => {
      const w = this.writer;
      this.writer = undefined;
      if (w) {
        this.forgetPending(w);
        await w.abort();
      }
      await this.settleFinishing();
      this.lostPack = undefined;
    });
  }

  /** Every id in a loaded index, each once, in ascending order (pending objects appear after `flush`). */
  async *ids(): AsyncGenerator<ObjectId> {
    const heap = new CursorHeap();
    for (const p of this.loaded.values()) if (p.index.count > 0) heap.push({ index: p.index, pos: 0, id: p.index.idAt(0) });
    let last: ObjectId | undefined;
    while (heap.size > 0) {
      const top = heap.peek();
      if (top.id !== last) {
        last = top.id;
        yield top.id;
      }
      const pos = top.pos + 1;
      if (pos < top.index.count) heap.replaceTop({ index: top.index, pos, id: top.index.idAt(pos) });
      else heap.pop();
    }
  }

  /**
   * Every id, stored or pending, that starts with `prefix` (lowercase hex), sorted and each once: for resolving
   * an abbreviated id. Costs a binary search per pack plus a scan of the pending objects.
   */
  idsWithPrefix(prefix: string): ObjectId[] {
    const found = new Set<ObjectId>();
    for (const p of this.loaded.values()) for (const id of p.index.idsWithPrefix(prefix)) found.add(id);
    for (const w of this.pendingWriters()) for (const id of w.ids()) if (id.startsWith(prefix)) found.add(id);
    return [...found].sort();
  }

  /**
   * Re-reads every stored copy of `id` from the store, bypassing the cache, and checks it hashes to `id`
   * (for `trib verify --read-data`). Throws NotFoundError if no loaded pack holds it, IntegrityError if a copy
   * is damaged or its pack is missing while its index is there. A pack another process's gc removed meanwhile
   * triggers a reload and a check of the copies there are then.
   */
  async verifyStored(id: ObjectId): Promise<void> {
    if (this.isPending(id)) await this.flush();
    return this.verifyCopies(id, PACK_GONE_RETRIES);
  }

  private async verifyCopies(id: ObjectId, retries: number): Promise<void> {
    const copies = this.locateAll(id);
    if (copies.length === 0) throw notFound(id, this.store);
    for (const loc of copies) {
      let payload: Buffer;
      try {
        payload = await this.readPayload(loc);
      } catch (e) {
        if (!(e instanceof NotFoundError) || retries === 0) throw e;
        await this.checkPackGone(loc.pack, id, e);
        // Merged or removed by another process's gc since it was loaded: verify the copies there are now.
        return this.verifyCopies(id, retries - 1);
      }
      await this.materialize(loc.pack, loc.entry, payload, 0);
    }
  }

  /**
   * `verifyStored` for many ids at once, reading the copies that sit close together in a pack with one ranged read
   * (as `getMany` does), so verifying a cloud store costs a few requests per pack, not one per object. Never throws
   * for one object: each result is undefined when every stored copy hashes to its id, else the error `verifyStored`
   * would have thrown. Memory stays within a few coalesced reads, and the hash pool's bytes out
   * (POOLED_HASH_LIMITS), however many ids are given.
   */
  async verifyStoredMany(ids: readonly ObjectId[]): Promise<(Error | undefined)[]> {
    if (ids.some((id) => this.isPending(id))) await this.flush();
    const out: (Error | undefined)[] = new Array(ids.length).fill(undefined);
    const groups: PackGroups = new Map();
    for (let i = 0; i < ids.length; i++) {
      const copies = this.locateAll(ids[i]);
      if (copies.length === 0) out[i] = notFound(ids[i], this.store);
      for (const loc of copies) addToPackGroup(groups, loc, i);
    }
    const pooled = this.pooledChecks();
    for (const [pack, items] of groups) {
      const done = new Set<number>();
      try {
        for await (const { item, payload } of this.readCoalesced(pack, items)) {
          const { entry } = item;
          try {
            if (pooled && hashedOffThread(pack, entry, payload)) {
              await pooled.add(entry.id, payload, (ok) => void (ok || (out[item.i] ??= objectMismatch(pack, entry))));
            } else {
              await this.materialize(pack, entry, payload, 0);
            }
          } catch (e) {
            if (!(e instanceof IntegrityError)) throw e;
            out[item.i] ??= e;
          }
          done.add(item.i);
        }
      } catch {
        // A read of the pack failed part way (cut short, vanished, the store away): the rest one by one, which
        // reloads and retries where that helps and otherwise names the error per object.
        for (const { i } of items) {
          if (done.has(i) || out[i]) continue;
          out[i] = await this.verifyStored(ids[i]).then(
            () => undefined,
            (err: unknown) => (err instanceof Error ? err : new Error(String(err))),
          );
        }
      }
    }
    await pooled?.done();
    return out;
  }

  /**
   * The packs the gc notice at `key` names, or undefined once it is gone. A notice never changes under its key (its
   * name is its writer's random id), so each is read once while it stands.
   */
  async condemnedBy(key: string): Promise<readonly string[] | undefined> {
    const known = this.notices.get(key);
    if (known) return known;
    const packs = await readCondemnedNotice(this.store, key);
    if (packs) this.notices.set(key, packs);
    return packs;
  }

  /** Loaded packs, for maintenance (gc, verify). */
  packs(): LoadedPack[] {
    return [...this.loaded.values()];
  }

  /**
   * Raw payloads of `entries` of one pack, fetched with coalesced ranged reads, each checked against its record
   * header but not hashed (see `resolve`). Yields in pack order. For maintenance.
   */
  async *readRecords(pack: LoadedPack, entries: readonly IndexEntry[]): AsyncGenerator<{ entry: IndexEntry; payload: Buffer }> {
    for await (const { item, payload } of this.readCoalesced(pack, entries.map((entry) => ({ entry })))) {
      yield { entry: item.entry, payload };
    }
  }

  /** The verified bytes of a record read by `readRecords` (resolving a delta through the database). */
  resolve(pack: LoadedPack, entry: IndexEntry, payload: Buffer): Promise<Buffer> {
    return this.materialize(pack, entry, payload, 0);
  }

  // ---- reading

  private async read(id: ObjectId, hops: number): Promise<Buffer> {
    const cached = this.cache.get(id);
    if (cached) return cached;
    if (this.writer?.has(id)) await this.flush();
    else await this.finishedWith(id);
    let at = this.locate(id) ?? (await this.locateAfterReload(id));
    let payload: Buffer;
    for (let retries = PACK_GONE_RETRIES; ; retries--) {
      try {
        payload = await this.readPayload(at);
        break;
      } catch (e) {
        if (!(e instanceof NotFoundError) || retries === 0) throw e;
        await this.checkPackGone(at.pack, id, e);
        const again = this.locate(id);
        if (!again) throw notFound(id, this.store);
        at = again;
      }
    }
    return this.materialize(at.pack, at.entry, payload, hops);
  }

  /**
   * After a read of `pack` failed with NotFoundError: lists the packs again, and throws IntegrityError naming the pack
   * and the store if its index is still listed. gc deletes a pack's index before the pack, so a pack missing while
   * its index stands is damage, not a gc at work. Returns when the index is gone too (another process's gc merged or
   * removed the pack): the caller then locates the object again.
   */
  private async checkPackGone(pack: LoadedPack, id: ObjectId, e: NotFoundError): Promise<void> {
    await this.reload();
    if (!this.loaded.has(pack.name)) return;
    throw new IntegrityError(
      `pack ${pack.packKey} is missing from ${this.store.url}, though its index ${pack.idxKey} lists object ${id}`,
      { id, key: pack.packKey, idx: pack.idxKey },
      { cause: e },
    );
  }

  /** Notes, while a watch runs, that `id` was stored as a delta on `base`, so its fate follows the base's. */
  private noteDeltaOn(base: ObjectId, id: ObjectId): void {
    if (this.watches.size === 0 || this.isPending(base)) return;
    this.noteReused(base);
    for (const watch of this.watches) {
      const on = watch.deltasOn.get(base);
      if (on) on.push(id);
      else watch.deltasOn.set(base, [id]);
    }
  }

  /**
   * Where `id` is after listing the store's packs again; NotFoundError if nowhere. An object missing from the loaded
   * indexes may have moved: another process merged or rewrote its pack into one this database has not loaded (a
   * reload that raced with that merge skipped the pack it deleted and listed before the new one existed).
   */
  private async locateAfterReload(id: ObjectId): Promise<Location> {
    await this.reload();
    const loc = this.locate(id);
    if (!loc) throw notFound(id, this.store);
    return loc;
  }

  private async readForDelta(baseId: ObjectId): Promise<Buffer | undefined> {
    // Reading a pending base that is not cached would flush a small pack just for a delta; store whole instead.
    if (this.writer?.has(baseId) && !this.cache.has(baseId)) return undefined;
    try {
      return await this.read(baseId, 0);
    } catch (e) {
      // A damaged or vanished base only means no delta: the object is then stored whole.
      if (e instanceof IntegrityError || e instanceof NotFoundError) return undefined;
      throw e;
    }
  }

  private async readPayload(loc: Location): Promise<Buffer> {
    const start = loc.entry.offset - RECORD_HEADER_BYTES;
    const buf = await this.store.getRange(loc.pack.packKey, {
      offset: start,
      length: RECORD_HEADER_BYTES + loc.entry.storedLength,
    });
    this.stats.bytesRead += buf.length;
    return payloadAt(buf, 0, loc.pack, loc.entry);
  }

  private async *readCoalesced<T extends { entry: IndexEntry }>(
    pack: LoadedPack,
    items: readonly T[],
  ): AsyncGenerator<{ item: T; payload: Buffer }> {
    const sorted = [...items].sort((a, b) => a.entry.offset - b.entry.offset);
    const ranges: { from: number; to: number; start: number; end: number }[] = [];
    for (let i = 0; i < sorted.length; ) {
      const start = sorted[i].entry.offset - RECORD_HEADER_BYTES;
      let end = sorted[i].entry.offset + sorted[i].entry.storedLength;
      let j = i + 1;
      for (; j < sorted.length; j++) {
        const e = sorted[j].entry;
        const next = e.offset + e.storedLength;
        if (e.offset - RECORD_HEADER_BYTES - end > COALESCE_MAX_GAP || Math.max(end, next) - start > COALESCE_MAX_SPAN) break;
        end = Math.max(end, next);
      }
      ranges.push({ from: i, to: j, start, end });
      i = j;
    }
    // Ranges far apart (a round trip each on a cloud store) are read a few at a time, at most a span of bytes ahead.
    const reads: (Promise<Buffer> | undefined)[] = [];
    let bytesAhead = 0;
    const startReads = (consumed: number) => {
      while (reads.length < ranges.length) {
        const r = ranges[reads.length];
        const inFlight = reads.length - consumed;
        if (inFlight > 0 && (inFlight >= MAX_RANGES_IN_FLIGHT || bytesAhead + (r.end - r.start) > COALESCE_MAX_SPAN)) return;
        const length = r.end - r.start;
        bytesAhead += length;
        const read = this.rangeReads.read(pack.packKey, r.start, length, () => this.fetchRange(pack, r.start, length));
        read.catch(() => undefined); // awaited in turn below; a consumer that stops early never sees it
        reads.push(read);
      }
    };
    for (let k = 0; k < ranges.length; k++) {
      startReads(k);
      const { from, to, start, end } = ranges[k];
      const buf = await reads[k]!;
      reads[k] = undefined;
      bytesAhead -= end - start;
      for (let i = from; i < to; i++) {
        yield { item: sorted[i], payload: payloadAt(buf, sorted[i].entry.offset - RECORD_HEADER_BYTES - start, pack, sorted[i].entry) };
      }
    }
  }

  private async fetchRange(pack: LoadedPack, offset: number, length: number): Promise<Buffer> {
    const buf = await this.store.getRange(pack.packKey, { offset, length });
    this.stats.bytesRead += buf.length;
    return buf;
  }

  private async materialize(pack: LoadedPack, entry: IndexEntry, payload: Buffer, hops: number, verify = true): Promise<Buffer> {
    let bytes: Buffer;
    if (entry.type === RECORD_FULL) {
      bytes = payload;
    } else {
      if (hops >= MAX_RESOLVE_HOPS) {
        throw new IntegrityError(`delta chain of object ${entry.id} is longer than ${MAX_RESOLVE_HOPS}`, { id: entry.id });
      }
      const { baseId, delta } = decodeDeltaPayload(payload);
      let base: Buffer;
      try {
        base = await this.read(baseId, hops + 1);
      } catch (e) {
        if (!(e instanceof NotFoundError)) throw e;
        throw new IntegrityError(`object ${entry.id} in ${pack.packKey} is a delta of missing object ${baseId}`, {
          id: entry.id,
          base: baseId,
          key: pack.packKey,
        });
      }
      try {
        bytes = applyChunkDelta(base, delta);
      } catch (e) {
        throw new IntegrityError(`object ${entry.id} in ${pack.packKey} has a malformed delta`, { id: entry.id, key: pack.packKey }, { cause: e });
      }
    }
    checkLength(pack, entry, bytes);
    if (verify && sha256(bytes) !== entry.id) throw objectMismatch(pack, entry);
    if (verify) this.cache.set(entry.id, bytes);
    return bytes;
  }

  // ---- locating

  /** Makes `packs` visible to lookups. */
  private addLoaded(packs: readonly LoadedPack[]): void {
    let adding = 0;
    for (const p of packs) {
      this.loaded.set(p.name, p);
      adding += p.index.count;
    }
    if (this.filter.hasRoomFor(adding)) {
      for (const p of packs) p.index.addIdsTo(this.filter);
      return;
    }
    // Sized anew for all that is loaded, with as much room again, as an array doubles: each id is added O(1)
    // times, and a database opened on many packs builds its filter once (the many-packs bench times 1.6 million).
    let ids = 0;
    for (const p of this.loaded.values()) ids += p.index.count;
    this.filter = new IdFilter(2 * ids);
    for (const p of this.loaded.values()) p.index.addIdsTo(this.filter);
  }

  /** Any copy of `id` outside the packs named in `skip`, trying the pack of the last hit first. */
  private findAny(id: ObjectId, skip?: ReadonlySet<string>): Location | undefined {
    const key = idToBytes(id);
    if (!this.filter.mightHave(key)) return undefined;
    const last = this.lastHit && !skip?.has(this.lastHit.name) ? this.lastHit : undefined;
    const e = last && this.search(last, key);
    if (last && e) return { pack: last, entry: e };
    for (const p of this.loaded.values()) {
      if (p === last || skip?.has(p.name)) continue;
      const entry = this.search(p, key);
      if (entry) {
        this.lastHit = p;
        return { pack: p, entry };
      }
    }
    return undefined;
  }

  /** The copy of `id` with the shortest delta chain (a full copy if there is one). */
  private locate(id: ObjectId): Location | undefined {
    const first = this.findAny(id);
    if (!first || first.entry.depth === 0) return first;
    let best = first;
    for (const loc of this.locateAll(id)) if (loc.entry.depth < best.entry.depth) best = loc;
    return best;
  }

  private locateAll(id: ObjectId): Location[] {
    const out: Location[] = [];
    const key = idToBytes(id);
    if (!this.filter.mightHave(key)) return out;
    for (const pack of this.loaded.values()) {
      const entry = this.search(pack, key);
      if (entry) out.push({ pack, entry });
    }
    return out;
  }

  /** `pack`'s entry for the id whose bytes are `key`, counted in stats.indexSearches. */
  private search(pack: LoadedPack, key: Buffer): IndexEntry | undefined {
    this.stats.indexSearches++;
    return pack.index.lookup(key);
  }

  /** The shortest chain depth of any copy of `id`, pending or stored. */
  private depthOf(id: ObjectId): number | undefined {
    const pending = this.pendingEntry(id)?.depth;
    const stored = this.locate(id)?.entry.depth;
    if (pending === undefined) return stored;
    return stored === undefined ? pending : Math.min(pending, stored);
  }

  // ---- pending packs

  /** The open pack, then the packs finishing in the background. */
  private *pendingWriters(): Generator<PackWriter> {
    if (this.writer) yield this.writer;
    yield* this.finishing.keys();
  }

  /** Whether `id` is in the open pack or a pack finishing in the background. */
  private isPending(id: ObjectId): boolean {
    if (this.writer?.has(id)) return true;
    for (const w of this.finishing.keys()) if (w.has(id)) return true;
    return false;
  }

  /** The index entry of `id` in the open pack or a pack finishing in the background. */
  private pendingEntry(id: ObjectId): IndexEntry | undefined {
    const e = this.writer?.entry(id);
    if (e || this.finishing.size === 0) return e;
    for (const w of this.finishing.keys()) {
      const f = w.entry(id);
      if (f) return f;
    }
    return undefined;
  }

  /** Waits until the background pack holding `id` (if any) is stored and loaded, or has failed. */
  private async finishedWith(id: ObjectId): Promise<void> {
    for (const [w, done] of this.finishing) if (w.has(id)) await done;
  }

  /** Waits for every pack finishing in the background; never throws (failures land in lostPack). */
  private async settleFinishing(): Promise<void> {
    while (this.finishing.size > 0) await Promise.all(this.finishing.values());
  }

  // ---- writing (callers hold the lock)

  private async appendLocked(type: RecordType, id: ObjectId, payload: readonly Uint8Array[], size: number, depth: number, handedOver = false): Promise<void> {
    const failed = this.writer?.failure ? this.writer : undefined;
    if (failed) {
      this.writer = undefined;
      this.forgetPending(failed);
      this.lostPack = { error: this.lostPack?.error ?? failed.failure, toldWrites: false };
      await failed.abort();
    }
    if (this.lostPack && !this.lostPack.toldWrites) {
      this.lostPack.toldWrites = true;
      throw this.lostPack.error;
    }
    let length = 0;
    for (const p of payload) length += p.byteLength;
    const record = RECORD_HEADER_BYTES + length;
    if (this.writer && this.writer.count > 0 && this.writer.size + record > this.packTargetBytes) {
      if (this.finishPacksInBackground) await this.finishInBackground();
      else await this.flushLocked();
    }
    if (!this.writer) {
      this.writer = PackWriter.open(this.store);
      this.stats.bytesWritten += PACK_HEADER_BYTES;
    }
    await this.writer.append(type, id, payload, size, depth, handedOver);
    this.stats.objectsWritten++;
    this.stats.bytesWritten += record;
  }

  private async flushLocked(): Promise<void> {
    const w = this.writer;
    let failure: unknown;
    if (w) {
      try {
        if (w.failure) throw w.failure;
        const done = await w.finish();
        // In one synchronous step, so has() never blinks to false for the flushed objects.
        this.writer = undefined;
        this.addStored({ name: done.name, packKey: done.packKey, idxKey: done.idxKey, index: done.index });
        this.stats.bytesWritten += done.idxBytes;
      } catch (e) {
        this.writer = undefined;
        this.forgetPending(w);
        await w.abort();
        failure = e;
      }
    }
    await this.settleFinishing();
    failure ??= this.lostPack?.error;
    this.lostPack = undefined;
    if (failure) throw failure;
  }

  /** Hands the open pack to the background to finish (after the oldest, if MAX_FINISHING are on their way). */
  private async finishInBackground(): Promise<void> {
    while (this.finishing.size >= MAX_FINISHING) await this.finishing.values().next().value;
    const w = this.writer!;
    this.writer = undefined;
    const done = w.finish().then(
      (p) => {
        // In one synchronous step, so has() never blinks to false for these objects.
        this.finishing.delete(w);
        this.addStored({ name: p.name, packKey: p.packKey, idxKey: p.idxKey, index: p.index });
        this.stats.bytesWritten += p.idxBytes;
      },
      async (e: unknown) => {
        this.forgetPending(w);
        this.finishing.delete(w);
        this.lostPack = { error: this.lostPack?.error ?? (e instanceof Error ? e : new Error(String(e))), toldWrites: false };
        await w.abort();
      },
    );
    this.finishing.set(w, done);
  }

  /** Loads a pack just stored here; notes it for a watch, and the ids awaiting a fresh copy (restore) it holds. */
  private addStored(pack: LoadedPack): void {
    this.addLoaded([pack]);
    for (const watch of this.watches) watch.written.set(pack.name, pack);
    if (this.restore.size === 0) return;
    for (const id of this.restore) if (pack.index.has(id)) this.restore.delete(id);
  }

  private forgetPending(w: PackWriter): void {
    for (const id of w.ids()) this.cache.delete(id);
  }
}

function notFound(id: ObjectId, store: ObjectStore): NotFoundError {
  return new NotFoundError(`object ${id} not found in ${store.url}`, { id });
}

function objectMismatch(pack: LoadedPack, entry: IndexEntry): IntegrityError {
  return new IntegrityError(`object ${entry.id} in ${pack.packKey} does not match its id`, { id: entry.id, key: pack.packKey });
}

/**
 * Whether a record read goes to PooledHashChecks rather than `materialize`: a whole object of OFF_THREAD_MIN_BYTES or
 * more (checked for length here, as `materialize` would). A delta is resolved, and a small object hashed, in place.
 */
function hashedOffThread(pack: LoadedPack, entry: IndexEntry, payload: Buffer): boolean {
  if (entry.type !== RECORD_FULL || payload.length < OFF_THREAD_MIN_BYTES) return false;
  checkLength(pack, entry, payload);
  return true;
}

/** IntegrityError unless an object's bytes are as long as its index entry says (a delta's, once resolved). */
function checkLength(pack: LoadedPack, entry: IndexEntry, bytes: Buffer): void {
  if (bytes.length !== entry.size) throw objectMismatch(pack, entry);
}

/** The payload of `entry` within `buf` (which holds its record header at `at`), checked against the header. */
function payloadAt(buf: Buffer, at: number, pack: LoadedPack, entry: IndexEntry): Buffer {
  if (at < 0 || buf.length < at + RECORD_HEADER_BYTES + entry.storedLength) {
    throw new IntegrityError(`pack ${pack.packKey} is truncated: object ${entry.id} is cut off`, {
      id: entry.id,
      key: pack.packKey,
    });
  }
  let header;
  try {
    header = decodeRecordHeader(buf, at);
  } catch (e) {
    throw new IntegrityError(`pack ${pack.packKey} has a damaged record header for ${entry.id}`, { id: entry.id, key: pack.packKey }, { cause: e });
  }
  if (header.id !== entry.id || header.type !== entry.type || header.payloadLength !== entry.storedLength) {
    throw new IntegrityError(`pack ${pack.packKey} record at ${entry.offset} does not match its index entry for ${entry.id}`, {
      id: entry.id,
      key: pack.packKey,
    });
  }
  const start = at + RECORD_HEADER_BYTES;
  return buf.subarray(start, start + entry.storedLength);
}

/** The most recently used small verified objects under a byte budget. Holds its own copies. */
class SmallObjectCache extends RecentlyUsed<Buffer> {
  constructor(private readonly budgetBytes: number) {
    super(budgetBytes, (bytes) => bytes.length);
  }

  override set(id: string, bytes: Buffer): void {
    if (bytes.length > CACHE_MAX_OBJECT || bytes.length > this.budgetBytes || this.has(id)) return;
    super.set(id, Buffer.from(bytes));
  }
}

interface Cursor {
  readonly index: PackIndex;
  readonly pos: number;
  readonly id: ObjectId;
}

/** Min-heap of index cursors by id, for the k-way merge in `ids()`. */
class CursorHeap {
  private readonly a: Cursor[] = [];

  get size(): number {
    return this.a.length;
  }

  peek(): Cursor {
    return this.a[0];
  }

  push(c: Cursor): void {
    const a = this.a;
    a.push(c);
    for (let i = a.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (a[parent].id <= a[i].id) break;
      [a[parent], a[i]] = [a[i], a[parent]];
      i = parent;
    }
  }

  pop(): void {
    const last = this.a.pop()!;
    if (this.a.length > 0) this.replaceTop(last);
  }

  replaceTop(c: Cursor): void {
    const a = this.a;
    a[0] = c;
    for (let i = 0; ; ) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < a.length && a[l].id < a[m].id) m = l;
      if (r < a.length && a[r].id < a[m].id) m = r;
      if (m === i) break;
      [a[m], a[i]] = [a[i], a[m]];
      i = m;
    }
  }
}

async function forEachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/**
 * The packs the gc notice at `key` names, or undefined when it is gone since it was listed: its gc has deleted its
 * packs (or given up), which a listing of the packs after this read shows.
 */
async function readCondemnedNotice(store: ObjectStore, key: string): Promise<string[] | undefined> {
  try {
    return decodeCondemned(await store.get(key));
  } catch (e) {
    if (e instanceof NotFoundError) return undefined;
    throw e;
  }
}
