import { InvalidArgumentError } from '../errors/trib-error';
import { cQuote, shortenPath } from './c-quote';

/** The folder beside the working files that holds a repository: never a tracked name. */
export const REPOSITORY_DIR = '.trib';
/** The local config in REPOSITORY_DIR, written last by init: a `.trib/` without it is no repository (yet). */
export const REPOSITORY_CONFIG_FILE = 'config.json';

const MAX_NAME_BYTES = 255;
/** Most segments a path may have, so most directories a tree may nest. */
export const MAX_PATH_SEGMENTS = 256;

/**
 * Checks one tree entry name. Runs wherever names enter: on commit, on every object read, at checkout and on
 * objects from the network, because a hostile tree could otherwise write outside the working tree.
 * Throws InvalidArgumentError for `.`, `..`, `.trib`, empty names, `/`, `\` or NUL, and over-long names.
 */
export function validateEntryName(name: string): void {
  if (name.length === 0) throw new InvalidArgumentError('unsafe path: empty name');
  if (name === '.' || name === '..') throw new InvalidArgumentError(`unsafe path: entry named ${cQuote(name)}`);
  if (name === REPOSITORY_DIR) throw new InvalidArgumentError(`unsafe path: entry named ${REPOSITORY_DIR}`);
  if (/[/\\\0]/.test(name)) throw new InvalidArgumentError(`unsafe path: ${cQuote(name)} contains / or \\ or NUL`);
  if (Buffer.byteLength(name, 'utf8') > MAX_NAME_BYTES) throw new InvalidArgumentError(`unsafe path: name longer than ${MAX_NAME_BYTES} bytes`);
}

/**
 * Refuses a walk into a directory `depth` levels down, at `path`, past the bound splitRelativePath puts on a path:
 * tree walks, diffs and merges check it so a hostile tree cannot nest them without end.
 */
export function checkNestingDepth(path: string, depth: number): void {
  if (depth >= MAX_PATH_SEGMENTS) throw new InvalidArgumentError(`unsafe path: ${cQuote(shortenPath(path))} is nested too deep`);
}

/**
 * Splits and checks a slash-separated path relative to a tree root (`a/b/c.csv`). Rejects absolute paths, empty
 * segments and any segment `validateEntryName` rejects, so the result can never escape the root.
 */
export function splitRelativePath(path: string): string[] {
  if (path.startsWith('/')) throw new InvalidArgumentError(`unsafe path: ${cQuote(path)} is absolute`);
  const parts = path.split('/');
  if (parts.length > MAX_PATH_SEGMENTS) {
    throw new InvalidArgumentError(`unsafe path: ${cQuote(shortenPath(path))} has ${parts.length} parts, more than the ${MAX_PATH_SEGMENTS} a path may have`);
  }
  for (const p of parts) validateEntryName(p);
  return parts;
}

/**
 * Branch, tag and other ref short names: `[A-Za-z0-9._/-]`, no `..`, no leading `-` or `/`, no trailing `/`,
 * no empty segment, and no segment that is `.` or ends in `.lock`.
 */
export function validateRefName(name: string, what = 'name'): void {
  const bad = (why: string) => new InvalidArgumentError(`invalid ${what} ${JSON.stringify(name)}: ${why}`);
  if (name.length === 0) throw bad('empty');
  if (name.length > 200) throw bad('longer than 200 characters');
  if (!/^[A-Za-z0-9._/-]+$/.test(name)) throw bad('only letters, digits, ".", "_", "/" and "-" are allowed');
  if (name.includes('..')) throw bad('contains ".."');
  if (name.startsWith('-')) throw bad('starts with "-"');
  if (name.startsWith('/')) throw bad('starts with "/"');
  if (name.endsWith('/')) throw bad('ends with "/"');
  if (name.includes('//')) throw bad('has an empty segment');
  for (const seg of name.split('/')) {
    if (seg === '.' || seg.endsWith('.lock')) throw bad(`segment ${JSON.stringify(seg)} is reserved`);
  }
}

/**
 * Checks a name for a new branch or tag against git's further rules: no segment starts with `.` (`.hidden`,
 * `exp/.x`), and the name does not end with `.` (`v1.`). Only new names: a ref an older version made under such a
 * name stays readable and deletable.
 */
export function validateNewRefName(name: string, what: string): void {
  const hidden = name.split('/').find((seg) => seg.startsWith('.'));
  if (hidden !== undefined) {
    throw new InvalidArgumentError(`invalid ${what} ${JSON.stringify(name)}: segment ${JSON.stringify(hidden)} starts with "."`);
  }
  if (name.endsWith('.')) throw new InvalidArgumentError(`invalid ${what} ${JSON.stringify(name)}: ends with "."`);
}
