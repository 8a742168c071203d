import {
  CommitId,
  decodeChunkList,
  decodeCommit,
  decodeTag,
  decodeTreeNode,
  isTagBytes,
  ObjectId,
  RefName,
  TreeId,
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
}

/** Every ref's target: branches, tags, topics and HEAD. */
export async function refRoots(repo: Repository): Promise<ObjectId[]> {
  const roots = new Set<ObjectId>();
  for (const r of await repo.refs.list('refs/')) if ('commit' in r.target) roots.add(r.target.commit);
  const head = await repo.refs.resolve(HEAD as RefName);
  if (head.commit) roots.add(head.commit);
  return [...roots];
}

/**
 * Visits every object reachable from `roots` once (commits with all their parents, tags, tree nodes, chunk-list
 * nodes, chunks) and returns the damaged ones: missing, failing their hash, or malformed. Each damage carries one
 * path that uses the object. Metadata objects are always read (and so verified); chunks are only checked for
 * presence unless `readData`.
 */
export async function walkReachable(repo: Repository, roots: readonly ObjectId[], opts: WalkOptions = {}): Promise<{ live: Set<ObjectId>; damage: Damage[] }> {
  const db = repo.objects;
  const live = new Set<ObjectId>();
  const damage: Damage[] = [];
  const visit = (role: ObjectRole, id: ObjectId): boolean => {
    if (live.has(id)) return false;
    live.add(id);
    opts.onObject?.(role, id);
    return true;
  };
  const read = async (role: ObjectRole, id: ObjectId, where: string): Promise<Buffer | undefined> => {
    try {
      return await db.get(id);
    } catch (e) {
      damage.push({ id, role, path: where, problem: (e as Error).message });
      return undefined;
    }
  };

  const chunk = async (id: ObjectId, where: string) => {
    if (!visit('chunk', id)) return;
    try {
      if (opts.readData) await db.verifyStored(id);
      else if (!db.has(id)) throw new Error('missing');
    } catch (e) {
      damage.push({ id, role: 'chunk', path: where, problem: (e as Error).message });
    }
  };
  const list = async (id: ObjectId, where: string): Promise<void> => {
    if (!visit('list', id)) return;
    const bytes = await read('list', id, where);
    if (!bytes) return;
    let node;
    try {
      node = decodeChunkList(bytes, id);
    } catch (e) {
      damage.push({ id, role: 'list', path: where, problem: (e as Error).message });
      return;
    }
    for (const c of node.children) await (node.level === 0 ? chunk(c.id, where) : list(c.id, where));
  };
  const tree = async (id: TreeId, where: string): Promise<void> => {
    if (!visit('tree', id)) return;
    const bytes = await read('tree', id, where || '/');
    if (!bytes) return;
    let node;
    try {
      node = decodeTreeNode(bytes, id);
    } catch (e) {
      damage.push({ id, role: 'tree', path: where || '/', problem: (e as Error).message });
      return;
    }
    if (node.type === 'index') {
      for (const c of node.children) await tree(c.id, where);
      return;
    }
    for (const e of node.entries) {
      const p = where ? `${where}/${e.name}` : e.name;
      if (e.kind === 'dir') await tree(e.id, p);
      else if (e.kind === 'file' && e.chunked) await list(e.id, p);
      else await chunk(e.id, p);
    }
  };

  const pending: ObjectId[] = [...roots];
  while (pending.length) {
    const id = pending.pop()!;
    if (live.has(id)) continue;
    const bytes = await read('commit', id, `commit ${id}`);
    if (!bytes) {
      visit('commit', id);
      continue;
    }
    if (isTagBytes(bytes)) {
      visit('tag', id);
      try {
        pending.push(decodeTag(bytes, id).object);
      } catch (e) {
        damage.push({ id, role: 'tag', path: `tag ${id}`, problem: (e as Error).message });
      }
      continue;
    }
    visit('commit', id);
    let c;
    try {
      c = decodeCommit(bytes, id);
    } catch (e) {
      damage.push({ id, role: 'commit', path: `commit ${id}`, problem: (e as Error).message });
      continue;
    }
    pending.push(...(c.parents as CommitId[]));
    await tree(c.tree, '');
  }
  return { live, damage };
}
