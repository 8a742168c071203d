import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import {
  CommitId,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  quotePath,
  readTree,
  REPOSITORY_DIR,
  TreeEntry,
  TreeId,
  treeSize,
} from '@tributary/core';
import { LocalStore, makeDirectory } from '@tributary/storage';
import { Repository } from '../repository';
import { branchRef } from '../refs/ref-store';
import { ProgressCallback } from '../worktree/snapshot';
import { WorkingCopy } from '../worktree/working-copy';
import { isWithin, realPathOf } from '../worktree/local-paths';
import { isWorktreeTempName, materializeTree, MaterializeResult } from '../worktree/materialize';

/**
 * Points HEAD at branch `name` and moves the working files to its tree, from the commit they are at (see
 * WorktreeBase): so switching to the branch HEAD is on takes what another working copy of the store committed to it
 * since. Tracked files the branch lacks are removed, untracked files are left alone, and a local change or
 * untracked file in the way is an error unless `force`.
 */
export async function switchBranch(
  repo: Repository,
  name: string,
  opts: { force?: boolean; onProgress?: ProgressCallback } = {},
): Promise<{ commit?: CommitId; written: number; removed: number }> {
  const ref = branchRef(name);
  return repo.lock.run(async () => {
    const target = await repo.refs.resolve(ref);
    if (!target.commit) throw new NotFoundError(`no branch named ${name}`);
    const head = await repo.head();
    const toTree = (await repo.readCommit(target.commit)).tree;
    const wc = await WorkingCopy.open(repo, head);
    try {
      const fromTree = await repo.treeOf(wc.at.commit);
      const moved = await wc.moveTo(fromTree, toTree, { force: opts.force, onProgress: opts.onProgress });
      // HEAD on that branch already: nothing to write (and credentials that only read can take its new commits).
      if (head.ref !== ref) await repo.setHead({ symbolic: ref });
      await wc.recordBase(target.commit, name);
      await wc.cache.save();
      await wc.endMove();
      return { commit: target.commit, ...moved };
    } finally {
      await wc.close();
    }
  });
}

/**
 * Writes the tree of commit `spec` into `dest`, which must be empty or absent unless `force` (else a
 * FailedPreconditionError whose details say `overridable`). Files already in `dest` that the commit does not have
 * are left as they were and listed in `extra`, so that whoever reads `dest` as that version hears that it holds
 * more. Temp files a checkout killed there left are trib's, not the user's: removed, never counted or listed.
 */
export async function checkoutTo(
  repo: Repository,
  spec: string,
  dest: string,
  opts: { force?: boolean; onProgress?: (bytes: number, total: number) => void } = {},
): Promise<MaterializeResult & { commit: CommitId; extra: string[] }> {
  const commit = await repo.resolve(spec);
  const { tree } = await repo.readCommit(commit);
  const abs = path.resolve(dest);
  const written = await writeCheckout(repo, tree, abs, dest, opts).catch((e) => {
    throw refusedByTarget(repo, e, abs, dest) ?? e;
  });
  return { commit, ...written };
}

async function writeCheckout(
  repo: Repository,
  tree: TreeId,
  abs: string,
  dest: string,
  opts: { force?: boolean; onProgress?: (bytes: number, total: number) => void },
): Promise<MaterializeResult & { extra: string[] }> {
  await refuseRepositoryFolder(repo, abs, dest);
  const found = await fs.readdir(abs, { withFileTypes: true }).catch((e) => {
    if (e.code === 'ENOENT') return undefined;
    throw e.code === 'ENOTDIR' ? new FailedPreconditionError(`${quotePath(dest)} is a file, not a folder`, { path: dest }) : e;
  });
  // A checkout killed mid-way leaves its temp files: trib's own, so they neither count nor stay.
  const leftovers = found?.filter((e) => !e.isDirectory() && isWorktreeTempName(e.name)) ?? [];
  const existing = found?.filter((e) => !leftovers.includes(e));
  if (existing && existing.length && !opts.force) throw new FailedPreconditionError(`${quotePath(dest)} is not empty`, { path: dest, overridable: true });
  for (const e of leftovers) await fs.rm(path.join(abs, e.name), { force: true });
  await makeDirectory(abs).catch(async (e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') throw new FailedPreconditionError(`cannot create ${quotePath(dest)}: its parent takes no new folders`, { path: dest });
    // The one thing in the way that mkdir reports as there and stat as missing: a symlink to nothing.
    const target = e.code === 'EEXIST' && e.path ? await fs.readlink(e.path).catch(() => undefined) : undefined;
    if (target === undefined) throw e;
    const link = e.path === abs ? 'it' : quotePath(e.path!);
    throw new FailedPreconditionError(`cannot check out into ${quotePath(dest)}: ${link} is a symlink to ${quotePath(target)}, which does not exist`, { path: dest });
  });
  const total = await treeSize(repo.objects, tree);
  const written = await materializeTree(repo.objects, tree, abs, { onProgress: (b) => opts.onProgress?.(b, total) });
  return { ...written, extra: existing?.length ? await filesNotIn(repo, tree, abs) : [] };
}

