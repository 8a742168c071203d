import {
  ChunkRef,
  Commit,
  CommitId,
  decodeChunkList,
  decodeCommit,
  decodeTreeNode,
  DirectoryLookup,
  encodeChunkDelta,
  FileRef,
  ID_BYTES,
  InvalidArgumentError,
  ObjectId,
  PositionedChunkRef,
  readChunkRefs,
  TreeEntry,
  TreeId,
  viewTreeOf,
} from '@tributary/core';
import { crashPoint } from '@tributary/repository';
import type { ObjectFrame } from '../generated/tributary/v1/ObjectFrame';
import { CHUNK, CHUNK_LIST, COMMIT, entryObjectKind, ObjectKindName, TREE } from './object-kinds';
import { MAX_MESSAGE_BYTES } from '../wire/grpc-options';
import { SendQueue } from './send-queue';
import {
  BATCH_BYTES,
  bitSet,
  emptyStats,
  idToWire,
  MAX_HAVE_IDS,
  ObjectReader,
  SenderChannel,
  TransferStats,
} from './transfer-channel';

/** How far the sender reads ahead of the stream; see TransferSenderOptions.readAhead. */
export interface SenderReadAhead {
  /** Chunk bytes asked for in one getMany (neighbours in a pack come in one ranged read). */
  readonly batchBytes: number;
  /**
   * Bytes queued for sending, read or being read: reads run this far ahead of the stream, so the store and the
   * network work at the same time. Bounds the sender's memory besides the batch being filled.
   */
  readonly aheadBytes: number;
}

/** List-node bytes of one file held back at most before they are sent (see deferList): ~700 leaves, ~1.4 GiB. */
const MAX_DEFERRED_LIST_BYTES = 1 << 20;
/** Most bytes of objects and ids in one ObjectBatch: the message limit, less room for protobuf's framing. */
const MAX_BATCH_WIRE_BYTES = MAX_MESSAGE_BYTES - (64 << 10);
/** Trees or lists read in one getMany during negotiation (nodes are at most ~10 KiB each). */
const NODES_PER_READ = 256;
/** Most objects in one read run (see addToRun), so a run of tiny chunks or tree nodes stays a modest batch. */
const MAX_RUN_ITEMS = 4096;
/**
 * HaveQuery messages sent before the first answer is awaited (2 MiB of ids): a level of up to 64K objects costs one
 * round trip. Answers are a bit per id, so the receiver's replies never hold up its reading of the queries.
 */
const MAX_QUERIES_IN_FLIGHT = 16;
/**
 * Levels of trees and lists read before the receiver has answered for them, below the last node known to be
 * missing: enough for `batches/<new day>/<new file>` under a changed directory (the edge agent's layout) to be one
 * round trip, while a subtree the receiver turns out to hold wastes at most two levels of reads.
 */
const SPECULATIVE_LEVELS = 2;

/** For a store on local disk, where a read is a system call. */
const DEFAULT_READ_AHEAD: SenderReadAhead = { batchBytes: 2 * 1024 * 1024, aheadBytes: 8 * 1024 * 1024 };

export interface SendOptions {
  /**
   * A commit the receiver should already hold (publish: the topic head; subscribe: the entry before this one).
   * It is confirmed with the first HaveQuery and, if held, its objects serve as delta bases.
   */
  readonly base?: CommitId;
  /**
   * The receiver is known to hold `base`, and the commit builds on it and is new to the receiver: a publisher's
   * base is the head the broker just named, and its commit is not in the topic's log. Neither is asked about, which
   * saves a round trip; if the receiver held the commit after all, its changed trees and the commit itself travel
   * in vain (never its files, which are still asked about). The receiver verifies what it gets either way.
   */
  readonly baseHeld?: boolean;
  /** Called after each object is queued, with the running totals (progress reporting). */
  readonly onProgress?: (stats: TransferStats) => void;
}

export interface TransferSenderOptions {
  /** Send changed chunks as deltas where that is at most half the bytes. Default true. */
  readonly deltas?: boolean;
  /** Payload bytes per ObjectBatch message. Default BATCH_BYTES (1 MiB). */
  readonly batchBytes?: number;
  /** Read sizes; a cloud store wants larger reads, more of them in flight (see readAheadFor). Default 2 of 8 MiB. */
  readonly readAhead?: SenderReadAhead;
}

