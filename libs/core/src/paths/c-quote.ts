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

/** A byte as git writes one it must escape without a name for it: `\` and 3 octal digits. */
const octal = (byte: number) => `\\${byte.toString(8).padStart(3, '0')}`;

/** `text` with `"`, `\` and control characters escaped as git does, without the surrounding quotes. */
function escapeText(text: string): string {
  return text.replace(/[\x00-\x1f\x7f"\\]/g, (ch) => ESCAPES[ch] ?? octal(ch.charCodeAt(0)));
}

/** `text` in double quotes, with `\"`, `\\`, `\n`, `\t`... and other control characters in octal, as git writes it. */
export function cQuote(text: string): string {
  return `"${escapeText(text)}"`;
}

// ignoreBOM: else a name's U+FEFF would be dropped from the message.
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Raw name bytes (a file name need not be UTF-8) C-quoted as cQuote quotes text, each byte that is not part of a
 * valid UTF-8 character in octal as git writes it (0xff is `\377`), so that the message says which bytes they are.
 * Valid characters are kept as they are, as cQuote keeps them.
 */
export function cQuoteBytes(bytes: Uint8Array): string {
  let out = '';
  let i = 0;
  while (i < bytes.length) {
    const lead = bytes[i];
    // How many bytes a character starting with `lead` takes; 0 for a byte no character starts with.
    const len = lead < 0x80 ? 1 : lead >= 0xc2 && lead <= 0xdf ? 2 : lead >= 0xe0 && lead <= 0xef ? 3 : lead >= 0xf0 && lead <= 0xf4 ? 4 : 0;
    let ch: string | undefined;
    if (len > 0 && i + len <= bytes.length) {
      try {
        // The decoder refuses bad continuation bytes, overlong forms, surrogates and code points past U+10FFFF.
        ch = strictUtf8.decode(bytes.subarray(i, i + len));
      } catch {
        ch = undefined;
      }
    }
    if (ch === undefined) {
      out += octal(lead);
      i += 1;
    } else {
      out += escapeText(ch);
      i += len;
    }
  }
  return `"${out}"`;
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
