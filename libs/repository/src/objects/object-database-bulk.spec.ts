import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { sha256, UnavailableError } from '@tributary/core';
import { MemoryStore } from '@tributary/storage';
import { RECORD_DELTA } from '../packs/pack-format';
import { ObjectDatabase } from './object-database';

/** A store whose streamed puts (packs) wait until released, like a slow fsync. */
class SlowStore extends MemoryStore {
  private release!: () => void;
  private gate = new Promise<void>((r) => (this.release = r));
  packPuts = 0;

  open(): void {
    this.release();
  }

  override async putIfAbsent(key: string, data: Buffer | Readable): Promise<void> {
    if (!Buffer.isBuffer(data)) {
      this.packPuts++;
      const bytes: Buffer[] = [];
      for await (const c of data) bytes.push(c as Buffer);
      await this.gate;
      return super.putIfAbsent(key, Buffer.concat(bytes));
    }
    return super.putIfAbsent(key, data);
  }
}

describe('ObjectDatabase bulk writes', () => {
  it('finishes full packs in the background: writes go on, objects stay visible, flush waits for all', async () => {
    const store = new SlowStore();
    const db = await ObjectDatabase.open(store, { packTargetBytes: 64 * 1024, finishPacksInBackground: true });
    const objects = Array.from({ length: 12 }, () => randomBytes(20 * 1024));
    // Three objects fill a pack; with the store held, the first rollovers must not block the writer.
    for (const o of objects.slice(0, 7)) await db.put(o);
    expect(store.packPuts).toBeGreaterThanOrEqual(3);
    for (const o of objects.slice(0, 7)) expect(db.has(sha256(o))).toBe(true);
    const idsPrefix = sha256(objects[0]).slice(0, 6);
    expect(db.idsWithPrefix(idsPrefix)).toContain(sha256(objects[0]));
    const reading = db.get(sha256(objects[0]));
    store.open();
    expect((await reading).equals(objects[0])).toBe(true);
    for (const o of objects.slice(7)) await db.put(o);
    await db.flush();
    const fresh = await ObjectDatabase.open(store);
    for (const o of objects) expect((await fresh.get(sha256(o))).equals(o)).toBe(true);
  });

  it('reports a background pack that failed to store at the next flush, and forgets its objects', async () => {
    class FailingStore extends MemoryStore {
      override async putIfAbsent(key: string, data: Buffer | Readable): Promise<void> {
        if (!Buffer.isBuffer(data)) {
          for await (const _ of data) void _;
          throw new UnavailableError('disk full');
        }
        return super.putIfAbsent(key, data);
      }
    }
    const db = await ObjectDatabase.open(new FailingStore(), { packTargetBytes: 64 * 1024, finishPacksInBackground: true });
    const first = randomBytes(40 * 1024);
    await db.put(first);
    await db.put(randomBytes(40 * 1024)).catch(() => undefined);
    await expect(db.flush()).rejects.toThrow(UnavailableError);
    expect(db.has(sha256(first))).toBe(false);
    await expect(db.flush()).resolves.toBeUndefined();
  });

  it('stores an appended chunk as a delta even when the new part is more than half of it', async () => {
    const store = new MemoryStore();
    const db = await ObjectDatabase.open(store);
    const oldTail = randomBytes(20 * 1024);
    const baseId = await db.put(oldTail);
    await db.flush();
    const target = Buffer.concat([oldTail, randomBytes(30 * 1024)]);
    const before = db.stats.bytesWritten;
    await db.putWithId(sha256(target), target, { deltaBase: baseId });
    await db.flush();
    expect(db.stats.bytesWritten - before).toBeLessThan(30 * 1024 + 1024);
    const fresh = await ObjectDatabase.open(store);
    expect((await fresh.get(sha256(target))).equals(target)).toBe(true);
    const entry = fresh.packs().map((p) => p.index.lookup(sha256(target))).find((e) => e)!;
    expect(entry.type).toBe(RECORD_DELTA);
  });
});
