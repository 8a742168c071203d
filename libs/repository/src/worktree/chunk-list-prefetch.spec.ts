import { decodeChunkList, ObjectId, PositionedChunkRef, readChunkRefs, writeFileContent } from '@tributary/core';
import { MemoryStore } from '@tributary/storage';
import { ObjectDatabase } from '../objects/object-database';
import { ChunkListPrefetcher } from './chunk-list-prefetch';

async function collect(refs: AsyncIterable<PositionedChunkRef>): Promise<PositionedChunkRef[]> {
  const out: PositionedChunkRef[] = [];
  for await (const r of refs) out.push(r);
  return out;
}

/**
 * 16 MiB of the same pseudo-random bytes on every run: random bytes gave a chunk-list tree of another shape now and
 * then, and the damaged-node spec failed a preflight once in some dozens of runs.
 */
function seededBytes(n: number): Buffer {
  const out = Buffer.allocUnsafe(n);
  let x = 0x9e3779b9;
  for (let i = 0; i + 4 <= n; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out.writeUInt32LE(x >>> 0, i);
  }
  return out;
}

/** A 16 MiB file in a store, and a database on that store that caches nothing (every read reaches the store). */
async function storedLargeFile() {
  const store = new MemoryStore('prefetch-spec');
  const db = await ObjectDatabase.open(store);
  const file = await writeFileContent(db, [seededBytes(16 * 1024 * 1024)]);
  await db.flush();
  const fresh = await ObjectDatabase.open(store, { cacheBytes: 0 });
  return { file, fresh, root: decodeChunkList(await fresh.get(file.id)) };
}

describe('ChunkListPrefetcher', () => {
  it('lists the same chunks as the database, reading each node once, the children of a node all at once', async () => {
    const { file, fresh, root } = await storedLargeFile();
    // The premise: a root above level 0, so there are children to fetch ahead.
    expect(root.level).toBeGreaterThan(0);
    // Every chunk-list node of the file (random bytes: the tree may have two levels above the chunks, or more).
    let nodes = 0;
    let parents = 0;
    const countNodes = async (id: ObjectId): Promise<void> => {
      nodes++;
      const node = decodeChunkList(await fresh.get(id));
      if (node.level > 0) parents++;
      if (node.level > 0) for (const c of node.children) await countNodes(c.id);
    };
    await countNodes(file.id);

    const asked: ObjectId[] = [];
    let calls = 0;
    const get = fresh.get.bind(fresh);
    const getMany = fresh.getMany.bind(fresh);
    fresh.get = async (id: ObjectId) => {
      asked.push(id);
      calls++;
      return get(id);
    };
    fresh.getMany = async (ids: readonly ObjectId[], opts?: { verify?: boolean }) => {
      asked.push(...ids);
      calls++;
      return getMany(ids, opts);
    };
    const viaPrefetch = await collect(readChunkRefs(new ChunkListPrefetcher(fresh), file));
    const nodesRead = asked.length;
    fresh.get = get;
    fresh.getMany = getMany;
    expect(viaPrefetch).toEqual(await collect(readChunkRefs(fresh, file)));
    expect(new Set(asked).size).toBe(nodesRead);
    expect(nodesRead).toBe(nodes);
    // The root alone, then each node's children together (under 64 of them here): one call per parent, not per node.
    expect(calls).toBe(1 + parents);
    expect(calls).toBeLessThan(nodes);
  });

  it('throws a damaged node only when it is asked for', async () => {
    const { file, fresh, root } = await storedLargeFile();
    const last = root.children[root.children.length - 1].id;
    const get = fresh.get.bind(fresh);
    const getMany = fresh.getMany.bind(fresh);
    fresh.get = async (id: ObjectId) => (id === last ? Promise.reject(new Error('damaged')) : get(id));
    fresh.getMany = async (ids: readonly ObjectId[], opts?: { verify?: boolean }) =>
      ids.includes(last) ? Promise.reject(new Error('damaged')) : getMany(ids, opts);
    const seen: PositionedChunkRef[] = [];
    const run = async () => {
      for await (const r of readChunkRefs(new ChunkListPrefetcher(fresh), file)) seen.push(r);
    };
    await expect(run()).rejects.toThrow('damaged');
    // Every chunk before the damaged node was listed.
    const before = root.children.slice(0, -1).reduce((s, c) => s + c.size, 0);
    expect(seen.reduce((s, r) => s + r.size, 0)).toBe(before);
  });
});
