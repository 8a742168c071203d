import { createHash } from 'node:crypto';
import { IntegrityError } from '../errors/trib-error';
import { appendToFile } from '../objects/file-append';
import { readFileBytes } from '../objects/file-content';
import { ObjectSink, ObjectSource } from '../objects/object-source';
import { FileRef } from '../objects/object-types';
import { byteAt, countQuotes, readCsvHeader } from '../rows/record-file-bytes';
import { CR, LF, RecordFormat, recordFormatOf, RecordSplitter } from '../rows/record-splitter';
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
 * A record both sides appended is taken once, matched one for one by its content in any order (theirsOwnRecords): a
 * batch both branches took, before, between or after others, is not doubled. Records that agree only up to a point
 * are different records, and a record one side appended twice and the other once is kept twice. When all of one
 * side's appended records are matched, the other side is returned, with nothing written (so when both sides are
 * identical, `ours`), as it is when a side equals the base; but theirs only if it ended base's last record (or the
 * header) with the same line ending as ours, whose bytes win where the two differ. Otherwise theirs' unmatched records are appended to ours,
 * in theirs' order, with `appendToFile` (same ids as writing the merged bytes afresh): never a whole file in memory.
 * Exactly one line ending is inserted where records would otherwise fuse (ours' appended part lacking a final newline):
 * the one ours' first line (a CSV's header) ends with, `\r\n` or `\n`.
 *
 * Cost: the check reads each side's appended bytes twice and base's last chunk or two, and holds a key per distinct
 * record ours appended; writing reads theirs' appended bytes and ours' last chunk (appendToFile re-chunks only from
 * there), so it follows the change, not the file.
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
  const { own, oursAllMatched } = await theirsOwnRecords(src, ours, oursSkip, theirs, theirsSkip, format);
  if (own.length === 0) return ours;
  // Theirs as it is only when it ended base's last record (or the header) with ours' line ending, which it then keeps.
  if (oursAllMatched && oursSkip === theirsSkip) return theirs;
  const separator = oursAppend.lastByte === LF ? undefined : Buffer.from((await firstLineEndsCrlf(src, ours, format)) ? '\r\n' : '\n');
  return appendToFile(src, sink, ours, theirsOwnBytes(src, separator, theirs, theirsSkip, format, own));
}

/** Records no longer than this are their own key in RecordCounts; longer ones are keyed by their SHA-256. */
const RECORD_KEY_BYTES = 64;

/**
 * The records a side appended, counted by content (a record's bytes without its terminator, so `2` that ends a file
 * and `2\n` are one record). Memory: a key per distinct record, at most RECORD_KEY_BYTES + 1 characters of string.
 */
class RecordCounts {
  private readonly counts = new Map<string, number>();
  private left = 0;

  add(record: Buffer): void {
    const key = recordKey(record);
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    this.left++;
  }

  /** Takes one record alike `record` if one is left: whether there was. */
  take(record: Buffer): boolean {
    const key = recordKey(record);
    const n = this.counts.get(key);
    if (n === undefined) return false;
    if (n === 1) this.counts.delete(key);
    else this.counts.set(key, n - 1);
    this.left--;
    return true;
  }

  /** How many records are left untaken. */
  get remaining(): number {
    return this.left;
  }
}

function recordKey(record: Buffer): string {
  let end = record.length;
  if (end > 0 && record[end - 1] === LF) end -= end > 1 && record[end - 2] === CR ? 2 : 1;
  const content = record.subarray(0, end);
  return content.length <= RECORD_KEY_BYTES
    ? `=${content.toString('latin1')}`
    : `#${createHash('sha256').update(content).digest('base64')}`;
}

/**
 * Which of theirs' appended records ours did not append too, matched one for one in any order (a batch both
 * branches took, whatever came before or after it on each): the records' indices in theirs, and whether every one of
 * ours' appended records was matched. Reads each side's appended bytes once.
 */
async function theirsOwnRecords(
  src: ObjectSource,
  ours: FileRef,
  oursFrom: number,
  theirs: FileRef,
  theirsFrom: number,
  format: RecordFormat,
): Promise<{ own: number[]; oursAllMatched: boolean }> {
  const oursRecords = new RecordCounts();
  for await (const record of wholeRecords(readFileBytes(src, ours, oursFrom), format)) oursRecords.add(record);
  const own: number[] = [];
  let index = 0;
  for await (const record of wholeRecords(readFileBytes(src, theirs, theirsFrom), format)) {
    if (!oursRecords.take(record)) own.push(index);
    index++;
  }
  return { own, oursAllMatched: oursRecords.remaining === 0 };
}

/**
 * The whole records of a stream of record bytes, each with its terminator (the last one may lack it): a record ends
 * at a newline outside quotes (CSV) or at any newline (JSONL), as RecordSplitter cuts them. Memory: the record in
 * progress.
 */
async function* wholeRecords(blocks: AsyncIterable<Buffer>, format: RecordFormat): AsyncGenerator<Buffer> {
  const splitter = new RecordSplitter(format, { keepTerminators: true });
  for await (const block of blocks) yield* splitter.push(block);
  yield* splitter.finish();
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

/** What the merge appends to ours: a newline if ours lacks one, then theirs' records at the indices `own`, in order. */
async function* theirsOwnBytes(
  src: ObjectSource,
  separator: Buffer | undefined,
  theirs: FileRef,
  theirsFrom: number,
  format: RecordFormat,
  own: readonly number[],
): AsyncGenerator<Buffer> {
  if (separator) yield separator;
  let next = 0;
  let index = 0;
  for await (const record of wholeRecords(readFileBytes(src, theirs, theirsFrom), format)) {
    if (index++ !== own[next]) continue;
    yield record;
    if (++next === own.length) return;
  }
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
