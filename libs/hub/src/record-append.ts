import {
  appendToFile,
  FileRef,
  matchAppend,
  ObjectSink,
  ObjectSource,
  readFileBytes,
  RecordFormat,
  recordFormatOf,
  RecordSplitter,
} from '@tributary/core';

const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;

/**
 * The shared-layout merge of one `.csv` / `.jsonl` file: `theirs` (a region's new version) must be `base` (that
 * region's version last merged; undefined or empty when the region never had the file) plus whole records, and
 * those new records are appended to `ours` (the hub's version, which also holds other regions' records, so it need
 * not extend `base`). A CSV's header is kept once: when base is empty, theirs' header must equal ours'. One `\n` is
 * inserted when ours lacks a final newline. Appends with appendToFile: cost follows the new records, plus one chunk.
 *
 * Returns undefined, meaning a conflict, when the path is not a record file, theirs is not base plus whole records
 * (it rewrote or truncated something, extended base's unterminated last record, or leaves a quoted CSV field open),
 * or the CSV headers differ.
 */
export async function appendRegionalRecords(
  src: ObjectSource,
  sink: ObjectSink,
  path: string,
  base: FileRef | undefined,
  ours: FileRef,
  theirs: FileRef,
): Promise<FileRef | undefined> {
  const format = recordFormatOf(path);
  if (!format) return undefined;
  let skip: number | undefined;
  if (!base || base.size === 0) {
    if (format === 'jsonl') skip = 0;
    else {
      const theirsHeader = await readHeader(src, theirs);
      if (ours.size > 0 && !(await readHeader(src, ours)).record.equals(theirsHeader.record)) return undefined;
      skip = ours.size > 0 ? theirsHeader.end : 0;
    }
  } else {
    skip = await newRecordsStart(src, base, theirs);
    if (skip === undefined) return undefined;
  }
  if (skip >= theirs.size) return ours;
  const needsNewline = ours.size > 0 && (await lastByte(src, ours)) !== LF;
  let quotes = 0;
  const appended = (async function* () {
    if (needsNewline) yield Buffer.from('\n');
    for await (const b of readFileBytes(src, theirs, skip)) {
      if (format === 'csv') quotes += countQuotes(b);
      yield b;
    }
  })();
  const merged = await appendToFile(src, sink, ours, appended);
  // Checked after the write (its objects are then merely unreferenced) so the new records are read only once.
  if (format === 'csv' && quotes % 2 !== 0) return undefined;
  return merged;
}

/**
 * Where theirs' new records start, given that it must extend base: base's size, plus the newline that ends base's
 * last record when base lacks one. Undefined when theirs does not extend base that way.
 */
async function newRecordsStart(src: ObjectSource, base: FileRef, theirs: FileRef): Promise<number | undefined> {
  const match = await matchAppend(src, base, theirs, 1);
  if (match === undefined) return undefined;
  const tail = match.prefixTail;
  const baseLast = tail.length > 0 ? tail[tail.length - 1] : await lastByte(src, base);
  const head: number[] = [];
  try {
    while (head.length < 2) {
      const r = await match.appended.next();
      if (r.done) break;
      for (let i = 0; i < r.value.length && head.length < 2; i++) head.push(r.value[i]);
    }
  } finally {
    await match.appended.return(undefined);
  }
  if (baseLast === LF || head.length === 0) return base.size;
  if (head[0] === LF) return base.size + 1;
  if (head[0] === CR && head[1] === LF) return base.size + 2;
  return undefined;
}

/** The first record of a CSV file (its header) and the offset just after its terminator. */
async function readHeader(src: ObjectSource, file: FileRef): Promise<{ record: Buffer; end: number }> {
  const splitter = new RecordSplitter('csv' as RecordFormat);
  const seen: Buffer[] = [];
  const it = readFileBytes(src, file);
  try {
    for (;;) {
      const r = await it.next();
      const records = r.done ? splitter.finish() : splitter.push(r.value);
      if (!r.done) seen.push(r.value);
      if (records.length > 0 || r.done) break;
    }
  } finally {
    await it.return(undefined);
  }
  const header = splitter.header ?? Buffer.alloc(0);
  const raw = Buffer.concat(seen);
  // The splitter drops one `\r` before the `\n`: the raw bytes tell which terminator was there.
  let end = header.length;
  if (raw[end] === CR && raw[end + 1] === LF) end += 2;
  else if (raw[end] === LF) end += 1;
  return { record: header, end };
}

async function lastByte(src: ObjectSource, file: FileRef): Promise<number | undefined> {
  if (file.size === 0) return undefined;
  let last: number | undefined;
  for await (const b of readFileBytes(src, file, file.size - 1)) if (b.length > 0) last = b[b.length - 1];
  return last;
}

function countQuotes(b: Buffer): number {
  let n = 0;
  for (let p = b.indexOf(QUOTE); p >= 0; p = b.indexOf(QUOTE, p + 1)) n++;
  return n;
}
