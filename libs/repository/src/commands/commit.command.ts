import { hostname, userInfo } from 'node:os';
import { Annotations, CommitId, FailedPreconditionError, InvalidArgumentError, TreeId, UnavailableError } from '@tributary/core';
import { Repository } from '../repository';
import { ReuseWatch } from '../objects/object-database';
import { staleWorktree } from '../worktree/worktree-base';
import { ProgressCallback, Snapshot } from '../worktree/snapshot';
import { WorkingCopy } from '../worktree/working-copy';
import { crashPoint } from '../testing/crash-points';

export interface CommitRequest {
  readonly message: string;
  readonly author?: string;
  readonly annotations?: Annotations;
  readonly onProgress?: ProgressCallback;
  /** Clock override, for reproducible tests. */
  readonly now?: Date;
}

export interface CommitOutcome {
  /** Undefined when the working tree matches HEAD and nothing was committed. */
  readonly commit?: CommitId;
  readonly tree: TreeId;
  readonly snapshot: Snapshot;
  /** Bytes this commit added to the object store (pack records and indexes). */
  readonly storedBytes: number;
}

/** Snapshots made by one commit when objects it reused vanish meanwhile (see commitWorktree). */
const MAX_COMMIT_ATTEMPTS = 3;

/** `$TRIB_AUTHOR`, else user@host. */
export function defaultAuthor(): string {
  const env = process.env.TRIB_AUTHOR?.trim();
  if (env) return env;
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry (containers): keep the placeholder.
  }
  return `${user}@${hostname()}`;
}

/**
 * Snapshots the whole working tree and, if it differs from HEAD, commits it on the current branch. The commit and
 * every object it needs are durable before HEAD moves; HEAD moves by compare-and-swap. Holds the repository lock.
 */
export async function commitWorktree(repo: Repository, req: CommitRequest): Promise<CommitOutcome> {
  if (!req.message.trim()) throw new InvalidArgumentError('commit message is empty (use -m MSG)');
  return repo.lock.run(async () => {
    const head = await repo.head();
    const wc = await WorkingCopy.open(repo, head);
    const before = repo.objects.stats.bytesWritten;
    const stored = () => repo.objects.stats.bytesWritten - before;
    let watch: ReuseWatch | undefined;
    try {
      const headTree = await repo.treeOf(head.commit);
      for (let attempt = 1; ; attempt++) {
        watch = repo.objects.watchReuse();
        const hashed: string[] = [];
        const snapshot = await wc.snapshot({ previousTree: headTree, onProgress: req.onProgress, onHashed: (p) => hashed.push(p), refuseChangingFiles: true });
        if (snapshot.tree === headTree || (!headTree && snapshot.files === 0)) {
          await repo.objects.flush();
          await wc.cache.save();
          await wc.recordBase(head.commit, head.branch);
          return { tree: snapshot.tree, snapshot, storedBytes: stored() };
        }
        const stale = await staleWorktree(repo, head, wc.at, snapshot.tree);
        if (stale) throw new FailedPreconditionError(stale);
        const commit = await repo.writeCommit({
          tree: snapshot.tree,
          parents: head.commit ? [head.commit] : [],
          author: req.author?.trim() || defaultAuthor(),
          time: (req.now ?? new Date()).toISOString(),
          message: req.message,
          annotations: req.annotations ?? {},
        });
        // Objects found stored and not stored again may have been deleted since by a gc in another working copy of
        // the store (old and unreachable until now): the snapshot again stores what is gone, before HEAD names it.
        const gone = await repo.objects.confirmReused(watch);
        if (gone.length > 0) {
          // What this try hashed may refer to what is gone (a file's new chunk list to reused chunks), and the stat
          // cache now vouches for it: read those files again. An entry from before names an object that is gone
          // too if anything it reaches is (gc keeps all an object reaches), which the next snapshot checks.
          for (const p of hashed) wc.cache.delete(p);
          if (attempt < MAX_COMMIT_ATTEMPTS) continue;
          throw new UnavailableError(`objects this commit reuses keep vanishing from the store (a gc running elsewhere?), e.g. ${gone[0]}; run it again`);
        }
        await wc.recordPendingBase(commit);
        crashPoint('commit.before-head');
        await repo.advanceHead(head, commit);
        crashPoint('commit.before-index');
        await wc.recordBase(commit, head.branch);
        await wc.cache.save();
        return { commit, tree: snapshot.tree, snapshot, storedBytes: stored() };
      }
    } finally {
      if (watch) repo.objects.stopWatchingReuse(watch);
      await wc.close();
    }
  });
}
