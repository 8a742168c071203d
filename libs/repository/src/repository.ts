import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  AlreadyExistsError,
  Commit,
  CommitId,
  decodeCommit,
  decodeTag,
  encodeCommit,
  FailedPreconditionError,
  InvalidArgumentError,
  isCommitBytes,
  isTagBytes,
  IntegrityError,
  NotFoundError,
  quotePath,
  RefName,
  REPOSITORY_CONFIG_FILE,
  REPOSITORY_DIR,
  Tag,
  TreeId,
  TribError,
  validateRefName,
} from '@tributary/core';
import { isProcessAlive, LocalStore, makeDirectory, ObjectStore, openStore, parseDurableStoreUrl, ScratchOverlayStore } from '@tributary/storage';
import { ObjectDatabase } from './objects/object-database';
import { RepositoryLock } from './locks/repository-lock';
import { branchRef, HEAD, RefStore, RefTarget } from './refs/ref-store';
import { writeWorktreeBase } from './worktree/worktree-base';
import { isWithin, realPathOf } from './worktree/local-paths';
import { parseRevision, refCandidates, resolveRevision } from './revisions/rev-parse';
import { CommitReader } from './history/commit-walk';

export const TRIB_DIR = REPOSITORY_DIR;
const STORE_CONFIG_KEY = 'config';
const FORMAT = 1;

interface LocalConfig {
  readonly format: number;
  /** Storage URL of the repository's objects and refs; undefined means the default `.trib/store`. */
  readonly store?: string;
  /** No working files: the home of a hub or an agent, whose commits are made in the store (see Repository.bare). */
  readonly bare?: boolean;
}

/** The identity of a store, written once when it is created. */
export interface StoreConfig {
  readonly format: number;
  /** Random id, unique per store; prefixes anything kept about this store elsewhere (e.g. Redis cursor keys). */
  readonly id: string;
}

export interface HeadState {
  /** The ref HEAD points at (`refs/heads/main`), or HEAD itself when detached. */
  readonly ref: RefName;
  /** Branch short name when HEAD is on a branch. */
  readonly branch?: string;
  /** Undefined on an unborn branch (no commits yet). */
  readonly commit?: CommitId;
  /** Version of `ref` for a compare-and-swap. */
  readonly version?: string;
}

/**
 * A working copy and its repository: the working files in `workdir`, local state in `workdir/.trib`, and the objects
 * and refs in an object store (by default `.trib/store` on local disk).
 */
export class Repository implements CommitReader {
  readonly tribDir: string;
  readonly lock: RepositoryLock;

  private constructor(
    readonly workdir: string,
    readonly store: ObjectStore,
    readonly objects: ObjectDatabase,
    readonly refs: RefStore,
    readonly storeConfig: StoreConfig,
    /**
     * True for a repository without working files (a hub's or an agent's home): its folder holds only `.trib/`, so
     * commands that read or write the working tree refuse there, instead of taking every file for deleted.
     */
    readonly bare = false,
    /**
     * Set when the repository was opened with `scratchWrites`: the local folder new objects go to instead of the
     * store, removed at close. Nothing written then outlives the command, so no ref may come to name it.
     */
    private readonly scratchDir?: string,
  ) {
    this.tribDir = path.join(workdir, TRIB_DIR);
    this.lock = new RepositoryLock(path.join(this.tribDir, 'lock'));
  }

