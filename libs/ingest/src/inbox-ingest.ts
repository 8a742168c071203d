import { promises as fs } from 'node:fs';
import { CommitId, TribError } from '@tributary/core';
import { crashPoint, Repository } from '@tributary/repository';
import { commitBatch, CommitBatchOptions } from './batch-commit';
import { InboxWatcher, LandedFile, sameLook } from './inbox-watcher';

export type IngestEvent =
  | { readonly kind: 'committed'; readonly file: LandedFile; readonly commit: CommitId; readonly path?: string }
  | { readonly kind: 'duplicate'; readonly file: LandedFile; readonly commit: CommitId }
  | { readonly kind: 'failed'; readonly file: LandedFile; readonly error: TribError; readonly movedTo: string }
  /** The file changed while it was committed (a writer still at it): the commit may hold only part of it. */
  | { readonly kind: 'changed'; readonly file: LandedFile; readonly commit: CommitId; readonly sizeThen: number; readonly sizeNow: number; readonly movedTo: string };

/**
 * Commits every landed batch, one at a time, oldest first: each is first claimed (moved to `<inbox>/.claimed/`, so a
 * new file landing under its name meanwhile is not mistaken for it), and moved on to `<inbox>/.done/` only after its
 * commit is durable (a batch already committed, seen again after a crash before its move, is moved without a new
 * commit).
 * A batch that can never be committed (InvalidArgumentError: bad name, CSV header mismatch, unsafe append target)
 * goes to `<inbox>/.failed/`. Any other error stops the round and is thrown, so later batches never overtake an
 * earlier one; the caller retries. Returns the number of batches handled.
 */
export async function ingestLanded(
  repo: Repository,
  watcher: InboxWatcher,
  opts: Omit<CommitBatchOptions, 'now'> & {
    /** Called as soon as a new commit is durable, before its file moves: publishing need not wait for the move. */
    onCommitted?: (commit: CommitId) => void;
    /** Once aborted, the round ends after the batch in hand (a stopping agent need not work through a backlog). */
    signal?: AbortSignal;
  },
  onEvent: (e: IngestEvent) => void = () => undefined,
): Promise<number> {
  let handled = 0;
  for (const landed of await watcher.landed()) {
    if (opts.signal?.aborted) break;
    // Written to again since it was listed: the round ends here, so nothing overtakes it, and the next look waits.
    if (!(await watcher.unchanged(landed))) break;
    const file = await watcher.claim(landed);
    if (!file) continue;
    let result;
    try {
      result = await commitBatch(repo, file.path, opts);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
      if (e instanceof TribError && e.code === 'INVALID_ARGUMENT') {
        onEvent({ kind: 'failed', file, error: e, movedTo: await watcher.markFailed(file) });
        handled++;
        continue;
      }
      throw e;
    }
    if (!result.duplicate) opts.onCommitted?.(result.commit);
    const after = await fs.stat(file.path).catch(() => undefined);
    crashPoint('ingest.before-move');
    const movedTo = await watcher.markDone(file);
    onEvent(result.duplicate ? { kind: 'duplicate', file, commit: result.commit } : { kind: 'committed', file, commit: result.commit, path: result.path });
    if (after && !landed.claimed && !sameLook(after, landed)) {
      onEvent({ kind: 'changed', file, commit: result.commit, sizeThen: landed.size, sizeNow: after.size, movedTo });
    }
    handled++;
  }
  return handled;
}
