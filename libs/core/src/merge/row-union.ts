import { IntegrityError } from '../errors/trib-error';
import { appendToFile } from '../objects/file-append';
import { readFileBytes } from '../objects/file-content';
import { ObjectSink, ObjectSource } from '../objects/object-source';
import { FileRef } from '../objects/object-types';
import { byteAt, countQuotes, readCsvHeader } from '../rows/record-file-bytes';
import { CR, LF, QUOTE } from '../rows/record-splitter';
import { RecordFormat, recordFormatOf } from '../rows/record-splitter';
import { matchAppend } from '../rows/row-diff';

/**
 * Row union, the merge of a `.csv` or `.jsonl` file that both sides only appended records to: the base, then this
 * branch's (`ours`) appended records, then the other branch's (`theirs`), with the CSV header kept once.
 *
 * Returns undefined, meaning "not a row union, treat as a conflict", when:
 * - the path is not `.csv` / `.jsonl`, or `base` is undefined (an add/add of different bytes is a conflict);
 * - either side is not the base's bytes followed by whole records: its bytes do not start with the base's; or the base
 *   lacks a final newline and the side extended its last record instead of starting a new line; or (CSV) the
 *   appended bytes leave a quoted field open;
 * - the base is empty and the two sides' CSV headers differ.
 *
 * Records both sides appended alike, at the start of their appended records, are taken once (sharedRecordBytes):
 * when one side's appended records all are such, the other side is returned, with nothing written (so when both
 * sides are identical, `ours`), as it is when a side equals the base. Otherwise theirs' other new records are
 * appended to ours with `appendToFile` (same ids as writing the merged bytes afresh): never a whole file in memory.
 * Exactly one line ending is inserted where records would otherwise fuse (ours' appended part lacking a final newline):
 * the one ours' first line (a CSV's header) ends with, `\r\n` or `\n`.
 *
 * Cost: the check reads each side's appended bytes and base's last chunk or two; writing reads theirs' appended
 * bytes and ours' last chunk (appendToFile re-chunks only from there), so it follows the change, not the file.
 */
export async function rowUnionMerge(
  src: ObjectSource,
  sink: ObjectSink,
  path: string,
  base: FileRef | undefined,
  ours: FileRef,
  theirs: FileRef,
): Promise<FileRef | undefined> {
  const format = recordFormatOf(path);
  if (format === undefined || base === undefined) return undefined;
  if (theirs.id === base.id || theirs.id === ours.id) return ours;
  if (ours.id === base.id) return theirs;

  const oursAppend = await appendedRecords(src, base, ours, format);
  if (oursAppend === undefined) return undefined;
  const theirsAppend = await appendedRecords(src, base, theirs, format);
  if (theirsAppend === undefined) return undefined;

  let oursSkip = oursAppend.skip;
  let theirsSkip = theirsAppend.skip;
  if (base.size === 0 && format === 'csv') {
    const oursHeader = await readCsvHeader(src, ours);
    const theirsHeader = await readCsvHeader(src, theirs);
    if (!oursHeader || !theirsHeader || !oursHeader.record.equals(theirsHeader.record)) return undefined;
    oursSkip = oursHeader.end;
    theirsSkip = theirsHeader.end;
  }
  const shared = await sharedRecordBytes(src, ours, oursSkip, theirs, theirsSkip, format);
  if (theirsSkip + shared >= theirs.size) return ours;
  if (oursSkip + shared >= ours.size) return theirs;
  const separator = oursAppend.lastByte === LF ? undefined : Buffer.from((await firstLineEndsCrlf(src, ours, format)) ? '\r\n' : '\n');
  return appendToFile(src, sink, ours, theirsRecords(src, separator, theirs, theirsSkip + shared));
}

/**
 * How many bytes of whole records the two sides appended alike, from where their records start (`oursFrom`,
 * `theirsFrom`): the records both appended at the same place, byte for byte, which the union takes once, as any
 * three-way merge takes a change made on both sides once (a batch ingested on both branches, one of which then
 * went on). The agreement ends at the last record end (a newline outside quotes) before the first differing byte,
 * or where one side ends, if the other ends a record there too. Reads both appended parts only as far as they agree.
 */
async function sharedRecordBytes(
  src: ObjectSource,
  ours: FileRef,
  oursFrom: number,
  theirs: FileRef,
  theirsFrom: number,
  format: RecordFormat,
): Promise<number> {
  const a = new ByteCursor(readFileBytes(src, ours, oursFrom));
  const b = new ByteCursor(readFileBytes(src, theirs, theirsFrom));
  let agreed = 0;
  let recordEnd = 0;
  let quotes = 0;
  for (;;) {
    const x = await a.peek();
    const y = await b.peek();
    if (x.length === 0 || y.length === 0) {
      // One side ended where both agree: its last record is shared if the other ends that record there as well.
      const next = await (x.length === 0 ? b : a).first(2);
      const endsRecord = next.length === 0 || next[0] === LF || (next[0] === CR && next[1] === LF);
      return quotes % 2 === 0 && endsRecord ? agreed : recordEnd;
    }
    const n = Math.min(x.length, y.length);
    let same = n;
    if (x.compare(y, 0, n, 0, n) !== 0) for (same = 0; x[same] === y[same]; same++);
    const part = x.subarray(0, same);
    const end = lastRecordEnd(part, quotes, format);
    if (end >= 0) recordEnd = agreed + end;
    if (format === 'csv') quotes += countQuotes(part);
    agreed += same;
    if (same < n) return recordEnd;
    a.skip(n);
    b.skip(n);
  }
}

