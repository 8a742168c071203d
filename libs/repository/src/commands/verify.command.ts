import { IntegrityError } from '@tributary/core';
import { collectGarbage } from '../objects/object-gc';
import { Repository } from '../repository';
import { Damage, refRoots, walkReachable } from './reachability';

export interface VerifyOutcome {
  readonly objects: number;
  readonly damage: Damage[];
}

/** `trib verify`: every object reachable from a ref exists (and with `readData`, hashes to its id). */
export async function verifyRepository(repo: Repository, opts: { readData?: boolean; onProgress?: (objects: number) => void } = {}): Promise<VerifyOutcome> {
  let n = 0;
  const { live, damage } = await walkReachable(repo, await refRoots(repo), {
    readData: opts.readData,
    onObject: () => opts.onProgress?.(++n),
  });
  return { objects: live.size, damage };
}

export const DEFAULT_GC_GRACE_MS = 60 * 60 * 1000;

/**
 * `trib gc`: deletes objects unreachable from every ref and older than the grace period, so a concurrent writer's
 * fresh objects survive, and merges the old small packs (one per commit) so lookups stay cheap. Refuses to run on a
 * damaged repository (it could not tell what is live).
 */
export async function collectRepositoryGarbage(repo: Repository, opts: { dryRun?: boolean; graceMs?: number } = {}) {
  return repo.lock.run(async () => {
    const { live, damage } = await walkReachable(repo, await refRoots(repo));
    if (damage.length) {
      throw new IntegrityError(`repository is damaged (${damage.length} objects, first ${damage[0].id}); run trib verify`);
    }
    return collectGarbage(repo.objects, repo.store, (id) => live.has(id), {
      graceMs: opts.graceMs ?? DEFAULT_GC_GRACE_MS,
      dryRun: Boolean(opts.dryRun),
      mergeSmallPacks: { minPacks: 2 },
    });
  });
}
