import { decodeChunkList, ObjectId, ObjectSource } from '@tributary/core';
import { ObjectDatabase } from '../objects/object-database';

/** Most nodes fetched ahead and not yet asked for (a node is at most ~10 KiB). */
const PREFETCH_MAX_NODES = 256;
/** Nodes asked for in one getMany: siblings sit together in a pack, so a group is one or a few ranged reads. */
const PREFETCH_GROUP = 64;

/**
 * The ObjectSource for walking one file's chunk list (readChunkRefs): when it hands out a node above level 0, it
 * starts reading that node's children at once, in groups of siblings (one coalesced read each, since siblings
 * sit together in a pack), so listing a large file costs a few round trips per level instead of one per node.
 * Bytes are verified by the database as for any read; a failed read ahead is thrown only if that node is asked for.
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
    const wanted: ObjectId[] = [];
    for (const child of children) {
      if (this.ahead.size + wanted.length >= PREFETCH_MAX_NODES) break;
      if (!this.ahead.has(child.id) && !wanted.includes(child.id)) wanted.push(child.id);
    }
    for (let from = 0; from < wanted.length; from += PREFETCH_GROUP) {
      const group = wanted.slice(from, from + PREFETCH_GROUP);
      // A result may be a view of a larger coalesced read; a copy lets that buffer go while the node waits.
      const read = this.db.getMany(group).then((nodes) => nodes.map((b) => Buffer.from(b)));
      group.forEach((id, i) => {
        // One damaged sibling fails the whole group: then each is read alone, so only it fails, when asked for.
        const node = read.then(
          (nodes) => nodes[i],
          () => this.db.get(id),
        );
        node.catch(() => undefined);
        this.ahead.set(id, node);
      });
    }
  }
}