/**
 * Sends one commit and everything beneath it that the receiver lacks, over any SenderChannel.
 *
 * 1. Negotiation, top-down: HaveQuery for the commit, then for the parents of missing commits (asking ahead along
 *    the history in growing batches, so a long missing history costs log(n) round trips), then the trees, chunk
 *    lists and chunks under missing commits, three levels per round trip. Thanks to the closure invariant it never
 *    descends into an object the receiver holds.
 * 2. Sending, bottom-up: missing objects in post-order (a file's chunks, then its list nodes, then trees, then
 *    commits, parents before children), in ObjectBatch messages of about 1 MiB. A chunk, chunk-list root or
 *    directory node travels as a delta against the object at the same place (same path, same offset) in a commit
 *    the receiver holds, when the delta is at most half its size.
 * 3. CommitEnd.
 *
 * Memory: the ids of the objects the receiver lacks (not their bytes), plus the reads ahead (`readAhead`), one
 * read run being gathered, one batch, and at most MAX_DEFERRED_LIST_BYTES of a file's list nodes. Reads go through
 * `src`, which verifies them (an ObjectDatabase does), except chunks: those are read unhashed, because the
 * receiver hashes every object before storing it and a chunk's bytes are only passed on here, never interpreted.
 */
export class TransferSender {
  private readonly deltas: boolean;
  private readonly batchBytes: number;
  private readonly readAhead: SenderReadAhead;
  /** The last commit sent over the channel: the receiver applies commits in order, so it holds it by the next. */
  private delivered: CommitId | undefined;

  constructor(
    private readonly src: ObjectReader,
    private readonly channel: SenderChannel,
    opts: TransferSenderOptions = {},
  ) {
    this.deltas = opts.deltas ?? true;
    this.batchBytes = opts.batchBytes ?? BATCH_BYTES;
    this.readAhead = opts.readAhead ?? DEFAULT_READ_AHEAD;
  }

  /**
   * The receiver says it holds `commit` with everything beneath it (a subscriber names its topic ref when it starts):
   * taken as if this sender had sent it, so a next commit built on it saves the round trip that asks about it alone.
   * A receiver that claimed wrongly fails its own transfer (a reference it lacks), nothing else.
   */
  receiverHolds(commit: CommitId): void {
    this.delivered = commit;
  }

  /**
   * Runs the whole exchange for `commit`; resolves after CommitEnd is handed to the transport. When `base` is the
   * commit this sender sent last (a subscriber's previous entry), the receiver holds it, though it may hold `commit`
   * too (a replay): `commit` is then asked about in the same round trip as the changes since `base`, not in one of
   * its own (for a commit whose only parent is `base`; any other takes the usual negotiation).
   */
  async sendCommit(commit: CommitId, opts: SendOptions = {}): Promise<TransferStats> {
    const baseDelivered = opts.base !== undefined && opts.base === this.delivered;
    const { src, channel, deltas, batchBytes, readAhead } = this;
    const transfer = new CommitTransfer(src, channel, deltas, batchBytes, readAhead, opts, baseDelivered);
    const stats = await transfer.run(commit);
    this.delivered = commit;
    return stats;
  }
}

/** A child found during negotiation, with the kind its parent says it is. */
interface Wanted {
  readonly id: ObjectId;
  readonly kind: ObjectKindName;
  /** For a tree node: the directory at the same path in a commit the receiver holds, if there is one. */
  readonly heldDir?: TreeId;
  /**
   * A directory that exists in `heldDir`'s commit with other contents: the receiver lacks it unless that exact
   * directory is held elsewhere, so it is sent without asking (a few tree nodes at worst sent in vain).
   */
  readonly presumedMissing?: boolean;
}

/**
 * An object waiting in a read run: a chunk to read (`at` is its offset in its file, for `aligner`) or an object
 * whose `bytes` are in hand (to send as a delta against `base` where that is smaller).
 */
interface RunItem {
  readonly id: ObjectId;
  readonly kind: ObjectKindName;
  readonly size: number;
  readonly bytes?: Buffer;
  readonly base?: ObjectId;
  readonly at?: number;
  readonly aligner?: ChunkAligner;
}

/** A tree or list node the sender read, with its children that the receiver may lack. */
interface Family {
  readonly parent: Wanted;
  readonly children: Wanted[];
}

