import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createCipheriv } from 'node:crypto';
import { FileRef, lookupPath, ObjectId, readChunkRefs } from '@tributary/core';
import { commitWorktree } from '../commands/commit.command';
import { Repository } from '../repository';
import { WorkingCopy } from './working-copy';

/** `n` incompressible bytes, the same for the same seed. */
function noise(n: number, seed: number): Buffer {
  const key = Buffer.alloc(32, seed);
  return createCipheriv('aes-256-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(n));
}

describe('snapshotWorktree (through commit)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'trib-snapshot-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('stores each file\'s chunks side by side in the pack though several files are hashed at once', async () => {
    const sizes = [3 << 20, 3 << 20, 2 << 20];
    let repo = await Repository.init(dir);
    sizes.forEach((n, i) => writeFileSync(path.join(dir, `f${i}.bin`), noise(n, i + 1)));
    const out = await commitWorktree(repo, { message: 'three files', author: 'T <t@example.org>', now: new Date(0) });
    await repo.close();
    // Reopened, so every chunk is read from its pack and has a place there.
    repo = await Repository.open(dir);
    try {
      const tree = (await repo.readCommit(out.commit!)).tree;
      for (let i = 0; i < sizes.length; i++) {
        const entry = await lookupPath(repo.objects, tree, `f${i}.bin`);
        const places: { pack: string; offset: number }[] = [];
        for await (const ref of readChunkRefs(repo.objects, entry as FileRef)) {
          places.push(repo.objects.placeOf(ref.id as ObjectId)!);
        }
        expect(places.length).toBeGreaterThan(8);
        // One batch of the chunker (4 MiB) is stored whole: a file this small is one run in one pack, in order.
        expect(new Set(places.map((p) => p.pack)).size).toBe(1);
        const outOfOrder = places.filter((p, k) => k > 0 && p.offset < places[k - 1].offset);
        expect(outOfOrder).toEqual([]);
        const spans = places.slice(1).map((p, k) => p.offset - places[k].offset);
        // Side by side: the distance from the first to the last chunk is the file's bytes (plus record headers), not
        // the sum of all three files', which is what interleaving record by record would give.
        expect(spans.reduce((a, b) => a + b, 0)).toBeLessThan(sizes[i] + places.length * 128);
      }
    } finally {
      await repo.close();
    }
  });

  it('tells its progress while it scans files it need not hash, so a large unchanged tree shows it is moving', async () => {
    const repo = await Repository.init(dir);
    try {
      for (let i = 0; i < 2500; i++) writeFileSync(path.join(dir, `f${i}.txt`), `${i}\n`);
      await commitWorktree(repo, { message: 'many', author: 'T <t@example.org>' });
      const calls: [number, number, number | undefined][] = [];
      const wc = await WorkingCopy.open(repo);
      try {
        await wc.changes(undefined, { onProgress: (done, total, files) => calls.push([done, total, files]) });
      } finally {
        await wc.close();
      }
      const scanned = calls.map(([, , files]) => files);
      expect(scanned.slice(0, 2)).toEqual([1024, 2048]);
    } finally {
      await repo.close();
    }
  });
});
