import { NotFoundError } from '../errors/trib-error';
import { sha256 } from '../hashing/sha256';
import { ObjectId, TreeId } from '../ids/ids';
import { TreeEntry } from '../objects/object-types';
import { ObjectSink, ObjectSource } from '../objects/object-source';
import { BuiltTree, writeTreeFromPaths } from '../objects/tree-builder';
import { walkFiles } from '../objects/tree-reader';
import { comparePaths } from '../objects/tree.codec';

// Specs import it from here, beside the flat trees it orders.
export { comparePaths };

/**
 * A Map-backed object source and sink for specs. Counts reads and writes so tests can assert how many objects an
 * algorithm touches. Test-only: exported from no index.
 */
export class MemoryObjects implements ObjectSource, ObjectSink {
  readonly objects = new Map<string, Buffer>();
  gets = 0;
  puts = 0;

  async put(bytes: Buffer): Promise<ObjectId> {
    const id = sha256(bytes);
    this.puts++;
    if (!this.objects.has(id)) this.objects.set(id, Buffer.from(bytes));
    return id;
  }

  async get(id: ObjectId): Promise<Buffer> {
    this.gets++;
    const bytes = this.objects.get(id);
    if (!bytes) throw new NotFoundError(`object ${id} not found`, { id });
    return bytes;
  }

  resetCounts(): void {
    this.gets = 0;
    this.puts = 0;
  }
}

/** A deterministic fake object id for test entries. */
export function fakeId(seed: string | number): ObjectId {
  return sha256(Buffer.from(`fake ${seed}`));
}

/** Names on which the tree paging rule closes a node (FNV-1a 32 of the name is 0 mod 256): small dirs still page. */
export function boundaryNames(count: number, prefix = 'b'): string[] {
  return pickNames(count, prefix, true);
}

/** Names on which the paging rule never closes a node, except at its item cap. */
export function plainNames(count: number, prefix = 'p'): string[] {
  return pickNames(count, prefix, false);
}

function pickNames(count: number, prefix: string, boundary: boolean): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < count; i++) {
    const name = `${prefix}${i}`;
    if (((fnv1a(name) & 0xff) === 0) === boundary) out.push(name);
  }
  return out;
}

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(s, 'utf8')) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h;
}

/** A flat model of a tree: path -> file or symlink entry (without its name). */
export type FlatTree = Map<string, Omit<TreeEntry, 'name'>>;


export function writeFlatTree(sink: ObjectSink, files: FlatTree): Promise<BuiltTree> {
  const sorted = [...files.keys()].sort(comparePaths);
  return writeTreeFromPaths(sink, sorted.map((path) => ({ path, entry: files.get(path)! })));
}

export async function readFlatTree(src: ObjectSource, id: TreeId): Promise<FlatTree> {
  const out: FlatTree = new Map();
  for await (const { path, entry } of walkFiles(src, id)) {
    const { name: _name, ...rest } = entry;
    out.set(path, rest);
  }
  return out;
}
