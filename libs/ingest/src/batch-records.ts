import { countQuotes, FileRef, InvalidArgumentError, ObjectSource, quotePath, readFileBytes, RecordFormat } from '@tributary/core';

const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;
/** A CSV header longer than this is not a header: the batch is refused rather than buffered without bound. */
export const MAX_HEADER_BYTES = 1 << 20;

/** The first record of a CSV stream and where it ends. */
export interface CsvHeader {
  /** The header record without its terminator (and without a `\r` before the `\n`). */
  readonly record: Buffer;
  /** Whether a terminator ended it (false: the stream is the header alone, without a newline). */
  readonly terminated: boolean;
}

/**
 * Splits a CSV byte stream into its header (the first record, whose end honours double quotes) and the bytes after
 * its terminator, which it yields as they come. `onHeader` is called once, before the first body byte is yielded
 * (or at the end for a header-only stream). Memory: the header. Throws InvalidArgumentError for a header over
 * MAX_HEADER_BYTES.
 */
export async function* csvBody(
  bytes: AsyncIterable<Uint8Array>,
  onHeader: (header: CsvHeader) => void,
): AsyncGenerator<Buffer> {
  const head: Buffer[] = [];
  let headBytes = 0;
  let inQuotes = false;
  let done = false;
  for await (const chunk of bytes) {
    const buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (done) {
      yield buf;
      continue;
    }
    let end = -1;
    for (let i = 0; i < buf.length; i++) {
      if (buf[i] === QUOTE) inQuotes = !inQuotes;
      else if (buf[i] === LF && !inQuotes) {
        end = i;
        break;
      }
    }
    head.push(end < 0 ? buf : buf.subarray(0, end));
    headBytes += end < 0 ? buf.length : end;
    if (headBytes > MAX_HEADER_BYTES) throw new InvalidArgumentError(`CSV header is longer than ${MAX_HEADER_BYTES} bytes`);
    if (end < 0) continue;
    done = true;
    onHeader({ record: stripCr(Buffer.concat(head)), terminated: true });
    if (end + 1 < buf.length) yield buf.subarray(end + 1);
  }
  if (!done) onHeader({ record: stripCr(Buffer.concat(head)), terminated: false });
}

function stripCr(b: Buffer): Buffer {
  return b.length > 0 && b[b.length - 1] === CR ? b.subarray(0, b.length - 1) : b;
}

/** The header of a stored CSV file, reading only its first chunk or few. */
export async function readCsvHeader(src: ObjectSource, file: FileRef): Promise<CsvHeader> {
  let header: CsvHeader | undefined;
  const it = csvBody(readFileBytes(src, file), (h) => (header = h));
  try {
    while (header === undefined) if ((await it.next()).done) break;
  } finally {
    await it.return(undefined);
  }
  return header!;
}

/** The last byte of a stored file, or undefined for an empty one (reads the list's right spine and last chunk). */
export async function lastByte(src: ObjectSource, file: FileRef): Promise<number | undefined> {
  if (file.size === 0) return undefined;
  let last: number | undefined;
  for await (const b of readFileBytes(src, file, file.size - 1)) if (b.length > 0) last = b[b.length - 1];
  return last;
}

/**
 * The bytes to append for one batch: for CSV the records after its header (checked against `existingHeader` when
 * given), for JSONL everything; preceded by one `\n` when the file being appended to lacks a final newline and
 * there is something to append. Throws InvalidArgumentError (when the stream is consumed) for a CSV header that
 * differs from the file's.
 */
export async function* recordsToAppend(
  format: RecordFormat,
  batch: AsyncIterable<Uint8Array>,
  opts: { existingHeader?: Buffer; needsNewline: boolean; batchName: string; target: string },
): AsyncGenerator<Buffer> {
  const body: AsyncIterable<Buffer> =
    format === 'csv'
      ? csvBody(batch, (h) => {
          if (opts.existingHeader && !h.record.equals(opts.existingHeader)) {
            throw new InvalidArgumentError(
              `batch ${quotePath(opts.batchName)} has CSV header ${shownHeader(h.record)}, but ${quotePath(opts.target)} has ${shownHeader(opts.existingHeader)}`,
            );
          }
        })
      : (async function* () {
          for await (const c of batch) yield Buffer.from(c.buffer, c.byteOffset, c.byteLength);
        })();
  let first = true;
  for await (const b of body) {
    if (b.length === 0) continue;
    if (first && opts.needsNewline) yield Buffer.from('\n');
    first = false;
    yield b;
  }
}

/**
 * A CSV batch's bytes as they come, throwing InvalidArgumentError at their end when they leave a quoted field open:
 * appended, they would take every later batch's records into that field. The rule is the hub's for such a file (an
 * odd number of `"`, countQuotes), so the agent refuses what the hub would park as `unclosed quote`. Memory: none.
 */
export async function* quotesClosed(bytes: AsyncIterable<Uint8Array>, opts: { batchName: string; target: string }): AsyncGenerator<Uint8Array> {
  let quotes = 0;
  for await (const b of bytes) {
    quotes += countQuotes(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
    yield b;
  }
  if (quotes % 2 !== 0) {
    throw new InvalidArgumentError(
      `batch ${quotePath(opts.batchName)} leaves a quoted CSV field open (an odd number of '"'): the records of every ` +
        `later batch would be read into that field of ${quotePath(opts.target)}`,
    );
  }
}

/** What a message escapes in a header: the quote and backslash, and what would not show, or show as something else. */
const UNSEEN = /["\\]|(?! )[\p{C}\p{Z}]/gu;
const NAMED: Readonly<Record<string, string>> = { '"': '\\"', '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * A header for a message, in double quotes, its first 80 characters: a control or format character (a BOM), a line
 * or paragraph separator and any space but U+0020 escaped (`\uFEFF`), so two headers that differ only there do not
 * look the same.
 */
function shownHeader(b: Buffer): string {
  const chars = Array.from(b.toString('utf8'));
  const text = chars.length > 80 ? `${chars.slice(0, 77).join('')}...` : chars.join('');
  return `"${text.replace(UNSEEN, (ch) => NAMED[ch] ?? escapeCodePoint(ch.codePointAt(0)!))}"`;
}

function escapeCodePoint(cp: number): string {
  const hex = cp.toString(16).toUpperCase();
  return cp > 0xffff ? `\\u{${hex}}` : `\\u${hex.padStart(4, '0')}`;
}
