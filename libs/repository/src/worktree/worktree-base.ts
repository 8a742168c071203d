import * as path from 'node:path';
import { CommitId, diffTrees, IntegrityError, isObjectId, ObjectSource, quotePath, TreeId } from '@tributary/core';
import { HeadState, readJsonIfPresent, Repository, writeFileDurably } from '../repository';

/**
 * The commit a working copy's files were last made to match (by init, commit, switch or merge), and the branch HEAD
 * was on then, kept in the working copy (`.trib/BASE`), apart from HEAD and the branches, which live in the store
 * and which every working copy of that store shares. When another working copy commits to the branch (or switches
 * HEAD), this one's files are still at the base: committing them as they are would undo that commit's changes.
 */
export interface WorktreeBase {
  /** Undefined: the files are at no commit (a working copy just made, or of a branch with no commits yet). */
  readonly commit: CommitId | undefined;
  /** The branch HEAD was on; undefined when detached. */
  readonly branch?: string;
  /**
   * A commit about to move HEAD from `commit`: written before HEAD moves, so that a kill in between is settled by
   * what HEAD names (see WorkingCopy.open).
   */
  readonly pending?: CommitId;
}

const BASE_FILE = 'BASE';

/** The recorded base, or undefined when none is (a working copy made before bases were kept). */
export async function readWorktreeBase(tribDir: string): Promise<WorktreeBase | undefined> {
  const file = path.join(tribDir, BASE_FILE);
  const read = await readJsonIfPresent(file);
  if (!read) return undefined;
  const { text } = read;
  const v = read.value as { commit?: unknown; branch?: unknown; pending?: unknown } | null | undefined;
  const commitOk = (c: unknown) => typeof c === 'string' && isObjectId(c);
  if (
    !v || typeof v !== 'object' || (v.commit !== null && !commitOk(v.commit)) ||
    (v.branch !== undefined && typeof v.branch !== 'string') || (v.pending !== undefined && !commitOk(v.pending))
  ) {
    throw new IntegrityError(`${quotePath(file)} is damaged (${text.trim().slice(0, 80)}); remove it, and the files count as at HEAD's commit again`);
  }
  return {
    commit: v.commit === null ? undefined : (v.commit as CommitId),
    ...(v.branch !== undefined ? { branch: v.branch as string } : {}),
    ...(v.pending !== undefined ? { pending: v.pending as CommitId } : {}),
  };
}

export async function writeWorktreeBase(tribDir: string, base: WorktreeBase): Promise<void> {
  const json = { commit: base.commit ?? null, ...(base.branch !== undefined ? { branch: base.branch } : {}), ...(base.pending ? { pending: base.pending } : {}) };
  await writeFileDurably(path.join(tribDir, BASE_FILE), JSON.stringify(json) + '\n');
}

/**
 * The first path where the working files (`worktree`) do not hold `to`'s version of a change from `from` to `to`, or
 * undefined when they hold every one: then they are at `to` as far as those changes go (they took them, or made them
 * and a kill kept that from being recorded), and committing them on `to` undoes nothing of it. Costs the two tree
 * diffs, `from` to `to` and `to` to the files, each reading only the subtrees that differ.
 */
export async function firstChangeNotHeld(
  src: ObjectSource,
  from: TreeId | undefined,
  to: TreeId | undefined,
  worktree: TreeId | undefined,
): Promise<string | undefined> {
  if (worktree === to) return undefined;
  const differsHere = new Set<string>();
  for await (const c of diffTrees(src, to, worktree)) differsHere.add(c.path);
  for await (const c of diffTrees(src, from, to)) if (differsHere.has(c.path)) return c.path;
  return undefined;
}

/**
 * Why the working files, at `base`, cannot be committed on HEAD as they are, or undefined when they can: another
 * working copy of the store switched HEAD to another branch, or moved HEAD's branch on with changes the files do
 * not hold (committing would undo them).
 */
export async function staleWorktree(repo: Repository, head: HeadState, base: WorktreeBase, worktree: TreeId | undefined): Promise<string | undefined> {
  if ((base.branch ?? null) !== (head.branch ?? null)) return switchedMessage(head, base);
  if (base.commit === head.commit) return undefined;
  const missing = await firstChangeNotHeld(repo.objects, await repo.treeOf(base.commit), await repo.treeOf(head.commit), worktree);
  return missing === undefined ? undefined : behindMessage(head, base.commit, missing);
}

/** A commit as messages name it: its first 12 characters, or "no commit". */
export const shortCommit = (c: CommitId | undefined): string => (c ? c.slice(0, 12) : 'no commit');

function switchedMessage(head: HeadState, base: WorktreeBase): string {
  const now = head.branch ? `branch ${head.branch}` : `commit ${shortCommit(head.commit)}`;
  const files = base.branch ? `branch ${base.branch}'s, at ${shortCommit(base.commit)}` : `those of commit ${shortCommit(base.commit)}`;
  const stay = base.branch ? `\`trib switch ${base.branch}\` to go on with them, or ` : '';
  return (
    `HEAD is on ${now}, but this working copy's files are ${files} (another working copy of the store switched HEAD): ` +
    `${stay}\`trib switch ${head.branch ?? 'BRANCH'}\` to take ${head.branch ? `${head.branch}'s` : 'its'} files, keeping your local changes`
  );
}

function behindMessage(head: HeadState, at: CommitId | undefined, path: string): string {
  const name = head.branch ?? 'HEAD';
  const branchFromHere = at ? ` (if one clashes, commit on a branch of your own first: trib branch NAME ${shortCommit(at)} && trib switch NAME)` : '';
  return (
    `${name} has moved on to ${shortCommit(head.commit)} since this working copy's files were at ${shortCommit(at)} ` +
    `(another working copy of the store moved it; ${path} differs): take it first with ` +
    `\`trib switch ${head.branch ?? 'BRANCH'}\`, which keeps your local changes${branchFromHere}`
  );
}
