import { randomBytes } from 'node:crypto';
import { AlreadyExistsError, InvalidArgumentError, NotFoundError, ObjectId, sleep } from '@tributary/core';
import { ObjectInfo, ObjectStore } from '@tributary/storage';
import { crashPoint } from '../testing/crash-points';
import {
  condemnedKey,
  decodeDeltaPayload,
  encodeCondemned,
  IDX_CHECKSUM_BYTES,
  IDX_ENTRY_BYTES,
  IDX_HEADER_BYTES,
  idxKey,
  IndexEntry,
  isCondemnedKey,
  PACK_HEADER_BYTES,
  PACKS_PREFIX,
  parsePackKey,
  RECORD_DELTA,
  RECORD_FULL,
  RECORD_HEADER_BYTES,
} from '../packs/pack-format';
import { FinishedPack, PackWriter } from '../packs/pack-writer';
import { LoadedPack, ObjectDatabase } from './object-database';
import { packsToMerge } from './pack-merge-plan';

export interface GcOptions {
  /**
   * Packs (and orphan pack files, which also wait at least ORPHAN_MIN_AGE_MS) modified less than this long ago are
   * never touched.
   */
  readonly graceMs: number;
  /** Compute the result without writing or deleting anything. */
  readonly dryRun: boolean;
  /** The clock, for tests. */
  readonly now?: Date;
  /**
   * Also merge old small packs, even without dead records, as `packsToMerge` picks them (a store written one pack
   * per commit keeps few packs). `maxPackBytes` defaults to half the database's pack target.
   */
  readonly mergeSmallPacks?: { readonly minPacks: number; readonly maxPackBytes?: number };
  /** Delete old pack files without an index (writers killed midway). Default true. */
  readonly deleteOrphans?: boolean;
  /** How long to wait before looking again for an orphan's index, where the store needs it (ORPHAN_RECHECK_MS). */
  readonly orphanRecheckMs?: number;
  /** Told before that wait: how many pack files wait for their index, and for how long. */
  readonly onOrphanWait?: (packs: number, ms: number) => void;
  /**
   * Everything reachable from `ids`: the records of packs younger than the grace period that `isLive` does not
   * reach. Those are a writer's objects that nothing names yet (a file another working copy hashed, a transfer
   * under way), and they may refer to old objects instead of storing them again: what they reach is kept too.
   */
  readonly reachableFrom?: (ids: readonly ObjectId[]) => Promise<{ has(id: ObjectId): boolean }>;
  /**
   * Whether what `isLive` was computed from (the refs) has changed since: asked after the notice, before anything is
   * deleted. A writer that moved a ref meanwhile may name objects `isLive` took for dead (its own new pack, when the
   * grace period is shorter than its commit took); then gc deletes nothing, as when packs appeared.
   */
  readonly rootsChanged?: () => Promise<boolean>;
}

export interface GcResult {
  /** Packs removed: rewritten ones plus orphan pack files (without an index, or never finished). */
  readonly deletedPacks: number;
  /** Dead records dropped from rewritten packs. */
  readonly deletedObjects: number;
  /** Bytes of removed pack and index files minus the bytes of the packs written in their place (an estimate in a dry run). */
  readonly freedBytes: number;
  /** Indexed packs left as they were (the packs gc wrote are not counted). */
  readonly keptPacks: number;
  /** Packs rewritten only to merge them with others (counted in deletedPacks too). */
  readonly mergedPacks: number;
  /** Packs gc wrote. */
  readonly writtenPacks: number;
  /**
   * True when another process stored packs while this run worked, or merged or removed a pack this run was reading
   * (an app's pack maintenance, another gc): it then deleted nothing (not even its own copies, which it removed), as
   * those packs may refer to objects it would have deleted. Run it again.
   */
  readonly deferred: boolean;
}

/** collectGarbage's `isLive` for a run that only merges packs. */
export const EVERY_OBJECT_LIVE = 'every object live';

/**
 * A pack file without an index, or an unfinished one, younger than this is never deleted, whatever the grace period:
 * its writer may be between storing the pack and its index, which nothing else tells gc.
 */
const ORPHAN_MIN_AGE_MS = 15 * 60 * 1000;

