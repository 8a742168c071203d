import {
  checkTreeRoot,
  CHUNK_LIST_HEADER,
  COMMIT_HEADER,
  CommitId,
  decodeChunkList,
  decodeCommit,
  decodeTag,
  decodeTreeNode,
  indexShape,
  isTagBytes,
  isTribError,
  ObjectId,
  pageDepth,
  pageShape,
  RefName,
  TAG_HEADER,
  TREE_INDEX_HEADER,
  TREE_PAGE_HEADER,
  TreeId,
  TreeShape,
  viewTreeOf,
} from '@tributary/core';
import { Repository } from '../repository';
import { HEAD } from '../refs/ref-store';

export type ObjectRole = 'commit' | 'tag' | 'tree' | 'list' | 'chunk';

export interface Damage {
  readonly id: ObjectId;
  readonly role: ObjectRole;
  /** One path that uses the object (`commit <id>` for commits and tags). */
  readonly path: string;
  readonly problem: string;
}

export interface WalkOptions {
  /** Re-read and hash every chunk, not only check that it is stored. */
  readonly readData?: boolean;
  readonly onObject?: (role: ObjectRole, id: ObjectId) => void;
  /** Files to walk from besides `roots`: a file's chunk, or the root of its chunk list when `chunked`. */
  readonly files?: Iterable<{ readonly path: string; readonly id: ObjectId; readonly chunked: boolean }>;
  /**
   * Objects of unknown kind to walk from besides `roots`, as gc does from the records of young packs: each is read
   * and walked as the commit, tag, tree or chunk list it decodes as, and one that decodes as none of them is a chunk.
   * A missing or damaged one is skipped, not reported: it is no one's reference.
   */
  readonly unknown?: Iterable<ObjectId>;
  /** Objects an earlier walk found live: not visited again, nor returned. */
  readonly known?: { has(id: ObjectId): boolean };
  /**
   * Packs whose file is gone though their index is there (ObjectDatabase.packsWithoutFile): without `readData`, a
   * chunk only they hold is reported missing.
   */
  readonly packsWithoutFile?: ReadonlySet<string>;
}

/** Every ref's target: branches, tags, topics and HEAD. */
export async function refRoots(repo: Repository): Promise<ObjectId[]> {
  const roots = new Set<ObjectId>();
  for (const r of await repo.refs.list('refs/')) if ('commit' in r.target) roots.add(r.target.commit);
  const head = await repo.refs.resolve(HEAD as RefName);
  if (head.commit) roots.add(head.commit);
  return [...roots];
}

/** Objects of one kind read from the store in one call: neighbours in a pack come in one ranged read. */
const METADATA_BATCH = 512;
/** Chunks re-read and hashed in one call (with `readData`); their reads stay coalesced and bounded in memory. */
const CHUNK_BATCH = 4096;
/** Objects of unknown kind read in one call: any of them may be a chunk, so fewer, to bound the memory. */
const UNKNOWN_BATCH = 64;

interface Waiting {
  readonly id: ObjectId;
  /** One path that uses the object, for the damage report. */
  readonly where: string;
}

/** A tree node read by the walk, waiting for the shapes of the nodes it names (`below`) to take its own. */
interface Unshaped {
  readonly where: string;
  readonly below: readonly ObjectId[];
  readonly shape: (below: readonly TreeShape[]) => TreeShape;
}

/**
 * Visits every object reachable from `roots` once (commits with all their parents, tags, tree nodes, chunk-list
 * nodes, chunks) and returns the damaged ones: missing, failing their hash, or malformed. Each damage carries one
 * path that uses the object. Metadata objects are always read (and so verified); chunks are only checked for
 * presence unless `readData`. Tree nodes are also checked together, as readTree checks them (see TreeShape), once
 * all are read: a tree every reader would refuse is damaged, though each of its nodes is well-formed.
 *
 * Objects are read a batch at a time, lowest level first (chunk lists, then trees, then commits, so the queues stay
 * short; chunks once a full batch has gathered), each batch with coalesced ranged reads: on a cloud store a verify
 * costs a few requests per pack and tree level rather than one per object.
 */