/** The entries of a directory the receiver holds, by name. */
type HeldEntries = (name: string) => Promise<TreeEntry | undefined>;

class CommitTransfer {
  /** What the receiver said: true = holds it (with its closure), false = lacks it. */
  private readonly known = new Map<ObjectId, boolean>();
  private readonly heldDirs = new Map<TreeId, { entries: HeldEntries; pages: ReadonlySet<ObjectId> }>();
  /** Objects queued for sending (or sent): each goes once. */
  private readonly queued = new Set<ObjectId>();
  private readonly outbox: SendQueue;
  private readonly stats = emptyStats();
  private batch: ObjectFrame[] = [];
  private batchSize = 0;
  /** Objects queued but not yet in the outbox, and the bytes of the chunks and of the objects in hand among them. */
  private pendingRun: RunItem[] = [];
  private runChunkBytes = 0;
  private runHandBytes = 0;
  /** The list nodes of the file being sent, held back until its chunks are queued (see deferList). */
  private deferredLists: RunItem[] = [];
  private deferredListBytes = 0;

  constructor(
    private readonly src: ObjectReader,
    private readonly channel: SenderChannel,
    private readonly useDeltas: boolean,
    private readonly batchBytes: number,
    private readonly readAhead: SenderReadAhead,
    private readonly opts: SendOptions,
    /** The receiver holds `opts.base`: this sender sent it last (see TransferSender.sendCommit). */
    private readonly baseDelivered: boolean,
  ) {
    this.outbox = new SendQueue(readAhead.aheadBytes);
  }

  async run(commit: CommitId): Promise<TransferStats> {
    let missing = await this.negotiateOnDeliveredBase(commit);
    if (!missing) {
      missing = await this.negotiateCommits(commit);
      const trees: Wanted[] = [];
      for (const [id, c] of missing) {
        const held = this.heldCommitFor(id, c, commit);
        const tree: Wanted = { id: c.tree, kind: TREE };
        trees.push(held ? this.comparedTo((await this.readCommit(held)).tree, c.tree, TREE) : tree);
        trees.push(...viewWanted(c));
      }
      await this.negotiateContents(trees);
    }
    for (const id of parentsFirst(commit, missing)) {
      const c = missing.get(id)!;
      const base = this.deltaBaseFor(id, c, commit);
      const baseTree = base ? (await this.readCommit(base)).tree : undefined;
      await this.sendDir(c.tree, baseTree);
      // What the view shares with the commit's tree went just above; only its own nodes are left to go.
      const view = viewTreeOf(c);
      if (view) await this.sendDir(view, undefined);
      await this.queue(id, COMMIT, await this.src.get(id));
    }
    await this.queueRun();
    await this.outbox.drain();
    await this.flushBatch();
    await this.channel.send({ commitEnd: { commit: idToWire(commit) } });
    return this.stats;
  }

  // ---- negotiation

  /**
   * When the base was delivered, for a commit whose only parent is it: asks about the commit in the first round of
   * asking about the changes since the base, and returns the commits to send (none if the receiver holds it).
   * Undefined when this does not apply.
   */
  private async negotiateOnDeliveredBase(commit: CommitId): Promise<Map<CommitId, Commit> | undefined> {
    const base = this.opts.base;
    if (!this.baseDelivered || this.opts.baseHeld || !base || base === commit) return undefined;
    const c = await this.readCommit(commit);
    if (c.parents.length !== 1 || c.parents[0] !== base) return undefined;
    this.known.set(base, true);
    const changes = this.comparedTo((await this.readCommit(base)).tree, c.tree, TREE);
    const held = await this.negotiateContents([changes, ...viewWanted(c)], commit);
    return held ? new Map() : new Map([[commit, c]]);
  }

