import { BigIntStats, lstatSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { compareNames, EntryKind, InvalidArgumentError, validateEntryName } from '@tributary/core';
import { IgnoreRules } from './ignore-rules';

export const IGNORE_FILE = '.tribignore';
const SKIP_ALWAYS = new Set(['.trib']);

export interface ScannedPath {
  /** Slash-separated, relative to the working copy root. */
  readonly path: string;
  readonly kind: Exclude<EntryKind, 'dir'>;
  readonly executable: boolean;
  readonly stat: BigIntStats;
}

export function loadIgnoreRules(root: string): IgnoreRules {
  try {
    return new IgnoreRules(readFileSync(path.join(root, IGNORE_FILE), 'utf8'));
  } catch {
    return new IgnoreRules();
  }
}

/**
 * Every file and symlink under `root` in depth-first order with each directory's names sorted by UTF-8 bytes --
 * the order trees are built in -- minus `.trib/` and `.tribignore` matches. Symlinks are reported, never followed.
 * Sockets, FIFOs and devices are skipped. A name a tree could not hold (e.g. containing `\`) is an
 * InvalidArgumentError naming the path, rather than a silent skip.
 */
export function* scanWorktree(root: string, rules: IgnoreRules = loadIgnoreRules(root)): Generator<ScannedPath> {
  yield* scanDir(root, '', rules);
}

function* scanDir(root: string, rel: string, rules: IgnoreRules): Generator<ScannedPath> {
  const abs = rel ? path.join(root, rel) : root;
  // compareNames is UTF-8 byte order without encoding every name per comparison (a million-file folder sorts in
  // a second, not a minute).
  const names = readdirSync(abs).sort(compareNames);
  for (const name of names) {
    if (!rel && SKIP_ALWAYS.has(name)) continue;
    const childRel = rel ? `${rel}/${name}` : name;
    let st: BigIntStats;
    try {
      st = lstatSync(path.join(abs, name), { bigint: true });
    } catch {
      continue; // Deleted while we scanned: it is simply not part of this snapshot.
    }
    const isDir = st.isDirectory();
    if (!rules.empty && rules.ignores(childRel, isDir)) continue;
    try {
      validateEntryName(name);
    } catch (e) {
      throw new InvalidArgumentError(`cannot track ${JSON.stringify(childRel)}: ${(e as Error).message}`);
    }
    if (isDir) yield* scanDir(root, childRel, rules);
    else if (st.isFile()) yield { path: childRel, kind: 'file', executable: (Number(st.mode) & 0o111) !== 0, stat: st };
    else if (st.isSymbolicLink()) yield { path: childRel, kind: 'symlink', executable: false, stat: st };
  }
}
