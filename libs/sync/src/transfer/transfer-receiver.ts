import {
  applyChunkDelta,
  checkTreeRoot,
  CommitId,
  decodeChunkList,
  decodeCommit,
  decodeTreeNode,
  ID_BYTES,
  indexShape,
  indexShapeOver,
  IntegrityError,
  InvalidArgumentError,
  nodeSize,
  ObjectId,
  pageShape,
  sha256,
  TreeId,
  TreeNode,
  TreeShape,
  UnavailableError,
  viewTreeOf,
} from '@tributary/core';
import { crashPoint, HashPool, sharedHashPool } from '@tributary/repository';
import { processVerifiedKinds, Received, VerifiedKinds } from './verified-kinds';
import type { ObjectFrame__Output } from '../generated/tributary/v1/ObjectFrame';
import { CHUNK, CHUNK_LIST, COMMIT, entryObjectKind, kindWord, ObjectKindName, parseObjectKind, TREE } from './object-kinds';
import {
  emptyStats,
  idFromWire,
  MAX_HAVE_IDS,
  ObjectTarget,
  ReceiverChannel,
  setBit,
  TransferStats,
} from './transfer-channel';


/** One object of a batch, parsed off its frame (so no view of the message's buffer is kept but `data`). */
interface IncomingObject {
  readonly id: ObjectId;
  readonly kind: ObjectKindName;
  /** The object's bytes, when they travelled whole. */
  data?: Buffer;
  /** SHA-256 of `data`, when it was hashed ahead on a worker thread. */
  digest?: ObjectId;
  /** The delta the object travelled as, against `base`. */
  readonly delta?: { readonly base: ObjectId; readonly bytes: Buffer };
}

/** The error for the first object whose whole bytes do not hash to its id; undefined when none. */
function badBytesAmong(objects: readonly IncomingObject[]): IntegrityError | undefined {
  const bad = objects.find((o) => o.data !== undefined && (o.digest ?? sha256(o.data)) !== o.id);
  return bad && bytesMismatch(bad.id);
}

function bytesMismatch(id: ObjectId): IntegrityError {
  return new IntegrityError(`object ${id} does not match its id`, { id });
}

/**
 * Object batches received ahead of the one being stored: hashing a batch on a worker thread overlaps with receiving
 * and storing the others. Bounds memory to a few batches of about 1 MiB.
 */
const BATCHES_AHEAD = 3;
/** A batch with fewer payload bytes is hashed in place: moving it to a worker would cost more than it saves. */
const MIN_MOVED_BYTES = 64 * 1024;
/** Most bytes a frame adds to its object's on the wire: the 32-byte id, the kind and protobuf's tags and lengths. */
const FRAME_OVERHEAD_BYTES = 64;

export interface ReceivedCommit {
  readonly commit: CommitId;
  readonly stats: TransferStats;
  /** The commit's bytes when they travelled in this transfer (undefined when the receiver held the commit). */
  readonly commitBytes?: Buffer;
}

/**
 * Receives one commit's objects over any ReceiverChannel into an ObjectTarget, answering the sender's HaveQuery
 * messages from `target.has`.
 *
 * Every object is verified before it is stored: a delta is applied to a base the target holds; the bytes must hash
 * to the id (else IntegrityError: DATA_LOSS on the wire); chunk lists, trees and commits are decoded as their kind
 * says, which rejects unsafe entry names (InvalidArgumentError) and anything malformed (IntegrityError); and every
 * object they reference must have arrived earlier in this transfer, with the kind and size claimed, or be held
 * already (the closure invariant). So a failed transfer leaves only complete, valid sub-graphs, and nothing
 * unverified is ever reachable: the commit itself is stored last. After CommitEnd the target is flushed (durable)
 * and only then does `receiveCommit` resolve. When it rejects, nothing more of the transfer is put to the target.
 *
 * When the channel's messages own their buffers (`ReceiverChannel.ownsMessageBuffers`), each batch is hashed on a
 * worker thread (the process's HashPool) while the next ones arrive; objects are still checked and stored one by
 * one, in the order sent.
 */
export class TransferReceiver {
  /**
   * `onProgress` is told the running totals of the commit being received after each batch of objects. `hashes` is
   * where batches are hashed when the channel's messages own their buffers (default: the process's pool); `kinds`
   * what objects decoded as before (default: the process's memory of it).
   */
  constructor(
    private readonly target: ObjectTarget,
    private readonly channel: ReceiverChannel,
    private readonly onProgress?: (stats: TransferStats) => void,
    private readonly hashes: HashPool = sharedHashPool(),
    private readonly kinds: VerifiedKinds = processVerifiedKinds,
  ) {}

