import { PackMaintenance, Repository } from '@tributary/repository';
import { CliContext } from './command';

/**
 * Small packs a repository may hold before a command that wrote one merges them, as `git gc --auto` does at 50:
 * each commit leaves a pack, and every lookup searches every pack's index.
 */
export const AUTO_MERGE_PACKS = 50;

/** Opens the repository around the current directory, runs `fn`, and always closes it. */
export async function withRepository<T>(ctx: CliContext, fn: (repo: Repository) => Promise<T>): Promise<T> {
  const repo = await Repository.open(ctx.cwd);
  try {
    return await fn(repo);
  } finally {
    await repo.close();
  }
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
