import { FailedPreconditionError, InvalidArgumentError, IntegrityError } from '../errors/trib-error';
import { ObjectId } from '../ids/ids';
import { quotePath } from '../paths/c-quote';
import { commonPrefix, commonSuffix, readFileBytes } from '../objects/file-content';
import { ObjectSource } from '../objects/object-source';
import { FileRef } from '../objects/object-types';
import {
  lastRecordStart,
  LF,
  RecordBoundaryScanner,
  RecordFormat,
  recordFormatOf,
  RecordSplitter,
} from './record-splitter';

export interface RecordCount {
  /** The record's bytes without terminator, decoded as UTF-8. */
  readonly record: string;
  readonly count: number;
}

/** Row-level changes of one `.csv` or `.jsonl` file between two versions. */
export interface RowDiff {
  readonly path: string;
  readonly format: RecordFormat;
  /** Records whose count grew, with how many more copies; sorted by record bytes; at most `maxDistinct` entries. */
  readonly added: RecordCount[];
  /** Records whose count shrank, with how many fewer copies; sorted by record bytes; at most `maxDistinct` entries. */
  readonly removed: RecordCount[];
  /** Exact totals over all records, also when the lists are capped. */
  readonly addedCount: number;
  readonly removedCount: number;
  /** Present when the CSV header differs (a missing or empty file has no header). The header is never a row. */
  readonly headerChanged?: { readonly old?: string; readonly new?: string };
  /** Bytes of every object fetched from the source (chunks and chunk-list nodes). */
  readonly bytesRead: number;
}

export interface RowDiffOptions {
  /** Caps the length of `added` and `removed`; counts stay exact. Default: no cap. */
  readonly maxDistinct?: number;
  /**
   * Different records the diff may hold at once while both versions are still being read (default 2,000,000);
   * past it, FailedPreconditionError. Records met after one version ends are not held here, so a file added whole or
   * appended to holds only what `maxDistinct` lets it list.
   */
  readonly maxPendingRecords?: number;
}

/** Kept from the end of the shorter file while checking for an append, to find its last record without re-reading. */
const TAIL_KEEP = 256 * 1024;

/**
 * The multiset of records added and removed between two versions of a `.csv` or `.jsonl` file (undefined = absent).
 * Records are compared as bytes (JSONL lines are not re-parsed); empty lines are not rows; the CSV header is not a
 * row; a missing final newline is not a change.
 *
 * Cost: when `newFile` is `oldFile` plus appended bytes (or the reverse: trailing records were removed), only the
 * appended bytes and the last chunk or two of each file are read. Otherwise both files are streamed in step from the
 * record holding the first differing chunk (CSV scans the equal leading chunks once for quote state, without
 * counting their records) to where the identical chunks they end with begin, and on through those only to the end
 * of the record in progress there; records that appear on both sides cancel as they are met, so memory follows the
 * records that differ (plus how far apart the two sides drift), not the file size. (A CSV whose edit leaves the two
 * sides in different quote states there is read to the end: its records after the edit differ.)
 *
 * Throws InvalidArgumentError when the path is not a `.csv` or `.jsonl` file; object read errors pass through.
 */
export async function rowDiff(
  src: ObjectSource,
  path: string,
  oldFile: FileRef | undefined,
  newFile: FileRef | undefined,
  opts: RowDiffOptions = {},
): Promise<RowDiff> {
  const format = recordFormatOf(path);
  if (format === undefined) throw new InvalidArgumentError(`row diff needs a .csv or .jsonl file: ${quotePath(path)}`);
  const counting = new CountingSource(src);
  const tally = new RecordTally(format, path, opts.maxDistinct, opts.maxPendingRecords);
  if (oldFile && newFile && oldFile.id === newFile.id) {
    return tally.result(0);
  }
  let from = 0;
  if (oldFile && newFile) {
    const shared = (await commonPrefix(counting, oldFile, newFile)).bytes;
    if (await diffAppend(counting, tally, format, oldFile, newFile, shared)) {
      return tally.result(counting.bytesRead);
    }
    from = await lastRecordStartBefore(counting, oldFile, shared, format);
    const suffix = Math.min(await commonSuffix(counting, oldFile, newFile), oldFile.size - shared, newFile.size - shared);
    if (suffix > 0) {
      const oldBytes = readFileBytes(counting, oldFile, from, oldFile.size - suffix);
      const newBytes = readFileBytes(counting, newFile, from, newFile.size - suffix);
      await tally.run(oldBytes, newBytes, from === 0, () => readFileBytes(counting, newFile, newFile.size - suffix));
      return tally.result(counting.bytesRead);
    }
  }
  const oldBytes = oldFile ? readFileBytes(counting, oldFile, from) : empty();
  const newBytes = newFile ? readFileBytes(counting, newFile, from) : empty();
  await tally.run(oldBytes, newBytes, from === 0);
  return tally.result(counting.bytesRead);
}

