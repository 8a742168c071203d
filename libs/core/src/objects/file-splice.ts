import { Chunker } from '../chunking/fastcdc';
import { IntegrityError, InvalidArgumentError } from '../errors/trib-error';
import { ChunkListBuilder, decodeChunkList } from './chunk-list.codec';
import { appendToFile } from './file-append';
import { PositionedChunkRef, readChunkRefs, writeFileContent } from './file-content';
import { ObjectSink, ObjectSource } from './object-source';
import { ChunkRef, FileRef } from './object-types';

/**
 * Inserts bytes at `offset` of a stored file and returns the new file's FileRef: exactly what `writeFileContent`
 * gives for old[0, offset) + inserted + old[offset, size) (ids stay canonical). spliceFile with nothing removed.
 */
export function insertIntoFile(
  src: ObjectSource,
  sink: ObjectSink,
  old: FileRef,
  offset: number,
  bytes: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
): Promise<FileRef> {
  return spliceFile(src, sink, old, offset, 0, bytes);
}

/**
 * Replaces `removeLength` bytes at `offset` of a stored file by `bytes` and returns the new file's FileRef: exactly
 * what `writeFileContent` gives for old[0, offset) + bytes + old[offset + removeLength, size) (ids stay canonical).
 * Inserting at the end is appendToFile.
 *
 * Cost: the inserted bytes plus a few old chunks, plus O(depth) chunk-list nodes on each side of the change; the
 * removed bytes are not read. Content-defined cuts depend only on the bytes since the chunk's start, so
 * - every chunk before the one holding `offset` stays, and the chunk-list builder resumes from the path to it;
 * - that chunk's start, the inserted bytes and the old bytes after the removed ones are chunked again until a new
 *   cut falls on an old chunk boundary: from there on the chunks are the old ones;
 * - those old chunks go back into the builder as whole chunk-list subtrees as soon as the builder's open nodes
 *   line up with the old tree's (addFileSuffix), one chunk ref at a time until then.
 * On data with no content-defined cuts (long runs of one byte, cut only at the maximum size) the new cuts may
 * never meet the old ones again; the result is still exact, at the cost of chunking the rest of the file.
 * Memory: one chunk-list path and the chunker's buffer.
 *
 * Throws InvalidArgumentError when [offset, offset + removeLength] is not inside [0, size]; IntegrityError when
 * the old file's objects are damaged or not canonical, NotFoundError when missing.
 */
export async function spliceFile(
  src: ObjectSource,
  sink: ObjectSink,
  old: FileRef,
  offset: number,
  removeLength: number,
  bytes: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
): Promise<FileRef> {
  const ok = (n: number) => Number.isSafeInteger(n) && n >= 0;
  if (!ok(offset) || !ok(removeLength) || offset + removeLength > old.size) {
    throw new InvalidArgumentError(`range ${offset}+${removeLength} is outside the file (${old.size} bytes)`);
  }
  if (offset === old.size) return appendToFile(src, sink, old, bytes);
  const { builder, chunk } = await resumeAtChunk(src, sink, old, offset);
  const chunker = new Chunker();
  // Positions in the new file: `emitted` ends the last chunk stored, `pushed` the last byte given to the chunker.
  let emitted = chunk.offset;
  let pushed = chunk.offset;
  const push = async (block: Uint8Array) => {
    pushed += block.length;
    for (const c of chunker.push(block)) {
      await builder.add({ id: await sink.put(c), size: c.length });
      emitted += c.length;
    }
  };
  if (offset > chunk.offset) await push((await getChunk(src, chunk)).subarray(0, offset - chunk.offset));
  for await (const block of bytes) await push(block);

  // The old chunks from the one holding the end of the removed bytes; the new cuts meet the old ones at the start
  // of a chunk when nothing is pending in the chunker there.
  const keepFrom = offset + removeLength;
  let resumeAt: number | undefined;
  for await (const ref of readChunkRefs(src, old, keepFrom)) {
    if (ref.offset >= keepFrom && emitted === pushed) {
      resumeAt = ref.offset;
      break;
    }
    const data = await getChunk(src, ref);
    await push(ref.offset < keepFrom ? data.subarray(keepFrom - ref.offset) : data);
  }
  for (const c of chunker.finish()) await builder.add({ id: await sink.put(c), size: c.length });
  if (resumeAt !== undefined) await addFileSuffix(src, builder, old, resumeAt);
  const file = await builder.finish();
  return file.size === 0 ? writeFileContent(sink, []) : file;
}

async function getChunk(src: ObjectSource, ref: PositionedChunkRef): Promise<Buffer> {
  const data = await src.get(ref.id);
  if (data.length !== ref.size) throw new IntegrityError(`chunk ${ref.id} has ${data.length} bytes, its file says ${ref.size}`, { id: ref.id });
  return data;
}

/**
 * A builder holding every chunk before the one that contains `offset` (0 <= offset < size), and that chunk. Reads
 * the path from the root to that chunk only: the open node at each level is the path's node there without its
 * children from the path's onwards (as resumeBeforeLastChunk does for the last chunk).
 */
async function resumeAtChunk(src: ObjectSource, sink: ObjectSink, file: FileRef, offset: number): Promise<{ builder: ChunkListBuilder; chunk: PositionedChunkRef }> {
  if (!file.chunked) return { builder: new ChunkListBuilder(sink), chunk: { id: file.id, size: file.size, offset: 0 } };
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
    return { builder: ChunkListBuilder.resume(sink, open), chunk: { ...ref, offset: start } };
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
