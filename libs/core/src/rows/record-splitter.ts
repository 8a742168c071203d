/** The record-structured file formats whose rows Tributary diffs and merges. */
export type RecordFormat = 'csv' | 'jsonl';

/** The bytes that split records: line feed, carriage return and the CSV quote. */
export const LF = 0x0a;
export const CR = 0x0d;
export const QUOTE = 0x22;

/** The record format a path's extension names (`.csv`, `.jsonl`, any letter case), or undefined for other files. */
export function recordFormatOf(path: string): RecordFormat | undefined {
  const dot = path.lastIndexOf('.');
  if (dot < 0 || path.indexOf('/', dot) >= 0) return undefined;
  const ext = path.slice(dot + 1).toLowerCase();
  return ext === 'csv' || ext === 'jsonl' ? ext : undefined;
}

export interface RecordSplitterOptions {
  /** CSV only: hold the first record back as `header` instead of returning it. Ignored for JSONL. */
  readonly skipHeader?: boolean;
  /** Return each record with its terminator (`\n` or `\r\n`) as it was, so the records joined are the bytes fed. */
  readonly keepTerminators?: boolean;
}

/**
 * Cuts a byte stream into records, one chunk at a time.
 *
 * - A record ends at `\n` or `\r\n`; the returned bytes exclude the terminator. Empty lines are records (empty
 *   buffers) except the empty remainder after a final terminator, so `a\n` and `a` both hold the one record `a`.
 * - CSV: a `\n` inside a double-quoted field does not end a record. Quote state is the parity of `"` since the record
 *   started, which is RFC 4180 (`""` inside a quoted field toggles twice).
 * - The first CSV record is the header. It is always available as `header` once seen; with `skipHeader` it is not
 *   returned as a record.
 *
 * - With `keepTerminators`, each record keeps its terminator, so the records joined are exactly the bytes fed.
 *
 * Memory: the bytes of the record in progress, so bounded by the longest record. A returned record may share memory
 * with a pushed chunk; callers must not mutate either.
 */
export class RecordSplitter {
  /** CSV: the first record, once it has been seen. Always undefined for JSONL. */
  header: Buffer | undefined;
  private readonly csv: boolean;
  private readonly skipHeader: boolean;
  private readonly keepTerminators: boolean;
  private pending: Buffer[] = [];
  private inQuotes = false;
  private seenFirst = false;

  constructor(
    readonly format: RecordFormat,
    options: RecordSplitterOptions = {},
  ) {
    this.csv = format === 'csv';
    this.skipHeader = this.csv && options.skipHeader === true;
    this.keepTerminators = options.keepTerminators === true;
  }

  /**
   * Whether the next byte would start a record, in the state a splitter is in at the start of the stream after its
   * header: so `other`, if it says the same of itself, cuts any bytes fed to both from here into the same records.
   */
  atSameRecordStartAs(other: RecordSplitter): boolean {
    return (
      this.pending.length === 0 && !this.inQuotes && other.pending.length === 0 && !other.inQuotes &&
      this.format === other.format && (this.seenFirst || !this.skipHeader) === (other.seenFirst || !other.skipHeader)
    );
  }

  /** CSV: whether the bytes fed so far end inside a double-quoted field. */
  get inQuotedField(): boolean {
    return this.inQuotes;
  }

  /** Feeds the next bytes of the stream and returns the records they complete, in order. */
  push(chunk: Uint8Array): Buffer[] {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const out: Buffer[] = [];
    let start = 0;
    let pos = 0;
    // Cached search results, so a line with many quotes is still scanned in linear time.
    let nextLf = -2;
    let nextQuote = -2;
    while (pos < buf.length) {
      if (nextLf !== -1 && nextLf < pos) nextLf = buf.indexOf(LF, pos);
      if (this.csv) {
        if (nextQuote !== -1 && nextQuote < pos) nextQuote = buf.indexOf(QUOTE, pos);
        if (nextQuote >= 0 && (this.inQuotes || nextLf < 0 || nextQuote < nextLf)) {
          this.inQuotes = !this.inQuotes;
          pos = nextQuote + 1;
          continue;
        }
        if (this.inQuotes) break;
      }
      if (nextLf < 0) break;
      this.emit(out, buf.subarray(start, this.keepTerminators ? nextLf + 1 : nextLf));
      start = pos = nextLf + 1;
    }
    if (start < buf.length) this.pending.push(buf.subarray(start));
    return out;
  }