/**
 * Where the record holding byte `end` starts (or `end` itself when a record ends there), so that two files equal
 * up to `end` can both be read from that offset with the same records before it skipped.
 * JSONL reads backwards from `end` only as far as that record; CSV must scan `[0, end)` for quote state (no
 * records are cut or counted, which is what makes the skip worthwhile).
 */
async function lastRecordStartBefore(
  src: ObjectSource,
  file: FileRef,
  end: number,
  format: RecordFormat,
): Promise<number> {
  if (end === 0) return 0;
  if (format === 'jsonl') {
    for (let window = 64 * 1024; ; window *= 2) {
      const from = Math.max(0, end - window);
      const bytes = await readRange(src, file, from, end);
      const lf = bytes.lastIndexOf(0x0a);
      if (lf >= 0) return from + lf + 1;
      if (from === 0) return 0;
    }
  }
  const scanner = new RecordBoundaryScanner(format);
  for await (const b of readFileBytes(src, file, 0, end)) scanner.push(b);
  return scanner.recordStart;
}

/**
 * The fast path: when one file is the other plus appended bytes (records appended, or trailing records removed),
 * tallies only the appended bytes and the shorter file's last record, which they may continue when it lacks a final
 * newline. Returns false, having tallied nothing, when neither file is a prefix of the other.
 */
async function diffAppend(
  src: ObjectSource,
  tally: RecordTally,
  format: RecordFormat,
  oldFile: FileRef,
  newFile: FileRef,
  shared: number,
): Promise<boolean> {
  const grew = oldFile.size <= newFile.size;
  const [shorter, longer] = grew ? [oldFile, newFile] : [newFile, oldFile];
  const append = await matchAppend(src, shorter, longer, TAIL_KEEP, shared);
  if (append === undefined) return false;
  const last = await lastRecordOf(src, shorter, append.prefixTail, format);
  const shortSide = last ? once(last.bytes) : empty();
  const longSide = last ? prepend(last.bytes, append.appended) : append.appended;
  // A side that starts at byte 0 starts with the CSV header.
  const withHeader = last ? last.start === 0 : shorter.size === 0;
  if (grew) await tally.run(shortSide, longSide, withHeader);
  else await tally.run(longSide, shortSide, withHeader);
  return true;
}

/** Counts records of two streams into one map (+1 new, -1 old), dropping keys whose count returns to zero. */
class RecordTally {
  /** Records met on both sides' way that have not cancelled yet: +n more new copies, -n more old ones. */
  private readonly counts = new Map<string, number>();
  /**
   * Records of one side met once the other side was read to its end, and not in `counts`: nothing can cancel them
   * any more, so only their total and the ones that may be listed are kept. This makes a file added whole, or a
   * large append, cost memory by `maxDistinct`, not by its records.
   */
  private readonly final: Record<1 | -1, SmallestDistinct>;
  private oldHeader: Buffer | undefined;
  private newHeader: Buffer | undefined;

  constructor(
    private readonly format: RecordFormat,
    private readonly path: string,
    private readonly maxDistinct = Infinity,
    private readonly maxPending = MAX_PENDING_RECORDS,
  ) {
    const tooMany = () => tooManyRecords(path, maxPending);
    this.final = { [+1]: new SmallestDistinct(maxDistinct, tooMany, maxPending), [-1]: new SmallestDistinct(maxDistinct, tooMany, maxPending) };
  }