  /** The commits the receiver lacks, decoded, found by asking ahead along the history in doubling batches. */
  private async negotiateCommits(commit: CommitId): Promise<Map<CommitId, Commit>> {
    const missing = new Map<CommitId, Commit>();
    let extra: ObjectId[] = this.opts.base && this.opts.base !== commit ? [this.opts.base] : [];
    if (this.opts.baseHeld && this.opts.base && this.opts.base !== commit) {
      this.known.set(this.opts.base, true);
      this.known.set(commit, false);
      extra = [];
    }
    let frontier: CommitId[] = [commit];
    let width = 1;
    while (frontier.length > 0) {
      const batch: CommitId[] = [];
      const decoded = new Map<CommitId, Commit>();
      const queue = [...frontier];
      const limit = Math.max(width, frontier.length);
      for (let i = 0; i < queue.length && batch.length < limit; i++) {
        const id = queue[i];
        if (this.known.get(id) === true || missing.has(id) || decoded.has(id)) continue;
        const c = await this.readCommit(id);
        decoded.set(id, c);
        batch.push(id);
        queue.push(...c.parents);
      }
      // The base was asked with the first batch; anything already answered is not asked again.
      await this.ask([...extra, ...batch.filter((id) => !this.known.has(id))]);
      extra = [];
      frontier = [];
      for (const id of batch) {
        if (this.known.get(id)) continue;
        const c = decoded.get(id)!;
        missing.set(id, c);
        for (const p of c.parents) if (this.known.get(p) !== true && !missing.has(p)) frontier.push(p);
      }
      width = Math.min(width * 2, MAX_HAVE_IDS);
    }
    return missing;
  }

  /**
   * Asks about trees, lists and chunks top-down, descending only into what the receiver lacks. Where a commit the
   * receiver holds is known, objects at the same path in it are held (the closure invariant) and are not asked
   * about, and directories changed since are presumed missing: a small change costs a round trip for its files,
   * not one per level of the tree.
   *
   * Each round trip settles at least three levels: nodes are read before the receiver has answered for them, up to
   * SPECULATIVE_LEVELS levels below the last node known to be missing (they are read anyway when missing, and a
   * node found held costs only its read), so their children are asked in the same round; and nodes known to be
   * missing already (presumed directories) need no answer, so a change deep in a tree is one round however deep.
   * Under a new commit, a directory of files costs two rounds: the root, the directory and the files' lists, then
   * the chunks.
   *
   * `commit`, if given, is asked about in the first round too; if the receiver holds it, nothing more is asked and
   * this resolves true.
   */
  private async negotiateContents(trees: readonly Wanted[], commit?: CommitId): Promise<boolean> {
    // An id can be wanted as two kinds (a file whose bytes are a tree object); descend once per kind.
    const descended = new Set<string>();
    let level: Wanted[] = [...trees];
    let alsoAsk = commit === undefined ? [] : [commit];
    while (level.length > 0) {
      const families: Family[] = [];
      const asking: Wanted[] = [];
      // This level's nodes, then on down: through nodes known to be missing (presumed: they need no answer), and
      // up to SPECULATIVE_LEVELS levels into nodes not answered yet. `unsure` counts those levels above a node.
      this.presume(level);
      const unsure = new Map<Wanted, number>(level.map((w) => [w, this.known.get(w.id) === false ? 0 : 1]));
      for (let wave = level; wave.length > 0; ) {
        const read = await this.readChildren(wave.filter((w) => this.known.get(w.id) !== true), descended);
        const next: Wanted[] = [];
        for (const f of read) {
          this.presume(f.children);
          append(asking, f.children);
          for (const c of f.children) {
            const levels = this.known.get(c.id) === false ? 0 : unsure.get(f.parent)! + 1;
            if (this.known.get(c.id) === true || levels > SPECULATIVE_LEVELS) continue;
            unsure.set(c, levels);
            next.push(c);
          }
        }
        append(families, read);
        append(asking, wave);
        wave = next;
      }
      await this.ask([...alsoAsk, ...this.unanswered(asking)]);
      alsoAsk = [];
      if (commit !== undefined && this.known.get(commit) === true) return true;
      // The children the receiver lacks, under parents it lacks, are read next; their children form the next level.
      level = (await this.readChildren(missingChildren(families, this.known), descended)).flatMap((f) => f.children);
    }
    return false;
  }

  /** Marks the directories presumed missing (see Wanted.presumedMissing) as missing, without asking. */
  private presume(wanted: readonly Wanted[]): void {
    for (const w of wanted) if (w.presumedMissing && !this.known.has(w.id)) this.known.set(w.id, false);
  }

  /** The ids among `wanted` the receiver has not answered for yet, once each. */
  private unanswered(wanted: readonly Wanted[]): ObjectId[] {
    const ids = new Set<ObjectId>();
    for (const w of wanted) if (!this.known.has(w.id)) ids.add(w.id);
    return [...ids];
  }

