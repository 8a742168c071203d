import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Repository } from '../repository';
import { WorkingCopy } from '../worktree/working-copy';
import { commitWorktree } from './commit.command';
import { mergeIntoWorktree } from './merge.command';
import { createBranch } from './refs.command';
import { switchBranch } from './switch.command';

let dir: string;
let repo: Repository;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(tmpdir(), 'trib-merge-'));
  repo = await Repository.init(dir);
});
afterEach(async () => {
  await repo.close();
  await fs.rm(dir, { recursive: true, force: true });
});

const write = (name: string, text: string) => fs.writeFile(path.join(dir, name), text);
const remove = (name: string) => fs.rm(path.join(dir, name));
const commit = (message: string) => commitWorktree(repo, { message, author: 'T <t@example.org>' });

describe('mergeIntoWorktree', () => {
  /** main modifies a and deletes b; other deletes a and modifies b. Leaves other checked out. */
  async function deleteModifyBothWays(): Promise<void> {
    await write('a', 'a\n');
    await write('b', 'b\n');
    await commit('base');
    await createBranch(repo, 'other');
    await write('a', 'a2\n');
    await remove('b');
    await commit('main side');
    await switchBranch(repo, 'other');
    await remove('a');
    await write('b', 'b2\n');
    await commit('other side');
  }

  it('without a strategy stops on the conflicts and settles none', async () => {
    await deleteModifyBothWays();
    const r = await mergeIntoWorktree(repo, 'main');
    expect(r).toMatchObject({ kind: 'conflict', settled: [] });
    expect(r.conflicts.map((c) => c.path)).toEqual(['a', 'b']);
  });

  it('with a strategy leaves no conflict and reports each one it settled', async () => {
    await deleteModifyBothWays();
    const r = await mergeIntoWorktree(repo, 'main', { strategy: 'theirs', author: 'T <t@example.org>' });
    expect(r).toMatchObject({ kind: 'merge', conflicts: [] });
    expect(r.settled).toEqual([
      { path: 'a', kind: 'delete/modify' },
      { path: 'b', kind: 'modify/delete' },
    ]);
    expect(await fs.readFile(path.join(dir, 'a'), 'utf8')).toBe('a2\n');
    await expect(fs.stat(path.join(dir, 'b'))).rejects.toThrow();
  });

  it('a fast-forward settles nothing', async () => {
    await write('a', 'a\n');
    await commit('base');
    await createBranch(repo, 'other');
    await write('a', 'a2\n');
    await commit('ahead');
    await switchBranch(repo, 'other');
    const r = await mergeIntoWorktree(repo, 'main', { strategy: 'ours' });
    expect(r).toMatchObject({ kind: 'fast-forward', conflicts: [], settled: [] });
  });

  it('scans the working tree once: the dirty check and the move share it', async () => {
    await write('a', 'a\n');
    await commit('base');
    await createBranch(repo, 'other');
    await switchBranch(repo, 'other');
    await write('b', 'b\n');
    await commit('other');
    await switchBranch(repo, 'main');
    const scans = jest.spyOn(WorkingCopy.prototype, 'changes');
    expect((await mergeIntoWorktree(repo, 'other')).kind).toBe('fast-forward');
    expect(scans).toHaveBeenCalledTimes(1);
    expect(await fs.readFile(path.join(dir, 'b'), 'utf8')).toBe('b\n');
  });
});