  async receiveCommit(): Promise<ReceivedCommit> {
    const received = new Map<ObjectId, Received>();
    const stats = emptyStats();
    let last: { id: ObjectId; bytes: Buffer } | undefined;
    // Batches are stored in the order sent, each once its hashes are in, while the next ones are received.
    let stored: Promise<void> = Promise.resolve();
    const storing: Promise<void>[] = [];
    let failed = false;
    /** Objects received but not stored, as the transfer failed first: see badBytesAmong. */
    const unstored: IncomingObject[] = [];
    const store = (batch: Promise<IncomingObject[]>) => {
      // Awaited in turn below, unless an earlier batch fails first; either way its failure is not unhandled.
      batch.catch(() => undefined);
      stored = stored.then(async () => {
        const objects = await batch;
        for (let i = 0; i < objects.length; i++) {
          if (failed) return void unstored.push(...objects.slice(i));
          const got = await this.accept(objects[i], received, stats);
          if (got) last = got;
        }
        this.onProgress?.(stats);
      });
      // A failure surfaces through unlessFailed or the awaits below; this only keeps it from counting as unhandled.
      stored.catch(() => undefined);
      storing.push(stored);
    };
    const drain = async () => {
      await stored;
      storing.length = 0;
    };
    try {
      for (;;) {
        const msg = await unlessFailed(this.channel.receive(), stored);
        if (msg.haveQuery) {
          await drain();
          stats.haveQueries++;
          await this.channel.sendHaveReply(this.answer(msg.haveQuery.ids as Buffer | undefined));
        } else if (msg.objects) {
          store(this.hashAhead((msg.objects.objects ?? []) as ObjectFrame__Output[]));
          while (storing.length > BATCHES_AHEAD) await storing.shift();
        } else if (msg.commitEnd) {
          await drain();
          const commit = idFromWire(msg.commitEnd.commit as Buffer | undefined, 'commit id') as CommitId;
          const r = received.get(commit);
          if (r ? r.kind !== COMMIT : !this.target.has(commit)) {
            throw new IntegrityError(`transfer of commit ${commit} ended without the commit`, { id: commit });
          }
          if (!r) await this.requireHeldCommit(commit, received);
          await this.target.flush();
          return { commit, stats, commitBytes: last?.id === commit ? last.bytes : undefined };
        } else {
          throw new InvalidArgumentError('empty transfer message');
        }
      }
    } catch (e) {
      // Nothing of a failed transfer reaches the target once this rejects: the caller may then discard what it
      // staged (a broker aborts the pack), and a batch still being stored would start a pack nobody finishes.
      failed = true;
      await stored.catch(() => undefined);
      // A peer that sent bad bytes and closed its side at once must hear that its bytes were bad (DATA_LOSS), not
      // that it left mid-transfer (retryable), whichever the receiver learnt first.
      throw (e instanceof UnavailableError && badBytesAmong(unstored)) || e;
    }
  }

  /**
   * Parses a batch's frames and, when the channel's message owns its buffer and the batch is large enough, hashes
   * the objects' bytes on a worker thread (the buffer moves there and back; the objects get views of it again).
   */
  private async hashAhead(frames: readonly ObjectFrame__Output[]): Promise<IncomingObject[]> {
    const objects = frames.map(parseFrame);
    if (!this.channel.ownsMessageBuffers || !this.hashes.movesBuffers) return objects;
    const whole = objects.filter((o) => o.data && o.data.length > 0);
    const buffer = whole[0]?.data!.buffer;
    const bytes = whole.reduce((n, o) => n + o.data!.length, 0);
    if (!buffer || bytes < MIN_MOVED_BYTES || whole.some((o) => o.data!.buffer !== buffer)) return objects;
    // Only a buffer that holds this message and nothing else may move (moving detaches every view of it).
    if (buffer.byteLength > bytes + frames.length * FRAME_OVERHEAD_BYTES + 64) return objects;
    const spans = whole.map((o) => [o.data!.byteOffset, o.data!.length] as const);
    const hashed = await this.hashes.digest(buffer as ArrayBuffer, spans);
    whole.forEach((o, i) => {
      o.data = Buffer.from(hashed.buffer, spans[i][0], spans[i][1]);
      o.digest = hashed.ids[i];
    });
    return objects;
  }

