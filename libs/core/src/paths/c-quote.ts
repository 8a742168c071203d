import { hasControlCharacters } from '../objects/commit.codec';

const ESCAPES: Readonly<Record<string, string>> = {
  '\x07': '\\a',
  '\b': '\\b',
  '\t': '\\t',
  '\n': '\\n',
  '\v': '\\v',
  '\f': '\\f',
  '\r': '\\r',
  '"': '\\"',
  '\\': '\\\\',
};

/** `text` in double quotes, with `\"`, `\\`, `\n`, `\t`... and other control characters in octal, as git writes it. */
export function cQuote(text: string): string {
  const escape = (ch: string) => ESCAPES[ch] ?? `\\${ch.charCodeAt(0).toString(8).padStart(3, '0')}`;
  return `"${text.replace(/[\x00-\x1f\x7f"\\]/g, escape)}"`;
}

/**
 * A path for text output and messages: as it is, or C-quoted as git shows it when it holds a control character, a
 * double quote or a backslash, so that it stays on its line and cannot pass for another path or for a quoted one.
 * A message that always quotes its path uses cQuote, the same quoting.
 */
export function quotePath(path: string): string {
  return hasControlCharacters(path) || /["\\]/.test(path) ? cQuote(path) : path;
}

/** Most characters of a path a message shows: 256 levels of long names would make a line of 64 KiB. */
const SHOWN_PATH_CHARS = 200;

/** `path` for a message: as it is, or when longer than `max` characters, its start and its end around `...`. */
export function shortenPath(path: string, max = SHOWN_PATH_CHARS): string {
  // By code point, so that a cut never splits a surrogate pair.
  const chars = Array.from(path);
  if (chars.length <= max) return path;
  const kept = Math.floor((max - 3) / 2);
  return `${chars.slice(0, kept).join('')}...${chars.slice(-kept).join('')}`;
}

/**
 * A CSV or JSONL record for text output: C-quoted when it holds a control character or begins with a double quote;
 * else as it is. Only a record that begins with a quote could pass for a quoted one, and quoting every record with
 * a quote inside would quote every JSONL record.
 */
export function quoteRecord(record: string): string {
  return hasControlCharacters(record) || record.startsWith('"') ? cQuote(record) : record;
}
