import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Repository } from '../repository';
import { commitWorktree } from './commit.command';
import { mergeIntoWorktree } from './merge.command';
import { createBranch } from './refs.command';
import { worktreeStatus } from './status.command';
import { switchBranch } from './switch.command';

let dir: string;
let repo: Repository;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(tmpdir(), 'trib-switch-'));
  repo = await Repository.init(dir);
});
afterEach(async () => {
  await repo.close();
  await fs.rm(dir, { recursive: true, force: true });
});

const write = (name: string, bytes: number) => fs.writeFile(path.join(dir, name), Buffer.alloc(bytes, name));
const commit = (message: string) => commitWorktree(repo, { message, author: 'T <t@example.org>' });

describe('progress of moving the working files', () => {
  /** The cumulative bytes a move of b.bin (3000) and c.bin (5000) may report, in either order, against 8000. */
  const EITHER_ORDER = [
    [
      [3000, 8000],
      [8000, 8000],
    ],
    [
      [5000, 8000],
      [8000, 8000],
    ],
  ];

  it('switch and merge report the bytes of files written so far against the total', async () => {
    await write('a.bin', 1000);
    await commit('base');
    await createBranch(repo, 'other');
    await write('b.bin', 3000);
    await write('c.bin', 5000);
    await commit('two more');
    const told: [number, number][] = [];
    const onProgress = (done: number, total: number) => told.push([done, total]);

    // To a branch without b and c: removals only, nothing written, nothing told.
    await switchBranch(repo, 'other', { onProgress });
    expect(told).toEqual([]);
    await switchBranch(repo, 'main', { onProgress });
    expect(EITHER_ORDER).toContainEqual(told.splice(0));

    await switchBranch(repo, 'other');
    const r = await mergeIntoWorktree(repo, 'main', { onProgress });
    expect(r.kind).toBe('fast-forward');
    expect(EITHER_ORDER).toContainEqual(told);
  });
});

describe('a switch opened before a commit it waited for', () => {
  it('finds the files at that commit, though its packs were listed before the commit stored it', async () => {
    await write('a.txt', 10);
    await commit('base');
    await createBranch(repo, 'other');
    // Opened (packs listed) now; then another command commits, as while this one waited for the lock.
    const waiting = await Repository.open(dir);
    try {
      await write('big.bin', 5000);
      await commit('big');
      const r = await switchBranch(waiting, 'other');
      expect(r).toMatchObject({ written: 0, removed: 1 });
      await expect(fs.stat(path.join(dir, 'big.bin'))).rejects.toMatchObject({ code: 'ENOENT' });
      expect((await worktreeStatus(waiting)).changes).toEqual([]);
    } finally {
      await waiting.close();
    }
  });
});
