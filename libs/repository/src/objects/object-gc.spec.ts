import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { AlreadyExistsError, IntegrityError, InvalidArgumentError, ObjectId, sha256, sleep, UnavailableError } from '@tributary/core';
import { ByteRange, LocalStore, ObjectInfo, ObjectStore, MemoryStore } from '@tributary/storage';
import { CONDEMNED_PREFIX, isCondemnedKey, PACK_HEADER_BYTES, RECORD_DELTA, RECORD_FULL, RECORD_HEADER_BYTES } from '../packs/pack-format';
import { ObjectDatabase } from './object-database';
import { collectGarbage, EVERY_OBJECT_LIVE, GcOptions, reclaimOrphanPacks } from './object-gc';

const HOUR = 3600_000;
const T0 = new Date('2026-01-01T00:00:00Z');
const at = (ms: number) => new Date(T0.getTime() + ms);

/** A memory store whose clock the test moves, so pack ages are exact. Deletes can be made to fail. */
class ClockedStore extends MemoryStore {
  now = T0;
  failDeletesAfter = Infinity;
  private readonly times = new Map<string, Date>();

  /** Key prefixes whose writes are stored but answered as a retry that found its first attempt is: AlreadyExists. */
  readonly answerLost = new Set<string>();

  override async putIfAbsent(key: string, data: Buffer | Readable): Promise<void> {
    await super.putIfAbsent(key, data);
    this.times.set(key, this.now);
    if ([...this.answerLost].some((prefix) => key.startsWith(prefix))) throw new AlreadyExistsError(`${key} exists`, { key });
  }

  /** Runs before each listing: what another process does meanwhile. */
  beforeList?: () => Promise<void>;

  override async *list(prefix: string): AsyncGenerator<ObjectInfo> {
    await this.beforeList?.();
    for await (const info of super.list(prefix)) yield { ...info, modified: this.times.get(info.key) ?? info.modified };
  }

  /** Runs before each read of a whole object: what another process does meanwhile. */
  beforeGet?: (key: string) => Promise<void>;

  override async get(key: string): Promise<Buffer> {
    await this.beforeGet?.(key);
    return super.get(key);
  }

  /** Keys of the ranged reads so far (records read from packs). */
  readonly rangeReads: string[] = [];

  override async getRange(key: string, range: ByteRange): Promise<Buffer> {
    this.rangeReads.push(key);
    return super.getRange(key, range);
  }

  /** Runs before each deletion: what another process does meanwhile. */
  beforeDelete?: (key: string) => Promise<void>;

  override async delete(key: string): Promise<void> {
    await this.beforeDelete?.(key);
    if (this.failDeletesAfter-- <= 0) throw new UnavailableError('store down');
    this.times.delete(key);
    return super.delete(key);
  }

  async keys(): Promise<string[]> {
    const out: string[] = [];
    for await (const info of super.list('packs/')) out.push(info.key);
    return out.sort();
  }
}

/** A store whose listed dates may be an upload's start, as S3's are for multipart uploads; counts finished listings. */
class UploadDatedStore extends ClockedStore {
  readonly datesFromUploadStart = true;
  listings = 0;

  override async *list(prefix: string): AsyncGenerator<ObjectInfo> {
    yield* super.list(prefix);
    this.listings++;
  }
}

const blob = (label: string, size = 1000) => Buffer.concat([Buffer.from(label), randomBytes(size)]);

async function writePack(store: ObjectStore, objects: Buffer[], deltas: [Buffer, ObjectId][] = []): Promise<ObjectId[]> {
  const db = await ObjectDatabase.open(store);
  const ids = [];
  for (const o of objects) ids.push(await db.put(o));
  for (const [bytes, base] of deltas) {
    await db.putWithId(sha256(bytes), bytes, { deltaBase: base });
    ids.push(sha256(bytes));
  }
  await db.flush();
  return ids;
}

async function recordOf(store: ClockedStore, id: ObjectId) {
  const db = await ObjectDatabase.open(store);
  return db.packs().map((p) => p.index.lookup(id)).find((e) => e);
}

function gcOpts(now: Date, extra: Partial<GcOptions> = {}): GcOptions {
  return { graceMs: HOUR, dryRun: false, now, ...extra };
}

async function expectReadable(store: ClockedStore, objects: Buffer[]): Promise<void> {
  const db = await ObjectDatabase.open(store, { cacheBytes: 0 });
  for (const o of objects) expect((await db.get(sha256(o))).equals(o)).toBe(true);
}

