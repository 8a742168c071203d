import fs, { appendFileSync, chmodSync, linkSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
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
  afterEach(() => {
    jest.restoreAllMocks();
    rmSync(dir, { recursive: true, force: true });
  });

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

  it('refuses to commit a file that changed while it was read, and commits it once it is still', async () => {
    const repo = await Repository.init(dir);
    const big = path.join(dir, 'big.bin');
    try {
      writeFileSync(path.join(dir, 'a.txt'), 'a\n');
      const base = await commitWorktree(repo, { message: 'base', author: 'T <t@example.org>' });
      writeFileSync(big, noise(20 << 20, 7));
      let cut = false;
      // Cut short as the first hashed bytes are told: the rest of the read meets the shorter file.
      const onProgress = () => {
        if (!cut) truncateSync(big, 1 << 20);
        cut = true;
      };
      await expect(commitWorktree(repo, { message: 'torn', author: 'T <t@example.org>', onProgress })).rejects.toMatchObject({
        code: 'FAILED_PRECONDITION',
        message: 'big.bin changed while it was being read: commit again once nothing writes to it',
      });
      expect(cut).toBe(true);
      expect((await repo.head()).commit).toBe(base.commit);
      const out = await commitWorktree(repo, { message: 'still', author: 'T <t@example.org>' });
      const entry = await lookupPath(repo.objects, (await repo.readCommit(out.commit!)).tree, 'big.bin');
      expect(entry?.size).toBe(1 << 20);
    } finally {
      await repo.close();
    }
  });

  it('commits a file whose mode or links change while it is read, its bytes unchanged', async () => {
    const repo = await Repository.init(dir);
    const big = path.join(dir, 'big.bin');
    try {
      writeFileSync(big, noise(20 << 20, 9));
      let touched = false;
      // As a chmod, or a backup's hard link (cp -al), would meanwhile: the change time moves, not the bytes.
      const onProgress = () => {
        if (!touched) {
          chmodSync(big, 0o600);
          linkSync(big, path.join(tmpdir(), `trib-snapshot-link-${process.pid}`));
          unlinkSync(path.join(tmpdir(), `trib-snapshot-link-${process.pid}`));
        }
        touched = true;
      };
      const out = await commitWorktree(repo, { message: 'big', author: 'T <t@example.org>', onProgress });
      expect(touched).toBe(true);
      expect((await lookupPath(repo.objects, (await repo.readCommit(out.commit!)).tree, 'big.bin'))?.size).toBe(20 << 20);
    } finally {
      await repo.close();
    }
  });

  it('takes what it read of a file changing under a snapshot for status, and keeps no cache entry for it', async () => {
    const repo = await Repository.init(dir);
    const wc = await WorkingCopy.open(repo);
    try {
      writeFileSync(path.join(dir, 'log.txt'), 'one\n');
      writeFileSync(path.join(dir, 'still.txt'), 'still\n');
      // Written to after the scan, before the read.
      const onHashed = (p: string) => p === 'log.txt' && appendFileSync(path.join(dir, 'log.txt'), 'two\n');
      const snapshot = await wc.snapshot({ onHashed });
      expect((await lookupPath(repo.objects, snapshot.tree, 'log.txt'))?.size).toBe(8);
      // The scan's stat no longer tells that version apart from the next: no entry, so the file is read again.
      expect([wc.cache.get('log.txt'), wc.cache.get('still.txt')?.size]).toEqual([undefined, 6]);
    } finally {
      await wc.close();
      await repo.close();
    }
  });

  it('refuses, naming it, a file or link it cannot read, and commits nothing', async () => {
    const repo = await Repository.init(dir);
    try {
      writeFileSync(path.join(dir, 'a.txt'), 'a\n');
      const base = await commitWorktree(repo, { message: 'base', author: 'T <t@example.org>' });
      writeFileSync(path.join(dir, 'secret.csv'), 's\n');
      symlinkSync('a.txt', path.join(dir, 'link'));
      // As root, chmod 000 stops no read: the failures are planted.
      const failFor = <K extends 'openSync' | 'readlinkSync'>(name: K, file: string, code: string, what: string) => {
        const real = fs[name] as (...args: unknown[]) => unknown;
        return jest.spyOn(fs, name).mockImplementation(((p: fs.PathLike, ...rest: unknown[]) => {
          if (String(p) !== path.join(dir, file)) return real(p, ...rest);
          throw Object.assign(new Error(`${code}: ${what}, ${name.replace('Sync', '')} '${p}'`), { code });
        }) as never);
      };
      const open = failFor('openSync', 'secret.csv', 'EACCES', 'permission denied');
      await expect(commitWorktree(repo, { message: 'x', author: 'T <t@example.org>' })).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
        message: 'cannot read "secret.csv": EACCES: permission denied',
      });
      open.mockRestore();
      failFor('readlinkSync', 'link', 'EIO', 'i/o error');
      await expect(commitWorktree(repo, { message: 'x', author: 'T <t@example.org>' })).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
        message: 'cannot read "link": EIO: i/o error',
      });
      expect((await repo.head()).commit).toBe(base.commit);
    } finally {
      await repo.close();
    }
  });

  it('keeps the paths the previous tree tracks though .tribignore matches them, reading only the folders asked about', async () => {
    const repo = await Repository.init(dir);
    const wc = await WorkingCopy.open(repo);
    const write = (p: string, text: string) => {
      mkdirSync(path.dirname(path.join(dir, p)), { recursive: true });
      writeFileSync(path.join(dir, p), text);
    };
    try {
      for (let i = 0; i < 50; i++) write(`d${i}/f.csv`, `${i}\n`);
      write('labels.tmp', 'labels\n');
      write('cache/kept.bin', 'kept\n');
      const before = await wc.snapshot();
      write('.tribignore', '*.tmp\ncache/\n');
      write('d7/scratch.tmp', 'scratch\n');
      write('cache/new.bin', 'new\n');
      const changes = async () => (await wc.changes(before.tree)).changes.map((c) => [c.path, c.status]);
      expect(await changes()).toEqual([['.tribignore', 'added']]);
      write('labels.tmp', 'labels v2\n');
      rmSync(path.join(dir, 'cache/kept.bin'));
      expect(await changes()).toEqual([
        ['.tribignore', 'added'],
        ['cache/kept.bin', 'removed'],
        ['labels.tmp', 'modified'],
      ]);
      // The questions read the folders holding ignored paths (the root, d7 and cache, each reached from the root):
      // six reads, where walking the previous tree would read all 52 folders.
      const reads = repo.objects.stats.gets;
      await wc.snapshot({ previousTree: before.tree });
      expect(repo.objects.stats.gets - reads).toBeLessThanOrEqual(6);
    } finally {
      await wc.close();
      await repo.close();
    }
  });
});