/** A condemned notice older than this is a gc's that died before removing it: the next gc removes it. */
const STALE_NOTICE_MS = 24 * 60 * 60 * 1000;

interface PackFiles {
  pack?: ObjectInfo;
  idx?: ObjectInfo;
}

/**
 * Removes objects for which `isLive` is false from packs older than `graceMs`, and with `mergeSmallPacks` merges
 * old small packs. With EVERY_OBJECT_LIVE it only merges, which needs no lock: no object ever leaves the store (and
 * no delta's base needs reading, so a merge costs what it copies, not what the store holds).
 *
 * - An old pack holding a dead record is rewritten: its live records go into a new pack (a live delta whose base
 *   is dead becomes a full record; a copy of it in a pack left alone does not count, as another process may be
 *   deleting that one, trusting this copy), and then its index and pack are deleted, index first so the pack is
 *   invisible before it disappears.
 * - A base of any delta that stays stored is kept alive, so everything `has()` can still see stays readable.
 * - A pack file without an index (a writer killed midway) older than the grace period is deleted, and so is an
 *   unfinished one that a store keeps beside its key until it is complete (ObjectStore.sweepLeftovers).
 * - Packs younger than the grace period are never touched, so a concurrent writer's fresh objects survive, and with
 *   `reachableFrom` neither is anything they refer to. A writer in another process that finds an old dead object
 *   with `has()` and refers to it instead of writing it again (or stores a delta on it) checks what it reused
 *   (ObjectDatabase.confirmReused) after its pack is stored and before a ref names it. Before its last look for new
 *   packs, gc writes a notice naming the packs it will delete (condemnedKey). A writer whose check comes before
 *   the notice has its pack in that last look, and gc then deletes nothing (`deferred`); one whose check comes after
 *   finds the notice (or the packs gone) and stores those objects again. Within one working copy, run it under the
 *   repository's lock.
 * - Every copied record is verified against its id on the way; an IntegrityError stops gc before anything is
 *   deleted.
 *
 * Crash safety: new packs are completely written and indexed before the first deletion. A kill before that leaves
 * the old packs intact plus at most an orphan pack (removed by a later gc) or an indexed duplicate (harmless, and
 * folded together when both copies are rewritten at once); a kill during deletion leaves every live object in an indexed pack, and at worst
 * an orphan pack file. The database is reloaded at the end.
 */
