import {
  CommitId,
  ConflictError,
  IntegrityError,
  isObjectId,
  RefName,
  validateRefName,
} from '@tributary/core';
import { ObjectStore } from '@tributary/storage';

/** Where a ref points: straight at a commit, or (HEAD only) at another ref. */
export type RefTarget = { readonly commit: CommitId } | { readonly symbolic: RefName };

export interface RefValue {
  readonly target: RefTarget;
  /** Opaque version to present to a compare-and-swap. */
  readonly version: string;
}

export const HEAD = 'HEAD' as RefName;
export const BRANCH_PREFIX = 'refs/heads/';
export const TAG_PREFIX = 'refs/tags/';
export const TOPIC_PREFIX = 'refs/topics/';

export function branchRef(name: string): RefName {
  validateRefName(name, 'branch name');
  return (BRANCH_PREFIX + name) as RefName;
}
export function tagRef(name: string): RefName {
  validateRefName(name, 'tag name');
  return (TAG_PREFIX + name) as RefName;
}
export function topicRef(topic: string): RefName {
  validateRefName(topic, 'topic');
  return (TOPIC_PREFIX + topic) as RefName;
}

function encode(t: RefTarget): Buffer {
  return Buffer.from('commit' in t ? `${t.commit}\n` : `ref: ${t.symbolic}\n`, 'utf8');
}

function decode(name: string, data: Buffer): RefTarget {
  const text = data.toString('utf8').trim();
  if (text.startsWith('ref: ')) return { symbolic: text.slice(5) as RefName };
  if (!isObjectId(text)) throw new IntegrityError(`ref ${name} is corrupt`, { ref: name });
  return { commit: text };
}

/**
 * Branches, tags, topics and HEAD, kept in the object store as small mutable values.
 * Contract: every change is a compare-and-swap against the version the caller read, so two writers never lose an
 * update silently; tags are create-once. Missing refs read as undefined.
 */
export class RefStore {
  constructor(private readonly store: ObjectStore) {}

  async read(name: RefName): Promise<RefValue | undefined> {
    const v = await this.store.readVersioned(name);
    return v && { target: decode(name, v.data), version: v.version };
  }

  /** Follows symbolic refs (HEAD -> refs/heads/main). `ref` is the final ref name; `commit` undefined if unborn. */
  async resolve(name: RefName): Promise<{ ref: RefName; commit?: CommitId; version?: string }> {
    let current = name;
    for (let hops = 0; hops < 5; hops++) {
      const v = await this.read(current);
      if (!v) return { ref: current };
      if ('commit' in v.target) return { ref: current, commit: v.target.commit, version: v.version };
      current = v.target.symbolic;
    }
    throw new IntegrityError(`ref ${name} is a symbolic loop`);
  }

  /** Creates a ref that must not exist yet. Throws AlreadyExists-like ConflictError when it does. */
  async create(name: RefName, target: RefTarget): Promise<void> {
    try {
      await this.store.compareAndSwap(name, undefined, encode(target));
    } catch (e) {
      if (e instanceof ConflictError) throw new ConflictError(`${describe(name)} already exists`, { ref: name });
      throw e;
    }
  }

  /** Moves a ref from the version the caller read (undefined: must be absent). Throws ConflictError if it moved. */
  async update(name: RefName, expectedVersion: string | undefined, target: RefTarget): Promise<void> {
    try {
      await this.store.compareAndSwap(name, expectedVersion, encode(target));
    } catch (e) {
      if (e instanceof ConflictError) {
        throw new ConflictError(`${describe(name)} was changed by another writer; retry`, { ref: name });
      }
      throw e;
    }
  }

  async delete(name: RefName, expectedVersion: string): Promise<void> {
    await this.store.deleteVersioned(name, expectedVersion);
  }

  /** Every ref under `prefix` (e.g. `refs/heads/`) with its target, sorted by name. */
  async list(prefix: string): Promise<{ name: RefName; target: RefTarget }[]> {
    const out: { name: RefName; target: RefTarget }[] = [];
    for await (const info of this.store.list(prefix)) {
      const v = await this.read(info.key as RefName);
      if (v) out.push({ name: info.key as RefName, target: v.target });
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }
}

export function describe(name: string): string {
  if (name.startsWith(BRANCH_PREFIX)) return `branch ${name.slice(BRANCH_PREFIX.length)}`;
  if (name.startsWith(TAG_PREFIX)) return `tag ${name.slice(TAG_PREFIX.length)}`;
  if (name.startsWith(TOPIC_PREFIX)) return `topic ref ${name.slice(TOPIC_PREFIX.length)}`;
  return name;
}
