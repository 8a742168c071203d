import * as path from 'node:path';
import { FailedPreconditionError, IntegrityError, isObjectId, ObjectId } from '@tributary/core';
import { ObjectStore } from '@tributary/storage';
import { collectGarbage } from '../objects/object-gc';
import { Repository } from '../repository';
import { readMove } from '../worktree/move-journal';
import { StatCache } from '../worktree/stat-cache';
import { readWorktreeBase } from '../worktree/worktree-base';
import { Damage, refRoots, walkReachable } from './reachability';
import { parseTopicEntryKey, TOPIC_LOG_PREFIX } from '../topic-log-keys';

export interface VerifyOutcome {
  readonly objects: number;
  readonly damage: Damage[];
}

/**
 * `trib verify`: every object reachable from a ref, or from a topic log on a broker's store, exists (and with
 * `readData`, hashes to its id).
 */
export async function verifyRepository(repo: Repository, opts: { readData?: boolean; onProgress?: (objects: number) => void } = {}): Promise<VerifyOutcome> {
  let n = 0;
  const roots = [...new Set([...(await refRoots(repo)), ...(await topicLogHeads(repo.store))])];
  const { live, damage } = await walkReachable(repo, roots, {
    readData: opts.readData,
    onObject: () => opts.onProgress?.(++n),
    // Reading every chunk meets a lost pack file anyway; otherwise the listing is the only place it shows.
    packsWithoutFile: opts.readData ? undefined : await repo.objects.packsWithoutFile(),
  });
  return { objects: live.size, damage };
}

export const DEFAULT_GC_GRACE_MS = 60 * 60 * 1000;

/**
 * The commit of each topic log's last entry in `store` (none on a repository's own store). Each entry's commit is the
 * next one's first parent, so a walk from these reaches every entry's commit, and each object once. Streams the
 * listing, holding one key per topic; an entry claimed but not written yet names nothing and is not listed.
 */
export async function topicLogHeads(store: ObjectStore): Promise<ObjectId[]> {
  const last = new Map<string, { seq: number; key: string }>();
  for await (const info of store.list(TOPIC_LOG_PREFIX)) {
    const entry = parseTopicEntryKey(info.key);
    if (!entry) continue;
    const seen = last.get(entry.topic);
    if (seen === undefined || entry.seq > seen.seq) last.set(entry.topic, { seq: entry.seq, key: info.key });
  }
  const heads: ObjectId[] = [];
  for (const { key } of last.values()) {
    const data = await store.get(key);
    let entry: { commit?: unknown } | null = null;
    try {
      entry = JSON.parse(data.toString('utf8'));
    } catch {
      // Reported below.
    }
    const commit = entry?.commit;
    if (typeof commit !== 'string' || !isObjectId(commit)) throw new IntegrityError(`topic log entry ${key} is corrupt`, { key });
    heads.push(commit);
  }
  return heads;
}

/**
 * `trib gc`: deletes objects that no ref, no file in the working copy's stat cache, no switch or merge cut short
 * and no object younger than the grace period reaches, once older than the grace period, so a concurrent writer's
 * fresh objects survive with all they refer to, and merges the old small packs (one per commit) so lookups stay
 * cheap. Refuses to run on a damaged repository (it could not tell what is live), and on a broker's store.
 */
export async function collectRepositoryGarbage(
  repo: Repository,
  opts: { dryRun?: boolean; graceMs?: number; onOrphanWait?: (packs: number, ms: number) => void } = {},
) {
  for await (const _ of repo.store.list(TOPIC_LOG_PREFIX)) {
    throw new FailedPreconditionError(
      `${repo.store.url} is a broker's store (it holds topic logs): gc would delete the commits subscribers replay`,
    );
  }
  return repo.lock.run(async () => {
    const roots = await refRoots(repo);
    const { live, damage } = await walkReachable(repo, roots);
    if (damage.length) {
      throw new IntegrityError(`repository is damaged (${damage.length} objects, first ${damage[0].id}); run trib verify`);
    }
    // The stat cache names the stored objects of files hashed but not committed yet (by status, diff, a commit
    // that failed), and the next commit refers to them without storing them again: they stay, with all they refer
    // to, as git's gc keeps what its index names. What is already gone from them is only a stale cache: not damage.
    const cache = await StatCache.load(path.join(repo.tribDir, 'index'));
    const files = [...cache.entries()]
      .filter(([, e]) => e.kind !== 'dir' && repo.objects.has(e.id))
      .map(([p, e]) => ({ path: p, id: e.id, chunked: e.chunked }));
    // A switch or merge cut short names the trees it moved between until the next command settles it (see
    // WorkingCopy.open), which needs both. The commit the working files are at is what status, diff, commit and
    // switch read them against, though a branch deleted since may have been its only name.
    const move = await readMove(repo.tribDir);
    const base = repo.bare ? undefined : await readWorktreeBase(repo.tribDir);
    const named = [base?.commit, base?.pending, move?.to, move?.from, move?.local].filter((id): id is ObjectId => id !== undefined && repo.objects.isStored(id));
    const cached = (await walkReachable(repo, [], { files, unknown: named, known: live })).live;
    const keep = { has: (id: ObjectId) => live.has(id) || cached.has(id) };
    return collectGarbage(repo.objects, repo.store, keep.has, {
      graceMs: opts.graceMs ?? DEFAULT_GC_GRACE_MS,
      dryRun: Boolean(opts.dryRun),
      mergeSmallPacks: { minPacks: 2 },
      onOrphanWait: opts.onOrphanWait,
      // Another working copy of the same store has a stat cache this one cannot see; what its fresh objects refer
      // to stays through them.
      reachableFrom: async (ids) => (await walkReachable(repo, [], { unknown: ids, known: keep })).live,
      rootsChanged: async () => {
        const now = await refRoots(repo);
        return now.length !== roots.length || now.some((id, i) => id !== roots[i]);
      },
    });
  });
}
