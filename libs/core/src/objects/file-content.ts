import { Chunker } from '../chunking/fastcdc';
import { IntegrityError, InvalidArgumentError, TribError } from '../errors/trib-error';
import { ObjectId } from '../ids/ids';
import { ChunkListBuilder, ChunkListNode, decodeChunkList } from './chunk-list.codec';
import { ObjectSink, ObjectSource } from './object-source';
import { ChunkRef, FileRef } from './object-types';

/** A chunk and where it starts in its file. */
export interface PositionedChunkRef extends ChunkRef {
  readonly offset: number;
}

/** What two files share at their start. */
export interface CommonPrefix {
  /** Length of the longest run of identical leading chunks, in bytes. */
  readonly bytes: number;
  /** The first chunk of each file past that run; undefined where the file ends there. */
  readonly nextA?: ChunkRef;
  readonly nextB?: ChunkRef;
}

/** Reads a chunk-list node and checks it against what its parent says: level and total size. */
async function loadNode(src: ObjectSource, ref: ChunkRef, level: number | undefined): Promise<ChunkListNode> {
  const node = decodeChunkList(await src.get(ref.id), ref.id);
  let total = 0;
  for (const c of node.children) total += c.size;
  if ((level !== undefined && node.level !== level) || total !== ref.size) {
    throw new IntegrityError(`chunk list ${ref.id} does not match its parent (level ${node.level}, ${total} bytes)`, {
      id: ref.id,
    });
  }
  return node;
}

/**
 * A depth-first position in a file's tree, walking it from the start or (`fromEnd`) from the end. Frames hold one
 * node's children; level -1 children are chunks.
 */
class TreeCursor {
  private readonly stack: { children: readonly ChunkRef[]; level: number; i: number }[];
  private readonly step: 1 | -1;

  constructor(private readonly src: ObjectSource, file: FileRef, fromEnd = false) {
    const root = { id: file.id, size: file.size };
    this.step = fromEnd ? -1 : 1;
    // A chunked root's level is unknown until read; Infinity sorts it above any known level.
    this.stack = file.size === 0 ? [] : [{ children: [root], level: file.chunked ? Infinity : -1, i: 0 }];
  }

  /** The subtree or chunk at the current position, or undefined at the end (the start, walking back) of the file. */
  peek(): { ref: ChunkRef; level: number } | undefined {
    for (;;) {
      const top = this.stack[this.stack.length - 1];
      if (!top) return undefined;
      if (top.i >= 0 && top.i < top.children.length) return { ref: top.children[top.i], level: top.level };
      this.stack.pop();
    }
  }

  /** Moves past the current subtree or chunk. */
  skip(): void {
    this.stack[this.stack.length - 1].i += this.step;
  }

  /** Replaces the current subtree by its children (reads one node). */
  async expand(): Promise<void> {
    const cur = this.peek();
    if (!cur || cur.level < 0) throw new TribError('INTERNAL', 'tree cursor is not at a chunk-list node');
    const node = await loadNode(this.src, cur.ref, cur.level === Infinity ? undefined : cur.level);
    this.skip();
    this.stack.push({ children: node.children, level: node.level - 1, i: this.step === 1 ? 0 : node.children.length - 1 });
  }

  /** The first chunk at or after the current position, reading only the nodes on its path. */
  async nextChunk(): Promise<ChunkRef | undefined> {
    for (let cur = this.peek(); cur; cur = this.peek()) {
      if (cur.level < 0) return cur.ref;
      await this.expand();
    }
    return undefined;
  }
}

function checkOffset(file: FileRef, offset: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0 || offset > file.size) {
    throw new InvalidArgumentError(`offset ${offset} is outside the file (${file.size} bytes)`);
  }
}

/** The chunks from the one holding `from` to the end, reading only nodes on the path to `from` and after it. */
async function* chunksFrom(src: ObjectSource, file: FileRef, from: number): AsyncGenerator<PositionedChunkRef> {
  const cursor = new TreeCursor(src, file);
  let offset = 0;
  for (let cur = cursor.peek(); cur; cur = cursor.peek()) {
    if (offset + cur.ref.size <= from) {
      cursor.skip();
      offset += cur.ref.size;
    } else if (cur.level >= 0) {
      await cursor.expand();
    } else {
      yield { id: cur.ref.id, size: cur.ref.size, offset };
      cursor.skip();
      offset += cur.ref.size;
    }
  }
}

/**
 * Every chunk of a file in order, with its offset, from the one holding `fromOffset` (default: all of them; none
 * when it is the file's size). Reads each chunk-list node once, only those on the path to `fromOffset` and after
 * it; memory O(depth * 256). Throws InvalidArgumentError for an offset outside [0, size]; IntegrityError when a
 * node is malformed or disagrees with its parent's level or size.
 */
export function readChunkRefs(src: ObjectSource, file: FileRef, fromOffset = 0): AsyncGenerator<PositionedChunkRef> {
  checkOffset(file, fromOffset);
  return chunksFrom(src, file, fromOffset);
}

/**
 * A file's bytes from `fromOffset` up to `toOffset` (default: the end), one chunk per buffer (the first and last
 * sliced to the range). Seeks with the sizes in the nodes, reading only the nodes on the path to `fromOffset`, and
 * no chunk past `toOffset`. Reads one object at a time, so read counts stay exact for a consumer that stops early.
 * Throws InvalidArgumentError for an offset outside [0, size] or a range that ends before it starts; IntegrityError
 * when a chunk's length or a node disagrees with its parent, or the chunks end before `toOffset`.
 */
