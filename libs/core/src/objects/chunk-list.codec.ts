import { IntegrityError, InvalidArgumentError } from '../errors/trib-error';
import { bytesToId, sha256 } from '../hashing/sha256';
import { ID_BYTES, isObjectId, ObjectId } from '../ids/ids';
import { ObjectSink } from './object-source';
import { ChunkRef, FileRef } from './object-types';

/**
 * The chunk list of a file of two or more chunks: a Merkle tree whose level-0 nodes list chunks and whose level-k
 * nodes list level k-1 nodes. Each child carries its byte size, so a reader can seek without reading the subtree.
 *
 * Encoding: `list 1\n` + u8 level + repeated (32 raw id bytes, LEB128 unsigned child byte size), 1..256 children.
 *
 * Grouping is content-defined: a node closes after a child whose id ends in a byte with its low 5 bits zero (once
 * the node has two children), and always at 256 children. So an edit that adds or removes a chunk changes only the
 * nodes on its path (and at most a neighbour), never every node after it; the minimum of two makes every level
 * shorter than the one below, so the tree is finite. The single node at the top is the file's id.
 */
export interface ChunkListNode {
  /** 0: children are chunks; k: children are level k-1 nodes. */
  readonly level: number;
  /** Each child's id and its byte size (for a node, the total size of the file bytes beneath it). */
  readonly children: readonly ChunkRef[];
}

/** The first bytes of every chunk-list node. */
export const CHUNK_LIST_HEADER = 'list 1\n';
const HEADER = Buffer.from(CHUNK_LIST_HEADER, 'latin1');
export const CHUNK_LIST_MAX_CHILDREN = 256;
/** Level 32 would need at least 2^32 chunks; anything higher is not a real file. */
export const CHUNK_LIST_MAX_LEVEL = 32;
const BOUNDARY_MASK = 0x1f;
const EMPTY_CHUNK_ID = sha256(new Uint8Array(0));

/** Whether a node closes after this child (given it already has two children). */
export function isChunkListBoundary(id: ObjectId): boolean {
  return (parseInt(id.slice(-2), 16) & BOUNDARY_MASK) === 0;
}

/** Appends the unsigned LEB128 encoding of a safe integer to `out`. */
export function writeUleb128(out: number[], value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new InvalidArgumentError(`cannot encode ${value} as LEB128`);
  while (value >= 0x80) {
    out.push((value % 0x80) | 0x80);
    value = Math.floor(value / 0x80);
  }
  out.push(value);
}

/**
 * Reads a minimal unsigned LEB128 integer at `offset`. Throws IntegrityError if it is truncated, has redundant
 * trailing zero groups, or exceeds Number.MAX_SAFE_INTEGER.
 */
export function readUleb128(bytes: Uint8Array, offset: number): { value: number; next: number } {
  let value = 0;
  let scale = 1;
  for (let i = offset; i < bytes.length; i++) {
    const b = bytes[i];
    value += (b & 0x7f) * scale;
    if (value > Number.MAX_SAFE_INTEGER) throw new IntegrityError('LEB128 value out of range');
    if ((b & 0x80) === 0) {
      if (b === 0 && i > offset) throw new IntegrityError('LEB128 value is not minimal');
      return { value, next: i + 1 };
    }
    scale *= 0x80;
  }
  throw new IntegrityError('LEB128 value is truncated');
}

/** Canonical bytes of a chunk-list node. Throws InvalidArgumentError on a bad level, id, size or child count. */
export function encodeChunkList(node: ChunkListNode): Buffer {
  const { level, children } = node;
  if (!Number.isInteger(level) || level < 0 || level > CHUNK_LIST_MAX_LEVEL) {
    throw new InvalidArgumentError(`bad chunk-list level ${level}`);
  }
  if (children.length < 1 || children.length > CHUNK_LIST_MAX_CHILDREN) {
    throw new InvalidArgumentError(`a chunk-list node has 1..${CHUNK_LIST_MAX_CHILDREN} children, not ${children.length}`);
  }
  const out = Buffer.allocUnsafe(HEADER.length + 1 + children.length * (ID_BYTES + 8));
  let pos = HEADER.copy(out, 0);
  out[pos++] = level;
  const size: number[] = [];
  for (const c of children) {
    if (!isObjectId(c.id)) throw new InvalidArgumentError(`bad chunk-list child id ${c.id}`);
    if (!Number.isSafeInteger(c.size) || c.size < 1) throw new InvalidArgumentError(`bad chunk-list child size ${c.size}`);
    pos += out.write(c.id, pos, 'hex');
    size.length = 0;
    writeUleb128(size, c.size);
    for (const b of size) out[pos++] = b;
  }
  return out.subarray(0, pos);
}

/** Parses a chunk-list node. Throws IntegrityError on anything `encodeChunkList` would not produce. */
export function decodeChunkList(bytes: Buffer, id?: ObjectId): ChunkListNode {
  const what = `chunk list ${id ?? ''}`.trimEnd();
  if (bytes.length < HEADER.length + 1 || !bytes.subarray(0, HEADER.length).equals(HEADER)) {
    throw new IntegrityError(id ? `object ${id} is not a chunk list` : 'object is not a chunk list', { id });
  }
  const level = bytes[HEADER.length];
  if (level > CHUNK_LIST_MAX_LEVEL) throw new IntegrityError(`${what} has bad level ${level}`, { id });
  const children: ChunkRef[] = [];
  let pos = HEADER.length + 1;
  while (pos < bytes.length) {
    if (children.length === CHUNK_LIST_MAX_CHILDREN || pos + ID_BYTES >= bytes.length) {
      throw new IntegrityError(`${what} is malformed`, { id });
    }
    const childId = bytesToId(bytes, pos);
    let size;
    try {
      size = readUleb128(bytes, pos + ID_BYTES);
    } catch (e) {
      throw new IntegrityError(`${what} is malformed`, { id }, { cause: e });
    }
    if (size.value < 1) throw new IntegrityError(`${what} has an empty child`, { id });
    children.push({ id: childId, size: size.value });
    pos = size.next;
  }
  if (children.length === 0) throw new IntegrityError(`${what} has no children`, { id });
  return { level, children };
}

