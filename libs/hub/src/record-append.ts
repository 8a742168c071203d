import {
  appendToFile,
  byteAt,
  countQuotes,
  CR,
  FileRef,
  insertIntoFile,
  lastByte,
  LF,
  matchAppend,
  ObjectSink,
  ObjectSource,
  readCsvHeader,
  readFileBytes,
  recordFormatOf,
  spliceFile,
  writeFileContent,
} from '@tributary/core';

/**
 * The shared layout of a `.csv` / `.jsonl` file on the hub's main: the header, then one block per topic that has
 * the file, in topic order (by UTF-16 code unit, as `<` compares strings).
 * - A topic's block is its last-merged version of the file without the header, plus one `\n` when that version
 *   has records but lacks a final newline; so every block ends with a newline and a topic's new records always go
 *   right after its own block.
 * - CSV: the header is one record, equal in every topic's version; its bytes (which may differ in the terminator,
 *   `\n` or `\r\n`) are those of the first topic whose version has a terminated header. JSONL: no header.
 * The file is then a function of the set of last-merged versions, whatever order they arrived in.
 */
export interface TopicBlocks {
  /** Total size of the blocks of topics before the merged one. */
  readonly before: number;
  /** Total size of the blocks of topics after the merged one. */
  readonly after: number;
  /** Whether a topic before the merged one has a version with a terminated CSV header (whose bytes then stay). */
  readonly headerBefore: boolean;
}

/** What a topic's version of a record file puts into the shared layout. */
export interface RecordBlock {
  /** The size of the topic's block (see TopicBlocks); 0 for no file. */
  readonly size: number;
  /** CSV: whether the version has a terminated header. */
  readonly header: boolean;
  /** Whether the version holds anything (a header or records): only an absent or empty one holds nothing. */
  readonly held: boolean;
}

/** A topic's block for its version of a record file. Reads the file's first chunk (CSV) and its last chunk. */
export async function recordBlock(src: ObjectSource, path: string, file: FileRef | undefined): Promise<RecordBlock> {
  const format = recordFormatOf(path);
  if (!format || !file || file.size === 0) return { size: 0, header: false, held: false };
  // A header past readCsvHeader's bound counts as records: such a version only ever gets in taken whole.
  const header = format === 'csv' ? await readCsvHeader(src, file) : undefined;
  const body = file.size - (header?.end ?? 0);
  const terminated = header !== undefined && header.end > header.record.length;
  if (body === 0) return { size: 0, header: terminated, held: true };
  return { size: (await lastByte(src, file)) === LF ? body : body + 1, header: terminated, held: true };
}

/**
 * The shared-layout merge of one `.csv` / `.jsonl` file: `theirs` (a topic's new version) must be `base` (that
 * topic's version last merged; undefined or empty when the topic never had the file) plus whole records, and those
 * new records go into `ours` (the hub's version) at the end of the topic's block, given the sizes of the other
 * topics' blocks (`blocks`). A CSV's header is kept once: when base is empty, theirs' header must equal ours'.
 * Inserts with insertIntoFile (appendToFile for the last topic's block): cost follows the new records, plus a few
 * chunks.
 *
 * When ours does not add up to its header plus the blocks, or the topic's block would not end a line there (a main
 * written by a hub that appended records in arrival order, or edited by hand), the records are appended at the
 * end, as that hub did: nothing is lost and the order of what is already there is kept.
 *
 * Returns undefined, meaning a conflict, when the path is not a record file, theirs is not base plus whole records
 * (it rewrote or truncated something, extended base's unterminated last record, or leaves a quoted CSV field open),
 * or the CSV headers differ.
 */