  /**
   * `withHeader`: both streams start at their file's first byte, so a CSV's first record is its header.
   * `sharedEnd`: the bytes both files go on with after these streams, to the end (the identical trailing chunks).
   */
  async run(
    oldBytes: AsyncIterable<Buffer>,
    newBytes: AsyncIterable<Buffer>,
    withHeader: boolean,
    sharedEnd?: () => AsyncGenerator<Buffer>,
  ): Promise<void> {
    const oldSide = new Side(oldBytes, new RecordSplitter(this.format, { skipHeader: withHeader }), -1, !sharedEnd);
    const newSide = new Side(newBytes, new RecordSplitter(this.format, { skipHeader: withHeader }), +1, !sharedEnd);
    try {
      // Reading both sides at the same byte pace keeps records common to both close in time, so they cancel early.
      while (!oldSide.done || !newSide.done) {
        const side = oldSide.done ? newSide : newSide.done ? oldSide : oldSide.pos <= newSide.pos ? oldSide : newSide;
        const records = await side.step();
        this.add(records, side.sign, (side === oldSide ? newSide : oldSide).done && !sharedEnd);
      }
    } finally {
      await oldSide.close();
      await newSide.close();
    }
    if (sharedEnd) await this.runSharedEnd(oldSide.splitter, newSide.splitter, sharedEnd());
    if (withHeader) {
      this.oldHeader = oldSide.splitter.header;
      this.newHeader = newSide.splitter.header;
    }
  }

  /**
   * Feeds the bytes both files end with to both splitters, a line at a time, until both stand at a record start in
   * the same state: from there every record is the same on both sides and cancels, so nothing more is read. When
   * their CSV quote states differ, no such point comes (the shared bytes toggle both alike), so all is read.
   */
  private async runSharedEnd(oldSplitter: RecordSplitter, newSplitter: RecordSplitter, bytes: AsyncGenerator<Buffer>): Promise<void> {
    const byLine = oldSplitter.inQuotedField === newSplitter.inQuotedField;
    try {
      while (!oldSplitter.atSameRecordStartAs(newSplitter)) {
        const r = await bytes.next();
        if (r.done) {
          this.add(oldSplitter.finish(), -1);
          this.add(newSplitter.finish(), +1);
          return;
        }
        for (let piece = r.value; piece.length > 0; ) {
          const lf = byLine ? piece.indexOf(LF) : -1;
          const line = lf < 0 ? piece : piece.subarray(0, lf + 1);
          this.add(oldSplitter.push(line), -1);
          this.add(newSplitter.push(line), +1);
          piece = piece.subarray(line.length);
          if (byLine && oldSplitter.atSameRecordStartAs(newSplitter)) return;
        }
      }
    } finally {
      await bytes.return(undefined);
    }
  }

  result(bytesRead: number): RowDiff {
    const added: [string, number][] = [...this.final[+1].entries()];
    const removed: [string, number][] = [...this.final[-1].entries()];
    let addedCount = this.final[+1].total;
    let removedCount = this.final[-1].total;
    for (const [key, n] of this.counts) {
      if (n > 0) {
        added.push([key, n]);
        addedCount += n;
      } else {
        removed.push([key, -n]);
        removedCount -= n;
      }
    }
    const sameHeader =
      this.oldHeader === undefined
        ? this.newHeader === undefined
        : this.newHeader !== undefined && this.oldHeader.equals(this.newHeader);
    const headerChanged = sameHeader
      ? undefined
      : { old: this.oldHeader?.toString('utf8'), new: this.newHeader?.toString('utf8') };
    return {
      path: this.path,
      format: this.format,
      added: present(added, this.maxDistinct),
      removed: present(removed, this.maxDistinct),
      addedCount,
      removedCount,
      ...(headerChanged ? { headerChanged } : {}),
      bytesRead,
    };
  }

  /** `otherSideDone`: the other side has no records left to meet, so a record that does not cancel now never will. */
  private add(records: Buffer[], sign: number, otherSideDone = false): void {
    for (const r of records) {
      if (r.length === 0) continue;
      // latin1 maps each byte to one code unit: a lossless key, and string order is byte order.
      const key = r.toString('latin1');
      const had = this.counts.get(key);
      if (had === undefined && otherSideDone) {
        this.final[sign as 1 | -1].add(key);
        continue;
      }
      const n = (had ?? 0) + sign;
      if (n === 0) this.counts.delete(key);
      else this.counts.set(key, n);
      if (this.counts.size > this.maxPending) throw tooManyRecords(this.path, this.maxPending);
    }
  }
}