  /**
   * Reads the trees and lists among `parents` not read before, and finds their children that the receiver may lack.
   * A level's nodes are read together (neighbours in a pack come in one ranged read): one round trip per slice, not
   * per node, which on a cloud store is most of a small transfer's time.
   */
  private async readChildren(parents: readonly Wanted[], descended: Set<string>): Promise<Family[]> {
    const toRead: Wanted[] = [];
    for (const w of parents) {
      if (w.kind === CHUNK || descended.has(w.kind + w.id)) continue;
      descended.add(w.kind + w.id);
      toRead.push(w);
    }
    const families: Family[] = [];
    for (let from = 0; from < toRead.length; from += NODES_PER_READ) {
      const slice = toRead.slice(from, from + NODES_PER_READ);
      const nodes = await this.readMany(slice.map((w) => w.id));
      for (let i = 0; i < slice.length; i++) {
        const children: Wanted[] = [];
        await this.descend(slice[i], nodes[i], children);
        families.push({ parent: slice[i], children });
      }
    }
    return families;
  }

  /**
   * Objects in the order of `ids`, in one getMany where the source has it. Verified, unless `verify: false` (chunks
   * the sender only passes on; the receiver hashes them).
   */
  private readMany(ids: readonly ObjectId[], opts?: { verify?: boolean }): Promise<Buffer[]> {
    if (ids.length === 0) return Promise.resolve([]);
    return this.src.getMany ? this.src.getMany(ids, opts) : Promise.all(ids.map((id) => this.src.get(id)));
  }

  /** Adds the children of the node `w` (its `bytes`) that the receiver may lack to `next`. */
  private async descend(w: Wanted, bytes: Buffer, next: Wanted[]): Promise<void> {
    if (w.kind !== TREE) {
      const node = decodeChunkList(bytes, w.id);
      for (const c of node.children) next.push({ id: c.id, kind: node.level === 0 ? CHUNK : CHUNK_LIST });
      return;
    }
    const node = decodeTreeNode(bytes, w.id);
    const held = w.heldDir === undefined ? undefined : await this.heldDir(w.heldDir);
    if (node.type === 'index') {
      for (const c of node.children) {
        if (held?.pages.has(c.id)) this.known.set(c.id, true);
        else next.push({ id: c.id, kind: TREE, heldDir: w.heldDir });
      }
      return;
    }
    for (const e of node.entries) {
      const kind = entryObjectKind(e);
      const was = held && (await held.entries(e.name));
      if (!was) next.push({ id: e.id, kind });
      else if (was.id === e.id && entryObjectKind(was) === kind) this.known.set(e.id, true);
      else if (kind === TREE && was.kind === 'dir') next.push({ id: e.id, kind, heldDir: was.id, presumedMissing: true });
      else next.push({ id: e.id, kind });
    }
  }

  /** How `id` (a `kind` object) stands against `heldId`, the object at the same place in a commit the receiver holds. */
  private comparedTo(heldId: TreeId, id: TreeId, kind: ObjectKindName): Wanted {
    if (heldId === id) {
      this.known.set(id, true);
      return { id, kind };
    }
    return { id, kind, heldDir: heldId, presumedMissing: true };
  }

  /** A held directory's entries by name (a map for a single page, lookups through its index otherwise). */
  private async heldDir(id: TreeId): Promise<{ entries: HeldEntries; pages: ReadonlySet<ObjectId> }> {
    let dir = this.heldDirs.get(id);
    if (!dir) {
      const node = decodeTreeNode(await this.src.get(id), id);
      if (node.type === 'page') {
        const byName = new Map(node.entries.map((e) => [e.name, e]));
        dir = { entries: async (name) => byName.get(name), pages: new Set() };
      } else {
        const lookup = new DirectoryLookup(this.src, id, node);
        dir = { entries: (name) => lookup.entry(name), pages: new Set(node.children.map((c) => c.id)) };
      }
      this.heldDirs.set(id, dir);
    }
    return dir;
  }