export async function collectGarbage(
  db: ObjectDatabase,
  store: ObjectStore,
  isLive: ((id: ObjectId) => boolean) | typeof EVERY_OBJECT_LIVE,
  opts: GcOptions,
): Promise<GcResult> {
  if (!Number.isFinite(opts.graceMs) || opts.graceMs < 0) {
    throw new InvalidArgumentError(`gc grace period must be a non-negative number of milliseconds, got ${opts.graceMs}`);
  }
  const now = (opts.now ?? new Date()).getTime();
  const isOld = (info: ObjectInfo | undefined) => info !== undefined && now - info.modified.getTime() > opts.graceMs;

  await db.reload();
  const notices: ObjectInfo[] = [];
  const listedAt = Date.now();
  const files = await listPackFiles(store, (info) => {
    if (isCondemnedKey(info.key)) notices.push(info);
  });
  const orphans = opts.deleteOrphans === false ? [] : orphanPacks(files, now, opts.graceMs);
  const packs = db.packs();
  const old = packs.filter((p) => {
    const f = files.get(p.name);
    return f !== undefined && isOld(f.pack) && isOld(f.idx);
  });

  const merging = new Set(
    opts.mergeSmallPacks
      ? packsToMerge(
          old.map((p) => ({ pack: p, bytes: files.get(p.name)!.pack!.size })),
          { minPacks: opts.mergeSmallPacks.minPacks, maxPackBytes: opts.mergeSmallPacks.maxPackBytes ?? db.packTargetBytes / 2 },
        )
      : [],
  );
  const liveTest = isLive === EVERY_OBJECT_LIVE ? undefined : isLive;
  // A pack that vanishes while gc reads it was merged or removed by another process (an app's pack maintenance,
  // another gc): like packs appearing, that defers the run, which then deletes nothing.
  const deferred = async (): Promise<GcResult> => {
    await db.reload();
    return { deletedPacks: 0, deletedObjects: 0, freedBytes: 0, keptPacks: packs.length, mergedPacks: 0, writtenPacks: 0, deferred: true };
  };
  let bases = new Map<LoadedPack, Map<ObjectId, ObjectId>>();
  try {
    if (liveTest) bases = await readDeltaBases(db, packs);
  } catch (e) {
    if (e instanceof NotFoundError) return deferred();
    throw e;
  }
  const oldPacks = new Set(old);
  const young = packs.filter((p) => !oldPacks.has(p));
  const unnamed = liveTest ? young.flatMap((p) => [...p.index.entries()].filter((e) => !liveTest(e.id)).map((e) => e.id)) : [];
  const fromYoung = opts.reachableFrom && unnamed.length > 0 ? await opts.reachableFrom(unnamed) : undefined;
  const needed = new Set<ObjectId>();
  const keep = (id: ObjectId) => !liveTest || needed.has(id) || liveTest(id) || fromYoung?.has(id) === true;
  /** Whether a delta record of `p` keeps its base, and so can stay a delta. */
  const baseKept = (p: LoadedPack) => (e: IndexEntry) => !liveTest || keep(bases.get(p)!.get(e.id)!);
  let rewritten: Set<LoadedPack>;
  // Keeping a base can leave a pack with nothing dead, which then keeps its own deltas' bases: iterate to a fixpoint.
  for (;;) {
    rewritten = new Set(old.filter((p) => merging.has(p) || (liveTest && someEntry(p, (e) => !keep(e.id)))));
    let grew = false;
    for (const p of packs) {
      if (rewritten.has(p)) continue;
      for (const base of bases.get(p)?.values() ?? []) {
        if (!keep(base)) {
          needed.add(base);
          grew = true;
        }
      }
    }
    if (!grew) break;
  }

  const survivors = packs.filter((p) => !rewritten.has(p));
  let deletedObjects = 0;
  let removedBytes = 0;
  /** Rewritten packs with dead records; the others are rewritten only to merge them. */
  const dying: LoadedPack[] = [];
  for (const p of rewritten) {
    const f = files.get(p.name)!;
    removedBytes += (f.pack?.size ?? 0) + (f.idx?.size ?? 0);
    const dead = countEntries(p, (e) => !keep(e.id));
    deletedObjects += dead;
    if (dead > 0) dying.push(p);
  }

  const copier = new Copier(db, store, opts.dryRun);
  try {
    for (const p of rewritten) await copier.copyLive(p, keep, baseKept(p));
  } catch (e) {
    if (!(e instanceof NotFoundError)) throw e;
    await copier.discard();
    return deferred();
  }
  const added = await copier.finish();
  const mergedPacks = rewritten.size - dying.length;

  // Writers that look after this notice no longer refer to what the packs with dead records hold; a writer that
  // looked before it has its pack listed by the check below. A pack rewritten only to merge it needs none: every
  // record of it has a copy.
  const notice = !opts.dryRun && dying.length > 0 ? condemnedKey(randomBytes(16).toString('hex')) : undefined;
  if (notice) {
    await store.putIfAbsent(notice, encodeCondemned(dying.map((p) => p.name))).catch((e: unknown) => {
      // A retried write whose first answer was lost finds its own notice: no one else writes under this random name.
      if (!(e instanceof AlreadyExistsError)) throw e;
    });
    let appeared: boolean;
    try {
      appeared = (await packsAppeared(store, packs, copier.names())) || (await opts.rootsChanged?.()) === true;
    } catch (e) {
      await store.delete(notice).catch(() => undefined);
      throw e;
    }
    if (appeared) {
      // A writer stored packs since the listing (they may refer to dead objects they found with has() instead of
      // storing them again, which nothing here has walked), or moved a ref. Delete nothing of the old; the copies
      // were only copies.
      // The notice goes first: while it stands, readers take the copies for the only copies of what it names.
      await store.delete(notice);
      await copier.discard();
      await db.reload();
      return { deletedPacks: 0, deletedObjects: 0, freedBytes: 0, keptPacks: packs.length, mergedPacks: 0, writtenPacks: 0, deferred: true };
    }
  }
  let deletedOrphans = orphans;
  if (!opts.dryRun) {
    crashPoint('gc.before-delete');
    for (const p of rewritten) {
      await store.delete(p.idxKey);
      crashPoint('gc.between-idx-and-pack');
      await store.delete(p.packKey);
    }
    deletedOrphans = await deleteOrphans(store, orphans, listedAt, { recheckMs: opts.orphanRecheckMs, onWait: opts.onOrphanWait });
    if (notice) await store.delete(notice);
    await removeFinishedNotices(db, store, notices, files, now);
    await db.reload();
  }
  // A pack a writer was killed while storing, on a store that writes it beside its key first (local disk).
  const unfinished =
    opts.deleteOrphans === false ? { files: 0, bytes: 0 } : await sweepUnfinishedPacks(store, orphanAge(opts.graceMs), { dryRun: opts.dryRun });
  return {
    deletedPacks: rewritten.size + deletedOrphans.length + unfinished.files,
    deletedObjects,
    freedBytes: removedBytes + sizeOf(deletedOrphans) + unfinished.bytes - added,
    keptPacks: packs.length - rewritten.size,
    mergedPacks,
    writtenPacks: copier.written,
    deferred: false,
  };
}

