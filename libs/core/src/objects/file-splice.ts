import { Chunker } from '../chunking/fastcdc';
import { IntegrityError, InvalidArgumentError } from '../errors/trib-error';
import { ChunkListBuilder, decodeChunkList } from './chunk-list.codec';
import { appendToFile } from './file-append';
import { readFileBytes } from './file-content';
import { ObjectSink, ObjectSource } from './object-source';
import { ChunkRef, FileRef } from './object-types';

/**
 * Inserts bytes at `offset` of a stored file and returns the new file's FileRef: exactly what `writeFileContent`
 * gives for old[0, offset) + inserted + old[offset, size) (ids stay canonical). At the end of the file this is
 * appendToFile.
 *
 * Cost: the inserted bytes plus a few old chunks, plus O(depth) chunk-list nodes on each side of the change.
 * Content-defined cuts depend only on the bytes since the chunk's start, so
 * - every chunk before the one holding `offset` stays, and the chunk-list builder resumes from the path to it;
 * - that chunk's start, the inserted bytes and the old bytes after them are chunked again until a new cut falls on
 *   an old chunk boundary: from there on the chunks are the old ones;
 * - those old chunks go back into the builder as whole chunk-list subtrees as soon as the builder's open nodes
 *   line up with the old tree's (ChunkListBuilder.addNode), one chunk ref at a time until then.
 * On data with no content-defined cuts (long runs of one byte, cut only at the maximum size) the new cuts may
 * never meet the old ones again; the result is still exact, at the cost of chunking the rest of the file.
 * Memory: one chunk-list path and the chunker's buffer.
 *
 * Throws InvalidArgumentError for an offset outside [0, size]; IntegrityError when the old file's objects are
 * damaged or not canonical, NotFoundError when missing.
 */
export async function insertIntoFile(
  src: ObjectSource,
  sink: ObjectSink,
  old: FileRef,
  offset: number,
  bytes: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
): Promise<FileRef> {
  if (!Number.isSafeInteger(offset) || offset < 0 || offset > old.size) {
    throw new InvalidArgumentError(`offset ${offset} is outside the file (${old.size} bytes)`);
  }
  if (offset === old.size) return appendToFile(src, sink, old, bytes);
  const { builder, chunkStart } = await resumeAtChunk(src, sink, old, offset);
  const chunker = new Chunker();
  // Positions in the new file: `emitted` ends the last chunk stored, `pushed` the last byte given to the chunker.
  let emitted = chunkStart;
  let pushed = chunkStart;
  const push = async (block: Uint8Array) => {
    pushed += block.length;
    for (const chunk of chunker.push(block)) {
      await builder.add({ id: await sink.put(chunk), size: chunk.length });
      emitted += chunk.length;
    }
  };

  const oldChunks = readFileBytes(src, old, chunkStart);
  let resumeAt: number | undefined;
  try {
    const first = await oldChunks.next();
    if (first.done) throw new IntegrityError(`file ${old.id} ends before its size says`, { id: old.id });
    await push(first.value.subarray(0, offset - chunkStart));
    let inserted = 0;
    for await (const block of bytes) {
      await push(block);
      inserted += block.length;
    }
    // Old chunk boundaries at or after the insertion, in the old file's positions: the chunk's start when the
    // insertion is there, then each old chunk's end.
    let oldPos = offset;
    let atBoundary = offset === chunkStart;
    let next: Buffer | undefined = first.value.subarray(offset - chunkStart);
    for (;;) {
      if (atBoundary && emitted === pushed) {
        resumeAt = oldPos;
        break;
      }
      if (next === undefined) {
        const r = await oldChunks.next();
        if (r.done) break;
        next = r.value;
      }
      await push(next);
      oldPos += next.length;
      next = undefined;
      atBoundary = true;
    }
    if (pushed - inserted !== (resumeAt ?? old.size)) throw new IntegrityError(`file ${old.id} does not match its size`, { id: old.id });
  } finally {
    await oldChunks.return(undefined);
  }
  for (const chunk of chunker.finish()) await builder.add({ id: await sink.put(chunk), size: chunk.length });
  if (resumeAt !== undefined && resumeAt < old.size) await addFileSuffix(src, builder, old, resumeAt);
  return builder.finish();
}

