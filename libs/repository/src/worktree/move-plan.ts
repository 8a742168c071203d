import { lstatSync, readdirSync, rmSync, unlinkSync } from 'node:fs';
import * as path from 'node:path';
import { splitRelativePath, TreeChange } from '@tributary/core';
import { isWorktreeTempName, parentsAreFolders } from './materialize';

/**
 * The first local change (a path from a working-tree snapshot: modified, removed or untracked) that moving the
 * working files by `plan` would overwrite: the same path, one beneath a planned path, or one above it. Sorts a copy
 * of `local` once, then costs a binary search per planned path, not a scan of every local change.
 */
export function firstLocalClash(plan: readonly TreeChange[], local: readonly string[]): string | undefined {
  const sorted = [...local].sort();
  const held = new Set(sorted);
  for (const p of plan) {
    if (held.has(p.path)) return p.path;
    // A local change beneath the planned path: the first path sorting at or after `path/`.
    const below = lowerBound(sorted, `${p.path}/`);
    if (below < sorted.length && sorted[below].startsWith(`${p.path}/`)) return sorted[below];
    for (let i = p.path.indexOf('/'); i > 0; i = p.path.indexOf('/', i + 1)) {
      if (held.has(p.path.slice(0, i))) return p.path.slice(0, i);
    }
  }
  return undefined;
}

/**
 * Whether a move deletes `c`'s old entry before writing anything: a removed path, or one whose kind changes (a file
 * replaced by a folder or the reverse), so that the new entry has room.
 */
export function removedBeforeWrites(c: TreeChange): boolean {
  return c.status === 'removed' || (c.status === 'modified' && c.old?.kind !== c.new?.kind);
}

/**
 * Something on disk in the way of a move: `path` to name to the user, `remove` what a forced move deletes, whether
 * that is a symlink (which not even a forced move replaces), and whether it is a folder that, once the planned
 * removals are done, holds only empty folders: trib tracks none, so even an unforced move clears it, as git does.
 */
export interface Blocker {
  readonly path: string;
  readonly remove: string;
  readonly symlink: boolean;
  readonly empty: boolean;
}

/**
 * What the working tree holds in the way of `plan` that no snapshot shows, because ignore rules hide it: files
 * left in a directory that must become a file (after the planned removals; the directory is what goes, and is
 * empty when nothing but empty folders is left in it), files where a planned file needs a directory, and files at
 * a path the move adds. Checked on disk before anything is touched, so a move either happens or changes nothing.
 * Paths are relative to `root`; each blocker once.
 */
export function hiddenBlockers(root: string, plan: readonly TreeChange[]): Blocker[] {
  const removed = new Set(plan.filter(removedBeforeWrites).map((c) => c.path));
  const blockers = new Map<string, Blocker>();
  const isFolder = new Map<string, boolean>();
  for (const c of plan) {
    if (!c.new) continue;
    const parts = splitRelativePath(c.path);
    // Every folder on the way must be a folder, or a tracked file or symlink the move removes first.
    let throughFolders = true;
    for (let i = 1; i < parts.length && throughFolders; i++) {
      const dir = parts.slice(0, i).join('/');
      let folder = isFolder.get(dir);
      if (folder === undefined) {
        const st = lstatOrUndefined(path.join(root, ...parts.slice(0, i)));
        folder = st?.isDirectory() ?? false;
        isFolder.set(dir, folder);
        if (st && !folder && !removed.has(dir)) blockers.set(dir, { path: dir, remove: dir, symlink: st.isSymbolicLink(), empty: false });
      }
      throughFolders = folder;
    }
    // Beneath a file or a symlink nothing is the working tree's (a link may lead out of it): nothing to look at.
    if (!throughFolders) continue;
    const st = lstatOrUndefined(path.join(root, ...parts));
    if (st?.isDirectory() && c.new.kind !== 'dir') {
      const left = firstLeftBehind(root, c.path, removed);
      blockers.set(c.path, { path: left ?? c.path, remove: c.path, symlink: false, empty: left === undefined });
    } else if (st && !st.isDirectory() && !c.old) {
      // An untracked file where the move writes one: one a snapshot shows is a local change, so it is ignored.
      blockers.set(c.path, { path: c.path, remove: c.path, symlink: st.isSymbolicLink(), empty: false });
    }
  }
  return [...blockers.values()];
}

/** Removes what `hiddenBlockers` found: a forced move's blockers, or the empty folders in the way of an unforced one. */
export function removeBlockers(root: string, blockers: readonly Blocker[]): void {
  for (const b of blockers) rmSync(path.join(root, ...splitRelativePath(b.remove)), { recursive: true, force: true });
}

/**
 * Deletes the temp files a killed move left beside the paths of `plan` (a write is a temp file renamed into place),
 * so that the folders the move created can be removed again, and no stray file is left for the user to wonder at.
 */
export function removeWriteTemps(root: string, plan: readonly TreeChange[]): void {
  const reachable = plan.filter((c) => parentsAreFolders(root, c.path));
  const dirs = new Set(reachable.map((c) => path.dirname(path.join(root, ...splitRelativePath(c.path)))));
  for (const dir of dirs) {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names) {
      if (!isWorktreeTempName(name)) continue;
      const file = path.join(dir, name);
      if (!lstatOrUndefined(file)?.isDirectory()) unlinkSync(file);
    }
  }
}

/** The first entry under directory `rel` that the planned removals leave in place, if any. */
function firstLeftBehind(root: string, rel: string, removed: ReadonlySet<string>): string | undefined {
  for (const e of readdirSync(path.join(root, ...splitRelativePath(rel)), { withFileTypes: true })) {
    const child = `${rel}/${e.name}`;
    if (e.isDirectory()) {
      const left = firstLeftBehind(root, child, removed);
      if (left !== undefined) return left;
    } else if (!removed.has(child)) {
      return child;
    }
  }
  return undefined;
}

function lstatOrUndefined(p: string) {
  try {
    return lstatSync(p);
  } catch {
    return undefined;
  }
}

function lowerBound(sorted: readonly string[], key: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