/**
 * Removes other gc runs' notices that are done with: every pack they list is gone (that run died after deleting),
 * or they are older than STALE_NOTICE_MS (it died before). A notice of a run still going lists packs that exist.
 */
async function removeFinishedNotices(
  db: ObjectDatabase,
  store: ObjectStore,
  notices: readonly ObjectInfo[],
  files: ReadonlyMap<string, PackFiles>,
  now: number,
): Promise<void> {
  for (const n of notices) {
    const packs = await db.condemnedBy(n.key);
    if (!packs) continue;
    const stale = now - n.modified.getTime() > STALE_NOTICE_MS;
    if (stale || packs.every((name) => !files.get(name)?.idx)) await store.delete(n.key);
  }
}

/**
 * Whether the store lists an indexed pack besides `own` that is not among `walked`, the packs the database had loaded.
 * Not gc's own listing: that comes after the database's, so a pack indexed between the two would be in it unwalked.
 */
async function packsAppeared(store: ObjectStore, walked: readonly LoadedPack[], own: ReadonlySet<string>): Promise<boolean> {
  const known = new Set(walked.map((p) => p.name));
  for await (const info of store.list(PACKS_PREFIX)) {
    const parsed = parsePackKey(info.key);
    if (parsed?.kind === 'idx' && !known.has(parsed.name) && !own.has(parsed.name)) return true;
  }
  return false;
}

/** Base id of every delta record, per pack. */
async function readDeltaBases(db: ObjectDatabase, packs: readonly LoadedPack[]): Promise<Map<LoadedPack, Map<ObjectId, ObjectId>>> {
  const out = new Map<LoadedPack, Map<ObjectId, ObjectId>>();
  for (const p of packs) {
    const deltas = [...p.index.entries()].filter((e) => e.type === RECORD_DELTA);
    if (deltas.length === 0) continue;
    const m = new Map<ObjectId, ObjectId>();
    for await (const { entry, payload } of db.readRecords(p, deltas)) m.set(entry.id, decodeDeltaPayload(payload).baseId);
    out.set(p, m);
  }
  return out;
}

/**
 * Deletes what writers killed midway left in the store's packs/, as collectGarbage deletes it: pack files without
 * an index and unfinished pack files (ObjectStore.sweepLeftovers), last written over orphanAge(`graceMs`) before
 * `now`. Nothing reads such a file, and no live writer is that long between storing a pack and its index, so it
 * needs no walk, no lock and no notice: for a store gc does not run on (a broker's), on every backend.
 */
export async function reclaimOrphanPacks(
  store: ObjectStore,
  opts: { graceMs: number; now?: Date; dryRun?: boolean; recheckMs?: number; signal?: AbortSignal },
): Promise<{ files: number; bytes: number }> {
  const listedAt = Date.now();
  const candidates = orphanPacks(await listPackFiles(store), (opts.now ?? new Date()).getTime(), opts.graceMs);
  const orphans = opts.dryRun ? candidates : await deleteOrphans(store, candidates, listedAt, opts);
  if (opts.signal?.aborted) return { files: orphans.length, bytes: sizeOf(orphans) };
  const unfinished = await sweepUnfinishedPacks(store, orphanAge(opts.graceMs), { dryRun: opts.dryRun });
  return { files: orphans.length + unfinished.files, bytes: sizeOf(orphans) + unfinished.bytes };
}

