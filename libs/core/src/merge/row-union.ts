import { IntegrityError } from '../errors/trib-error';
import { appendToFile } from '../objects/file-append';
import { readFileBytes } from '../objects/file-content';
import { ObjectSink, ObjectSource } from '../objects/object-source';
import { FileRef } from '../objects/object-types';
import { byteAt, countQuotes, readCsvHeader } from '../rows/record-file-bytes';
import { CR, LF } from '../rows/record-splitter';
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
 * When a side equals the base the other side is returned, and when both sides are identical `ours` is returned, with
 * nothing written. Otherwise theirs' new records are appended to ours with `appendToFile` (same ids as writing the
 * merged bytes afresh): never a whole file in memory.
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

  let theirsSkip = theirsAppend.skip;
  if (base.size === 0 && format === 'csv') {
    const oursHeader = await readCsvHeader(src, ours);
    const theirsHeader = await readCsvHeader(src, theirs);
    if (!oursHeader || !theirsHeader || !oursHeader.record.equals(theirsHeader.record)) return undefined;
    theirsSkip = theirsHeader.end;
  }
  if (theirsSkip >= theirs.size) return ours;
  const separator = oursAppend.lastByte === LF ? undefined : Buffer.from((await firstLineEndsCrlf(src, ours, format)) ? '\r\n' : '\n');
  return appendToFile(src, sink, ours, theirsRecords(src, separator, theirs, theirsSkip));
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
