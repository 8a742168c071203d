import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { sha256 } from '@tributary/core';
import { Repository } from '../repository';
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
