import { readFileBytes } from '../objects/file-content';
import { ObjectSource } from '../objects/object-source';
import { FileRef } from '../objects/object-types';
import { CR, LF, QUOTE, RecordSplitter } from './record-splitter';

/** A CSV header longer than this is no header a merge can line files up by (an unclosed quote, say). */
export const MAX_CSV_HEADER_BYTES = 1 << 20;

/**
 * The first record of a CSV file (its header), the offset just after its terminator, and the file's bytes up to
 * there. Reads only the chunks the header spans; undefined when the header runs past MAX_CSV_HEADER_BYTES, so
 * memory stays bounded whatever the file holds.
 */
export async function readCsvHeader(src: ObjectSource, file: FileRef): Promise<{ record: Buffer; end: number; bytes: Buffer } | undefined> {
  const splitter = new RecordSplitter('csv');
  const seen: Buffer[] = [];
  let seenBytes = 0;
  const it = readFileBytes(src, file);
  try {
    for (;;) {
      const r = await it.next();
      const records = r.done ? splitter.finish() : splitter.push(r.value);
      if (records.length > 0 || r.done) {
        if (!r.done) seen.push(r.value);
        break;
      }
      seen.push(r.value);
      seenBytes += r.value.length;
      if (seenBytes > MAX_CSV_HEADER_BYTES) return undefined;
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
  return { record: header, end, bytes: raw.subarray(0, end) };
}

/** The byte of `file` at `offset`, reading one chunk; undefined past the end of the bytes stored. */
export async function byteAt(src: ObjectSource, file: FileRef, offset: number): Promise<number | undefined> {
  const it = readFileBytes(src, file, offset);
  try {
    const r = await it.next();
    return r.done || r.value.length === 0 ? undefined : r.value[0];
  } finally {
    await it.return(undefined);
  }
}

/** The last byte of `file`; undefined for an empty file. */
export async function lastByte(src: ObjectSource, file: FileRef): Promise<number | undefined> {
  return file.size === 0 ? undefined : byteAt(src, file, file.size - 1);
}

/** The number of `"` in `b`: appended CSV bytes with an odd count leave a quoted field open. */
export function countQuotes(b: Buffer): number {
  let n = 0;
  for (let p = b.indexOf(QUOTE); p >= 0; p = b.indexOf(QUOTE, p + 1)) n++;
  return n;
}