/**
 * How long after listing a pack without its index a reclaimer looks for the index again before it deletes the pack,
 * on a store that may date an object by the start of its upload (ObjectStore.datesFromUploadStart: S3 dates a
 * multipart upload by its CreateMultipartUpload). There a pack whose upload took longer than the orphan age looks
 * that old the moment it appears, while its writer is about to store the index. A writer gives up storing an index
 * well within this (its requests give up within about 95 s), so an index still missing then is a killed writer's.
 */
export const ORPHAN_RECHECK_MS = 2 * 60 * 1000;

/**
 * Deletes the pack files `orphans` (listed at `listedAt`, by Date.now()) and returns those deleted: all of them, or
 * on a store whose dates may be an upload's start, those whose index is still missing ORPHAN_RECHECK_MS (or
 * `recheckMs`) after the listing; `onWait` hears of that wait first. An aborted `signal` stops the wait and deletes
 * nothing more.
 */
async function deleteOrphans(
  store: ObjectStore,
  orphans: readonly ObjectInfo[],
  listedAt: number,
  opts: { recheckMs?: number; signal?: AbortSignal; onWait?: (packs: number, ms: number) => void } = {},
): Promise<ObjectInfo[]> {
  const { signal } = opts;
  if (orphans.length > 0 && store.datesFromUploadStart) {
    const wait = Math.max(0, listedAt + (opts.recheckMs ?? ORPHAN_RECHECK_MS) - Date.now());
    opts.onWait?.(orphans.length, wait);
    await sleep(wait, signal);
  }
  const deleted: ObjectInfo[] = [];
  for (const o of orphans) {
    if (signal?.aborted) break;
    if (store.datesFromUploadStart && (await store.head(idxKey(parsePackKey(o.key)!.name)))) continue;
    await store.delete(o.key);
    deleted.push(o);
  }
  return deleted;
}

function sizeOf(files: readonly ObjectInfo[]): number {
  return files.reduce((n, f) => n + f.size, 0);
}

/** The pack and index file of each pack name in packs/; `other` sees every key that is neither. */
async function listPackFiles(store: ObjectStore, other?: (info: ObjectInfo) => void): Promise<Map<string, PackFiles>> {
  const files = new Map<string, PackFiles>();
  for await (const info of store.list(PACKS_PREFIX)) {
    const parsed = parsePackKey(info.key);
    if (!parsed) {
      other?.(info);
      continue;
    }
    let f = files.get(parsed.name);
    if (!f) files.set(parsed.name, (f = {}));
    f[parsed.kind] = info;
  }
  return files;
}

/** How old a pack file without an index, or an unfinished one, must be to be deleted: the grace, and ORPHAN_MIN_AGE_MS at least. */
function orphanAge(graceMs: number): number {
  return Math.max(graceMs, ORPHAN_MIN_AGE_MS);
}

/** The pack files without an index last written over orphanAge(`graceMs`) before `now`. */
function orphanPacks(files: ReadonlyMap<string, PackFiles>, now: number, graceMs: number): ObjectInfo[] {
  const age = orphanAge(graceMs);
  return [...files.values()].filter((f) => f.pack !== undefined && !f.idx && now - f.pack.modified.getTime() > age).map((f) => f.pack!);
}

/**
 * Removes the pack files writers killed while storing them left beside their keys, last written over `olderThanMs`
 * ago, on a store that writes such files (ObjectStore.sweepLeftovers: local disk); counts them with `dryRun`.
 */
async function sweepUnfinishedPacks(
  store: ObjectStore,
  olderThanMs: number,
  opts: { dryRun?: boolean } = {},
): Promise<{ files: number; bytes: number }> {
  return (await store.sweepLeftovers?.(PACKS_PREFIX, olderThanMs, opts)) ?? { files: 0, bytes: 0 };
}