/** Offset just past the last newline in `part` that ends a record (outside quotes, for CSV), or -1. */
function lastRecordEnd(part: Buffer, quotesBefore: number, format: RecordFormat): number {
  if (format !== 'csv' || (quotesBefore % 2 === 0 && part.indexOf(QUOTE) < 0)) {
    const lf = part.lastIndexOf(LF);
    return lf < 0 ? -1 : lf + 1;
  }
  let quotes = quotesBefore;
  let end = -1;
  for (let i = 0; i < part.length; i++) {
    if (part[i] === QUOTE) quotes++;
    else if (part[i] === LF && quotes % 2 === 0) end = i + 1;
  }
  return end;
}

/** A file's bytes as one stream to compare at: what is left of the current block, then the next. */
class ByteCursor {
  private readonly blocks: AsyncIterator<Buffer>;
  private current: Buffer = Buffer.alloc(0);
  private done = false;

  constructor(blocks: AsyncIterable<Buffer>) {
    this.blocks = blocks[Symbol.asyncIterator]();
  }

  /** The bytes left in the current block (reading the next block when it is used up); empty at the end. */
  async peek(): Promise<Buffer> {
    while (this.current.length === 0 && !this.done) await this.readBlock();
    return this.current;
  }

  skip(n: number): void {
    this.current = this.current.subarray(n);
  }

  /** The next `n` bytes (fewer at the end), across a block boundary if need be. */
  async first(n: number): Promise<Buffer> {
    while (this.current.length < n && !this.done) await this.readBlock();
    return this.current.subarray(0, n);
  }

  private async readBlock(): Promise<void> {
    const r = await this.blocks.next();
    if (r.done) this.done = true;
    else this.current = this.current.length === 0 ? r.value : Buffer.concat([this.current, r.value]);
  }
}

interface AppendedRecords {
  /** Where the side's new records start: after base, and after the newline that ends base's last record. */
  readonly skip: number;
  /** The side's last byte. */
  readonly lastByte: number;
}

/**
 * Checks that `side` is `base` plus whole records, reading the side's appended bytes once (and base's last chunk or
 * two). Undefined when it is not.
 */
async function appendedRecords(
  src: ObjectSource,
  base: FileRef,
  side: FileRef,
  format: RecordFormat,
): Promise<AppendedRecords | undefined> {
  const match = await matchAppend(src, base, side, 1);
  if (match === undefined) return undefined;
  let baseLast: number | undefined;
  if (base.size > 0) {
    const tail = match.prefixTail;
    baseLast = tail.length > 0 ? tail[tail.length - 1] : await storedByteAt(src, base, base.size - 1);
  }
  const needsNewline = baseLast !== undefined && baseLast !== LF;
  // The first bytes after base, to find the newline that must end base's last record when base lacks one.
  const head: number[] = [];
  let quotes = 0;
  let lastByte = baseLast ?? -1;
  for await (const b of match.appended) {
    for (let i = 0; i < b.length && head.length < 2; i++) head.push(b[i]);
    if (format === 'csv') quotes += countQuotes(b);
    if (b.length > 0) lastByte = b[b.length - 1];
  }
  if (format === 'csv' && quotes % 2 !== 0) return undefined;
  if (!needsNewline) return { skip: base.size, lastByte };
  if (head[0] === LF) return { skip: base.size + 1, lastByte };
  if (head[0] === CR && head[1] === LF) return { skip: base.size + 2, lastByte };
  return undefined;
}

/** What the merge appends to ours: a newline if ours lacks one, then theirs' new records. */
async function* theirsRecords(src: ObjectSource, separator: Buffer | undefined, theirs: FileRef, theirsFrom: number): AsyncGenerator<Buffer> {
  if (separator) yield separator;
  yield* readFileBytes(src, theirs, theirsFrom);
}

/** Whether `file`'s first line (a CSV's first record, its header) ends with `\r\n`. Reads only that far. */
async function firstLineEndsCrlf(src: ObjectSource, file: FileRef, format: RecordFormat): Promise<boolean> {
  if (format === 'csv') {
    const header = await readCsvHeader(src, file);
    return header !== undefined && header.end - header.record.length === 2;
  }
  let previous = -1;
  for await (const b of readFileBytes(src, file)) {
    const lf = b.indexOf(LF);
    if (lf >= 0) return (lf > 0 ? b[lf - 1] : previous) === CR;
    if (b.length > 0) previous = b[b.length - 1];
  }
  return false;
}

/** The byte at `offset`, which the file's size says exists. */
async function storedByteAt(src: ObjectSource, file: FileRef, offset: number): Promise<number> {
  const b = await byteAt(src, file, offset);
  if (b === undefined) throw new IntegrityError(`file ${file.id} is shorter than its size ${file.size}`, { id: file.id });
  return b;
}
