import { Readable } from 'node:stream';
import { ObjectId, sha256 } from '@tributary/core';
import { ObjectDatabase } from '@tributary/repository';
import { MemoryStore } from '@tributary/storage';
import { StagedObjects } from './staged-objects';

/** A MemoryStore whose first pack upload takes all its bytes but does not complete until `release`. */
class HeldFirstPack extends MemoryStore {
  readonly packsStarted: string[] = [];
  private opened!: () => void;
  /** Resolves once a second pack upload has started. */
  readonly secondPack = new Promise<void>((resolve) => (this.opened = resolve));
  release!: () => void;
  private readonly held = new Promise<void>((resolve) => (this.release = resolve));

  override async putIfAbsent(key: string, data: Buffer | Readable): Promise<void> {
    if (!key.endsWith('.pack')) return super.putIfAbsent(key, data);
    this.packsStarted.push(key);
    if (this.packsStarted.length === 2) this.opened();
    const stored = super.putIfAbsent(key, data);
    if (this.packsStarted.length === 1) await this.held;
    return stored;
  }
}

describe('StagedObjects', () => {
  it('goes on into the next pack while a full one is still being stored, and commits them all', async () => {
    const store = new HeldFirstPack();
    const shared = await ObjectDatabase.open(store);
    const staged = await StagedObjects.open(shared);
    // 70 objects of 1 MiB: more than one 64 MiB pack.
    const ids: ObjectId[] = [];
    const puts: Promise<void>[] = [];
    for (let i = 0; i < 70; i++) {
      const bytes = Buffer.alloc(1 << 20, i);
      bytes.writeUInt32BE(i, 0);
      const id = sha256(bytes);
      ids.push(id);
      puts.push(staged.put(id, bytes));
    }
    // With the first pack's upload held, the second pack starts all the same.
    await store.secondPack;
    expect(store.packsStarted).toHaveLength(2);
    store.release();
    await Promise.all(puts);
    await staged.commit();
    for (const id of ids) expect(shared.has(id)).toBe(true);
    expect((await ObjectDatabase.open(store)).has(ids[0])).toBe(true);
  }, 20_000);
});
