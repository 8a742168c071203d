import { BigIntStats, existsSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { compareNames, EntryKind, InvalidArgumentError, REPOSITORY_CONFIG_FILE, REPOSITORY_DIR, validateEntryName } from '@tributary/core';
import { IgnoreRules } from './ignore-rules';
import { isWorktreeTempName } from './materialize';

export const IGNORE_FILE = '.tribignore';

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
 * the order trees are built in -- minus `.trib/`, `.tribignore` matches, the temp files of a write into the working
 * tree that was cut short, and folders holding a repository of their own (as git skips a nested repository).
 * Symlinks are reported, never followed. Sockets, FIFOs and devices are skipped. A name a tree could not hold (e.g.
 * containing `\`, or bytes that are not UTF-8) is an InvalidArgumentError naming the path, rather than a silent skip.
 */
export function* scanWorktree(root: string, rules: IgnoreRules = loadIgnoreRules(root)): Generator<ScannedPath> {
  yield* scanDir(root, '', rules);
}

function* scanDir(root: string, rel: string, rules: IgnoreRules): Generator<ScannedPath> {
  const abs = rel ? path.join(root, rel) : root;
  // compareNames is UTF-8 byte order without encoding every name per comparison (a million-file folder sorts in
  // a second, not a minute).
  const names = readdirSync(abs).sort(compareNames);
  // A repository of its own (what Repository.open takes for one: its local config written), not a .trib/ alone.
  if (rel && names.includes(REPOSITORY_DIR) && existsSync(path.join(abs, REPOSITORY_DIR, REPOSITORY_CONFIG_FILE))) return;
  for (const name of names) {
    // No tree holds a .trib entry (validateEntryName), wherever it is: an init cut short leaves one without config.
    if (isWorktreeTempName(name) || name === REPOSITORY_DIR) continue;
    const childRel = rel ? `${rel}/${name}` : name;
    let st: BigIntStats;
    try {
      st = lstatSync(path.join(abs, name), { bigint: true });
    } catch {
      if (name.includes('\uFFFD')) notUtf8(abs, rel);
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

/**
 * Throws for the first name in `abs` that is not valid UTF-8: Node reads such a name with U+FFFD in place of the
 * bad bytes, a name that then names nothing, and a tree could not hold it anyway. Shown with those bytes as \xNN.
 */
function notUtf8(abs: string, rel: string): void {
  for (const raw of readdirSync(abs, { encoding: 'buffer' })) {
    if (Buffer.from(raw.toString('utf8'), 'utf8').equals(raw)) continue;
    const printable = (b: number) => b >= 0x20 && b < 0x7f && b !== 0x5c;
    const escape = (b: number) => (printable(b) ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`);
    const shown = [...raw].map(escape).join('');
    throw new InvalidArgumentError(`cannot track "${rel ? `${rel}/${shown}` : shown}": the name is not valid UTF-8; rename it`);
  }
}
