import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { CommitId, diffTrees, IntegrityError, isObjectId, lookupPath, ObjectSource, sameEntry, TreeId } from '@tributary/core';
import { writeFileDurably } from '../repository';

/**
 * The commit a working copy's files were last made to match (by init, commit, switch or merge), kept in the working
 * copy (`.trib/BASE`), apart from HEAD and the branches, which live in the store and which every working copy of
 * that store shares. When another working copy commits to the branch, this one's files are still at the base:
 * committing them as they are would undo that commit's changes.
 */
export interface WorktreeBase {
  /** Undefined: the files are at no commit (a working copy just made, or of a branch with no commits yet). */
  readonly commit: CommitId | undefined;
}

const BASE_FILE = 'BASE';

/** The recorded base, or undefined when none is (a working copy made before bases were kept). */
export async function readWorktreeBase(tribDir: string): Promise<WorktreeBase | undefined> {
  const file = path.join(tribDir, BASE_FILE);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  let commit: unknown;
  try {
    commit = (JSON.parse(text) as { commit?: unknown }).commit;
  } catch {
    commit = false;
  }
  if (commit !== null && (typeof commit !== 'string' || !isObjectId(commit))) throw new IntegrityError(`${file} is damaged: ${text.trim().slice(0, 100)}`);
  return { commit: commit === null ? undefined : (commit as CommitId) };
}

export async function writeWorktreeBase(tribDir: string, commit: CommitId | undefined): Promise<void> {
  await writeFileDurably(path.join(tribDir, BASE_FILE), JSON.stringify({ commit: commit ?? null }) + '\n');
}

/**
 * The first path where the working files (`worktree`) do not hold `to`'s version of a change from `from` to `to`, or
 * undefined when they hold every one: then they are at `to` as far as those changes go (they took them, or made them
 * and were killed before the base was recorded), and committing them on `to` undoes nothing of it. O(changes).
 */
export async function firstChangeNotHeld(
  src: ObjectSource,
  from: TreeId | undefined,
  to: TreeId | undefined,
  worktree: TreeId | undefined,
): Promise<string | undefined> {
  for await (const c of diffTrees(src, from, to)) {
    const here = worktree ? await lookupPath(src, worktree, c.path) : undefined;
    if (!sameEntry(here, c.new)) return c.path;
  }
  return undefined;
}