  /** Ends the stream: returns the final record when the stream did not end with a terminator. */
  finish(): Buffer[] {
    const out: Buffer[] = [];
    if (this.pending.length > 0) {
      const last = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending);
      this.pending = [];
      this.accept(out, last);
    }
    this.inQuotes = false;
    return out;
  }

  private emit(out: Buffer[], tail: Buffer): void {
    let record = tail;
    if (this.pending.length > 0) {
      this.pending.push(tail);
      record = Buffer.concat(this.pending);
      this.pending = [];
    }
    if (!this.keepTerminators && record.length > 0 && record[record.length - 1] === CR) record = record.subarray(0, record.length - 1);
    this.accept(out, record);
  }

  private accept(out: Buffer[], record: Buffer): void {
    if (this.csv && !this.seenFirst) {
      this.seenFirst = true;
      this.header = record;
      if (this.skipHeader) return;
    }
    out.push(record);
  }
}

/**
 * Where the last record of a well-formed file starts, given `tail`: bytes that end at the file's end. A terminator at
 * the very end belongs to the last record. Returns an offset into `tail` (just after the `\n` that ends the previous
 * record), or -1 when no such `\n` lies within `tail`: the last record then starts at `tail`'s first byte or before
 * it (at the file's start, if `tail` is the whole file).
 *
 * CSV: a `\n` at p ends a record iff the number of `"` after p up to the end is even, which holds when every quoted
 * field of the file is closed. For a malformed file the answer may differ from what RecordSplitter reads.
 */
export function lastRecordStart(tail: Uint8Array, format: RecordFormat): number {
  let end = tail.length;
  if (end > 0 && tail[end - 1] === LF) end--;
  if (format === 'jsonl') {
    if (end === 0) return -1;
    const buf = Buffer.isBuffer(tail) ? tail : Buffer.from(tail.buffer, tail.byteOffset, tail.byteLength);
    const p = buf.lastIndexOf(LF, end - 1);
    return p < 0 ? -1 : p + 1;
  }
  let quotes = 0;
  for (let p = end - 1; p >= 0; p--) {
    const b = tail[p];
    if (b === QUOTE) quotes++;
    else if (b === LF && (quotes & 1) === 0) return p + 1;
  }
  return -1;
}

/**
 * Follows record boundaries through a stream without cutting records out, for skipping a part known to be equal.
 * After the first n bytes are pushed, `recordStart` is the stream offset where the record in progress began, or n
 * when those bytes end exactly at a record's end. Same rules as RecordSplitter (CSV quote parity); O(1) memory.
 */
export class RecordBoundaryScanner {
  recordStart = 0;
  private offset = 0;
  private inQuotes = false;

  constructor(readonly format: RecordFormat) {}

  push(chunk: Uint8Array): void {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.format === 'jsonl') {
      const lf = buf.lastIndexOf(LF);
      if (lf >= 0) this.recordStart = this.offset + lf + 1;
    } else {
      let pos = 0;
      while (pos < buf.length) {
        const quote = buf.indexOf(QUOTE, pos);
        if (!this.inQuotes) {
          // Only the last newline before the next quote matters; the subarray bounds the backward search.
          const lf = buf.subarray(pos, quote < 0 ? buf.length : quote).lastIndexOf(LF);
          if (lf >= 0) this.recordStart = this.offset + pos + lf + 1;
        }
        if (quote < 0) break;
        this.inQuotes = !this.inQuotes;
        pos = quote + 1;
      }
    }
    this.offset += buf.length;
  }
}