const TARGET_REFUSALS: Readonly<Record<string, string>> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
};

const ENTRY_CALLS: ReadonlySet<string> = new Set(['mkdir', 'open', 'rename', 'symlink', 'unlink', 'rmdir']);

/**
 * A failure because the target (`abs`, a folder on the way to it or in it) refuses to be read or written, as one
 * line naming it, never a temp file: the user's to fix (exit 2), not a store that is unavailable (exit 3, which the
 * same errno from the store's own files still is). Undefined for any other failure.
 */
function refusedByTarget(repo: Repository, e: unknown, abs: string, dest: string): FailedPreconditionError | undefined {
  const { code, syscall, path: failed } = e as NodeJS.ErrnoException;
  const why = code !== undefined ? TARGET_REFUSALS[code] : undefined;
  if (!why || typeof failed !== 'string') return undefined;
  // A call that makes or removes an entry is refused by its folder, which is what the user has to change.
  const at = ENTRY_CALLS.has(syscall ?? '') || isWorktreeTempName(path.basename(failed)) ? path.dirname(failed) : failed;
  if (isWithin(at, abs)) return new FailedPreconditionError(`cannot check out into ${quotePath(dest)}: ${why}`, { path: dest });
  if (!isWithin(abs, at)) return undefined;
  const inside = path.relative(abs, at);
  const store = repo.store instanceof LocalStore ? repo.store.root : undefined;
  if (inside.split(path.sep).includes(REPOSITORY_DIR) || (store !== undefined && isWithin(store, at))) return undefined;
  return new FailedPreconditionError(`cannot check out into ${quotePath(dest)}: ${why} on ${quotePath(path.join(dest, inside))}`, { path: dest });
}

/**
 * Refuses a checkout target in a `.trib` folder (this repository's or another's) or in this repository's store on
 * local disk: with --force its files would be written over the repository's own, and it would open no more.
 */
async function refuseRepositoryFolder(repo: Repository, abs: string, dest: string): Promise<void> {
  const target = await realPathOf(abs).catch((e: NodeJS.ErrnoException) => {
    throw e.code === 'ENOTDIR' ? new FailedPreconditionError(`cannot check out into ${quotePath(dest)}: a file is in its way`, { path: dest }) : e;
  });
  const storeRoot = repo.store instanceof LocalStore ? await realPathOf(repo.store.root) : undefined;
  const inStore = storeRoot !== undefined && isWithin(storeRoot, target);
  if (inStore || target.split(path.sep).includes(REPOSITORY_DIR)) {
    throw new InvalidArgumentError(`cannot check out into ${quotePath(dest)}: it is inside a repository's own folder (${REPOSITORY_DIR} or its store)`);
  }
}

/**
 * Files and symlinks under `dir` (not followed) that `tree` does not hold at the same path, in no set order; those
 * named as trib's temp files, left by a checkout killed mid-way, are removed instead. Each folder is read beside its
 * tree, whose entries are read once: not a lookup from the root for every file.
 */
async function filesNotIn(repo: Repository, tree: TreeId | undefined, dir: string, rel = '', out: string[] = []): Promise<string[]> {
  const held = new Map<string, TreeEntry>();
  if (tree) for await (const entry of readTree(repo.objects, tree)) held.set(entry.name, entry);
  for (const e of await fs.readdir(path.join(dir, rel), { withFileTypes: true })) {
    if (!rel && e.name === REPOSITORY_DIR) continue;
    const p = rel ? `${rel}/${e.name}` : e.name;
    const entry = held.get(e.name);
    if (e.isDirectory()) await filesNotIn(repo, entry?.kind === 'dir' ? entry.id : undefined, dir, p, out);
    else if (!entry && isWorktreeTempName(e.name)) await fs.rm(path.join(dir, p), { force: true });
    else if (!entry) out.push(p);
  }
  return out;
}