describe('collectGarbage', () => {
  it('rewrites an old pack without its dead objects and deletes the old files', async () => {
    const store = new ClockedStore();
    const live = blob('live');
    const dead = blob('dead');
    const [liveId, deadId] = await writePack(store, [live, dead]);
    const before = await store.keys();
    store.now = at(2 * HOUR);
    const db = await ObjectDatabase.open(store);

    const result = await collectGarbage(db, store, (id) => id === liveId, gcOpts(store.now));

    const after = await store.keys();
    expect(after).toHaveLength(2);
    expect(after.some((k) => before.includes(k))).toBe(false);
    expect(result).toEqual({ deletedPacks: 1, deletedObjects: 1, freedBytes: RECORD_HEADER_BYTES + dead.length + 50, keptPacks: 0, mergedPacks: 0, writtenPacks: 1, deferred: false });
    expect(db.has(deadId)).toBe(false);
    expect(db.has(liveId)).toBe(true);
    await expectReadable(store, [live]);
    expect((await ObjectDatabase.open(store)).has(deadId)).toBe(false);
  });

  it('a dry run reports the same result and changes nothing', async () => {
    const store = new ClockedStore();
    const base = randomBytes(20_000);
    const ids = await writePack(store, [blob('a'), blob('b'), base]);
    const target = Buffer.concat([base, Buffer.from('appended')]);
    await writePack(store, [blob('c')], [[target, ids[2]]]);
    store.now = at(3 * HOUR);
    const live = new Set([ids[0], sha256(target)]);
    const keys = await store.keys();

    const dry = await collectGarbage(await ObjectDatabase.open(store), store, (id) => live.has(id), gcOpts(store.now, { dryRun: true }));
    expect(await store.keys()).toEqual(keys);
    const real = await collectGarbage(await ObjectDatabase.open(store), store, (id) => live.has(id), gcOpts(store.now));
    expect(dry).toEqual(real);
    expect(real.deletedObjects).toBe(3);
  });

  it('never touches packs younger than the grace period', async () => {
    const store = new ClockedStore();
    const old = await writePack(store, [blob('old dead'), blob('old live')]);
    store.now = at(90 * 60_000);
    const youngObjects = [blob('young dead')];
    await writePack(store, youngObjects);
    store.now = at(2 * HOUR);
    const db = await ObjectDatabase.open(store);

    const result = await collectGarbage(db, store, (id) => id === old[1], gcOpts(store.now));

    expect(result).toMatchObject({ deletedPacks: 1, deletedObjects: 1, keptPacks: 1 });
    await expectReadable(store, youngObjects);
    expect(db.has(old[0])).toBe(false);
  });

  it('asks reachableFrom about the unnamed records of young packs only, and keeps what it reaches', async () => {
    const store = new ClockedStore();
    const [reused, oldDead] = await writePack(store, [blob('old, reused by a young object'), blob('old dead')]);
    store.now = at(90 * 60_000);
    const [youngNamed, youngUnnamed] = await writePack(store, [blob('young, named'), blob('young, unnamed')]);
    store.now = at(2 * HOUR);
    const asked: ObjectId[][] = [];
    const reachableFrom = async (ids: readonly ObjectId[]) => {
      asked.push([...ids]);
      return new Set(ids.includes(youngUnnamed) ? [youngUnnamed, reused] : []);
    };
    const db = await ObjectDatabase.open(store);

    const result = await collectGarbage(db, store, (id) => id === youngNamed, gcOpts(store.now, { reachableFrom }));

    expect(asked).toEqual([[youngUnnamed]]);
    expect(result).toMatchObject({ deletedObjects: 1, keptPacks: 1 });
    expect(db.has(reused)).toBe(true);
    expect(db.has(oldDead)).toBe(false);
  });

  it('leaves everything alone when every pack is young', async () => {
    const store = new ClockedStore();
    await writePack(store, [blob('x')]);
    const keys = await store.keys();
    store.now = at(30 * 60_000);
    const result = await collectGarbage(await ObjectDatabase.open(store), store, () => false, gcOpts(store.now));
    expect(result).toEqual({ deletedPacks: 0, deletedObjects: 0, freedBytes: 0, keptPacks: 1, mergedPacks: 0, writtenPacks: 0, deferred: false });
    expect(await store.keys()).toEqual(keys);
  });

  it('keeps an old pack whose objects are all live as it is', async () => {
    const store = new ClockedStore();
    const ids = await writePack(store, [blob('a'), blob('b')]);
    const keys = await store.keys();
    store.now = at(5 * HOUR);
    const result = await collectGarbage(await ObjectDatabase.open(store), store, () => true, gcOpts(store.now));
    expect(result).toMatchObject({ deletedPacks: 0, keptPacks: 1 });
    expect(await store.keys()).toEqual(keys);
    expect(ids).toHaveLength(2);
  });

  it('deletes orphan pack files (no index) only after the grace period', async () => {
    const store = new ClockedStore();
    const oldOrphan = `packs/pack-${'1'.repeat(32)}.pack`;
    await store.putIfAbsent(oldOrphan, Buffer.from('half a pack'));
    store.now = at(2 * HOUR);
    const youngOrphan = `packs/pack-${'2'.repeat(32)}.pack`;
    await store.putIfAbsent(youngOrphan, Buffer.from('a pack being written'));
    store.now = at(2 * HOUR + 60_000);

    const result = await collectGarbage(await ObjectDatabase.open(store), store, () => true, gcOpts(store.now));
    expect(result).toEqual({ deletedPacks: 1, deletedObjects: 0, freedBytes: 11, keptPacks: 0, mergedPacks: 0, writtenPacks: 0, deferred: false });
    expect(await store.keys()).toEqual([youngOrphan]);
  });

  it('reclaimOrphanPacks deletes what gc deletes as orphans, by the same ages, and never an indexed pack however old', async () => {
    const store = new ClockedStore();
    const indexed = blob('indexed');
    await writePack(store, [indexed]);
    const oldOrphan = `packs/pack-${'4'.repeat(32)}.pack`;
    await store.putIfAbsent(oldOrphan, Buffer.from('a pack a killed broker left'));
    store.now = at(2 * HOUR);
    const youngOrphan = `packs/pack-${'5'.repeat(32)}.pack`;
    await store.putIfAbsent(youngOrphan, Buffer.from('a pack whose index is on its way'));
    store.now = at(2 * HOUR + 10 * 60_000);
    const before = await store.keys();

    expect(await reclaimOrphanPacks(store, { graceMs: HOUR, now: store.now, dryRun: true })).toEqual({ files: 1, bytes: 27 });
    expect(await store.keys()).toEqual(before);
    // No grace at all still waits the 15 minutes gc waits for an index.
    expect(await reclaimOrphanPacks(store, { graceMs: 0, now: store.now })).toEqual({ files: 1, bytes: 27 });
    expect(await store.keys()).toEqual(before.filter((k) => k !== oldOrphan));
    expect(await store.keys()).toContain(youngOrphan);
    await expectReadable(store, [indexed]);
  });

  it('on a store that may date a pack by its upload start, looks again for its index after a wait: one that came meanwhile stays', async () => {
    const store = new UploadDatedStore();
    const finished = `packs/pack-${'6'.repeat(32)}`;
    const abandoned = `packs/pack-${'7'.repeat(32)}.pack`;
    await store.putIfAbsent(`${finished}.pack`, Buffer.from('uploaded for hours, and its index is on its way'));
    await store.putIfAbsent(abandoned, Buffer.from('a pack a killed writer left'));
    store.now = at(2 * HOUR);

    const reclaiming = reclaimOrphanPacks(store, { graceMs: 0, now: store.now, recheckMs: 300 });
    while (store.listings === 0) await sleep(5);
    await store.putIfAbsent(`${finished}.idx`, Buffer.from('its index, stored after the listing saw none'));
    expect(await reclaiming).toEqual({ files: 1, bytes: 27 });
    expect(await store.keys()).toEqual([`${finished}.idx`, `${finished}.pack`]);

  });

  it('gc on a store that may date a pack by its upload start waits for an orphan\'s index the same way, saying so first', async () => {
    const store = new UploadDatedStore();
    const indexed = blob('indexed');
    await writePack(store, [indexed]);
    const orphan = `packs/pack-${'8'.repeat(32)}.pack`;
    await store.putIfAbsent(orphan, Buffer.from('a pack a killed writer left'));
    store.now = at(2 * HOUR);
    const waits: [number, number][] = [];
    const onOrphanWait = (packs: number, ms: number) => void waits.push([packs, ms]);
    const result = await collectGarbage(await ObjectDatabase.open(store), store, EVERY_OBJECT_LIVE, gcOpts(store.now, { orphanRecheckMs: 200, onOrphanWait }));
    expect(waits).toEqual([[1, expect.any(Number)]]);
    expect(waits[0][1]).toBeLessThanOrEqual(200);
    expect(result.deletedPacks).toBe(1);
    expect(await store.keys()).not.toContain(orphan);
    await expectReadable(store, [indexed]);
  });

  it('leaves a pack file without an index for 15 minutes even with no grace period: its index may be on its way', async () => {
    const store = new ClockedStore();
    const orphan = `packs/pack-${'3'.repeat(32)}.pack`;
    await store.putIfAbsent(orphan, Buffer.from('a pack whose index is being written'));
    store.now = at(60_000);
    expect(await collectGarbage(await ObjectDatabase.open(store), store, () => true, gcOpts(store.now, { graceMs: 0 }))).toMatchObject({ deletedPacks: 0 });
    expect(await store.keys()).toEqual([orphan]);
    store.now = at(16 * 60_000);
    expect(await collectGarbage(await ObjectDatabase.open(store), store, () => true, gcOpts(store.now, { graceMs: 0 }))).toMatchObject({ deletedPacks: 1 });
    expect(await store.keys()).toEqual([]);
  });

  it('rewrites a live delta whose base is dead as a full object', async () => {
    const store = new ClockedStore();
    const base = randomBytes(20_000);
    const target = Buffer.concat([base, Buffer.from('appended rows')]);
    const [baseId, targetId] = await writePack(store, [base], [[target, sha256(base)]]);
    expect((await recordOf(store, targetId))?.type).toBe(RECORD_DELTA);
    store.now = at(2 * HOUR);

    await collectGarbage(await ObjectDatabase.open(store), store, (id) => id === targetId, gcOpts(store.now));

    expect(await recordOf(store, targetId)).toMatchObject({ type: RECORD_FULL, depth: 0, size: target.length });
    expect(await recordOf(store, baseId)).toBeUndefined();
    await expectReadable(store, [target]);
  });

  it('keeps a live delta as a delta when its base is live', async () => {
    const store = new ClockedStore();
    const base = randomBytes(20_000);
    const target = Buffer.concat([base, Buffer.from('appended rows')]);
    const [baseId, , targetId] = await writePack(store, [base, blob('dead')], [[target, sha256(base)]]);
    store.now = at(2 * HOUR);
    const result = await collectGarbage(await ObjectDatabase.open(store), store, (id) => id === targetId || id === baseId, gcOpts(store.now));
    expect(result.deletedObjects).toBe(1);
    expect((await recordOf(store, targetId))?.type).toBe(RECORD_DELTA);
    await expectReadable(store, [base, target]);
  });

  it('keeps a dead base that a delta in a surviving pack still needs', async () => {
    const store = new ClockedStore();
    const base = randomBytes(20_000);
    const [baseId, deadId] = await writePack(store, [base, blob('dead')]);
    store.now = at(2 * HOUR);
    const target = Buffer.concat([base, Buffer.from('appended rows')]);
    const [targetId] = await writePack(store, [], [[target, baseId]]);
    expect((await recordOf(store, targetId))?.type).toBe(RECORD_DELTA);
    store.now = at(2 * HOUR + 10 * 60_000);

    const db = await ObjectDatabase.open(store);
    const result = await collectGarbage(db, store, (id) => id === targetId, gcOpts(store.now));

    expect(result).toMatchObject({ deletedPacks: 1, deletedObjects: 1, keptPacks: 1 });
    expect(db.has(deadId)).toBe(false);
    expect(db.has(baseId)).toBe(true);
    await expectReadable(store, [target, base]);
  });

  it('a kill before the deletions leaves every live object indexed; the next run cleans up', async () => {
    const store = new ClockedStore();
    const objects = [blob('live 1'), blob('dead'), blob('live 2')];
    const ids = await writePack(store, objects);
    const live = (id: ObjectId) => id !== ids[1];
    store.now = at(2 * HOUR);
    store.failDeletesAfter = 0;
    await expect(collectGarbage(await ObjectDatabase.open(store), store, live, gcOpts(store.now))).rejects.toThrow(UnavailableError);
    // The old pack and gc's copy, each indexed, and gc's notice that it was about to delete the old one.
    const afterKill = await store.keys();
    expect(afterKill.filter((k) => !k.endsWith('.condemned'))).toHaveLength(4);
    expect(afterKill.filter((k) => k.endsWith('.condemned'))).toHaveLength(1);
    await expectReadable(store, [objects[0], objects[2]]);

    store.failDeletesAfter = 1; // the old index goes, then the kill: an orphan pack file remains
    await expect(collectGarbage(await ObjectDatabase.open(store), store, live, gcOpts(store.now))).rejects.toThrow(UnavailableError);
    await expectReadable(store, [objects[0], objects[2]]);

    store.failDeletesAfter = Infinity;
    store.now = at(4 * HOUR);
    const result = await collectGarbage(await ObjectDatabase.open(store), store, live, gcOpts(store.now));
    expect(result.deletedPacks).toBeGreaterThanOrEqual(1);
    // The orphan pack file is gone; the two runs' copies stay (each copied what it did not itself hold already,
    // as a copy in a pack it leaves alone may be deleted by another process meanwhile).
    const keys = await store.keys();
    const names = (suffix: string) => keys.filter((k) => k.endsWith(suffix)).map((k) => k.slice(0, -suffix.length));
    expect(names('.pack')).toEqual(names('.idx'));
    expect(names('.pack')).toHaveLength(2);
    expect(names('.condemned')).toEqual([]); // the killed runs' notices name a pack that is gone now
    await expectReadable(store, [objects[0], objects[2]]);
    expect((await ObjectDatabase.open(store)).has(ids[1])).toBe(false);
  });

  it('deletes nothing when another process stores a pack while it runs, which may refer to what it would delete', async () => {
    const store = new ClockedStore();
    const [liveId, deadId] = await writePack(store, [blob('live'), blob('dead')]);
    store.now = at(2 * HOUR);
    const db = await ObjectDatabase.open(store);
    const before = await store.keys();
    let lists = 0;
    // The third listing is gc's last look before deleting: a writer's pack has landed by then.
    store.beforeList = async () => {
      if (++lists === 3) await writePack(store, [blob('a writer')]);
    };
    const r = await collectGarbage(db, store, (id) => id === liveId, gcOpts(store.now));
    store.beforeList = undefined;
    expect(r).toMatchObject({ deferred: true, deletedObjects: 0, deletedPacks: 0, writtenPacks: 0 });
    const after = await store.keys();
    expect(after.filter((k) => before.includes(k))).toEqual(before);
    expect(after).toHaveLength(before.length + 2); // the writer's pack and index; gc's own copy is gone again
    expect((await ObjectDatabase.open(store)).has(deadId)).toBe(true);

    store.now = at(4 * HOUR);
    const again = await collectGarbage(await ObjectDatabase.open(store), store, (id) => id === liveId, gcOpts(store.now));
    expect(again).toMatchObject({ deferred: false, deletedObjects: 2 });
    expect((await ObjectDatabase.open(store)).has(deadId)).toBe(false);
  });

  it('deletes nothing when a pack lands between loading the packs and listing them, which may build on what it would delete', async () => {
    const store = new ClockedStore();
    const [liveId, deadId] = await writePack(store, [blob('live'), blob('dead')]);
    store.now = at(2 * HOUR);
    const db = await ObjectDatabase.open(store);
    const dead = await db.get(deadId);
    const onDead = Buffer.concat([dead, Buffer.from('an appended row')]);
    let lists = 0;
    // gc reloads the database (the first listing), then lists the packs itself: the writer's pack lands in between,
    // a delta on the dead object, which it found held.
    store.beforeList = async () => {
      if (++lists === 2) await writePack(store, [], [[onDead, deadId]]);
    };
    const r = await collectGarbage(db, store, (id) => id === liveId, gcOpts(store.now));
    store.beforeList = undefined;
    expect(r).toMatchObject({ deferred: true, deletedObjects: 0 });
    await expectReadable(store, [dead, onDead]);
  });

  it('defers, deleting nothing and keeping none of its copies, when another process removes a pack it is reading', async () => {
    const store = new ClockedStore();
    const [liveId] = await writePack(store, [blob('live'), blob('dead')]);
    store.now = at(2 * HOUR);
    const db = await ObjectDatabase.open(store);
    const [pack] = db.packs();
    const getRange = store.getRange.bind(store);
    // Another gc, or an app merging small packs, copied the live record and deleted the pack just before this one
    // reads it (the copy is not modelled: only what this run does matters here).
    jest.spyOn(store, 'getRange').mockImplementationOnce(async (key, range) => {
      await store.delete(pack.idxKey);
      await store.delete(pack.packKey);
      return getRange(key, range);
    });
    const before = (await store.keys()).filter((k) => k !== pack.idxKey && k !== pack.packKey).sort();
    const r = await collectGarbage(db, store, (id) => id === liveId, gcOpts(store.now));
    expect(r).toMatchObject({ deferred: true, deletedObjects: 0, deletedPacks: 0, writtenPacks: 0 });
    // No notice, and no pack of its own left behind: the store is as the other process left it.
    expect((await store.keys()).sort()).toEqual(before);
  });

  it('deletes nothing when a ref moved while it ran, which may name what it took for dead', async () => {
    const store = new ClockedStore();
    const [liveId, deadId] = await writePack(store, [blob('live'), blob('dead')]);
    store.now = at(2 * HOUR);
    const r = await collectGarbage(await ObjectDatabase.open(store), store, (id) => id === liveId, gcOpts(store.now, { rootsChanged: async () => true }));
    expect(r).toMatchObject({ deferred: true, deletedObjects: 0 });
    expect((await ObjectDatabase.open(store)).has(deadId)).toBe(true);
    expect((await store.keys()).filter((k) => k.endsWith('.condemned'))).toEqual([]);
  });

  it('goes on when the write of its notice is answered as already done (a retry after a lost answer)', async () => {
    const store = new ClockedStore();
    const live = blob('live');
    const dead = blob('dead');
    const [liveId, deadId] = await writePack(store, [live, dead]);
    store.now = at(2 * HOUR);
    store.answerLost.add(CONDEMNED_PREFIX);
    const r = await collectGarbage(await ObjectDatabase.open(store), store, (id) => id === liveId, gcOpts(store.now));
    expect(r).toMatchObject({ deferred: false, deletedObjects: 1 });
    expect((await ObjectDatabase.open(store)).has(deadId)).toBe(false);
    await expectReadable(store, [live]);
    expect((await store.keys()).filter((k) => isCondemnedKey(k))).toEqual([]);
  });

  it('announces what it deletes before its last look, so a writer that checks after that stores it again', async () => {
    const store = new ClockedStore();
    const dead = blob('dead');
    const [liveId, deadId] = await writePack(store, [blob('live'), dead]);
    store.now = at(2 * HOUR);
    // A writer in another working copy refers to the old dead object instead of storing it again.
    const writer = await ObjectDatabase.open(store);
    const watch = writer.watchReuse();
    expect(await writer.put(dead)).toBe(deadId);
    await writer.put(blob('new'));

    let checked: ObjectId[] | undefined;
    // After gc's last look for new packs and before its first deletion, the writer stores its pack and checks.
    store.beforeDelete = async (key) => {
      if (checked || !key.endsWith('.idx')) return;
      await writer.flush();
      checked = await writer.confirmReused(watch);
    };
    const r = await collectGarbage(await ObjectDatabase.open(store), store, (id) => id === liveId, gcOpts(store.now));
    store.beforeDelete = undefined;
    expect(r).toMatchObject({ deferred: false, deletedObjects: 1 });
    expect(checked).toEqual([deadId]);

    // The writer stores what it found gone before anything names it; the store holds it after gc.
    expect(writer.has(deadId)).toBe(false);
    await writer.put(dead);
    await writer.flush();
    await expectReadable(store, [dead]);
    expect((await store.keys()).filter((k) => k.endsWith('.condemned'))).toEqual([]);
  });

  it('keeps what it announced readable, and counts it as not held, until it deletes it', async () => {
    const store = new ClockedStore();
    const dead = blob('dead');
    const [liveId, deadId] = await writePack(store, [blob('live'), dead]);
    store.now = at(2 * HOUR);
    let seen: { has: boolean; bytes: Buffer } | undefined;
    store.beforeDelete = async (key) => {
      if (seen || !key.endsWith('.idx')) return;
      const reader = await ObjectDatabase.open(store);
      seen = { has: reader.has(deadId), bytes: await reader.get(deadId) };
    };
    await collectGarbage(await ObjectDatabase.open(store), store, (id) => id === liveId, gcOpts(store.now));
    expect(seen?.has).toBe(false);
    expect(seen?.bytes.equals(dead)).toBe(true);
  });

  it('finds what it reused gone when the notice and its packs vanish between listing and reading the notice', async () => {
    const store = new ClockedStore();
    const dead = blob('dead');
    const [deadId] = await writePack(store, [dead]);
    const writer = await ObjectDatabase.open(store);
    const [oldPack] = writer.packs();
    const watch = writer.watchReuse();
    await writer.put(dead);
    await writer.put(blob('new'));
    await writer.flush();
    // A gc announces the old pack; the writer lists the notice, and before it reads it the gc deletes the old pack
    // and then its notice.
    const notice = 'packs/gc-0123456789abcdef0123456789abcdef.condemned';
    await store.putIfAbsent(notice, Buffer.from(JSON.stringify({ packs: [oldPack.name] })));
    store.beforeGet = async (key) => {
      if (key !== notice) return;
      await store.delete(oldPack.idxKey);
      await store.delete(oldPack.packKey);
      await store.delete(notice);
    };
    expect(await writer.confirmReused(watch)).toEqual([deadId]);
  });

  it('takes its notice down before its copies when it defers, so a failure between leaves the live objects held', async () => {
    const store = new ClockedStore();
    const [liveId] = await writePack(store, [blob('live'), blob('dead')]);
    store.now = at(2 * HOUR);
    const gcDb = await ObjectDatabase.open(store);
    let lists = 0;
    // The third listing is gc's last look: a writer's pack has landed, and the store fails after two deletions.
    store.beforeList = async () => {
      if (++lists === 3) {
        await writePack(store, [blob('a writer')]);
        store.failDeletesAfter = 2;
      }
    };
    await expect(collectGarbage(gcDb, store, (id) => id === liveId, gcOpts(store.now))).rejects.toThrow(UnavailableError);
    store.beforeList = undefined;
    store.failDeletesAfter = Infinity;
    const db = await ObjectDatabase.open(store);
    expect(db.has(liveId)).toBe(true);
    expect((await store.keys()).filter((k) => k.endsWith('.condemned'))).toEqual([]);
  });

  it("reads another run's notice once, however often it reloads", async () => {
    const store = new ClockedStore();
    const [liveId] = await writePack(store, [blob('live'), blob('dead')]);
    const [announced] = (await ObjectDatabase.open(store)).packs();
    const notice = 'packs/gc-11111111111111111111111111111111.condemned';
    await store.putIfAbsent(notice, Buffer.from(JSON.stringify({ packs: [announced.name] })));
    store.now = at(2 * HOUR);
    const reads: string[] = [];
    store.beforeGet = async (key) => void reads.push(key);
    const r = await collectGarbage(await ObjectDatabase.open(store), store, (id) => id === liveId, gcOpts(store.now));
    store.beforeGet = undefined;
    expect(r.deletedObjects).toBe(1);
    expect(reads.filter((k) => k === notice)).toHaveLength(1);
  });

  it('looks past an announced pack without searching every pack for each id', async () => {
    const store = new ClockedStore();
    const shared = blob('shared');
    const [sharedId] = await writePack(store, [shared]);
    const [announced] = (await ObjectDatabase.open(store)).packs();
    for (let i = 0; i < 30; i++) await writePack(store, [blob(`filler ${i}`)]);
    // A second copy, in a pack nobody deletes (written apart, as a writer that did not see the first would).
    const apart = new ClockedStore();
    await writePack(apart, [shared]);
    for (const key of await apart.keys()) await store.putIfAbsent(key, await apart.get(key));
    const db = await ObjectDatabase.open(store);
    expect(db.packs().filter((p) => p.index.has(sharedId))).toHaveLength(2);
    await store.putIfAbsent('packs/gc-00000000000000000000000000000000.condemned', Buffer.from(JSON.stringify({ packs: [announced.name] })));
    await db.reload();
    await db.get(sharedId); // a read may land on the announced pack
    const before = db.stats.indexSearches;
    for (let i = 0; i < 100; i++) expect(db.has(sharedId)).toBe(true);
    expect(db.stats.indexSearches - before).toBeLessThan(300);
  });

  it("removes another run's notice once the packs it names are gone, or when it is a day old", async () => {
    const store = new ClockedStore();
    const [liveId] = await writePack(store, [blob('live'), blob('dead')]);
    const [kept] = await writePack(store, [blob('kept')]);
    const keptPack = (await ObjectDatabase.open(store)).packs().find((p) => p.index.has(kept))!.name;
    // Left by runs that died: one after deleting its pack, one before deleting a pack that is still there.
    await store.putIfAbsent('packs/gc-done.condemned', Buffer.from(JSON.stringify({ packs: ['pack-' + '0'.repeat(32)] })));
    await store.putIfAbsent('packs/gc-died.condemned', Buffer.from(JSON.stringify({ packs: [keptPack] })));
    store.now = at(2 * HOUR);
    const live = (id: ObjectId) => id === liveId || id === kept;
    await collectGarbage(await ObjectDatabase.open(store), store, live, gcOpts(store.now));
    expect((await store.keys()).filter((k) => k.endsWith('.condemned'))).toEqual(['packs/gc-died.condemned']);

    store.now = at(30 * HOUR);
    await writePack(store, [blob('dead again')]);
    store.now = at(32 * HOUR);
    await collectGarbage(await ObjectDatabase.open(store), store, live, gcOpts(store.now));
    expect((await store.keys()).filter((k) => k.endsWith('.condemned'))).toEqual([]);
  });

  it('copies a live record even when a pack it leaves alone holds it too, which another process may be deleting', async () => {
    const store = new ClockedStore();
    const shared = blob('in both packs');
    const dead = blob('dead');
    // Two writers that do not see each other's packs store the same object: a pack each.
    const [first, second] = [await ObjectDatabase.open(store), await ObjectDatabase.open(store)];
    const sharedId = await first.put(shared);
    const deadId = await first.put(dead);
    await first.flush();
    await second.put(shared);
    await second.flush();
    const other = second.packs()[0];
    expect([other.index.has(sharedId), other.index.has(deadId)]).toEqual([true, false]);
    store.now = at(2 * HOUR);

    await collectGarbage(await ObjectDatabase.open(store), store, (id) => id === sharedId, gcOpts(store.now));
    // Another process's gc or pack merge deletes the other copy, trusting this run's copy in turn.
    await store.delete(other.idxKey);
    await store.delete(other.packKey);
    await expectReadable(store, [shared]);
  });

  it('stops before deleting anything when a live record it must copy is damaged', async () => {
    const store = new ClockedStore();
    const objects = [blob('live'), blob('dead')];
    const ids = await writePack(store, objects);
    const db = await ObjectDatabase.open(store);
    const packKey = db.packs()[0].packKey;
    const bytes = await store.get(packKey);
    bytes[PACK_HEADER_BYTES + RECORD_HEADER_BYTES + 10] ^= 1;
    await store.delete(packKey);
    await store.putIfAbsent(packKey, bytes);
    store.now = at(2 * HOUR);
    const keysBefore = await store.keys();

    await expect(collectGarbage(await ObjectDatabase.open(store), store, (id) => id === ids[0], gcOpts(store.now))).rejects.toThrow(IntegrityError);
    const keysAfter = await store.keys();
    for (const k of keysBefore) expect(keysAfter).toContain(k);
  });

  it('merges old small packs into one, keeping every object (deltas too) and leaving young packs alone', async () => {
    const store = new ClockedStore();
    const objects: Buffer[] = [];
    const base = blob('base', 5000);
    objects.push(base);
    await writePack(store, [base]);
    for (let i = 0; i < 5; i++) {
      const o = blob(`small-${i}`);
      objects.push(o);
      await writePack(store, [o]);
    }
    const edited = Buffer.concat([base, Buffer.from('appended')]);
    objects.push(edited);
    await writePack(store, [], [[edited, sha256(base)]]);
    store.now = at(2 * HOUR);
    const young = blob('young');
    objects.push(young);
    await writePack(store, [young]);
    store.now = at(2 * HOUR + 1000);
    expect((await store.keys()).filter((k) => k.endsWith('.pack'))).toHaveLength(8);

    const db = await ObjectDatabase.open(store);
    const result = await collectGarbage(db, store, () => true, gcOpts(store.now, { mergeSmallPacks: { minPacks: 4 }, deleteOrphans: false }));

    expect(result).toMatchObject({ deletedObjects: 0, deletedPacks: 7, mergedPacks: 7, writtenPacks: 1, keptPacks: 1 });
    expect((await store.keys()).filter((k) => k.endsWith('.pack'))).toHaveLength(2);
    await expectReadable(store, objects);
    expect((await recordOf(store, sha256(edited)))?.type).toBe(RECORD_DELTA);
  });

  it('merging only, reads no record of the packs it leaves alone, and keeps deltas as deltas', async () => {
    const store = new ClockedStore();
    const base = blob('base', 5000);
    const edited = Buffer.concat([base, Buffer.from('appended')]);
    await writePack(store, [base], [[edited, sha256(base)]]);
    for (let i = 0; i < 4; i++) await writePack(store, [blob(`small-${i}`)]);
    // A larger pack with a delta, left alone: a merge must not read what it does not copy.
    const bigBase = blob('big', 20_000);
    const grown = Buffer.concat([bigBase, Buffer.from('grown')]);
    await writePack(store, [bigBase], [[grown, sha256(bigBase)]]);
    store.now = at(2 * HOUR);
    const db = await ObjectDatabase.open(store);
    const big = db.packs().find((p) => p.index.lookup(sha256(bigBase)))!;
    store.rangeReads.length = 0;

    const result = await collectGarbage(db, store, EVERY_OBJECT_LIVE, gcOpts(store.now, { mergeSmallPacks: { minPacks: 4, maxPackBytes: 15_000 } }));

    expect(result).toMatchObject({ deletedObjects: 0, mergedPacks: 5, writtenPacks: 1, keptPacks: 1, deferred: false });
    expect(store.rangeReads).not.toContain(big.packKey);
    await expectReadable(store, [base, edited, bigBase, grown]);
    expect((await recordOf(store, sha256(edited)))?.type).toBe(RECORD_DELTA);
  });

  it('does not merge fewer small packs than asked', async () => {
    const store = new ClockedStore();
    for (let i = 0; i < 3; i++) await writePack(store, [blob(`p${i}`)]);
    store.now = at(2 * HOUR);
    const result = await collectGarbage(await ObjectDatabase.open(store), store, () => true, gcOpts(store.now, { mergeSmallPacks: { minPacks: 4 } }));
    expect(result).toMatchObject({ deletedPacks: 0, mergedPacks: 0, writtenPacks: 0, keptPacks: 3 });
  });

  it('deletes the unfinished pack a writer killed mid-write left on local disk, once older than the grace period', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'trib-gc-temp-'));
    try {
      const store = await LocalStore.open(dir, { create: true });
      await writePack(store, [blob('kept')]);
      const packs = path.join(dir, 'packs');
      const [young, old] = ['.tmp-0123456789abcdef~', '.tmp-fedcba9876543210~'];
      await writeFile(path.join(packs, young), 'half a pack');
      await writeFile(path.join(packs, old), 'half a pack too');
      const twoHoursAgo = new Date(Date.now() - 2 * HOUR);
      await utimes(path.join(packs, old), twoHoursAgo, twoHoursAgo);
      const opts = { graceMs: HOUR, dryRun: false };
      const dry = await collectGarbage(await ObjectDatabase.open(store), store, () => true, { ...opts, dryRun: true });
      expect(dry).toMatchObject({ deletedPacks: 1, freedBytes: 15 });
      const r = await collectGarbage(await ObjectDatabase.open(store), store, () => true, opts);
      expect(r).toMatchObject({ deletedPacks: 1, freedBytes: 15, keptPacks: 1 });
      expect((await readdir(packs)).filter((n) => n.startsWith('.tmp-'))).toEqual([young]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses a negative grace period', async () => {
    const store = new ClockedStore();
    await expect(collectGarbage(await ObjectDatabase.open(store), store, () => true, gcOpts(T0, { graceMs: -1 }))).rejects.toThrow(InvalidArgumentError);
  });
});