  private answer(ids: Buffer | undefined): Buffer {
    const n = (ids?.length ?? 0) / ID_BYTES;
    if (!ids || !Number.isInteger(n) || n < 1 || n > MAX_HAVE_IDS) {
      throw new InvalidArgumentError(`a have query holds 1 to ${MAX_HAVE_IDS} ids of ${ID_BYTES} bytes`);
    }
    const bits = Buffer.alloc(Math.ceil(n / 8));
    for (let i = 0; i < n; i++) {
      if (!this.target.has(ids.toString('hex', i * ID_BYTES, (i + 1) * ID_BYTES) as ObjectId)) setBit(bits, i);
    }
    return bits;
  }

  /** Verifies and stores one object; returns it when it was a commit new to the target. */
  private async accept(
    obj: IncomingObject,
    received: Map<ObjectId, Received>,
    stats: TransferStats,
  ): Promise<{ id: ObjectId; bytes: Buffer } | undefined> {
    const { id, kind } = obj;
    const held = this.target.has(id);
    let bytes: Buffer;
    let base: ObjectId | undefined;
    if (obj.data) {
      bytes = obj.data;
      stats.wireBytes += bytes.length;
    } else {
      const delta = obj.delta!;
      base = delta.base;
      stats.wireBytes += delta.bytes.length;
      stats.deltas++;
      crashPoint('sync.receive.delta');
      if (held) bytes = Buffer.alloc(0);
      else {
        // A base in a pack a gc on this store is deleting still reads; the object is then stored whole (putWithId).
        if (!this.target.readable(base)) {
          throw new IntegrityError(`object ${id} came as a delta against ${base}, which is not held`, { id, base });
        }
        bytes = applyChunkDelta(await this.target.get(base), delta.bytes);
      }
    }
    stats.objects++;
    crashPoint('sync.receive.object');
    // Whole bytes are checked even for an object held already: nothing is stored, but a peer sending bad bytes
    // hears so, whatever it sends them as.
    if (held && !obj.data) return undefined;
    if ((obj.digest ?? sha256(bytes)) !== id) throw bytesMismatch(id);
    if (held) return undefined;
    const info = await this.verify(id, kind, bytes, received);
    received.set(id, info);
    this.kinds.set(id, info);
    await this.target.put(id, bytes, base);
    return kind === COMMIT ? { id, bytes } : undefined;
  }

  /**
   * A transfer may end with a commit the target held already (a replay), which the caller then takes as the commit
   * sent: it must be one, with its tree and parents held, as a commit that travels is checked. (Any held object's
   * bytes could otherwise be named, such as a file's chunk that decodes as a commit naming a tree nobody holds.)
   */
  private async requireHeldCommit(commit: ObjectId, received: Map<ObjectId, Received>): Promise<void> {
    if (this.kinds.get(commit, COMMIT)) return;
    try {
      this.kinds.set(commit, await this.verify(commit, COMMIT, await this.target.get(commit), received));
    } catch (e) {
      if (!(e instanceof IntegrityError || e instanceof InvalidArgumentError)) throw e;
      throw new IntegrityError(`transfer of commit ${commit} ended with an object held under that id that is not a commit whose tree and parents are held (${e.message})`, { id: commit }, { cause: e });
    }
  }

  /**
   * Decodes `bytes` as `kind` and checks every reference; returns what parents may check about the object. A tree
   * node is also checked with the nodes it names as readTree checks them together (see TreeShape), so no tree is
   * stored that a reader would refuse.
   */
  private async verify(id: ObjectId, kind: ObjectKindName, bytes: Buffer, received: Map<ObjectId, Received>): Promise<Received> {
    const { info, refs, node } = decodeObject(id, kind, bytes);
    await this.learnHeld(id, refs, received);
    const named: (Received | undefined)[] = [];
    for (const ref of refs) named.push(await this.requireHeld(id, ref, received));
    const shapes = new Map<ObjectId, TreeShape>();
    refs.forEach((r, i) => r.kind === TREE && shapes.set(r.id, named[i]!.tree!));
    if (node?.type === 'index') return { ...info, tree: indexShape(id as TreeId, node, node.children.map((c) => shapes.get(c.id)!)) };
    // A commit's trees and a page's folders are each a directory's top node.
    for (const [treeId, shape] of shapes) checkTreeRoot(treeId as TreeId, shape);
    return node ? { ...info, tree: pageShape(id as TreeId, node, (dir) => shapes.get(dir.id)!.depth) } : info;
  }