/**
 * Records that cannot cancel on both sides of a diff at once before one side ends; past this many, a row diff
 * stops with FailedPreconditionError rather than hold them all (hundreds of MiB) or overflow a Map (2^24 keys).
 */
const MAX_PENDING_RECORDS = 2_000_000;

/** A refusal (exit 2), not an unavailable service: the same diff would be refused again. */
function tooManyRecords(path: string, limit: number): FailedPreconditionError {
  return new FailedPreconditionError(`${quotePath(path)}: more than ${limit.toLocaleString('en-US')} different records differ, too many to diff by rows; diff without --rows`, { path });
}

/**
 * The count of records added, and of each distinct record among the `keep` smallest (in byte order, as `present`
 * lists them), in memory bounded by `keep`: a record larger than `keep` others already met can never be listed.
 */
class SmallestDistinct {
  total = 0;
  private readonly counts = new Map<string, number>();
  /** Records above this are not kept; it only ever falls. */
  private bound: string | undefined;

  constructor(
    private readonly keep: number,
    private readonly tooMany: () => Error,
    private readonly limit: number,
  ) {}

  add(key: string): void {
    this.total++;
    if (this.keep <= 0 || (this.bound !== undefined && key > this.bound)) return;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    if (this.counts.size > Math.max(2 * this.keep, 1024)) {
      const kept = [...this.counts.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).slice(0, this.keep);
      this.bound = kept[kept.length - 1];
      for (const k of this.counts.keys()) if (k > this.bound) this.counts.delete(k);
    }
    // Trimmed, it holds at most 2 * keep (or 1024); past that and the limit, the trimming has failed (a list asked
    // for without end holds what it asked for).
    if (this.counts.size > Math.max(2 * this.keep, 1024, this.limit)) throw this.tooMany();
  }

  entries(): IterableIterator<[string, number]> {
    return this.counts.entries();
  }
}

class Side {
  pos = 0;
  done = false;
  private readonly it: AsyncIterator<Buffer>;

  /** `endsStream`: the bytes are the rest of the file, so their end finishes the last record. */
  constructor(
    bytes: AsyncIterable<Buffer>,
    readonly splitter: RecordSplitter,
    readonly sign: number,
    private readonly endsStream = true,
  ) {
    this.it = bytes[Symbol.asyncIterator]();
  }

  async step(): Promise<Buffer[]> {
    const r = await this.it.next();
    if (r.done) {
      this.done = true;
      return this.endsStream ? this.splitter.finish() : [];
    }
    this.pos += r.value.length;
    return this.splitter.push(r.value);
  }

  async close(): Promise<void> {
    if (!this.done) await this.it.return?.();
  }
}

function present(entries: [string, number][], maxDistinct: number): RecordCount[] {
  entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const capped = entries.length > maxDistinct ? entries.slice(0, Math.max(0, maxDistinct)) : entries;
  return capped.map(([key, count]) => ({ record: Buffer.from(key, 'latin1').toString('utf8'), count }));
}

/** An ObjectSource that adds up the bytes of every object it fetches. */
class CountingSource implements ObjectSource {
  bytesRead = 0;
  constructor(private readonly inner: ObjectSource) {}
  async get(id: ObjectId): Promise<Buffer> {
    const bytes = await this.inner.get(id);
    this.bytesRead += bytes.length;
    return bytes;
  }
}

/** `file` is `prefix` plus appended bytes. */
export interface AppendMatch {
  /** `file`'s bytes from `prefix.size` to its end. Consume it, or close it with `return()`. */
  readonly appended: AsyncGenerator<Buffer>;
  /**
   * The last bytes of `prefix` (up to the `keepTail` asked for, possibly fewer, possibly none when whole chunks
   * matched), ending at its end.
   */
  readonly prefixTail: Buffer;
}