  /**
   * Asks the receiver about `ids` in one round trip: HaveQuery messages of MAX_HAVE_IDS ids each, up to
   * MAX_QUERIES_IN_FLIGHT of them sent before the first answer is awaited (answers come in order), and records the
   * answers in `known`.
   */
  private async ask(ids: readonly ObjectId[]): Promise<void> {
    if (ids.length === 0) return;
    this.stats.haveRounds++;
    const inFlight: ObjectId[][] = [];
    const answerOldest = async () => {
      const slice = inFlight.shift()!;
      const bits = await this.channel.receiveHaveReply();
      if (bits.length !== Math.ceil(slice.length / 8)) {
        // The peer's mistake, not this process's: INVALID_ARGUMENT on the wire, not INTERNAL.
        throw new InvalidArgumentError(`have reply has ${bits.length} bytes for ${slice.length} ids`);
      }
      slice.forEach((id, i) => this.known.set(id, !bitSet(bits, i)));
    };
    for (let from = 0; from < ids.length; from += MAX_HAVE_IDS) {
      if (inFlight.length >= MAX_QUERIES_IN_FLIGHT) await answerOldest();
      const slice = ids.slice(from, from + MAX_HAVE_IDS);
      const wire = Buffer.allocUnsafe(slice.length * ID_BYTES);
      slice.forEach((id, i) => wire.write(id, i * ID_BYTES, 'hex'));
      await this.channel.send({ haveQuery: { ids: wire } });
      this.stats.haveQueries++;
      inFlight.push(slice);
    }
    while (inFlight.length > 0) await answerOldest();
  }

  // ---- sending

  private needs(id: ObjectId): boolean {
    return this.known.get(id) === false && !this.queued.has(id);
  }

  /** A commit the receiver held before this transfer, whose tree serves as delta base for `id`'s tree. */
  private deltaBaseFor(id: CommitId, c: Commit, top: CommitId): CommitId | undefined {
    return this.useDeltas ? this.heldCommitFor(id, c, top) : undefined;
  }

  /** The commit the receiver holds that `id` most likely differs little from: the base for the top, else its parent. */
  private heldCommitFor(id: CommitId, c: Commit, top: CommitId): CommitId | undefined {
    if (id === top && this.opts.base && this.known.get(this.opts.base) === true) return this.opts.base;
    const parent = c.parents[0];
    return parent && this.known.get(parent) === true ? parent : undefined;
  }

  private async sendDir(id: TreeId, baseDir: TreeId | undefined): Promise<void> {
    await this.sendTreeNode(id, baseDir && new DirectoryLookup(this.src, baseDir), baseDir);
  }

  /**
   * Sends a directory node and what it holds that the receiver lacks. `nodeBase` is the node's delta base: for the
   * directory's top node, the held directory's top node; for a page beneath an index, the held page where its first
   * entry is or would be (a page that gained an entry then travels as little more than that entry).
   */
  private async sendTreeNode(id: TreeId, baseDir: DirectoryLookup | undefined, nodeBase: TreeId | undefined): Promise<void> {
    if (!this.needs(id)) return;
    const bytes = await this.src.get(id);
    const node = decodeTreeNode(bytes, id);
    if (node.type === 'index') {
      for (const c of node.children) await this.sendTreeNode(c.id, baseDir, undefined);
    } else {
      if (nodeBase === undefined && baseDir && this.useDeltas && node.entries.length > 0) nodeBase = await baseDir.pageFor(node.entries[0].name);
      for (const e of node.entries) {
        if (!this.needs(e.id)) continue;
        const base = await baseDir?.entry(e.name);
        if (e.kind === 'dir') await this.sendDir(e.id, base?.kind === 'dir' ? base.id : undefined);
        else await this.sendFile(e, base && base.kind === e.kind ? base : undefined);
      }
    }
    await this.queue(id, TREE, bytes, nodeBase);
  }

  private async sendFile(e: TreeEntry, base: TreeEntry | undefined): Promise<void> {
    const aligner = base && this.useDeltas ? new ChunkAligner(this.src, base) : undefined;
    if (e.kind === 'file' && e.chunked) {
      await this.sendList(e.id, 0, aligner, base?.chunked ? base.id : undefined);
      await this.queueDeferredLists();
    } else {
      await this.sendChunk(e.id, e.size, aligner);
    }
  }

  /**
   * Holds a file's list nodes back until its chunks are queued, so they travel (and land in the receiver's pack)
   * side by side, where a later reader gets them in one ranged read instead of one per node. Still post-order:
   * every chunk a node lists is queued before it. A huge file's nodes go out in slices of MAX_DEFERRED_LIST_BYTES.
   */
  private async deferList(item: RunItem): Promise<void> {
    this.queued.add(item.id);
    this.deferredLists.push(item);
    this.deferredListBytes += item.size;
    if (this.deferredListBytes >= MAX_DEFERRED_LIST_BYTES) await this.queueDeferredLists();
  }

