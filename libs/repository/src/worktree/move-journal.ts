import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { FailedPreconditionError, isObjectId, quotePath, TreeId } from '@tributary/core';
import { readJsonIfPresent, writeFileDurably } from '../repository';

/** `.trib/MOVING`: present, durably, from before a move of the working files changes anything until HEAD names `to`. */
export function moveJournalPath(tribDir: string): string {
  return path.join(tribDir, 'MOVING');
}

/** A move of the working files under way: from `from` (HEAD's tree; none before the first commit) to `to`. */
export interface MoveJournal {
  readonly from?: TreeId;
  readonly to: TreeId;
  /**
   * The working files as the move found them (local changes included), when they differed from `from`: what undoing
   * it goes back to, so a local file the move had nothing to write to (it already held `to`'s version) stays.
   */
  readonly local?: TreeId;
}

/** Records a move before it starts, so that a kill part way leaves a note of which paths may be half moved. */
export async function beginMove(tribDir: string, move: MoveJournal): Promise<void> {
  const json = { from: move.from ?? null, to: move.to, ...(move.local !== undefined && move.local !== move.from ? { local: move.local } : {}) };
  await writeFileDurably(moveJournalPath(tribDir), JSON.stringify(json) + '\n');
}

/** Drops the record once HEAD names the tree moved to (a kill before this only leaves a note that is settled next time). */
export async function endMove(tribDir: string): Promise<void> {
  await fs.unlink(moveJournalPath(tribDir)).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? undefined : Promise.reject(e)));
}

/** The move a kill cut short, if any. Throws FailedPreconditionError, naming the file, for one that is not a journal. */
export async function readMove(tribDir: string): Promise<MoveJournal | undefined> {
  const file = moveJournalPath(tribDir);
  const read = await readJsonIfPresent(file);
  if (!read) return undefined;
  const v = read.value as { from?: unknown; to?: unknown; local?: unknown } | null | undefined;
  const isId = (x: unknown): x is TreeId => typeof x === 'string' && isObjectId(x);
  if (!v || !(v.from === null || isId(v.from)) || !isId(v.to) || !(v.local === undefined || isId(v.local))) {
    throw new FailedPreconditionError(`${quotePath(file)} is not a move journal; remove it`);
  }
  return { from: v.from ?? undefined, to: v.to, ...(v.local !== undefined ? { local: v.local } : {}) };
}
