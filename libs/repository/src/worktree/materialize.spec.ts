import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ByteRange, MemoryStore } from '@tributary/storage';
import { writeFileContent } from '@tributary/core';
import { ObjectDatabase } from '../objects/object-database';
import { writeEntry } from './materialize';

/** Counts the ranged reads a cloud store would see as separate requests. */
class CountingStore extends MemoryStore {
  ranged = 0;
  override async getRange(key: string, range: ByteRange): Promise<Buffer> {
    this.ranged++;
    return super.getRange(key, range);
  }
}

describe('writeEntry (checkout of one file)', () => {
  it('reads neighbouring chunks with a few ranged reads, not one per chunk, and writes the exact bytes', async () => {
    const store = new CountingStore('materialize-spec');
    const db = await ObjectDatabase.open(store);
    const bytes = randomBytes(12 * 1024 * 1024);
    const file = await writeFileContent(db, [bytes]);
    await db.flush();
    const fresh = await ObjectDatabase.open(store);
    const dir = mkdtempSync(path.join(tmpdir(), 'materialize-'));
    try {
      store.ranged = 0;
      await writeEntry(fresh, dir, 'big.bin', { kind: 'file', executable: false, size: file.size, id: file.id, chunked: file.chunked });
      expect(readFileSync(path.join(dir, 'big.bin')).equals(bytes)).toBe(true);
      const chunks = Math.ceil(bytes.length / (64 * 1024));
      // ~190 chunks; one request per chunk would be ~190 reads.
      expect(store.ranged).toBeLessThan(chunks / 8);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
