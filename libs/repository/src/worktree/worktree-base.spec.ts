import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { FailedPreconditionError, lookupPath } from '@tributary/core';
import { commitWorktree } from '../commands/commit.command';
import { createBranch, deleteBranch } from '../commands/refs.command';
import { collectRepositoryGarbage } from '../commands/verify.command';
import { WorkingCopy } from './working-copy';
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
    expect((await worktreeStatus(b)).stale).toMatch(/main has moved on/);
    await switchBranch(b, 'main');
    await write(b, 'two.txt', 'two\n');
    await commitWorktree(b, { message: 'two', author });

    await write(a, 'one.txt', 'one\n');
    const status = await worktreeStatus(a);
    expect(status).toMatchObject({ stale: expect.stringMatching(/main has moved on/), changes: [{ path: 'one.txt', status: 'added' }] });
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
    expect((await worktreeStatus(a)).stale).toBeUndefined();
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
    // A base left behind (written by hand here): the files hold what the branch moved on to.
    await writeWorktreeBase(a.tribDir, { commit: first.commit, branch: 'main' });
    const status = await worktreeStatus(a);
    expect([status.stale, status.changes]).toEqual([undefined, []]);
    await writeWorktreeBase(a.tribDir, { commit: first.commit, branch: 'main' });
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

  it('a commit killed after HEAD moved is found done, though the file is edited again before the next command', async () => {
    const [a] = await twoWorkingCopies();
    await write(a, 'base.txt', '1\n');
    await commitWorktree(a, { message: 'one', author });
    await write(a, 'base.txt', '2\n');
    // The kill lands between HEAD moving and the base being recorded: the pending commit is what HEAD names.
    const record = WorkingCopy.prototype.recordBase;
    const spy = jest.spyOn(WorkingCopy.prototype, 'recordBase').mockImplementationOnce(async () => {
      throw new Error('killed');
    });
    await expect(commitWorktree(a, { message: 'two', author })).rejects.toThrow('killed');
    spy.mockRestore();
    expect(WorkingCopy.prototype.recordBase).toBe(record);
    await write(a, 'base.txt', '3\n');
    await commitWorktree(a, { message: 'three', author });
    const tree = (await a.readCommit((await a.head()).commit!)).tree;
    expect((await a.objects.get((await lookupPath(a.objects, tree, 'base.txt'))!.id)).toString()).toBe('3\n');
  });

  it('switch takes a file both working copies added alike without calling it a clash', async () => {
    const [a, b] = await twoWorkingCopies();
    await write(a, 'base.txt', 'base\n');
    await commitWorktree(a, { message: 'base', author });
    await switchBranch(b, 'main');
    await write(a, 'one.txt', 'same\n');
    await write(b, 'one.txt', 'same\n');
    await commitWorktree(a, { message: 'one', author });
    await switchBranch(b, 'main');
    expect((await worktreeStatus(b)).changes).toEqual([]);
  });

  it('refuses to commit onto a branch another working copy switched HEAD to, and says how to go on', async () => {
    const [a, b] = await twoWorkingCopies();
    await write(a, 'base.txt', 'base\n');
    await commitWorktree(a, { message: 'base', author });
    await switchBranch(b, 'main');
    await createBranch(b, 'f');
    await switchBranch(b, 'f');
    await write(a, 'one.txt', 'one\n');
    const message = /HEAD is on branch f, but this working copy's files are branch main's, at [0-9a-f]{12} .*`trib switch main` to go on with them, or `trib switch f`/;
    expect((await worktreeStatus(a)).stale).toMatch(message);
    await expect(commitWorktree(a, { message: 'one', author })).rejects.toThrow(message);
    await switchBranch(a, 'main');
    await commitWorktree(a, { message: 'one', author });
    expect(await filesOf(a)).toEqual(['base.txt', 'one.txt']);
  });

  it('gc keeps the commit the files are at, though no branch names it any more', async () => {
    const [a, b] = await twoWorkingCopies();
    await write(a, 'base.txt', 'base\n');
    await commitWorktree(a, { message: 'base', author });
    await createBranch(a, 'f');
    await switchBranch(a, 'f');
    await write(a, 'one.txt', 'one\n');
    const onF = await commitWorktree(a, { message: 'on f', author });
    await switchBranch(b, 'main');
    await deleteBranch(b, 'f', { force: true });
    await collectRepositoryGarbage(a, { graceMs: 0 });
    expect(a.objects.isStored(onF.commit!)).toBe(true);
    expect((await worktreeStatus(a)).stale).toMatch(/HEAD is on branch main, but this working copy's files are branch f's/);
  });

  it('a switch cut short before HEAD moved is undone to the files as it found them, local changes it skipped too', async () => {
    const [a] = await twoWorkingCopies();
    await write(a, 'x.txt', 'v0\n');
    await write(a, 'a.txt', 'a\n');
    await commitWorktree(a, { message: 'p', author });
    await createBranch(a, 'feat');
    await switchBranch(a, 'feat');
    await write(a, 'x.txt', 'v1\n');
    await write(a, 'n.txt', 'n\n');
    await write(a, 'a.txt', 'a2\n');
    await commitWorktree(a, { message: 'F', author });
    await switchBranch(a, 'main');
    // Local changes that already hold feat's versions: the move has nothing to write for them.
    await write(a, 'x.txt', 'v1\n');
    await write(a, 'n.txt', 'n\n');
    const setHead = jest.spyOn(a, 'setHead').mockRejectedValueOnce(new Error('killed'));
    await expect(switchBranch(a, 'feat')).rejects.toThrow('killed');
    setHead.mockRestore();
    const status = await worktreeStatus(a);
    expect(status.changes.map((c) => [c.path, c.status])).toEqual([['n.txt', 'added'], ['x.txt', 'modified']]);
    expect(await fs.readFile(path.join(a.workdir, 'a.txt'), 'utf8')).toBe('a\n');
  });

  it('refuses, not undoes, when gc elsewhere deleted the commit the files were at along with their branch', async () => {
    const [a, b] = await twoWorkingCopies();
    await write(a, 'base.txt', 'base\n');
    await write(a, 'm.txt', 'm0\n');
    await commitWorktree(a, { message: 'p', author });
    await createBranch(a, 'feat');
    await switchBranch(a, 'feat');
    await write(a, 'one.txt', 'f\n');
    await commitWorktree(a, { message: 'F', author });
    await switchBranch(b, 'main');
    await write(b, 'm.txt', 'm1\n');
    await commitWorktree(b, { message: 'M1', author });
    await deleteBranch(b, 'feat', { force: true });
    await collectRepositoryGarbage(b, { graceMs: 0 });
    const a2 = await Repository.open(a.workdir);
    opened.push(a2);
    await expect(commitWorktree(a2, { message: 'x', author })).rejects.toThrow(/HEAD is on branch main, but this working copy's files are branch feat's, at no commit/);
    const tree = (await b.readCommit((await b.head()).commit!)).tree;
    expect((await b.objects.get((await lookupPath(b.objects, tree, 'm.txt'))!.id)).toString()).toBe('m1\n');
  });

  it('a commit killed after HEAD moved, then built on by another working copy, leaves the files at that commit', async () => {
    const [a, b] = await twoWorkingCopies();
    await write(a, 'x.txt', 'v0\n');
    await commitWorktree(a, { message: 'p', author });
    await switchBranch(b, 'main');
    await write(a, 'x.txt', 'vC\n');
    jest.spyOn(WorkingCopy.prototype, 'recordBase').mockRejectedValueOnce(new Error('killed'));
    await expect(commitWorktree(a, { message: 'C', author })).rejects.toThrow('killed');
    await switchBranch(b, 'main');
    await write(b, 'y.txt', 'vD\n');
    await commitWorktree(b, { message: 'D', author });
    const status = await worktreeStatus(a);
    expect(status.changes).toEqual([]);
    expect(status.stale).toMatch(/main has moved on/);
    await switchBranch(a, 'main');
    expect(await fs.readFile(path.join(a.workdir, 'y.txt'), 'utf8')).toBe('vD\n');
  });
});
