import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { FailedPreconditionError, lookupPath } from '@tributary/core';
import { commitWorktree } from '../commands/commit.command';
import { createBranch } from '../commands/refs.command';
import { mergeIntoWorktree } from '../commands/merge.command';
import { worktreeStatus } from '../commands/status.command';
import { switchBranch } from '../commands/switch.command';
import { Repository } from '../repository';
import { writeWorktreeBase } from './worktree-base';

const author = 'T <t@example.org>';
let dir: string;
const opened: Repository[] = [];

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(tmpdir(), 'trib-base-'));
});
afterEach(async () => {
  for (const r of opened.splice(0)) await r.close();
  await fs.rm(dir, { recursive: true, force: true });
});

/** Two working copies of one store: `a` keeps the store in its .trib, `b` uses it by URL. */
async function twoWorkingCopies(): Promise<[Repository, Repository]> {
  const a = await Repository.init(path.join(dir, 'a'));
  const b = await Repository.init(path.join(dir, 'b'), { storeUrl: pathToFileURL(path.join(dir, 'a', '.trib', 'store')).href });
  opened.push(a, b);
  return [a, b];
}

const write = (repo: Repository, name: string, text: string) => fs.writeFile(path.join(repo.workdir, name), text);
const filesOf = async (repo: Repository) => {
  const tree = await repo.treeOf((await repo.head()).commit);
  const out: string[] = [];
  for (const name of ['base.txt', 'one.txt', 'two.txt']) if (tree && (await lookupPath(repo.objects, tree, name))) out.push(name);
  return out;
};

describe('working copies sharing a store', () => {
  it('refuses a commit that would undo what another working copy committed, until switch takes it', async () => {
    const [a, b] = await twoWorkingCopies();
    await write(a, 'base.txt', 'base\n');
    await commitWorktree(a, { message: 'base', author });
    // b's files are at no commit yet: switching to the branch it is on brings them, no --force needed.
    expect((await worktreeStatus(b)).behind).toBe(true);
    await switchBranch(b, 'main');
    await write(b, 'two.txt', 'two\n');
    await commitWorktree(b, { message: 'two', author });

    await write(a, 'one.txt', 'one\n');
    const status = await worktreeStatus(a);
    expect(status).toMatchObject({ behind: true, changes: [{ path: 'one.txt', status: 'added' }] });
    const refused = commitWorktree(a, { message: 'one', author });
    await expect(refused).rejects.toBeInstanceOf(FailedPreconditionError);
    await expect(refused).rejects.toThrow(/main has moved on to [0-9a-f]{12} since this working copy's files were at [0-9a-f]{12} .*two\.txt differs.*trib switch main/);
    await expect(mergeIntoWorktree(a, 'main')).rejects.toThrow(/main has moved on to/);
    expect(await filesOf(a)).toEqual(['base.txt', 'two.txt']);

    await switchBranch(a, 'main');
    expect(await fs.readFile(path.join(a.workdir, 'two.txt'), 'utf8')).toBe('two\n');
    expect(await fs.readFile(path.join(a.workdir, 'one.txt'), 'utf8')).toBe('one\n');
    await commitWorktree(a, { message: 'one', author });
    expect(await filesOf(a)).toEqual(['base.txt', 'one.txt', 'two.txt']);
    expect((await worktreeStatus(a)).behind).toBe(false);
  });

  it('refuses to commit a new working copy of a store whose branch has files it lacks', async () => {
    const [a, b] = await twoWorkingCopies();
    await write(a, 'base.txt', 'base\n');
    await commitWorktree(a, { message: 'base', author });
    await write(b, 'one.txt', 'one\n');
    await expect(commitWorktree(b, { message: 'partial', author })).rejects.toThrow(/since this working copy's files were at no commit .*base\.txt differs/);
    expect(await filesOf(a)).toEqual(['base.txt']);
  });

  it('commits when the files already hold what the branch moved on to (a base not recorded before a kill)', async () => {
    const [a] = await twoWorkingCopies();
    await write(a, 'base.txt', 'base\n');
    const first = await commitWorktree(a, { message: 'base', author });
    await write(a, 'one.txt', 'one\n');
    await commitWorktree(a, { message: 'one', author });
    // Killed after HEAD moved and before the base was recorded: the base still names the first commit.
    await writeWorktreeBase(a.tribDir, first.commit);
    expect(await worktreeStatus(a)).toMatchObject({ behind: false, changes: [] });
    await writeWorktreeBase(a.tribDir, first.commit);
    await write(a, 'two.txt', 'two\n');
    await commitWorktree(a, { message: 'two', author });
    expect(await filesOf(a)).toEqual(['base.txt', 'one.txt', 'two.txt']);
  });

  it('a clashing local change can be committed on a branch from the commit the files are at, then merged', async () => {
    const [a, b] = await twoWorkingCopies();
    await write(a, 'base.txt', 'base\n');
    const first = await commitWorktree(a, { message: 'base', author });
    await switchBranch(b, 'main');
    await write(b, 'base.txt', 'theirs\n');
    await commitWorktree(b, { message: 'theirs', author });
    await write(a, 'base.txt', 'mine\n');
    await expect(switchBranch(a, 'main')).rejects.toThrow(/would overwrite uncommitted change to base\.txt/);

    const short = first.commit!.slice(0, 12);
    await expect(commitWorktree(a, { message: 'mine', author })).rejects.toThrow(`trib branch NAME ${short} && trib switch NAME`);
    await createBranch(a, 'mine', first.commit!);
    await switchBranch(a, 'mine');
    await commitWorktree(a, { message: 'mine', author });
    await switchBranch(a, 'main');
    expect(await fs.readFile(path.join(a.workdir, 'base.txt'), 'utf8')).toBe('theirs\n');
    expect((await mergeIntoWorktree(a, 'mine')).kind).toBe('conflict');
  });
});
