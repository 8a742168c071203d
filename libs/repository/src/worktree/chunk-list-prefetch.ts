import { decodeChunkList, ObjectId, ObjectSource } from '@tributary/core';
import { ObjectDatabase } from '../objects/object-database';

/** Nodes read at once when a node's children are fetched ahead. */
const PREFETCH_CONCURRENCY = 8;
/** Most nodes fetched ahead and not yet asked for (a node is at most ~10 KiB). */
const PREFETCH_MAX_NODES = 256;

/**
 * The ObjectSource for walking one file's chunk list (readChunkRefs): when it hands out a node above level 0, it
 * starts reading that node's children at once, a few at a time, so listing a large file costs a few round trips
 * per level instead of one per node. Bytes are verified by the database as for any read; a failed read ahead is
 * thrown only if that node is asked for.
 */
export class ChunkListPrefetcher implements ObjectSource {
  private readonly ahead = new Map<ObjectId, Promise<Buffer>>();

  constructor(private readonly db: ObjectDatabase) {}

  async get(id: ObjectId): Promise<Buffer> {
    const early = this.ahead.get(id);
    this.ahead.delete(id);
    const bytes = await (early ?? this.db.get(id));
    this.fetchChildren(bytes);
    return bytes;
  }

  private fetchChildren(bytes: Buffer): void {
    let children;
    try {
      const node = decodeChunkList(bytes);
      if (node.level === 0) return;
      children = node.children;
    } catch {
      return; // not a node (a one-chunk file) or a malformed one, which the reader reports itself
    }
    const lanes: Promise<unknown>[] = Array.from({ length: PREFETCH_CONCURRENCY }, () => Promise.resolve());
    let lane = 0;
    for (const child of children) {
      if (this.ahead.size >= PREFETCH_MAX_NODES) break;
      if (this.ahead.has(child.id)) continue;
      const read = lanes[lane].then(() => this.db.get(child.id));
      read.catch(() => undefined);
      lanes[lane] = read.catch(() => undefined);
      lane = (lane + 1) % PREFETCH_CONCURRENCY;
      this.ahead.set(child.id, read);
    }
  }
}