/**
 * Builds a file's chunk-list tree from its chunks in order, writing each node to the sink as soon as it closes.
 * Memory is O(levels * 256), whatever the number of chunks. `add` calls must not overlap (await each).
 * `finish` returns the file's FileRef: for zero or one chunk no node is written and the id is the chunk's own
 * (sha256 of nothing for an empty file). The result depends only on the sequence of chunk refs.
 */
export class ChunkListBuilder {
  /** levels[k]: children of the open node at level k. */
  private readonly levels: ChunkRef[][] = [[]];
  private finished = false;

  constructor(private readonly sink: ObjectSink) {}

  /**
   * A builder in the state it would have after some chunks were added, given that state: `open[k]` holds the
   * children of the still-open node at level k (what `add` accumulated there and did not close yet). Lets an append
   * continue a file's tree from its right spine without re-adding the chunks before it. Throws InvalidArgumentError
   * when `open` is not a state `add` can reach: a list at the 256 cap, a boundary child that would have closed its
   * node, or an empty top level above level 0.
   */
  static resume(sink: ObjectSink, open: readonly (readonly ChunkRef[])[]): ChunkListBuilder {
    const builder = new ChunkListBuilder(sink);
    if (open.length > CHUNK_LIST_MAX_LEVEL + 1) throw new InvalidArgumentError(`cannot resume a chunk list of ${open.length} levels`);
    open.forEach((children, k) => {
      const reachable =
        children.length < CHUNK_LIST_MAX_CHILDREN &&
        (k === 0 || k < open.length - 1 || children.length > 0) &&
        children.every((c, i) => isObjectId(c.id) && Number.isSafeInteger(c.size) && c.size >= 1 && (i === 0 || !isChunkListBoundary(c.id)));
      if (!reachable) throw new InvalidArgumentError(`cannot resume a chunk list: level ${k} is not an open node`);
    });
    builder.levels.length = 0;
    for (const children of open) builder.levels.push([...children]);
    if (builder.levels.length === 0) builder.levels.push([]);
    return builder;
  }

  async add(ref: ChunkRef): Promise<void> {
    if (this.finished) throw new InvalidArgumentError('chunk-list builder already finished');
    if (!isObjectId(ref.id) || !Number.isSafeInteger(ref.size) || ref.size < 1) {
      throw new InvalidArgumentError(`bad chunk ref ${ref.id} (${ref.size} bytes)`);
    }
    await this.append(0, ref);
  }

  /**
   * Adds a whole level-`level` chunk-list node of a stored file, leaving the builder exactly as adding that node's
   * chunks one by one would, without reading them, when that is known: the open nodes at levels 0..level are empty
   * (so those chunks would rebuild the node from its first child) and a higher level is not (so the node is not
   * the top of the file). Sound only when the chunks added after it are those that follow it in its file, to that
   * file's end: then every rule that closed the node there (a boundary child, the 256 cap, the file's end) closes
   * it here too. Returns false, changing nothing, when the state does not allow it.
   */
  async addNode(level: number, ref: ChunkRef): Promise<boolean> {
    if (this.finished) throw new InvalidArgumentError('chunk-list builder already finished');
    if (!Number.isInteger(level) || level < 0 || level >= CHUNK_LIST_MAX_LEVEL) throw new InvalidArgumentError(`bad chunk-list level ${level}`);
    if (!isObjectId(ref.id) || !Number.isSafeInteger(ref.size) || ref.size < 1) {
      throw new InvalidArgumentError(`bad chunk-list node ref ${ref.id} (${ref.size} bytes)`);
    }
    for (let k = 0; k <= level && k < this.levels.length; k++) if (this.levels[k].length > 0) return false;
    if (!this.levels.slice(level + 1).some((open) => open.length > 0)) return false;
    await this.append(level + 1, ref);
    return true;
  }

  async finish(): Promise<FileRef> {
    if (this.finished) throw new InvalidArgumentError('chunk-list builder already finished');
    this.finished = true;
    for (let k = 0; ; k++) {
      const open = this.levels[k];
      const top = k === this.levels.length - 1;
      if (top && open.length === 0) return { id: EMPTY_CHUNK_ID, chunked: false, size: 0 };
      if (top && open.length === 1) return { id: open[0].id, chunked: k > 0, size: open[0].size };
      if (open.length > 0) await this.close(k);
    }
  }

  private async append(level: number, ref: ChunkRef): Promise<void> {
    const open = this.levels[level];
    open.push(ref);
    if (open.length === CHUNK_LIST_MAX_CHILDREN || (open.length >= 2 && isChunkListBoundary(ref.id))) {
      await this.close(level);
    }
  }

  private async close(level: number): Promise<void> {
    const children = this.levels[level];
    this.levels[level] = [];
    let size = 0;
    for (const c of children) size += c.size;
    const id = await this.sink.put(encodeChunkList({ level, children }));
    if (level + 1 === this.levels.length) this.levels.push([]);
    await this.append(level + 1, { id, size });
  }
}
