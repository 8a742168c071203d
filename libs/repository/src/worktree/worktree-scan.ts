import { BigIntStats, existsSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { compareNames, cQuote, cQuoteBytes, EntryKind, InvalidArgumentError, REPOSITORY_CONFIG_FILE, REPOSITORY_DIR, validateEntryName } from '@tributary/core';
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

/**
 * A path `.tribignore` matches, yielded (with `askTracked`) for the caller to answer with `next(kind)`: the kind of
 * entry the tree the working files are at holds there, undefined for none. Ignore rules hold for untracked paths
 * only, as git's do: a tracked path is scanned as any other, and so are the tracked paths in an ignored folder.
 */
export interface IgnoredPath {
  readonly kind: 'ignored';
  readonly path: string;
}

/** The rules of `root`'s `.tribignore`; none without one. One that cannot be read is refused, not taken as empty. */
export function loadIgnoreRules(root: string): IgnoreRules {
  try {
    return new IgnoreRules(readFileSync(path.join(root, IGNORE_FILE), 'utf8'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return new IgnoreRules();
    throw unreadablePath(IGNORE_FILE, e);
  }
}

/** Whether a failed read of a path listed a moment ago says it was removed since (or its folder replaced by a file). */
export function wasRemoved(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/**
 * A path in the working tree that cannot be read (a full path too long for the system, no permission, a symlink
 * loop, an I/O error), refused by name: left out, the snapshot would drop it, and the next commit delete it.
 */
export function unreadablePath(relPath: string, e: unknown): InvalidArgumentError {
  // Node's message ends with the syscall and the absolute path (4 KiB of it, for a name too long): the relative one says it.
  const why = (e as Error).message.split(', ')[0];
  return new InvalidArgumentError(`cannot read ${cQuote(relPath)}: ${why}`, { path: relPath }, { cause: e });
}

/**
 * Every file and symlink under `root` in depth-first order with each directory's names sorted by UTF-8 bytes --
 * the order trees are built in -- minus `.trib/`, `.tribignore` matches, the temp files of a write into the working
 * tree that was cut short, and what folders holding a repository of their own hold but the tracked paths (as git
 * leaves a nested repository alone but for the paths its index tracks).
 * Symlinks are reported, never followed. Sockets, FIFOs and devices are skipped, and so is a path removed while the
 * scan runs. A name a tree could not hold (e.g. containing `\`, or bytes that are not UTF-8), or a path that cannot
 * be read, is an InvalidArgumentError naming the path, rather than a silent skip. With `askTracked`, each path the
 * rules match is an IgnoredPath question first, and kept if tracked.
 */
export function* scanWorktree(
  root: string,
  rules: IgnoreRules = loadIgnoreRules(root),
  opts: { askTracked?: boolean } = {},
): Generator<ScannedPath | IgnoredPath, void, EntryKind | undefined> {
  yield* scanDir(root, '', rules, opts.askTracked ?? false, false);
}

/** `inIgnored`: the folder is ignored, and so is all it holds but what is tracked. */
function* scanDir(
  root: string,
  rel: string,
  rules: IgnoreRules,
  askTracked: boolean,
  inIgnored: boolean,
): Generator<ScannedPath | IgnoredPath, void, EntryKind | undefined> {
  const abs = rel ? path.join(root, rel) : root;
  // compareNames is UTF-8 byte order without encoding every name per comparison (a million-file folder sorts in
  // a second, not a minute).
  const names = listFolder(abs, rel)?.sort(compareNames);
  if (!names) return;
  // A repository of its own (what Repository.open takes for one: its local config written), not a .trib/ alone, is
  // as an ignored folder: what HEAD tracks in it stays tracked, as in git, and nothing else of it is taken.
  if (rel && !inIgnored && names.includes(REPOSITORY_DIR) && existsSync(path.join(abs, REPOSITORY_DIR, REPOSITORY_CONFIG_FILE))) {
    if (!askTracked) return;
    inIgnored = true;
  }
  for (const name of names) {
    // No tree holds a .trib entry (validateEntryName), wherever it is: an init cut short leaves one without config.
    if (isWorktreeTempName(name) || name === REPOSITORY_DIR) continue;
    const childRel = rel ? `${rel}/${name}` : name;
    let st: BigIntStats;
    try {
      st = lstatSync(path.join(abs, name), { bigint: true });
    } catch (e) {
      if (name.includes('\uFFFD')) {
        // Node's name for it (U+FFFD for each bad byte) names nothing, so its kind is unknown: a pattern that
        // matches it as either is the user's word that it stays out. No tree could hold it, so it is tracked by none.
        if (inIgnored || (!rules.empty && (rules.ignores(childRel, false) || rules.ignores(childRel, true)))) continue;
        notUtf8(abs, rel, name);
      }
      if (wasRemoved(e)) continue; // Deleted while we scanned: it is simply not part of this snapshot.
      throw unreadablePath(childRel, e);
    }
    const isDir = st.isDirectory();
    const badName = entryNameProblem(name);
    const ignored = inIgnored || (!rules.empty && rules.ignores(childRel, isDir));
    if (ignored) {
      // A name no tree could hold is tracked by none.
      if (!askTracked || badName !== undefined) continue;
      const tracked = yield { kind: 'ignored', path: childRel };
      if (tracked === undefined || (tracked === 'dir') !== isDir) continue;
    }
    if (badName !== undefined) {
      // A commit never leaves a file out silently (it would read as deleted): the user renames or ignores it.
      throw new InvalidArgumentError(`cannot track ${cQuote(childRel)}: ${badName}; rename it, or add it to .tribignore`);
    }
    if (isDir) yield* scanDir(root, childRel, rules, askTracked, ignored);
    else if (st.isFile()) yield { path: childRel, kind: 'file', executable: (Number(st.mode) & 0o111) !== 0, stat: st };
    else if (st.isSymbolicLink()) yield { path: childRel, kind: 'symlink', executable: false, stat: st };
  }
}

/** Why no tree could hold an entry called `name`; undefined when one could. */
function entryNameProblem(name: string): string | undefined {
  try {
    validateEntryName(name);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

/** The names in folder `abs`; undefined when it was removed since its parent was listed (never the root). */
function listFolder(abs: string, rel: string): string[] | undefined {
  try {
    return readdirSync(abs);
  } catch (e) {
    if (rel && wasRemoved(e)) return undefined;
    throw unreadablePath(rel || '.', e);
  }
}

/**
 * Throws for the name in `abs` that is not valid UTF-8 and that Node reads as `name` (with U+FFFD in place of the bad
 * bytes, a name that then names nothing), as a tree could not hold it anyway. Shown C-quoted as every path in a
 * message is, the bad bytes in octal as git shows them.
 */
function notUtf8(abs: string, rel: string, name: string): void {
  for (const raw of readdirSync(abs, { encoding: 'buffer' })) {
    if (raw.toString('utf8') !== name || Buffer.from(name, 'utf8').equals(raw)) continue;
    const shown = cQuoteBytes(rel ? Buffer.concat([Buffer.from(`${rel}/`, 'utf8'), raw]) : raw);
    throw new InvalidArgumentError(`cannot track ${shown}: the name is not valid UTF-8; rename it, or add a pattern for it to .tribignore (a * stands for the bytes that are not)`);
  }
}
