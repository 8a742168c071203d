import { promises as fs } from 'node:fs';
import { CommitId, InvalidArgumentError, TribError } from '@tributary/core';
import { crashPoint, Repository } from '@tributary/repository';
import { BatchReadError, commitBatch, CommitBatchOptions } from './batch-commit';
import { InboxWatcher, LandedFile, sameLook } from './inbox-watcher';

export type IngestEvent =
  | { readonly kind: 'committed'; readonly file: LandedFile; readonly commit: CommitId; readonly path?: string }
  | { readonly kind: 'duplicate'; readonly file: LandedFile; readonly commit: CommitId }
  | { readonly kind: 'failed'; readonly file: LandedFile; readonly error: TribError; readonly movedTo: string }
  /** The claimed file was gone when it was read (removed by someone else): nothing to commit, nothing to move. */
  | { readonly kind: 'vanished'; readonly file: LandedFile }
  /** The file changed while it was committed (a writer still at it): the commit may hold only part of it. */
  | { readonly kind: 'changed'; readonly file: LandedFile; readonly commit: CommitId; readonly sizeThen: number; readonly sizeNow: number; readonly movedTo: string };

/**
 * Codes of a failure to open or read a batch file that are that file's own doing, so that no retry cures it and no
 * other batch shares it: no permission to read it (its mode, owner, ACL, an immutable or locked file), not a file
 * after all (a folder or a symlink loop put in its place), a device or one too big to read. An I/O error (EIO), a
 * full table of open files (EMFILE, ENFILE), memory (ENOMEM) and the like are the machine's: retried, as the store's.
 */
const UNREADABLE = new Set(['EACCES', 'EPERM', 'EISDIR', 'ELOOP', 'ENXIO', 'ENODEV', 'EFBIG', 'EOVERFLOW']);
/** The claimed file is no longer there (someone removed it): nothing left to commit. */
const VANISHED = new Set(['ENOENT']);

/**
 * Commits every landed batch, one at a time, oldest first: each is first claimed (moved to `<inbox>/.claimed/`, so a
 * new file landing under its name meanwhile is not mistaken for it), and moved on to `<inbox>/.done/` only after its
 * commit is durable (a batch already committed, seen again after a crash before its move, is moved without a new
 * commit).
 * A batch that can never be committed (InvalidArgumentError: bad name, CSV header mismatch, a CSV batch to append
 * that leaves a quoted field open, unsafe append target; or a batch file the agent may not read or that is no readable file, see UNREADABLE) goes to `<inbox>/.failed/`,
 * and one removed from `.claimed/` before it was read is passed over (`vanished`). Any other error (the store, the
 * disk, the inbox itself: what would fail every batch alike) stops the round and is thrown, so later batches never
 * overtake an earlier one; the caller retries. Returns the number of batches handled.
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
      if (e instanceof BatchReadError && e.code !== undefined && VANISHED.has(e.code)) {
        onEvent({ kind: 'vanished', file });
        handled++;
        continue;
      }
      const refusal = e instanceof BatchReadError && e.code !== undefined && UNREADABLE.has(e.code) ? unreadable(e, file) : e;
      if (refusal instanceof TribError && refusal.code === 'INVALID_ARGUMENT') {
        onEvent({ kind: 'failed', file, error: refusal, movedTo: await watcher.markFailed(file) });
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

/** A batch file that cannot be read for a reason of its own, as the refusal that sends it to `.failed/`. */
function unreadable(e: BatchReadError, file: LandedFile): InvalidArgumentError {
  const hint = e.code === 'EACCES' || e.code === 'EPERM' ? ' (give the agent\'s user read access, then land it again)' : '';
  return new InvalidArgumentError(`${e.message}${hint}`, { batch: file.name, code: e.code }, { cause: e });
}
