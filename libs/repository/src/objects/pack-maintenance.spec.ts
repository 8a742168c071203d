import { randomBytes } from 'node:crypto';
import { sha256 } from '@tributary/core';
import { MemoryStore } from '@tributary/storage';
import { ObjectDatabase } from './object-database';
import { PackMaintenance } from './pack-maintenance';

async function packFiles(store: MemoryStore): Promise<number> {
  let n = 0;
  for await (const info of store.list('packs/')) if (info.key.endsWith('.pack')) n++;
  return n;
}

/** Lets the store's clock move on, so the packs written so far count as older than a zero grace period. */
const tick = () => new Promise((r) => setTimeout(r, 5));

describe('PackMaintenance', () => {
  it('merges the small packs of many flushes in the background; every object stays readable, also to a reader that loaded the old packs', async () => {
    const store = new MemoryStore();
    const db = await ObjectDatabase.open(store);
    const logs: string[] = [];
    const packs = new PackMaintenance(db, store, { minPacks: 8, log: (_l, m) => logs.push(m) });
    const objects: Buffer[] = [];
    for (let i = 0; i < 7; i++) {
      objects.push(randomBytes(2000));
      await db.put(objects[i]);
      await db.flush();
      packs.afterWrite();
    }
    await tick();
    const reader = await ObjectDatabase.open(store, { cacheBytes: 0 });
    expect(await packFiles(store)).toBe(7);

    objects.push(randomBytes(2000));
    await db.put(objects[7]);
    await db.flush();
    await tick();
    packs.afterWrite();
    await packs.close();

    expect(await packFiles(store)).toBe(1);
    expect(logs.join('\n')).toMatch(/merged 8 small packs into 1/);
    for (const o of objects) {
      expect((await db.get(sha256(o))).equals(o)).toBe(true);
      expect((await reader.get(sha256(o))).equals(o)).toBe(true);
    }
  });

  it('counts the packs written while a merge runs towards the next merge', async () => {
    const store = new MemoryStore();
    const db = await ObjectDatabase.open(store);
    const logs: string[] = [];
    const packs = new PackMaintenance(db, store, { minPacks: 4, log: (_l, m) => logs.push(m) });
    const flushOne = async () => {
      await db.put(randomBytes(500));
      await db.flush();
      await tick();
      packs.afterWrite();
    };
    // The merge waits before deleting the packs it merged, while a fast writer adds four more.
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const del = store.delete.bind(store);
    store.delete = async (key: string) => {
      await gate;
      return del(key);
    };
    for (let i = 0; i < 4; i++) await flushOne();
    for (let i = 0; i < 4; i++) await flushOne();
    open();
    while (logs.length === 0) await tick();
    expect(logs).toEqual([expect.stringMatching(/^merged 4 small packs into 1/)]);
    expect(await packFiles(store)).toBe(5);
    // The four written during the merge are due now (before the fix, only after four more).
    packs.afterWrite();
    await packs.close();
    expect(logs[1]).toMatch(/^merged 5 small packs into 1/);
    expect(await packFiles(store)).toBe(1);
    expect(packs.merged).toEqual({ merges: 2, packs: 9 });
  });

  it('starts nothing after close', async () => {
    const store = new MemoryStore();
    const db = await ObjectDatabase.open(store);
    const packs = new PackMaintenance(db, store, { minPacks: 2 });
    for (let i = 0; i < 3; i++) {
      await db.put(randomBytes(100));
      await db.flush();
    }
    await packs.close();
    // Three packs against minPacks 2: without the close, this would start a merge, which lists the packs first.
    let listed = 0;
    const list = store.list.bind(store);
    store.list = (prefix) => (listed++, list(prefix));
    packs.afterWrite();
    await tick();
    await packs.close();
    expect(listed).toBe(0);
    store.list = list;
    expect(await packFiles(store)).toBe(3);
  });

  it('only logs a failed merge', async () => {
    const store = new MemoryStore();
    const db = await ObjectDatabase.open(store);
    const logs: string[] = [];
    const packs = new PackMaintenance(db, store, { minPacks: 2, log: (l, m) => logs.push(`${l} ${m}`) });
    for (let i = 0; i < 3; i++) {
      await db.put(randomBytes(100));
      await db.flush();
    }
    await tick();
    const list = store.list.bind(store);
    store.list = () => {
      throw new Error('listing refused');
    };
    packs.afterWrite();
    await packs.close();
    expect(logs).toEqual([expect.stringMatching(/^warn merging small packs failed .*listing refused/)]);
    expect(packs.merged).toEqual({ merges: 0, packs: 0 });
    store.list = list;
    expect(await packFiles(store)).toBe(3);
  });
});
