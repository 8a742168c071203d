import { Chunker } from '../chunking/fastcdc';
import { IntegrityError } from '../errors/trib-error';
import { ChunkListBuilder, decodeChunkList } from './chunk-list.codec';
import { PositionedChunkRef, writeFileContent } from './file-content';
import { ObjectSink, ObjectSource } from './object-source';
import { ChunkRef, FileRef } from './object-types';

/** A chunk-list builder holding every chunk of a file but its last, and that last chunk. */
export interface ResumedFile {
  readonly builder: ChunkListBuilder;
  /** Undefined for an empty file. */
  readonly last?: PositionedChunkRef;
}

/**
 * The ChunkListBuilder state after adding every chunk of `file` except the last, rebuilt from the file's right spine
 * alone: one node read per level, no chunk read. The open node at each level of that state is the spine node at
 * that level without its last child, because only the spine nodes were still open when the last chunk arrived.
 * Throws IntegrityError when a spine node disagrees with its parent (level, size) or the tree is not canonical.
 */
export async function resumeBeforeLastChunk(src: ObjectSource, sink: ObjectSink, file: FileRef): Promise<ResumedFile> {
  if (file.size === 0) return { builder: new ChunkListBuilder(sink) };
  if (!file.chunked) return { builder: new ChunkListBuilder(sink), last: { id: file.id, size: file.size, offset: 0 } };
  const open: ChunkRef[][] = [];
  let ref: ChunkRef = { id: file.id, size: file.size };
  let expectedLevel: number | undefined;
  for (;;) {
    const node = decodeChunkList(await src.get(ref.id), ref.id);
    const total = node.children.reduce((s, c) => s + c.size, 0);
    if ((expectedLevel !== undefined && node.level !== expectedLevel) || total !== ref.size) {
      throw new IntegrityError(`chunk list ${ref.id} does not match its parent (level ${node.level}, ${total} bytes)`, { id: ref.id });
    }
    if (expectedLevel === undefined && node.children.length < 2) {
      throw new IntegrityError(`file ${file.id} is not a canonical chunk list: its root has one child`, { id: file.id });
    }
    open[node.level] = node.children.slice(0, -1);
    ref = node.children[node.children.length - 1];
    if (node.level === 0) break;
    expectedLevel = node.level - 1;
  }
  let builder: ChunkListBuilder;
  try {
    builder = ChunkListBuilder.resume(sink, open);
  } catch (e) {
    throw new IntegrityError(`file ${file.id} is not a canonical chunk list`, { id: file.id }, { cause: e });
  }
  return { builder, last: { id: ref.id, size: ref.size, offset: file.size - ref.size } };
}

/**
 * Appends bytes to a stored file and returns the new file's FileRef: exactly what `writeFileContent` gives for the
 * old bytes followed by the appended ones (ids stay canonical), at the cost of the appended bytes plus one chunk
 * and one chunk-list path. Content-defined cuts depend only on the bytes since the chunk's start, so every old chunk
 * before the last one stays; only the old last chunk is read back and chunked again with the new bytes.
 * Throws IntegrityError when the old file's objects are damaged or not canonical, NotFoundError when missing.
 */
export async function appendToFile(
  src: ObjectSource,
  sink: ObjectSink,
  old: FileRef,
  bytes: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
): Promise<FileRef> {
  if (old.size === 0) return writeFileContent(sink, bytes);
  const { builder, last } = await resumeBeforeLastChunk(src, sink, old);
  const tail = await src.get(last!.id);
  if (tail.length !== last!.size) {
    throw new IntegrityError(`chunk ${last!.id} has ${tail.length} bytes, its file says ${last!.size}`, { id: last!.id });
  }
  const chunker = new Chunker();
  const store = async (chunk: Buffer) => builder.add({ id: await sink.put(chunk), size: chunk.length });
  for (const chunk of chunker.push(tail)) await store(chunk);
  for await (const block of bytes) for (const chunk of chunker.push(block)) await store(chunk);
  for (const chunk of chunker.finish()) await store(chunk);
  return builder.finish();
}
