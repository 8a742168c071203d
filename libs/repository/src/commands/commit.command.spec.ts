import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { sha256 } from '@tributary/core';
import { Repository } from '../repository';
import { LoadedPack } from '../objects/object-database';
import { WorkingCopy } from '../worktree/working-copy';
import { commitWorktree } from './commit.command';
import { verifyRepository } from './verify.command';

let dir: string;
let repo: Repository;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(tmpdir(), 'trib-commit-'));
  repo = await Repository.init(dir);
});
afterEach(async () => {
  await repo.close();
  await fs.rm(dir, { recursive: true, force: true });
});

describe('commitWorktree', () => {
  it('stores again what it reused if a gc elsewhere deleted it meanwhile, before HEAD names it', async () => {
    // An object the store holds that no ref reaches: a file committed on a branch deleted long ago, say.
    const content = randomBytes(5000);
    const id = await repo.objects.put(content);
    await repo.objects.flush();
    const [oldPack] = repo.objects.packs();
    expect(oldPack.index.has(id)).toBe(true);

    // The same bytes land in the working tree: the snapshot finds them stored and refers to them.
    await fs.writeFile(path.join(dir, 'again.bin'), content);
    const write = repo.writeCommit.bind(repo);
    let commits = 0;
    // Another working copy's gc deletes that old pack after the snapshot, while the commit is written.
    jest.spyOn(repo, 'writeCommit').mockImplementation(async (c) => {
      if (commits++ === 0) {
        await repo.store.delete(oldPack.idxKey);
        await repo.store.delete(oldPack.packKey);
      }
      return write(c);
    });

    const r = await commitWorktree(repo, { message: 'again', author: 'T <t@example.org>' });
    expect(commits).toBe(2);
    expect(r.commit).toBeDefined();
    expect(repo.objects.has(id)).toBe(true);
    expect(sha256(await repo.objects.get(id))).toBe(id);
    expect((await verifyRepository(repo, { readData: true })).damage).toEqual([]);
  });

  it('stores again the chunks of a many-chunk file it reused, though the first try stored its chunk list', async () => {
    // A file of many chunks that `trib status` stored and nothing names: its chunks sit in an old pack.
    const content = randomBytes(1 << 20);
    await fs.writeFile(path.join(dir, 'old.bin'), content);
    const oldPacks = await snapshotLikeStatus();
    // A longer file made of it: all its chunks but the last are found stored; its chunk list is new.
    await fs.rm(path.join(dir, 'old.bin'));
    await fs.writeFile(path.join(dir, 'longer.bin'), Buffer.concat([content, randomBytes(100_000)]));
    // Written a while ago, so the stat cache may vouch for it (a file changed within the last moments it never does).
    const anHourAgo = new Date(Date.now() - 3600_000);
    await fs.utimes(path.join(dir, 'longer.bin'), anHourAgo, anHourAgo);
    deleteOnFirstCommitWrite(oldPacks);

    await commitWorktree(repo, { message: 'longer', author: 'T <t@example.org>' });
    expect(repo.writeCommit).toHaveBeenCalledTimes(2);
    expect((await verifyRepository(repo, { readData: true })).damage).toEqual([]);
  });

  it('stores a changed file whole again when the base its delta was stored on vanished meanwhile', async () => {
    // One chunk, which `trib status` stored and nothing names; the changed file is stored as a delta on it.
    const content = randomBytes(20_000);
    await fs.writeFile(path.join(dir, 'f.bin'), content);
    const oldPacks = await snapshotLikeStatus();
    content[10_000] ^= 0xff;
    await fs.writeFile(path.join(dir, 'f.bin'), content);
    deleteOnFirstCommitWrite(oldPacks);

    const before = repo.objects.stats.bytesWritten;
    await commitWorktree(repo, { message: 'changed', author: 'T <t@example.org>' });
    expect(repo.writeCommit).toHaveBeenCalledTimes(2);
    // The second try stored the file whole: it did not trust the delta the first one stored.
    expect(repo.objects.stats.bytesWritten - before).toBeGreaterThan(content.length);
    expect((await verifyRepository(repo, { readData: true })).damage).toEqual([]);
  });

  it('stores again what it wrote itself if a gc elsewhere took its new pack for dead before HEAD named it', async () => {
    await fs.writeFile(path.join(dir, 'a.txt'), 'a\n');
    await commitWorktree(repo, { message: 'one', author: 'T <t@example.org>' });
    const before = new Set(repo.objects.packs().map((p) => p.name));
    await fs.writeFile(path.join(dir, 'b.bin'), randomBytes(300_000));
    const write = repo.writeCommit.bind(repo);
    let calls = 0;
    // A gc with no grace period deletes the pack this commit just stored: nothing names its objects yet.
    jest.spyOn(repo, 'writeCommit').mockImplementation(async (c) => {
      const id = await write(c);
      if (calls++ === 0) {
        for (const p of repo.objects.packs().filter((p) => !before.has(p.name))) {
          await repo.store.delete(p.idxKey);
          await repo.store.delete(p.packKey);
        }
      }
      return id;
    });
    await commitWorktree(repo, { message: 'two', author: 'T <t@example.org>' });
    expect(calls).toBe(2);
    expect((await verifyRepository(repo, { readData: true })).damage).toEqual([]);
  });

  it('notes nothing it stores itself, and finds nothing gone when no pack vanished', async () => {
    await fs.writeFile(path.join(dir, 'a.txt'), 'a\n');
    await commitWorktree(repo, { message: 'one', author: 'T <t@example.org>' });
    const spy = jest.spyOn(repo.objects, 'confirmReused');
    await fs.writeFile(path.join(dir, 'b.txt'), 'b\n');
    await commitWorktree(repo, { message: 'two', author: 'T <t@example.org>' });
    expect(spy).toHaveBeenCalledTimes(1);
    await expect(spy.mock.results[0].value).resolves.toEqual([]);
  });
});

/** Stores the working tree's objects as `trib status` does, naming them nowhere; returns the packs they are in. */
async function snapshotLikeStatus(): Promise<LoadedPack[]> {
  const wc = await WorkingCopy.open(repo);
  try {
    await wc.changes(undefined);
    await wc.cache.save();
  } finally {
    await wc.close();
  }
  return repo.objects.packs();
}

/** Deletes `packs`, as a gc in another working copy would, while the next commit's first try writes its commit. */
function deleteOnFirstCommitWrite(packs: readonly LoadedPack[]): void {
  const write = repo.writeCommit.bind(repo);
  let calls = 0;
  jest.spyOn(repo, 'writeCommit').mockImplementation(async (c) => {
    if (calls++ === 0) {
      for (const p of packs) {
        await repo.store.delete(p.idxKey);
        await repo.store.delete(p.packKey);
      }
    }
    return write(c);
  });
}
