import {
  CommitId,
  ConflictError,
  FailedPreconditionError,
  IntegrityError,
  InvalidArgumentError,
  isObjectId,
  RefName,
  sleep,
  UnavailableError,
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
  validateShortRefName(name, 'branch name');
  return (BRANCH_PREFIX + name) as RefName;
}
export function tagRef(name: string): RefName {
  validateShortRefName(name, 'tag name');
  return (TAG_PREFIX + name) as RefName;
}

/** A branch or tag name as users give it: HEAD, or a name starting refs/, would be read as something else. */
function validateShortRefName(name: string, what: string): void {
  validateRefName(name, what);
  if (name === HEAD || name.startsWith('refs/')) {
    throw new InvalidArgumentError(`invalid ${what} ${JSON.stringify(name)}: a revision with that name means something else`);
  }
  // A full commit id means that commit wherever a REF is read (resolveRevision): a branch or tag so named could
  // never be read, and would look like a commit it is not.
  if (/^[0-9a-fA-F]{64}$/.test(name)) {
    throw new InvalidArgumentError(`invalid ${what} ${JSON.stringify(name)}: it would read as the commit id it looks like`);
  }
  // topics/T names refs/topics/T, which subscribe moves: a branch or tag there would hide it.
  if (name === 'topics' || name.startsWith('topics/')) {
    throw new InvalidArgumentError(`invalid ${what} ${JSON.stringify(name)}: topics/ names the refs trib subscribe keeps`);
  }
}
export function topicRef(topic: string): RefName {
  validateRefName(topic, 'topic');
  // Topic names are lower case (see TopicName), which keeps TOPIC_TIP out of them: the key mapping stays one-to-one.
  if (topic !== topic.toLowerCase()) throw new InvalidArgumentError(`invalid topic ${JSON.stringify(topic)}: topics are lower case`);
  return (TOPIC_PREFIX + topic) as RefName;
}

/**
 * Topics nest (`a` and `a/b` may both exist), and on a file system a key cannot be both a file and a folder, so a
 * topic ref is kept one level down: `refs/topics/a` under the key `refs/topics/a/TIP`. Branches and tags are kept
 * under their names, and may not nest (as in git): creating one where the other would need its name refuses.
 */
const TOPIC_TIP = 'TIP';

/** How long a create that met another ref's folder or file on local disk waits for that ref to be readable. */
const NESTED_WRITE_WAIT_MS = 2000;

function keyOf(name: RefName): string {
  return name.startsWith(TOPIC_PREFIX) ? `${name}/${TOPIC_TIP}` : name;
}

/** The ref a store key holds, or undefined for a key that is not one (such as a topic ref's folder). */
function nameOf(key: string): RefName | undefined {
  if (!key.startsWith(TOPIC_PREFIX)) return key as RefName;
  return key.endsWith(`/${TOPIC_TIP}`) ? (key.slice(0, -TOPIC_TIP.length - 1) as RefName) : undefined;
}

function encode(t: RefTarget): Buffer {
  return Buffer.from('commit' in t ? `${t.commit}\n` : `ref: ${t.symbolic}\n`, 'utf8');
}

function decode(name: string, data: Buffer, storeUrl: string): RefTarget {
  const text = data.toString('utf8').trim();
  if (text.startsWith('ref: ')) return { symbolic: text.slice(5) as RefName };
  if (!isObjectId(text)) throw new IntegrityError(`ref ${name} in ${storeUrl} is corrupt`, { ref: name });
  return { commit: text };
}

/**
 * Branches, tags, topics and HEAD, kept in the object store as small mutable values.
 * Contract: every change is a compare-and-swap against the version the caller read, so two writers never lose an
 * update silently; tags are create-once. Missing refs read as undefined.
 */
export class RefStore {
  /**
   * Each ref as this object last wrote it or read it for a swap (null: absent); a swap from it that fails reads it
   * afresh: see readForSwap.
   */
  private readonly known = new Map<RefName, RefValue | null>();

  constructor(private readonly store: ObjectStore) {}

  async read(name: RefName): Promise<RefValue | undefined> {
    const v = await this.store.readVersioned(keyOf(name));
    return v && { target: decode(name, v.data, this.store.url), version: v.version };
  }

  /**
   * The ref as this object last wrote it or read it here, without a store request, else as `read` finds it. Only
   * for a caller that swaps from the answer and retries from a fresh answer on ConflictError: another writer's move
   * is not seen until such a swap fails, which reads it afresh (so a long-running writer, a hub moving main or a
   * subscriber moving a topic ref, pays one read per ref, not one per move or per retry).
   */
  async readForSwap(name: RefName): Promise<RefValue | undefined> {
    const known = this.known.get(name);
    if (known !== undefined) return known ?? undefined;
    const value = await this.read(name);
    this.known.set(name, value ?? null);
    return value;
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
    await this.swap(name, undefined, target, async () => {
      throw new ConflictError(`${describe(name)} already exists`, { ref: name });
    });
  }

  /**
   * Moves a ref from the version the caller read (undefined: must be absent) and returns its new version. Throws
   * ConflictError if it moved.
   */
  async update(name: RefName, expectedVersion: string | undefined, target: RefTarget): Promise<string> {
    return this.swap(name, expectedVersion, target, async () => {
      // The ref already holds our target (another writer moved it there; a store's own retry after a lost answer
      // is recognised by the store, see ObjectStore.compareAndSwap): done. The fresh answer is what the caller's
      // retry swaps from.
      const now = await this.read(name);
      this.known.set(name, now ?? null);
      if (now && sameTarget(now.target, target)) return now.version;
      throw new ConflictError(`${describe(name)} was changed by another writer; retry`, { ref: name });
    });
  }