  private async queueDeferredLists(): Promise<void> {
    const items = this.deferredLists;
    this.deferredLists = [];
    this.deferredListBytes = 0;
    for (const item of items) await this.addToRun(item);
  }

  private async sendList(id: ObjectId, offset: number, aligner: ChunkAligner | undefined, nodeBase: ObjectId | undefined): Promise<void> {
    if (!this.needs(id)) return;
    const bytes = await this.src.get(id);
    const node = decodeChunkList(bytes, id);
    let at = offset;
    if (node.level === 0) {
      await this.sendChunks(node.children, offset, aligner);
    } else {
      for (const c of node.children) {
        await this.sendList(c.id, at, aligner, undefined);
        at += c.size;
      }
    }
    await this.deferList({ id, kind: CHUNK_LIST, size: bytes.length, bytes, base: nodeBase });
  }

  /** Queues the missing chunks of one list node, in order, into the current read run. */
  private async sendChunks(children: readonly ChunkRef[], offset: number, aligner: ChunkAligner | undefined): Promise<void> {
    let at = offset;
    for (const c of children) {
      if (this.needs(c.id)) await this.addToRun({ id: c.id, kind: CHUNK, size: c.size, at, aligner });
      at += c.size;
    }
  }

  /** Queues a file that is one chunk (or a symlink's target), counting its size against the read-ahead bound. */
  private async sendChunk(id: ObjectId, size: number, aligner: ChunkAligner | undefined): Promise<void> {
    if (!this.needs(id)) return;
    await this.addToRun({ id, kind: CHUNK, size, at: 0, aligner });
  }

  /** Queues an object whose bytes are in hand (a tree, list or commit), after everything queued before it. */
  private async queue(id: ObjectId, kind: ObjectKindName, bytes: Buffer, base?: ObjectId): Promise<void> {
    await this.addToRun({ id, kind, size: bytes.length, bytes, base });
  }

  /**
   * Adds an object to the run being gathered. A run spans list nodes, files and the objects in hand between them,
   * so its chunks (neighbours in a pack) come in one getMany of about `readAhead.batchBytes`, whatever the files'
   * list shapes. The run joins the outbox (and its read starts) once it holds that many chunk bytes, or that many
   * bytes in hand, or MAX_RUN_ITEMS objects: a history of small commits must not pile up in memory.
   */
  private async addToRun(item: RunItem): Promise<void> {
    this.queued.add(item.id);
    this.pendingRun.push(item);
    if (item.bytes) this.runHandBytes += item.size;
    else this.runChunkBytes += item.size;
    const full = Math.max(this.runChunkBytes, this.runHandBytes) >= this.readAhead.batchBytes;
    if (full || this.pendingRun.length >= MAX_RUN_ITEMS) await this.queueRun();
  }

  /** Starts the read of the current run's chunks (unhashed: the receiver hashes) and queues the run for sending. */
  private async queueRun(): Promise<void> {
    const items = this.pendingRun;
    if (items.length === 0) return;
    this.pendingRun = [];
    this.runChunkBytes = 0;
    this.runHandBytes = 0;
    const toRead = items.filter((item) => !item.bytes).map((item) => item.id);
    const read = this.readMany(toRead, { verify: false });
    await this.outbox.push({
      bytes: items.reduce((n, item) => n + item.size, 0),
      ready: read,
      send: async (chunks) => {
        let next = 0;
        for (const item of items) {
          if (item.bytes) await this.emit(item.id, item.kind, item.bytes, item.base);
          else await this.emit(item.id, CHUNK, chunks[next++], await item.aligner?.chunkAt(item.at ?? 0));
        }
      },
    });
  }