  /**
   * Learns what the held objects among `refs` claimed as anything but a chunk decode as: from what this process
   * decoded before (VerifiedKinds), else by reading them, in one `getMany`. So a claim about an object the target
   * already holds (a publisher naming a stored chunk as a folder, or a list with the wrong size) is checked as
   * strictly as one about an object of this transfer. Reads only objects a new object names directly and this
   * process has not decoded since it started: a new tree page costs a read of its held entries once, not per publish.
   */
  private async learnHeld(parent: ObjectId, refs: readonly Reference[], received: Map<ObjectId, Received>): Promise<void> {
    const wanted = new Map<ObjectId, ObjectKindName>();
    for (const r of refs) {
      if (r.kind === CHUNK || received.has(r.id) || this.kinds.get(r.id, r.kind) || !this.target.has(r.id)) continue;
      wanted.set(r.id, r.kind);
    }
    if (wanted.size === 0) return;
    const ids = [...wanted.keys()];
    const bytes = await this.target.getMany(ids);
    for (let i = 0; i < ids.length; i++) this.kinds.set(ids[i], await this.describeHeld(parent, ids[i], wanted.get(ids[i])!, bytes[i]));
  }

  /**
   * What a held object, named by `parent` as `kind`, decodes as. Its own references must be held too, but are not
   * walked further: it was verified, as some kind, when it was stored, and walking beneath it would cost the held
   * history. Bytes that are not such an object make the claim false: IntegrityError.
   */
  private async describeHeld(parent: ObjectId, id: ObjectId, kind: ObjectKindName, bytes: Buffer): Promise<Received> {
    let decoded: ReturnType<typeof decodeObject>;
    try {
      decoded = decodeObject(id, kind, bytes);
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      throw new IntegrityError(`object ${parent} names ${id} as a ${kindWord(kind)}, but it is not one (${why})`, { id: parent });
    }
    const missing = decoded.refs.find((r) => !this.target.has(r.id));
    if (missing) {
      throw new IntegrityError(`object ${parent} names ${id} as a ${kindWord(kind)}, which would reference ${missing.id}, not held`, {
        id: parent,
        missing: missing.id,
      });
    }
    return decoded.node ? { ...decoded.info, tree: await this.heldShape(id as TreeId, decoded.node) } : decoded.info;
  }

  /**
   * The shape of a held tree node. What lies beneath it was checked when it was stored, so only its own items and its
   * last child's shape are read (one node per index level); the depth of directories beneath it counts what this
   * process decoded, which is all of it for a tree it received.
   */
  private async heldShape(id: TreeId, node: TreeNode): Promise<TreeShape> {
    const depthOf = (dirId: ObjectId) => this.kinds.get(dirId, TREE)?.tree?.depth ?? 0;
    if (node.type === 'page') return pageShape(id, node, (dir) => depthOf(dir.id));
    const lastId = node.children[node.children.length - 1].id;
    let last = this.kinds.get(lastId, TREE)?.tree;
    if (!last) {
      const bytes = await this.target.get(lastId);
      last = await this.heldShape(lastId, decodeTreeNode(bytes, lastId));
      this.kinds.set(lastId, { kind: TREE, size: last.size, length: bytes.length, tree: last });
    }
    return indexShapeOver(id, node, last, Math.max(last.depth, ...node.children.map((c) => depthOf(c.id))));
  }