  /**
   * Creates `.trib/` in `dir` (created if absent) and, when the store is new, its identity and HEAD -> `main`.
   * Throws FailedPreconditionError if `dir` already holds a repository. A failed init leaves none of the folders it made.
   */
  static async init(dir: string, opts: { storeUrl?: string; initialBranch?: string; bare?: boolean } = {}): Promise<Repository> {
    const workdir = path.resolve(dir);
    const tribDir = path.join(workdir, TRIB_DIR);
    // A bad URL, or one whose store would not outlive this process, is refused before anything is created. The
    // normal form is what is recorded, so `S3://b/p/` and `s3://b/p` name one store in every working copy's config.
    const location = opts.storeUrl === undefined ? undefined : parseDurableStoreUrl(opts.storeUrl);
    const givenStore = location?.url;
    if (location?.scheme === 'file' && !opts.bare) await refuseStoreAmongWorkingFiles(workdir, location.path);
    const madeWorkdir = await makeDirectory(workdir).catch((e: NodeJS.ErrnoException) => {
      const notDir = e.code === 'EEXIST' || e.code === 'ENOTDIR';
      if (notDir) throw new FailedPreconditionError(`${quotePath(workdir)} is not a directory`);
      if (e.code === 'ENOENT' || e.code === 'EACCES' || e.code === 'EROFS') {
        throw new FailedPreconditionError(`cannot create ${quotePath(workdir)}: ${e.code === 'ENOENT' ? 'its parent takes no new folders' : e.code}`, {
          path: workdir,
        });
      }
      throw e;
    });
    // A store that refuses (a bucket name, credentials) is only known once opened: what this init made goes again.
    let madeTrib = madeWorkdir !== undefined;
    try {
      // The local config is what makes a repository (it is written last): a .trib/ without it is an init cut short.
      if (await exists(path.join(tribDir, REPOSITORY_CONFIG_FILE))) throw new FailedPreconditionError(`${quotePath(workdir)} is already a trib repository`);
      const branch = opts.initialBranch ?? 'main';
      validateRefName(branch, 'branch name');
      // Made here, not by the store, to know whether it was; a .trib/ that cannot be a folder is the store's to report.
      if (givenStore === undefined) {
        const made = await makeDirectory(tribDir).catch(() => undefined);
        madeTrib ||= made !== undefined;
      }
      const storeUrl = givenStore ?? pathToFileURL(path.join(tribDir, 'store')).href;
      const store = await openStore(storeUrl, { create: true });
      try {
        const config: StoreConfig = { format: FORMAT, id: randomBytes(16).toString('hex') };
        try {
          await store.putIfAbsent(STORE_CONFIG_KEY, Buffer.from(JSON.stringify(config) + '\n'));
        } catch (e) {
          if (!(e instanceof AlreadyExistsError)) throw e;
        }
        const refs = new RefStore(store);
        if (!(await refs.read(HEAD))) await refs.create(HEAD, { symbolic: branchRef(branch) }).catch(ignoreConflict);
        // The local config is written last, so a crash during init leaves a directory `open` will not mistake for a repository.
        const made = await makeDirectory(tribDir);
        madeTrib ||= made !== undefined;
        // The working files are at no commit yet, whatever the store holds: `trib switch` brings a branch's files.
        if (!opts.bare) {
          const head = await refs.read(HEAD);
          const branch = head && 'symbolic' in head.target ? head.target.symbolic.replace(/^refs\/heads\//, '') : undefined;
          await writeWorktreeBase(tribDir, { commit: undefined, ...(branch !== undefined ? { branch } : {}) });
        }
        const local: LocalConfig = { format: FORMAT, ...(givenStore ? { store: givenStore } : {}), ...(opts.bare ? { bare: true } : {}) };
        await writeFileDurably(path.join(tribDir, REPOSITORY_CONFIG_FILE), JSON.stringify(local, null, 2) + '\n');
      } finally {
        await store.close();
      }
    } catch (e) {
      await removeMade(workdir, madeWorkdir, madeTrib ? tribDir : undefined).catch(() => undefined);
      throw e;
    }
    return Repository.openAt(workdir, false);
  }

  /**
   * Opens the repository whose working copy contains `start` (searching upwards, as git does). With
   * `scratchWrites`, new objects go to a scratch folder in `.trib/`, layered over the store (ScratchOverlayStore)
   * and removed at close: for a command that stores objects only to compute its answer (status, diff) on a store it
   * may only read.
   */
  static async open(start: string, opts: { scratchWrites?: boolean } = {}): Promise<Repository> {
    let dir = path.resolve(start);
    for (;;) {
      if (await exists(path.join(dir, TRIB_DIR, REPOSITORY_CONFIG_FILE))) return Repository.openAt(dir, opts.scratchWrites ?? false);
      const parent = path.dirname(dir);
      if (parent === dir) throw new InvalidArgumentError(`not a trib repository (or any parent): ${quotePath(path.resolve(start))}`);
      dir = parent;
    }
  }

  private static async openAt(workdir: string, scratchWrites: boolean): Promise<Repository> {
    const tribDir = path.join(workdir, TRIB_DIR);
    const local = parseConfig<LocalConfig>(await fs.readFile(path.join(tribDir, REPOSITORY_CONFIG_FILE), 'utf8'), path.join(tribDir, REPOSITORY_CONFIG_FILE));
    if (local.format !== FORMAT) throw new FailedPreconditionError(`unsupported repository format ${local.format}`);
    const storeUrl = local.store ?? pathToFileURL(path.join(tribDir, 'store')).href;
    let store = await openStore(storeUrl);
    let scratchDir: string | undefined;
    try {
      if (scratchWrites) {
        scratchDir = await makeScratchDir(tribDir);
        store = new ScratchOverlayStore(store, await LocalStore.open(scratchDir, { create: true }));
      }
      // The config and the pack indexes are fetched at once: on a cloud store that is a round trip less per command.
      const [config, objects] = await Promise.allSettled([store.get(STORE_CONFIG_KEY), ObjectDatabase.open(store)]);
      if (config.status === 'rejected') {
        if (config.reason instanceof NotFoundError) throw new FailedPreconditionError(`${storeUrl} is not a trib store (no config)`);
        throw config.reason;
      }
      if (objects.status === 'rejected') throw objects.reason;
      const storeConfig = parseConfig<StoreConfig>(config.value.toString('utf8'), `the config of ${storeUrl}`);
      return new Repository(workdir, store, objects.value, new RefStore(store), storeConfig, local.bare === true, scratchDir);
    } catch (e) {
      await store.close().catch(() => undefined);
      if (scratchDir) await fs.rm(scratchDir, { recursive: true, force: true });
      throw e;
    }
  }

  /** Whether new objects go to a scratch folder that close removes (see `open`), not to the store. */
  get scratchWrites(): boolean {
    return this.scratchDir !== undefined;
  }

  async close(): Promise<void> {
    try {
      await this.objects.flush();
      await this.store.close();
    } finally {
      if (this.scratchDir) await fs.rm(this.scratchDir, { recursive: true, force: true });
    }
  }

  async readCommit(id: CommitId): Promise<Commit> {
    return decodeCommit(await this.objects.get(id), id);
  }

  /** The tree of `commit`; undefined for no commit (HEAD on a branch with no commits yet). */
  async treeOf(commit: CommitId | undefined): Promise<TreeId | undefined> {
    return commit ? (await this.readCommit(commit)).tree : undefined;
  }

  /** Stores a commit and makes it durable (every object written before it is flushed too). */
  async writeCommit(commit: Commit): Promise<CommitId> {
    const id = await this.objects.put(encodeCommit(commit));
    await this.objects.flush();
    return id;
  }

  async head(): Promise<HeadState> {
    const v = await this.refs.read(HEAD);
    if (!v) throw new FailedPreconditionError('repository has no HEAD');
    if ('commit' in v.target) return { ref: HEAD, commit: v.target.commit, version: v.version };
    const ref = v.target.symbolic;
    const r = await this.refs.resolve(ref);
    const branch = ref.startsWith('refs/heads/') ? ref.slice('refs/heads/'.length) : undefined;
    return { ref, branch, commit: r.commit, version: r.version };
  }

  /** Moves whatever HEAD points at from `expected` (the state the caller read) to `commit`. */
  async advanceHead(expected: HeadState, commit: CommitId): Promise<void> {
    await this.refs.update(expected.ref, expected.version, { commit });
  }

  async setHead(target: RefTarget): Promise<void> {
    const v = await this.refs.read(HEAD);
    await this.refs.update(HEAD, v?.version, target);
  }

  /** Resolves a REF expression (see resolveRevision) to a commit id. */
  async resolve(spec: string): Promise<CommitId> {
    return resolveRevision(spec, {
      refCommit: (name) => this.refCommit(name),
      commitsWithPrefix: (prefix) => this.commitsWithPrefix(prefix),
      parents: async (id) => (await this.readCommit(id)).parents,
    });
  }

  /**
   * The annotated tag `spec` names: a ref that `resolve` reads it as (the same candidates, in the same order)
   * pointing at a tag object. Undefined for anything else (a plain tag, a commit, `v1~1`).
   */
  async annotatedTag(spec: string): Promise<Tag | undefined> {
    const { base, steps } = parseRevision(spec);
    if (steps.length > 0) return undefined;
    for (const ref of refCandidates(base)) {
      const id = (await this.refs.resolve(ref)).commit;
      if (!id) continue;
      const bytes = await this.objects.get(id);
      return isTagBytes(bytes) ? decodeTag(bytes, id) : undefined;
    }
    return undefined;
  }

  /** The commit a ref leads to, following symbolic refs and annotated tags. */
  async refCommit(name: RefName): Promise<CommitId | undefined> {
    return (await this.refTarget(name))?.commit;
  }

  /** The commit a ref leads to, with the annotated tag the ref points at (undefined for any other ref). */
  async refTarget(name: RefName): Promise<{ commit: CommitId; tag?: Tag } | undefined> {
    const r = await this.refs.resolve(name);
    if (!r.commit) return undefined;
    let id = r.commit;
    let tag: Tag | undefined;
    for (let i = 0; i < 5; i++) {
      const bytes = await this.objects.get(id).catch((e: unknown) => {
        // A ref to an object that is gone is damage, not a missing ref: "no commits yet" would hide it.
        if (!(e instanceof NotFoundError)) throw e;
        throw new IntegrityError(`ref ${name} points at ${id}, which is not stored (run trib verify)`, { ref: name, id });
      });
      if (!isTagBytes(bytes)) return { commit: id, tag };
      const next = decodeTag(bytes, id);
      tag ??= next;
      id = next.object;
    }
    throw new FailedPreconditionError(`ref ${name} is a chain of tags that is too long`);
  }

  private async commitsWithPrefix(prefix: string): Promise<CommitId[]> {
    const out: CommitId[] = [];
    for (const id of this.objects.idsWithPrefix(prefix)) {
      const bytes = await this.objects.get(id);
      if (isCommitBytes(bytes)) out.push(id);
    }
    return out;
  }
}

/**
 * Refuses a store folder among the working files (each commit would take the store's own files in, and a switch
 * would write over them) or a working folder inside the store. A store under `.trib/` is where the default one is.
 */
async function refuseStoreAmongWorkingFiles(workdir: string, storePath: string): Promise<void> {
  const [work, store] = await Promise.all([realPathOf(workdir), realPathOf(storePath)]);
  const clash = isWithin(store, work)
    ? 'the working folder would be inside the store'
    : isWithin(work, store) && !isWithin(path.join(work, TRIB_DIR), store)
      ? `the store would be among the working files, which a commit takes in (a store folder inside ${quotePath(workdir)} goes under ${TRIB_DIR}/)`
      : undefined;
  if (clash) throw new InvalidArgumentError(`cannot use ${quotePath(storePath)} as the store of ${quotePath(workdir)}: ${clash}`);
}

function ignoreConflict(e: unknown): void {
  if (!(e instanceof TribError && e.code === 'CONFLICT')) throw e;
}

/**
 * Undoes a failed init: `.trib/` when it made it, then the folders it made for the working copy, from `workdir` up to
 * `made`, each only while empty, so nothing put there meanwhile by anything else goes with them.
 */
async function removeMade(workdir: string, made: string | undefined, tribDir: string | undefined): Promise<void> {
  if (tribDir !== undefined) await fs.rm(tribDir, { recursive: true, force: true });
  if (made === undefined) return;
  for (let dir = workdir; ; dir = path.dirname(dir)) {
    await fs.rmdir(dir);
    if (dir === made || dir === path.dirname(dir)) return;
  }
}

async function exists(p: string): Promise<boolean> {
  return fs.lstat(p).then(() => true, () => false);
}

/** A config file's JSON object; IntegrityError naming `what` when it is not one (damage, not a bug here). */
function parseConfig<T>(text: string, what: string): T {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    v = undefined;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new IntegrityError(`${what} is damaged: not a JSON object`);
  return v as T;
}

/**
 * A small local file of the working copy as text and parsed JSON (`value` undefined when it does not parse), or
 * undefined when the file is absent.
 */
export async function readJsonIfPresent(file: string): Promise<{ text: string; value: unknown } | undefined> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    return { text, value: JSON.parse(text) as unknown };
  } catch {
    return { text, value: undefined };
  }
}

/** Temp file, fsync, rename, fsync of the directory: the file is either old or new after any crash. */
export async function writeFileDurably(file: string, data: string | Buffer): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const fh = await fs.open(tmp, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fs.rename(tmp, file);
  const dir = await fs.open(path.dirname(file), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/**
 * A fresh `.trib/scratch-<pid>` folder, after removing those of processes that are gone (a command killed or
 * interrupted before its close). Kept beside the working files, not in the OS temp folder: it holds their data.
 */
async function makeScratchDir(tribDir: string): Promise<string> {
  for (const name of await fs.readdir(tribDir)) {
    const pid = /^scratch-(\d+)$/.exec(name)?.[1];
    if (pid && Number(pid) !== process.pid && !isProcessAlive(Number(pid))) {
      await fs.rm(path.join(tribDir, name), { recursive: true, force: true });
    }
  }
  const dir = path.join(tribDir, `scratch-${process.pid}`);
  await fs.rm(dir, { recursive: true, force: true });
  await fs.mkdir(dir);
  return dir;
}