/**
 * Whether `prefix`'s bytes are a prefix of `file`'s. Compares whole leading chunks by id first (commonPrefix), then
 * the remaining bytes of `prefix` (for an append, its last chunk or two) against `file`'s, stopping at the first
 * difference; `sharedBytes`, when given, is that commonPrefix result, already known. Returns undefined when `prefix`
 * is not a prefix; else `file`'s appended bytes as a stream that continues the read already under way. Throws
 * IntegrityError when a file yields fewer bytes than its size.
 */
export async function matchAppend(
  src: ObjectSource,
  prefix: FileRef,
  file: FileRef,
  keepTail: number,
  sharedBytes?: number,
): Promise<AppendMatch | undefined> {
  if (prefix.size > file.size) return undefined;
  const shared = sharedBytes ?? (await commonPrefix(src, prefix, file)).bytes;
  const start = Math.min(shared, prefix.size);
  const a = readFileBytes(src, prefix, start);
  const f = readFileBytes(src, file, start);
  const tail: Buffer[] = [];
  let tailBytes = 0;
  let aBuf: Buffer = Buffer.alloc(0);
  let fBuf: Buffer = Buffer.alloc(0);
  let left = prefix.size - start;
  try {
    while (left > 0) {
      if (aBuf.length === 0) aBuf = await nextOrThrow(a, prefix);
      if (fBuf.length === 0) fBuf = await nextOrThrow(f, file);
      const n = Math.min(aBuf.length, fBuf.length, left);
      const piece = aBuf.subarray(0, n);
      if (!piece.equals(fBuf.subarray(0, n))) {
        await f.return(undefined);
        return undefined;
      }
      tail.push(piece);
      tailBytes += n;
      while (tail.length > 1 && tailBytes - tail[0].length >= keepTail) tailBytes -= tail.shift()!.length;
      aBuf = aBuf.subarray(n);
      fBuf = fBuf.subarray(n);
      left -= n;
    }
  } catch (e) {
    await f.return(undefined);
    throw e;
  } finally {
    await a.return(undefined);
  }
  let prefixTail = Buffer.concat(tail, tailBytes);
  if (prefixTail.length > keepTail) prefixTail = prefixTail.subarray(prefixTail.length - keepTail);
  return { appended: prepend(fBuf, f), prefixTail };
}

async function nextOrThrow(it: AsyncGenerator<Buffer>, file: FileRef): Promise<Buffer> {
  const r = await it.next();
  if (r.done) throw new IntegrityError(`file ${file.id} is shorter than its size ${file.size}`, { id: file.id });
  return r.value;
}

/**
 * The last record of `file` when the file does not end with `\n` (its start offset and bytes), or undefined when the
 * file is empty or ends with `\n`. `tail` holds bytes ending at the file's end; more are read backwards only when the
 * last record reaches past it, so memory follows the last record's length.
 */
export async function lastRecordOf(
  src: ObjectSource,
  file: FileRef,
  tail: Buffer,
  format: RecordFormat,
): Promise<{ start: number; bytes: Buffer } | undefined> {
  if (file.size === 0) return undefined;
  let window = tail;
  if (window.length === 0) window = await readRange(src, file, Math.max(0, file.size - 64 * 1024), file.size);
  if (window[window.length - 1] === 0x0a) return undefined;
  for (;;) {
    const windowStart = file.size - window.length;
    const at = lastRecordStart(window, format);
    if (at >= 0) return { start: windowStart + at, bytes: window.subarray(at) };
    if (windowStart === 0) return { start: 0, bytes: window };
    const from = Math.max(0, file.size - Math.max(64 * 1024, 2 * window.length));
    window = Buffer.concat([await readRange(src, file, from, windowStart), window]);
  }
}

/** `file`'s bytes in [from, to). */
async function readRange(src: ObjectSource, file: FileRef, from: number, to: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const b of readFileBytes(src, file, from, to)) parts.push(b);
  return Buffer.concat(parts, to - from);
}

/** `head`, then `rest`; closing the result early also closes `rest`. */
async function* prepend(head: Buffer, rest: AsyncGenerator<Buffer>): AsyncGenerator<Buffer> {
  try {
    if (head.length > 0) yield head;
    yield* rest;
  } finally {
    await rest.return(undefined);
  }
}

async function* once(b: Buffer): AsyncGenerator<Buffer> {
  yield b;
}

async function* empty(): AsyncGenerator<Buffer> {}