  /**
   * Checks that `ref`, named by `parent`, arrived earlier in this transfer or is held, as the kind and size claimed;
   * returns what it is, unless it is named as a chunk.
   */
  private async requireHeld(parent: ObjectId, ref: Reference, received: Map<ObjectId, Received>): Promise<Received | undefined> {
    const { id, kind, size, level } = ref;
    const notHeld = () =>
      new IntegrityError(`object ${parent} references ${id}, which was neither sent before it nor held`, { id: parent, missing: id });
    const wrongSize = (actual: number) =>
      new IntegrityError(`object ${parent} says ${id} holds ${size} bytes, but it holds ${actual}`, { id: parent });
    if (kind === CHUNK) {
      // Any object's bytes may be a file's chunk: only its length counts, which the index knows for a held one.
      const length = received.get(id)?.length ?? this.target.sizeOf(id);
      if (length === undefined) throw notHeld();
      if (size !== undefined && length !== size) throw wrongSize(length);
      return undefined;
    }
    let r = received.get(id);
    if (r && r.kind !== kind) {
      // The same bytes can be two kinds of object (a file holding a tree object's bytes): check it as this kind too.
      r = await this.verify(id, kind, await this.target.get(id), received);
    } else if (!r) {
      if (!this.target.has(id)) throw notHeld();
      r = this.kinds.get(id, kind);
      if (!r) {
        r = await this.describeHeld(parent, id, kind, await this.target.get(id));
        this.kinds.set(id, r);
      }
    }
    if (size !== undefined && r.size !== size) throw wrongSize(r.size);
    if (kind === CHUNK_LIST && level !== undefined && r.level !== level) {
      throw new IntegrityError(`chunk list ${parent} has child ${id} at the wrong level`, { id: parent });
    }
    return r;
  }
}

/** An object's reference to another, with what it claims about it. */
interface Reference {
  readonly id: ObjectId;
  readonly kind: ObjectKindName;
  /** Chunk: its length; list or tree node: the total file bytes beneath it; undefined when nothing is claimed. */
  readonly size?: number;
  /** For a chunk list's child list, its level. */
  readonly level?: number;
}

/**
 * Decodes `bytes` as `kind`, which rejects unsafe entry names (InvalidArgumentError) and anything malformed
 * (IntegrityError); returns what parents may check about the object, the references it makes and, for a tree, the
 * node.
 */
function decodeObject(id: ObjectId, kind: ObjectKindName, bytes: Buffer): { info: Received; refs: Reference[]; node?: TreeNode } {
  switch (kind) {
    case CHUNK:
      return { info: { kind, size: bytes.length, length: bytes.length }, refs: [] };
    case CHUNK_LIST: {
      const node = decodeChunkList(bytes, id);
      const childKind = node.level === 0 ? CHUNK : CHUNK_LIST;
      const refs = node.children.map((c) => ({ id: c.id, kind: childKind, size: c.size, level: node.level - 1 }));
      return { info: { kind, size: refs.reduce((n, c) => n + c.size, 0), length: bytes.length, level: node.level }, refs };
    }
    case TREE: {
      const node = decodeTreeNode(bytes, id);
      const refs: Reference[] =
        node.type === 'index'
          ? node.children.map((c) => ({ id: c.id, kind: TREE, size: c.size }))
          : node.entries.map((e) => ({ id: e.id, kind: entryObjectKind(e), size: e.size }));
      return { info: { kind, size: nodeSize(node, id), length: bytes.length }, refs, node };
    }
    case COMMIT: {
      const c = decodeCommit(bytes, id);
      const view = viewTreeOf(c);
      const refs = [{ id: c.tree, kind: TREE }, ...(view ? [{ id: view, kind: TREE }] : []), ...c.parents.map((p) => ({ id: p, kind: COMMIT }))];
      return { info: { kind, size: 0, length: bytes.length }, refs };
    }
    default:
      throw new InvalidArgumentError(`unknown object kind ${String(kind)}`);
  }
}

/** `next`, unless `background` fails first (a `next` that settles after that is ignored). */
function unlessFailed<T>(next: Promise<T>, background: Promise<void>): Promise<T> {
  next.catch(() => undefined);
  return Promise.race([next, background.then(() => new Promise<T>(() => undefined))]);
}

/**
 * The object a frame carries, with its id, kind and payload checked. A delta's bytes are copied (they are small), so
 * that only `data` still views the message's buffer.
 */
function parseFrame(frame: ObjectFrame__Output): IncomingObject {
  const id = idFromWire(frame.id, 'object id');
  const kind = parseObjectKind(frame.kind);
  // `payload` names the oneof member after decoding; frames built in process (specs) may only set the member.
  const which = frame.payload ?? (frame.delta ? 'delta' : frame.data !== undefined ? 'data' : undefined);
  if (which === 'data' && frame.data) return { id, kind, data: frame.data as Buffer };
  if (which === 'delta' && frame.delta) {
    const base = idFromWire(frame.delta.base, 'delta base id');
    return { id, kind, delta: { base, bytes: Buffer.from(frame.delta.delta ?? Buffer.alloc(0)) } };
  }
  throw new InvalidArgumentError(`object frame ${id} has no payload`);
}