export async function walkReachable(repo: Repository, roots: readonly ObjectId[], opts: WalkOptions = {}): Promise<{ live: Set<ObjectId>; damage: Damage[] }> {
  const db = repo.objects;
  const live = new Set<ObjectId>();
  const damage: Damage[] = [];
  const queues: Record<'commit' | 'tree' | 'list' | 'chunk', Waiting[]> = { commit: [], tree: [], list: [], chunk: [] };
  /**
   * Reports a damaged object; the root tree's empty path reads as `/`. A store that could not be asked (unavailable,
   * refused) says nothing about the object: that error ends the walk instead of counting as damage.
   */
  const harm = (id: ObjectId, role: ObjectRole, path: string, e: unknown) => {
    if (isTribError(e) && (e.code === 'UNAVAILABLE' || e.code === 'PERMISSION_DENIED' || e.code === 'RESOURCE_EXHAUSTED')) throw e;
    const problem = e instanceof Error ? e.message : String(e);
    damage.push({ id, role, path: role === 'tree' && !path ? '/' : path, problem });
  };
  /** Queues an object not seen before; commits and tags share a queue, told apart once read. */
  const reach = (role: ObjectRole, id: ObjectId, where: string): void => {
    if (live.has(id) || opts.known?.has(id)) return;
    live.add(id);
    if (role === 'commit') return void queues.commit.push({ id, where: `commit ${id}` });
    opts.onObject?.(role, id);
    queues[role as 'tree' | 'list' | 'chunk'].push({ id, where });
  };

  /** The bytes of each object, or undefined for one that is damaged (reported as `role`). */
  const readAll = async (role: ObjectRole, batch: readonly Waiting[]): Promise<(Buffer | undefined)[]> => {
    try {
      return await db.getMany(batch.map((w) => w.id));
    } catch {
      // One missing or damaged object fails the whole read: read them one by one to tell which.
      const out: (Buffer | undefined)[] = [];
      for (const w of batch) {
        out.push(
          await db.get(w.id).catch((e: unknown) => {
            harm(w.id, role, w.where, e);
            return undefined;
          }),
        );
      }
      return out;
    }
  };

  let reloaded = false;
  const chunks = async (batch: readonly Waiting[]): Promise<void> => {
    // A chunk in no pack loaded may be in one another writer finished after this database listed the packs: its
    // packs go up side by side and a small one, holding the commit, can finish before a large one of its chunks.
    // So the packs are listed again before anything counts as missing: once, since every pack the roots need was
    // there when the refs were read, before the walk.
    if (!reloaded && batch.some((w) => !db.isStored(w.id))) {
      reloaded = true;
      await db.reload();
    }
    if (!opts.readData) {
      const gone = opts.packsWithoutFile ?? new Set<string>();
      for (const w of batch) {
        if (!db.isStored(w.id)) harm(w.id, 'chunk', w.where, new Error('missing'));
        else if (gone.size > 0 && !db.isStoredOutside(w.id, gone)) harm(w.id, 'chunk', w.where, new Error('missing: its pack file is gone, though its index is there'));
      }
      return;
    }
    const errors = await db.verifyStoredMany(batch.map((w) => w.id));
    errors.forEach((e, i) => e && harm(batch[i].id, 'chunk', batch[i].where, e));
  };

  /** The batch's objects read and decoded; a missing, damaged or malformed one is reported as `role` and skipped. */
  const readDecoded = async <T>(
    role: ObjectRole,
    batch: readonly Waiting[],
    decode: (bytes: Buffer, id: ObjectId) => T,
  ): Promise<[Waiting, T][]> => {
    const bytes = await readAll(role, batch);
    const out: [Waiting, T][] = [];
    batch.forEach((w, i) => {
      if (!bytes[i]) return;
      try {
        out.push([w, decode(bytes[i]!, w.id)]);
      } catch (e) {
        harm(w.id, role, w.where, e);
      }
    });
    return out;
  };

  const lists = async (batch: readonly Waiting[]): Promise<void> => {
    for (const [w, node] of await readDecoded('list', batch, decodeChunkList)) {
      for (const c of node.children) reach(node.level === 0 ? 'chunk' : 'list', c.id, w.where);
    }
  };

  const unshaped = new Map<ObjectId, Unshaped>();
  /** Trees that are a directory's top node: a commit's, or a folder's. */
  const tops = new Map<ObjectId, string>();
  const trees = async (batch: readonly Waiting[]): Promise<void> => {
    for (const [w, node] of await readDecoded('tree', batch, decodeTreeNode)) {
      const id = w.id as TreeId;
      if (node.type === 'index') {
        unshaped.set(id, { where: w.where, below: node.children.map((c) => c.id), shape: (below) => indexShape(id, node, below) });
        for (const c of node.children) reach('tree', c.id, w.where);
        continue;
      }
      const dirs: ObjectId[] = [];
      for (const e of node.entries) {
        const p = w.where ? `${w.where}/${e.name}` : e.name;
        reach(e.kind === 'dir' ? 'tree' : e.kind === 'file' && e.chunked ? 'list' : 'chunk', e.id, p);
        if (e.kind === 'dir') {
          dirs.push(e.id);
          if (!tops.has(e.id)) tops.set(e.id, p);
        }
      }
      // The depth beneath the page waits for its folders' shapes; the rest is the page's own.
      const own = pageShape(id, node, () => 0);
      unshaped.set(id, { where: w.where, below: dirs, shape: (below) => ({ ...own, depth: pageDepth(id, below.map((s) => s.depth)) }) });
    }
  };

  /**
   * Shapes every tree node read, its nodes below first, reporting the ones that do not fit with them. A node below a
   * damaged one, or not read (damaged, or known from an earlier walk), leaves the node unshaped, not damaged.
   */
  const shapeTrees = (): void => {
    const shapes = new Map<ObjectId, TreeShape | null>();
    for (const start of unshaped.keys()) {
      const stack = [start];
      while (stack.length) {
        const id = stack[stack.length - 1];
        const node = unshaped.get(id);
        if (shapes.has(id) || !node) {
          if (!node) shapes.set(id, null);
          stack.pop();
          continue;
        }
        const waiting = node.below.filter((b) => !shapes.has(b));
        if (waiting.length) {
          stack.push(...waiting);
          continue;
        }
        stack.pop();
        const below = node.below.map((b) => shapes.get(b));
        if (below.some((b) => !b)) {
          shapes.set(id, null);
          continue;
        }
        try {
          shapes.set(id, node.shape(below as TreeShape[]));
        } catch (e) {
          harm(id, 'tree', node.where, e);
          shapes.set(id, null);
        }
      }
    }
    for (const [id, where] of tops) {
      const shape = shapes.get(id);
      try {
        if (shape) checkTreeRoot(id as TreeId, shape);
      } catch (e) {
        harm(id, 'tree', where, e);
      }
    }
  };

  const commits = async (batch: readonly Waiting[]): Promise<void> => {
    const bytes = await readAll('commit', batch);
    batch.forEach((w, i) => {
      const b = bytes[i];
      if (b && isTagBytes(b)) {
        opts.onObject?.('tag', w.id);
        try {
          reach('commit', decodeTag(b, w.id).object, '');
        } catch (e) {
          harm(w.id, 'tag', `tag ${w.id}`, e);
        }
        return;
      }
      opts.onObject?.('commit', w.id);
      if (!b) return;
      let c;
      try {
        c = decodeCommit(b, w.id);
      } catch (e) {
        return void harm(w.id, 'commit', w.where, e);
      }
      for (const p of c.parents) reach('commit', p as CommitId, '');
      const view = viewTreeOf(c);
      for (const tree of view ? [c.tree, view] : [c.tree]) {
        reach('tree', tree, '');
        if (!tops.has(tree)) tops.set(tree, '');
      }
    });
  };

  /** Walks each object as what it decodes as; what decodes as nothing is a chunk, and a leaf. */
  const unknowns = async (batch: readonly ObjectId[]): Promise<void> => {
    const bytes = await db.getMany(batch).catch(() => Promise.all(batch.map((id) => db.get(id).catch(() => undefined))));
    batch.forEach((id, i) => {
      const b = bytes[i];
      if (!b || live.has(id) || opts.known?.has(id)) return;
      const role = decodedRole(b, id);
      if (role === 'chunk') live.add(id);
      else reach(role === 'tag' ? 'commit' : role, id, role === 'tree' ? '' : `${role} ${id}`);
    });
  };

  for (const id of roots) reach('commit', id, '');
  for (const f of opts.files ?? []) reach(f.chunked ? 'list' : 'chunk', f.id, f.path);
  const unknown = [...(opts.unknown ?? [])].filter((id) => !opts.known?.has(id));
  for (let i = 0; i < unknown.length; i += UNKNOWN_BATCH) await unknowns(unknown.slice(i, i + UNKNOWN_BATCH));
  for (;;) {
    // Chunks wait until a full batch has gathered (or nothing else is left), so their reads coalesce.
    if (queues.chunk.length >= CHUNK_BATCH) await chunks(queues.chunk.splice(0, CHUNK_BATCH));
    else if (queues.list.length) await lists(queues.list.splice(0, METADATA_BATCH));
    else if (queues.tree.length) await trees(queues.tree.splice(0, METADATA_BATCH));
    else if (queues.commit.length) await commits(queues.commit.splice(0, METADATA_BATCH));
    else if (queues.chunk.length) await chunks(queues.chunk.splice(0, CHUNK_BATCH));
    else break;
  }
  shapeTrees();
  return { live, damage };
}

/** Each kind of object by the header its bytes start with, and how to decode it in full. */
const DECODERS: readonly [string, Exclude<ObjectRole, 'chunk'>, (bytes: Buffer, id: ObjectId) => unknown][] = [
  [TAG_HEADER, 'tag', decodeTag],
  [COMMIT_HEADER, 'commit', decodeCommit],
  [TREE_PAGE_HEADER, 'tree', decodeTreeNode],
  [TREE_INDEX_HEADER, 'tree', decodeTreeNode],
  [CHUNK_LIST_HEADER, 'list', decodeChunkList],
];

/** What `bytes` decode as in full; `chunk` when nothing does (a file's bytes may look like an object's). */
function decodedRole(bytes: Buffer, id: ObjectId): ObjectRole {
  const head = bytes.subarray(0, 16).toString('latin1');
  const match = DECODERS.find(([header]) => head.startsWith(header));
  if (!match) return 'chunk';
  try {
    match[2](bytes, id);
    return match[1];
  } catch {
    return 'chunk';
  }
}