function someEntry(p: LoadedPack, pred: (e: IndexEntry) => boolean): boolean {
  for (const e of p.index.entries()) if (pred(e)) return true;
  return false;
}

function countEntries(p: LoadedPack, pred: (e: IndexEntry) => boolean): number {
  let n = 0;
  for (const e of p.index.entries()) if (pred(e)) n++;
  return n;
}

/** Writes the live records of rewritten packs into new packs (or, in a dry run, only sizes them). */
class Copier {
  private writer: PackWriter | undefined;
  private readonly finished: FinishedPack[] = [];
  private estimate = 0;
  private estimateCount = 0;
  private readonly estimated = new Set<ObjectId>();

  constructor(
    private readonly db: ObjectDatabase,
    private readonly store: ObjectStore,
    private readonly dryRun: boolean,
  ) {}

  async copyLive(pack: LoadedPack, keep: (id: ObjectId) => boolean, baseKept: (delta: IndexEntry) => boolean): Promise<void> {
    const targetDepth = (e: IndexEntry) => (e.type === RECORD_DELTA && baseKept(e) ? e.depth : 0);
    const wanted = [...pack.index.entries()].filter((e) => keep(e.id) && !this.alreadyHeld(e.id));
    if (this.dryRun) {
      for (const e of wanted) {
        this.estimated.add(e.id);
        this.estimateCount++;
        this.estimate += RECORD_HEADER_BYTES + (targetDepth(e) === 0 ? e.size : e.storedLength);
      }
      return;
    }
    try {
      for await (const { entry, payload } of this.db.readRecords(pack, wanted)) {
        // resolve() verifies the bytes (through the base, for a delta) before anything is copied.
        const bytes = await this.db.resolve(pack, entry, payload);
        const depth = targetDepth(entry);
        if (depth > 0) await this.append(RECORD_DELTA, entry.id, payload, entry.size, depth);
        else await this.append(RECORD_FULL, entry.id, bytes, entry.size, 0);
      }
    } catch (e) {
      await this.writer?.abort();
      this.writer = undefined;
      throw e;
    }
  }

  /** Names of the packs written. */
  names(): Set<string> {
    return new Set(this.finished.map((f) => f.name));
  }

  /** Deletes the packs written (index first), for a run that deletes nothing of the old after all. */
  async discard(): Promise<void> {
    for (const f of this.finished) {
      await this.store.delete(f.idxKey);
      await this.store.delete(f.packKey);
    }
    this.finished.length = 0;
  }

  /** Packs written (or, in a dry run, that would be: counted as one). */
  get written(): number {
    return this.dryRun ? (this.estimateCount > 0 ? 1 : 0) : this.finished.length;
  }

  /** Finishes the last new pack; returns the bytes gc added to the store. */
  async finish(): Promise<number> {
    if (this.dryRun) {
      if (this.estimateCount === 0) return 0;
      return PACK_HEADER_BYTES + this.estimate + IDX_HEADER_BYTES + this.estimateCount * IDX_ENTRY_BYTES + IDX_CHECKSUM_BYTES;
    }
    if (this.writer) this.finished.push(await this.writer.finish());
    this.writer = undefined;
    return this.finished.reduce((n, f) => n + f.packBytes + f.idxBytes, 0);
  }

  /**
   * True if a pack this run wrote already holds `id`. A copy in a pack this run leaves alone does not count: another
   * process (a gc, a writer's pack merge) may be deleting that pack at the same moment, trusting this run's copy.
   */
  private alreadyHeld(id: ObjectId): boolean {
    if (this.estimated.has(id) || this.writer?.entry(id) !== undefined) return true;
    for (const f of this.finished) if (f.index.has(id)) return true;
    return false;
  }

  private async append(type: typeof RECORD_FULL | typeof RECORD_DELTA, id: ObjectId, payload: Buffer, size: number, depth: number): Promise<void> {
    const record = RECORD_HEADER_BYTES + payload.length;
    if (this.writer && this.writer.count > 0 && this.writer.size + record > this.db.packTargetBytes) {
      this.finished.push(await this.writer.finish());
      this.writer = undefined;
    }
    this.writer ??= PackWriter.open(this.store);
    await this.writer.append(type, id, [payload], size, depth);
  }
}