  /** Adds one object to the batch (as a delta against `base` when that is smaller); sends the batch when full. */
  private async emit(id: ObjectId, kind: ObjectKindName, bytes: Buffer, base?: ObjectId): Promise<void> {
    let frame: ObjectFrame = { id: idToWire(id), kind, data: bytes };
    let size = bytes.length;
    if (base && base !== id && this.useDeltas && bytes.length > 64) {
      const delta = encodeChunkDelta(await this.src.get(base), bytes);
      if (delta && delta.length + ID_BYTES < bytes.length) {
        frame = { id: idToWire(id), kind, delta: { base: idToWire(base), delta } };
        size = delta.length;
        this.stats.deltas++;
      }
    }
    const frameBytes = size + 2 * ID_BYTES;
    if (frameBytes > MAX_BATCH_WIRE_BYTES) {
      throw new InvalidArgumentError(`object ${id} is ${size} bytes, more than one message can carry (${MAX_BATCH_WIRE_BYTES})`);
    }
    // A batch is sent before it would pass the message limit, which the receiver enforces: whatever objects a
    // store holds, every batch must be one it can deliver.
    if (this.batch.length > 0 && this.batchSize + frameBytes > MAX_BATCH_WIRE_BYTES) await this.flushBatch();
    this.batch.push(frame);
    this.batchSize += frameBytes;
    this.stats.objects++;
    this.stats.wireBytes += size;
    crashPoint('sync.send.object');
    this.opts.onProgress?.(this.stats);
    if (this.batchSize >= this.batchBytes) await this.flushBatch();
  }

  private async flushBatch(): Promise<void> {
    if (this.batch.length === 0) return;
    const objects = this.batch;
    this.batch = [];
    this.batchSize = 0;
    await this.channel.send({ objects: { objects } });
  }

  private async readCommit(id: CommitId): Promise<Commit> {
    return decodeCommit(await this.src.get(id), id);
  }
}

/** The children the receiver lacks, of the parents among `families` that it lacks (as far as `known` says yet). */
function missingChildren(families: readonly Family[], known: ReadonlyMap<ObjectId, boolean>): Wanted[] {
  return families
    .filter((f) => known.get(f.parent.id) === false)
    .flatMap((f) => f.children)
    .filter((w) => known.get(w.id) === false);
}

/** Missing commits ordered so every commit comes after its missing parents (iterative: histories can be long). */
function parentsFirst(top: CommitId, missing: ReadonlyMap<CommitId, Commit>): CommitId[] {
  const order: CommitId[] = [];
  const done = new Set<CommitId>();
  const stack: { id: CommitId; next: number }[] = missing.has(top) ? [{ id: top, next: 0 }] : [];
  const onStack = new Set<CommitId>(stack.map((f) => f.id));
  while (stack.length > 0) {
    const frame = stack[stack.length - 1];
    const parents = missing.get(frame.id)!.parents;
    if (frame.next < parents.length) {
      const p = parents[frame.next++];
      if (missing.has(p) && !done.has(p) && !onStack.has(p)) {
        stack.push({ id: p, next: 0 });
        onStack.add(p);
      }
      continue;
    }
    stack.pop();
    onStack.delete(frame.id);
    done.add(frame.id);
    order.push(frame.id);
  }
  return order;
}

/**
 * Walks a base file's chunks alongside the file being sent: `chunkAt(offset)` is the base chunk that starts at
 * exactly `offset`, if any. Offsets must be asked in increasing order; memory is one chunk-list path.
 */
class ChunkAligner {
  private readonly it: AsyncGenerator<PositionedChunkRef>;
  private current: PositionedChunkRef | undefined;
  private done = false;

  constructor(src: ObjectReader, base: TreeEntry) {
    const file: FileRef = { id: base.id, chunked: base.chunked, size: base.size };
    this.it = readChunkRefs(src, file);
  }

  async chunkAt(offset: number): Promise<ObjectId | undefined> {
    while (!this.done && (!this.current || this.current.offset < offset)) {
      const r = await this.it.next();
      if (r.done) this.done = true;
      else this.current = r.value;
    }
    return this.current && this.current.offset === offset ? this.current.id : undefined;
  }
}

/**
 * Appends `items` to `to` one by one: `to.push(...items)` passes each as an argument and overflows the stack past
 * about 120,000 (a level of a wide tree offered to a new receiver).
 */
function append<T>(to: T[], items: readonly T[]): void {
  for (const item of items) to.push(item);
}

/** The view tree a commit names (a hub merge's), wanted like its own tree: the receiver holds the commit only with it. */
function viewWanted(c: Commit): Wanted[] {
  const view = viewTreeOf(c);
  return view ? [{ id: view, kind: TREE }] : [];
}