/**
 * A builder holding every chunk before the one that contains `offset` (0 <= offset < size), and that chunk's
 * start. Reads the path from the root to that chunk only: the open node at each level is the path's node there
 * without its children from the path's onwards (as resumeBeforeLastChunk does for the last chunk).
 */
async function resumeAtChunk(src: ObjectSource, sink: ObjectSink, file: FileRef, offset: number): Promise<{ builder: ChunkListBuilder; chunkStart: number }> {
  if (!file.chunked) return { builder: new ChunkListBuilder(sink), chunkStart: 0 };
  const open: ChunkRef[][] = [];
  let ref: ChunkRef = { id: file.id, size: file.size };
  let level: number | undefined;
  let start = 0;
  for (;;) {
    const node = await loadNode(src, ref, level);
    let j = 0;
    while (j < node.children.length - 1 && start + node.children[j].size <= offset) start += node.children[j++].size;
    open[node.level] = node.children.slice(0, j);
    ref = node.children[j];
    if (node.level === 0) break;
    level = node.level - 1;
  }
  while (open.length > 1 && open[open.length - 1].length === 0) open.pop();
  try {
    return { builder: ChunkListBuilder.resume(sink, open), chunkStart: start };
  } catch (e) {
    throw new IntegrityError(`file ${file.id} is not a canonical chunk list`, { id: file.id }, { cause: e });
  }
}

/**
 * Adds a stored file's chunks from `from` (one of its chunk boundaries, < size) to its end, leaving the builder as
 * adding each chunk would: whole chunk-list subtrees wherever the builder allows (ChunkListBuilder.addNode), else
 * the subtree opened, down to single chunks. Once the builder's open nodes end where the file's nodes end, the
 * rest costs one addNode per subtree on the file's right part, O(depth * 256), and no chunk is read.
 * Throws IntegrityError when `from` is not a chunk boundary or a node disagrees with its parent.
 */
export async function addFileSuffix(src: ObjectSource, builder: ChunkListBuilder, file: FileRef, from: number): Promise<void> {
  // Frames of siblings, from the root down; `level` is the siblings' level (-1: chunks).
  const stack: { children: readonly ChunkRef[]; level: number; i: number }[] = [];
  if (!file.chunked) {
    stack.push({ children: [{ id: file.id, size: file.size }], level: -1, i: 0 });
  } else {
    const root = await loadNode(src, { id: file.id, size: file.size }, undefined);
    stack.push({ children: root.children, level: root.level - 1, i: 0 });
  }
  const peek = () => {
    for (;;) {
      const top = stack[stack.length - 1];
      if (!top) return undefined;
      if (top.i < top.children.length) return { ref: top.children[top.i], level: top.level, frame: top };
      stack.pop();
    }
  };
  const open = async (item: { ref: ChunkRef; level: number; frame: { i: number } }) => {
    const node = await loadNode(src, item.ref, item.level);
    item.frame.i++;
    stack.push({ children: node.children, level: node.level - 1, i: 0 });
  };
  let pos = 0;
  // Seek: stop at the highest subtree that starts exactly at `from`.
  for (let item = peek(); item && pos < from; item = peek()) {
    if (pos + item.ref.size <= from) {
      pos += item.ref.size;
      item.frame.i++;
    } else if (item.level < 0) {
      throw new IntegrityError(`file ${file.id}: ${from} is not a chunk boundary`, { id: file.id });
    } else {
      await open(item);
    }
  }
  for (let item = peek(); item; item = peek()) {
    if (item.level < 0) {
      await builder.add(item.ref);
      item.frame.i++;
    } else if (await builder.addNode(item.level, item.ref)) {
      item.frame.i++;
    } else {
      await open(item);
    }
  }
}

/** Reads a chunk-list node and checks it against what its parent says: level (when known) and total size. */
async function loadNode(src: ObjectSource, ref: ChunkRef, level: number | undefined) {
  const node = decodeChunkList(await src.get(ref.id), ref.id);
  const total = node.children.reduce((s, c) => s + c.size, 0);
  if ((level !== undefined && node.level !== level) || total !== ref.size) {
    throw new IntegrityError(`chunk list ${ref.id} does not match its parent (level ${node.level}, ${total} bytes)`, { id: ref.id });
  }
  return node;
}