export async function insertRegionalRecords(
  src: ObjectSource,
  sink: ObjectSink,
  path: string,
  base: FileRef | undefined,
  ours: FileRef,
  theirs: FileRef,
  blocks: TopicBlocks,
): Promise<FileRef | undefined> {
  const format = recordFormatOf(path);
  if (!format) return undefined;
  // An empty version holds no header and no records: nothing of it goes into the layout.
  if (theirs.size === 0 && (!base || base.size === 0)) return ours;
  const theirsHeader = format === 'csv' ? await readCsvHeader(src, theirs) : undefined;
  const oursHeader = format === 'csv' && ours.size > 0 ? await readCsvHeader(src, ours) : undefined;
  if (format === 'csv' && (!theirsHeader || (ours.size > 0 && !oursHeader))) return undefined;
  let skip: number | undefined;
  if (!base || base.size === 0) {
    if (!theirsHeader) skip = 0;
    else {
      if (oursHeader && !oursHeader.record.equals(theirsHeader.record)) return undefined;
      skip = oursHeader ? theirsHeader.end : 0;
    }
  } else {
    skip = await newRecordsStart(src, base, theirs);
    if (skip === undefined) return undefined;
  }

  const own = (await recordBlock(src, path, base)).size;
  const headerEnd = oursHeader?.end ?? 0;
  const blockEnd = headerEnd + blocks.before + own;
  // The sizes adding up is necessary, not sufficient: a main whose records arrived in another order can add up too,
  // so the block's end must also end a line, or records would be cut in two.
  const laidOut =
    headerEnd + blocks.before + own + blocks.after === ours.size &&
    (blockEnd === 0 || blockEnd === ours.size || (await byteAt(src, ours, blockEnd - 1)) === LF);
  const theirsEndsLine = (await lastByte(src, theirs)) === LF;
  // The new block is base's records + theirs[base.size..] + (`\n` if theirs lacks one). When base lacks a final
  // newline its block ends with the added `\n`, which then stays last: the bytes go in just before it.
  const beforeAddedNewline = laidOut && own > 0 && base !== undefined && (await lastByte(src, base)) !== LF;
  let at: number;
  let from: number;
  let to = theirs.size;
  let newline = !theirsEndsLine;
  if (beforeAddedNewline) {
    at = blockEnd - 1;
    from = base!.size;
    if (newline) newline = false;
    else to--;
  } else {
    at = laidOut ? blockEnd : ours.size;
    from = skip;
    // Bytes from 0 start with theirs' header: a version that is only an unterminated header has no records, so no
    // newline either (normaliseRecordFile leaves it so too), or the result would depend on who came first.
    newline &&= to > (from === 0 && theirsHeader ? theirsHeader.end : from);
  }
  // This topic's header bytes take over when no topic before it has a terminated header, or the hub's has none.
  const replaceHeader =
    laidOut && oursHeader !== undefined && theirsHeader !== undefined && theirsHeader.end > theirsHeader.record.length &&
    oursHeader.record.equals(theirsHeader.record) && oursHeader.end !== theirsHeader.end &&
    (!blocks.headerBefore || oursHeader.end === oursHeader.record.length);
  if (to <= from && !newline && !replaceHeader) return ours;
  // Only a file that is one unterminated header lacks a final newline in the layout; a new header brings one.
  const needsNewline = !replaceHeader && at === ours.size && ours.size > 0 && (await lastByte(src, ours)) !== LF;
  let quotes = 0;
  const inserted = (async function* () {
    if (needsNewline) yield Buffer.from('\n');
    let left = to - from;
    for await (const b of left > 0 ? readFileBytes(src, theirs, from) : []) {
      const part = b.length > left ? b.subarray(0, left) : b;
      left -= part.length;
      if (format === 'csv') quotes += countQuotes(part);
      if (part.length > 0) yield part;
      if (left === 0) break;
    }
    if (newline) yield Buffer.from('\n');
  })();
  let merged = ours;
  if (to > from || newline || needsNewline) {
    merged = at === ours.size ? await appendToFile(src, sink, ours, inserted) : await insertIntoFile(src, sink, ours, at, inserted);
  }
  if (replaceHeader) merged = await spliceFile(src, sink, merged, 0, oursHeader!.end, [theirsHeader!.bytes]);
  // Checked after the write (its objects are then merely unreferenced) so the new records are read only once.
  if (format === 'csv' && quotes % 2 !== 0) return undefined;
  return merged;
}

/**
 * A topic's new version of a record file taken whole (the hub had none, or had exactly the topic's last version),
 * made to fit the shared layout: one `\n` added when it has records but lacks a final newline.
 */
export async function normaliseRecordFile(src: ObjectSource, sink: ObjectSink, path: string, file: FileRef): Promise<FileRef> {
  const format = recordFormatOf(path);
  if (!format || file.size === 0 || (await lastByte(src, file)) === LF) return file;
  if (format === 'csv' && (await readCsvHeader(src, file))?.end === file.size) return file;
  return appendToFile(src, sink, file, [Buffer.from('\n')]);
}

/**
 * Whether a CSV version the tree merge takes whole leaves a quoted field open at its end, so that whatever follows
 * it on main (another topic's block) would be read as part of its last field. Reads only what theirs appended to
 * base when it extends base (base was checked when it was merged), the whole version otherwise, or when the
 * appended bytes alone leave a quote open (a base merged before this check).
 */
export async function leavesQuoteOpen(src: ObjectSource, path: string, base: FileRef | undefined, theirs: FileRef): Promise<boolean> {
  if (recordFormatOf(path) !== 'csv' || theirs.size === 0) return false;
  const match = base && base.size > 0 ? await matchAppend(src, base, theirs, 0) : undefined;
  if (match && (await oddQuotes(match.appended)) === false) return false;
  return oddQuotes(readFileBytes(src, theirs));
}

async function oddQuotes(bytes: AsyncIterable<Buffer>): Promise<boolean> {
  let quotes = 0;
  for await (const b of bytes) quotes += countQuotes(b);
  return quotes % 2 !== 0;
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

/**
 * The shared layout of a record file made from scratch out of the topics' versions, given in topic order: the
 * header (the bytes of the first terminated one), then each version's block. For a file one topic leaves while
 * others keep it. Reads every version whole; undefined (a conflict) when the CSV headers differ or one is too long.
 */
export async function layRecordFile(src: ObjectSource, sink: ObjectSink, path: string, versions: readonly FileRef[]): Promise<FileRef | undefined> {
  const format = recordFormatOf(path);
  if (!format) return undefined;
  const present = versions.filter((v) => v.size > 0);
  if (present.length <= 1) return normaliseRecordFile(src, sink, path, present[0] ?? versions[0]);
  const headers = format === 'csv' ? await Promise.all(present.map((v) => readCsvHeader(src, v))) : undefined;
  if (headers && headers.some((h) => !h || !h.record.equals(headers[0]!.record))) return undefined;
  const terminated = headers?.find((h) => h!.end > h!.record.length);
  const header = terminated ?? headers?.[0];
  const parts = (async function* () {
    if (header) yield header.bytes;
    for (const [i, v] of present.entries()) {
      const from = headers?.[i]!.end ?? 0;
      if (from >= v.size) continue;
      yield* readFileBytes(src, v, from);
      if ((await lastByte(src, v)) !== LF) yield Buffer.from('\n');
    }
  })();
  return writeFileContent(sink, parts);
}