  /**
   * Swaps `name` from `expected` (undefined: a new ref, held to the nesting rule before and after its write) to
   * `target` and returns the new version; a swap the store refuses as a conflict is `onConflict`'s to answer.
   */
  private async swap(name: RefName, expected: string | undefined, target: RefTarget, onConflict: () => Promise<string>): Promise<string> {
    const fresh = expected === undefined;
    if (fresh) await this.refuseNesting(name);
    let version: string;
    try {
      version = await this.store.compareAndSwap(keyOf(name), expected, encode(target));
    } catch (e) {
      this.known.delete(name);
      if (e instanceof ConflictError) return onConflict();
      throw fresh ? await this.asNestingConflict(name, e) : e;
    }
    if (fresh) await this.undoIfNested(name, version);
    this.known.set(name, { target, version });
    return version;
  }

  async delete(name: RefName, expectedVersion: string): Promise<void> {
    this.known.delete(name);
    await this.store.deleteVersioned(keyOf(name), expectedVersion);
    this.known.set(name, null);
  }

  /**
   * Deletes `name` whatever it holds, a value no ref could hold included (`trib branch -D` of a damaged branch):
   * the version read is the one deleted. False when there is none.
   */
  async deleteAsStored(name: RefName): Promise<boolean> {
    const v = await this.store.readVersioned(keyOf(name));
    if (!v) return false;
    await this.delete(name, v.version);
    return true;
  }

  /** Every ref under `prefix` (e.g. `refs/heads/`) with its target, sorted by name. */
  async list(prefix: string): Promise<{ name: RefName; target: RefTarget }[]> {
    const out: { name: RefName; target: RefTarget }[] = [];
    for await (const info of this.store.list(prefix)) {
      const name = nameOf(info.key);
      const v = name && (await this.read(name));
      if (v) out.push({ name: name!, target: v.target });
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Refuses a new branch or tag `a/b` while `a` exists, or `a` while `a/b` does: every backend alike. */
  private async refuseNesting(name: RefName): Promise<void> {
    const conflict = await this.nestingConflict(name);
    if (conflict) throw conflict;
  }

  /**
   * The check after the write that makes the nesting rule hold under races. On an object store `a` and `a/b` are
   * unrelated keys, so two writers creating them at once both pass the check before their write. Each checks
   * again after its write and takes its ref back if the other's is there. Of two such writers, each writes before
   * it checks (and every backend reads and lists what was written before); if both kept their refs, each check
   * came before the other's write, so each write came before the other's check, which came before its own write:
   * impossible. So at most one keeps its ref, and at worst neither does (each saw the other before either took its
   * ref back), which the users retry. Taking back is a swap from the version written, so it never deletes a ref
   * someone else wrote there since.
   */
  private async undoIfNested(name: RefName, version: string): Promise<void> {
    const conflict = await this.nestingConflict(name);
    if (!conflict) return;
    this.known.delete(name);
    try {
      await this.store.deleteVersioned(keyOf(name), version);
    } catch (e) {
      if (!(e instanceof ConflictError)) {
        throw new UnavailableError(`${conflict.message}, and taking back ${describe(name)} failed: ${(e as Error).message}`, { ref: name }, { cause: e });
      }
    }
    throw conflict;
  }

  /**
   * A failed create as the nesting rule's conflict when it is one: on local disk a ref racing one it nests in (or
   * that nests in it) finds a file where it needs a folder, or the reverse. The other's folder comes before its
   * ref, so the ref may not be there yet: it is waited for, briefly.
   */
  private async asNestingConflict(name: RefName, e: unknown): Promise<unknown> {
    if (!(e instanceof FailedPreconditionError)) return e;
    const deadline = Date.now() + NESTED_WRITE_WAIT_MS;
    for (let pause = 5; ; pause *= 2) {
      const conflict = await this.nestingConflict(name);
      if (conflict) return conflict;
      if (Date.now() + pause > deadline) return e;
      await sleep(pause);
    }
  }

  /** The conflict a branch or tag `name` would make with one it nests in or that nests in it, if there is one. */
  private async nestingConflict(name: RefName): Promise<ConflictError | undefined> {
    const prefix = [BRANCH_PREFIX, TAG_PREFIX].find((p) => name.startsWith(p));
    if (!prefix) return undefined;
    const segments = name.slice(prefix.length).split('/');
    for (let i = 1; i < segments.length; i++) {
      const outer = (prefix + segments.slice(0, i).join('/')) as RefName;
      if (await this.read(outer)) return new ConflictError(`cannot create ${describe(name)}: ${describe(outer)} exists`, { ref: name });
    }
    for await (const info of this.store.list(`${name}/`)) {
      return new ConflictError(`cannot create ${describe(name)}: ${describe(info.key)} exists`, { ref: name });
    }
    return undefined;
  }
}

export function describe(name: string): string {
  if (name.startsWith(BRANCH_PREFIX)) return `branch ${name.slice(BRANCH_PREFIX.length)}`;
  if (name.startsWith(TAG_PREFIX)) return `tag ${name.slice(TAG_PREFIX.length)}`;
  if (name.startsWith(TOPIC_PREFIX)) return `topic ref ${name.slice(TOPIC_PREFIX.length)}`;
  return name;
}

function sameTarget(a: RefTarget, b: RefTarget): boolean {
  return 'commit' in a ? 'commit' in b && a.commit === b.commit : 'symbolic' in b && a.symbolic === b.symbolic;
}