export async function* readFileBytes(src: ObjectSource, file: FileRef, fromOffset = 0, toOffset = file.size): AsyncGenerator<Buffer> {
  checkOffset(file, fromOffset);
  checkOffset(file, toOffset);
  if (toOffset < fromOffset) throw new InvalidArgumentError(`byte range ${fromOffset}-${toOffset} ends before it starts`);
  let at = fromOffset;
  if (at === toOffset) return;
  for await (const ref of chunksFrom(src, file, fromOffset)) {
    const bytes = await src.get(ref.id);
    if (bytes.length !== ref.size) {
      throw new IntegrityError(`chunk ${ref.id} has ${bytes.length} bytes, its file says ${ref.size}`, { id: ref.id });
    }
    const start = Math.max(0, fromOffset - ref.offset);
    const end = Math.min(bytes.length, toOffset - ref.offset);
    yield start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end);
    at = ref.offset + end;
    if (at === toOffset) return;
  }
  throw new IntegrityError(`file ${file.id} is shorter than its size ${file.size}`, { id: file.id });
}

/**
 * The longest run of identical leading chunks of two files. Identical subtrees are skipped by id without being
 * read, so a file against its appended version reads O(depth) nodes, not O(chunks). Chunk counts are not known
 * without reading every skipped node, so only bytes are reported, plus the first chunk of each file past the run
 * (the natural delta base pair for an append).
 */
export async function commonPrefix(src: ObjectSource, a: FileRef, b: FileRef): Promise<CommonPrefix> {
  const ca = new TreeCursor(src, a);
  const cb = new TreeCursor(src, b);
  const bytes = await skipIdentical(ca, cb);
  return { bytes, nextA: await ca.nextChunk(), nextB: await cb.nextChunk() };
}

/**
 * Length in bytes of the longest run of identical trailing chunks of two files, found from their ends as
 * commonPrefix finds the leading run: an edit mid-file reads the nodes on the path to the edit, not the tail.
 * The run may overlap the common prefix when one file is the other with bytes inserted or removed.
 */
export async function commonSuffix(src: ObjectSource, a: FileRef, b: FileRef): Promise<number> {
  return skipIdentical(new TreeCursor(src, a, true), new TreeCursor(src, b, true));
}

/** Moves both cursors past the subtrees and chunks they share, in step; returns the bytes skipped. */
async function skipIdentical(ca: TreeCursor, cb: TreeCursor): Promise<number> {
  let bytes = 0;
  for (;;) {
    const ea = ca.peek();
    const eb = cb.peek();
    if (!ea || !eb) return bytes;
    if (ea.ref.id === eb.ref.id && ea.level === eb.level) {
      if (ea.ref.size !== eb.ref.size) {
        throw new IntegrityError(`object ${ea.ref.id} is listed with two sizes`, { id: ea.ref.id });
      }
      bytes += ea.ref.size;
      ca.skip();
      cb.skip();
    } else if (ea.level < 0 && eb.level < 0) {
      return bytes;
    } else {
      // Both cursors sit at the same byte offset (from the start, or from the end); open the higher subtree (or
      // both) until levels line up.
      if (ea.level >= eb.level) await ca.expand();
      if (eb.level >= ea.level) await cb.expand();
    }
  }
}

/**
 * Builds the FileRef of chunks already stored, writing the chunk-list nodes to the sink (and the empty chunk for
 * an empty file, so every FileRef's id resolves). The result depends only on the chunk sequence.
 */
export async function fileRefFromChunks(
  sink: ObjectSink,
  refs: AsyncIterable<ChunkRef> | Iterable<ChunkRef>,
): Promise<FileRef> {
  const builder = new ChunkListBuilder(sink);
  for await (const ref of refs) await builder.add(ref);
  const file = await builder.finish();
  if (file.size === 0) await storeEmptyChunk(sink, file.id);
  return file;
}

async function storeEmptyChunk(sink: ObjectSink, expected: ObjectId): Promise<void> {
  const id = await sink.put(Buffer.alloc(0));
  if (id !== expected) throw new IntegrityError(`sink stored the empty chunk as ${id}`);
}

/**
 * Chunks a byte stream, stores every chunk and the chunk list, and returns the file's FileRef. Memory stays
 * bounded by one chunk-list path and the chunker's buffer. `onChunk` sees each chunk after it is stored, in order.
 */
export async function writeFileContent(
  sink: ObjectSink,
  bytes: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  opts: { onChunk?(ref: ChunkRef, bytes: Buffer): Promise<void> | void } = {},
): Promise<FileRef> {
  const chunker = new Chunker();
  const builder = new ChunkListBuilder(sink);
  const store = async (chunk: Buffer) => {
    const ref: ChunkRef = { id: await sink.put(chunk), size: chunk.length };
    await opts.onChunk?.(ref, chunk);
    await builder.add(ref);
  };
  for await (const block of bytes) for (const chunk of chunker.push(block)) await store(chunk);
  for (const chunk of chunker.finish()) await store(chunk);
  const file = await builder.finish();
  if (file.size === 0) await storeEmptyChunk(sink, file.id);
  return file;
}
