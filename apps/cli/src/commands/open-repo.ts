import { PermissionDeniedError } from '@tributary/core';
import { PackMaintenance, Repository } from '@tributary/repository';
import { CliContext } from './command';

/**
 * Small packs a repository may hold before a command that wrote one merges them, as `git gc --auto` does at 50:
 * each commit leaves a pack, and every lookup searches every pack's index.
 */
export const AUTO_MERGE_PACKS = 50;

/** Opens the repository around the current directory, runs `fn`, and always closes it. */
export async function withRepository<T>(
  ctx: CliContext,
  fn: (repo: Repository) => Promise<T>,
  opts: { scratchWrites?: boolean } = {},
): Promise<T> {
  const repo = await Repository.open(ctx.cwd, opts);
  try {
    return await fn(repo);
  } finally {
    await repo.close();
  }
}

/**
 * withRepository for a command that changes nothing but stores the working files' new objects to compute its
 * answer (status, and diff against the working tree). When the store refuses those writes (credentials that only
 * read), runs `fn` again with new objects in a local scratch folder instead (Repository.open's `scratchWrites`).
 */
export async function withReadingRepository<T>(ctx: CliContext, fn: (repo: Repository) => Promise<T>): Promise<T> {
  try {
    return await withRepository(ctx, fn);
  } catch (e) {
    if (!refusedWrite(e)) throw e;
    return withRepository(ctx, fn, { scratchWrites: true });
  }
}

/**
 * A store's refusal to write an object (every adapter names the failed action in the error's details). A refused
 * read (credentials that cannot even read) is not one: running again could not help.
 */
function refusedWrite(e: unknown): boolean {
  return e instanceof PermissionDeniedError && e.details.action === 'write';
}

/**
 * For a command that has just written a pack: once the repository holds AUTO_MERGE_PACKS small packs, merges them
 * before returning (telling stderr). Never fails the command: a failed merge is reported and left for `trib gc`.
 */
export async function mergeSmallPacksIfMany(repo: Repository, ctx: CliContext): Promise<void> {
  const packs = new PackMaintenance(repo.objects, repo.store, { minPacks: AUTO_MERGE_PACKS, log: (_level, message) => ctx.err(message) });
  packs.afterWrite();
  await packs.close();
}
