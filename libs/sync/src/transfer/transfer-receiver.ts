import {
  applyChunkDelta,
  CommitId,
  decodeChunkList,
  decodeCommit,
  decodeTreeNode,
  ID_BYTES,
  IntegrityError,
  InvalidArgumentError,
  nodeSize,
  ObjectId,
  sha256,
} from '@tributary/core';
import { crashPoint } from '@tributary/repository';
import type { ObjectFrame__Output } from '../generated/tributary/v1/ObjectFrame';
import { CHUNK, CHUNK_LIST, COMMIT, entryObjectKind, ObjectKindName, parseObjectKind, TREE } from './object-kinds';
import {
  emptyStats,
  idFromWire,
  MAX_HAVE_IDS,
  ObjectTarget,
  ReceiverChannel,
  setBit,
  TransferStats,
} from './transfer-channel';

/** What a received object turned out to be, for checking its parents' claims about it. */
interface Received {
  readonly kind: ObjectKindName;
  /** Chunk: its length; list or tree node: the total file bytes beneath it. */
  readonly size: number;
  /** Chunk lists only. */
  readonly level?: number;
}

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
 * and only then does `receiveCommit` resolve.
 */
export class TransferReceiver {
  /** `onProgress` is told the running totals of the commit being received after each batch of objects. */
  constructor(
    private readonly target: ObjectTarget,
    private readonly channel: ReceiverChannel,
    private readonly onProgress?: (stats: TransferStats) => void,
  ) {}

  async receiveCommit(): Promise<ReceivedCommit> {
    const received = new Map<ObjectId, Received>();
    const stats = emptyStats();
    let last: { id: ObjectId; bytes: Buffer } | undefined;
    for (;;) {
      const msg = await this.channel.receive();
      if (msg.haveQuery) {
        stats.haveQueries++;
        await this.channel.sendHaveReply(this.answer(msg.haveQuery.ids as Buffer | undefined));
      } else if (msg.objects) {
        for (const frame of (msg.objects.objects ?? []) as ObjectFrame__Output[]) {
          const got = await this.accept(frame, received, stats);
          if (got) last = got;
        }
        this.onProgress?.(stats);
      } else if (msg.commitEnd) {
        const commit = idFromWire(msg.commitEnd.commit as Buffer | undefined, 'commit id') as CommitId;
        const r = received.get(commit);
        if (r ? r.kind !== COMMIT : !this.target.has(commit)) {
          throw new IntegrityError(`transfer of commit ${commit} ended without the commit`, { id: commit });
        }
        await this.target.flush();
        return { commit, stats, commitBytes: last?.id === commit ? last.bytes : undefined };
      } else {
        throw new InvalidArgumentError('empty transfer message');
      }
    }
  }

  private answer(ids: Buffer | undefined): Buffer {
    const n = (ids?.length ?? 0) / ID_BYTES;
    if (!ids || !Number.isInteger(n) || n > MAX_HAVE_IDS) {
      throw new InvalidArgumentError(`a have query holds 1 to ${MAX_HAVE_IDS} ids of ${ID_BYTES} bytes`);
    }
    const bits = Buffer.alloc(Math.ceil(n / 8));
    for (let i = 0; i < n; i++) {
      if (!this.target.has(ids.toString('hex', i * ID_BYTES, (i + 1) * ID_BYTES) as ObjectId)) setBit(bits, i);
    }
    return bits;
  }

  /** Verifies and stores one object; returns it when it was a commit new to the target. */
  private async accept(frame: ObjectFrame__Output, received: Map<ObjectId, Received>, stats: TransferStats): Promise<{ id: ObjectId; bytes: Buffer } | undefined> {
    const id = idFromWire(frame.id, 'object id');
    const kind = parseObjectKind(frame.kind);
    let bytes: Buffer;
    let base: ObjectId | undefined;
    // `payload` names the oneof member after decoding; frames built in process (specs) may only set the member.
    const which = frame.payload ?? (frame.delta ? 'delta' : frame.data !== undefined ? 'data' : undefined);
    if (which === 'data' && frame.data) {
      bytes = frame.data;
      stats.wireBytes += bytes.length;
    } else if (which === 'delta' && frame.delta) {
      base = idFromWire(frame.delta.base, 'delta base id');
      stats.wireBytes += frame.delta.delta?.length ?? 0;
      stats.deltas++;
      if (this.target.has(id)) bytes = Buffer.alloc(0);
      else {
        if (!this.target.has(base)) {
          throw new IntegrityError(`object ${id} came as a delta against ${base}, which is not held`, { id, base });
        }
        bytes = applyChunkDelta(await this.target.get(base), frame.delta.delta ?? Buffer.alloc(0));
      }
    } else {
      throw new InvalidArgumentError(`object frame ${id} has no payload`);
    }
    stats.objects++;
    crashPoint('sync.receive.object');
    if (this.target.has(id)) return undefined;
    if (sha256(bytes) !== id) throw new IntegrityError(`object ${id} does not match its id`, { id });
    const info = await this.verify(id, kind, bytes, received);
    received.set(id, info);
    await this.target.put(id, bytes, base);
    return kind === COMMIT ? { id, bytes } : undefined;
  }

  /** Decodes `bytes` as `kind` and checks every reference; returns what parents may check about the object. */
  private async verify(id: ObjectId, kind: ObjectKindName, bytes: Buffer, received: Map<ObjectId, Received>): Promise<Received> {
    switch (kind) {
      case CHUNK:
        return { kind, size: bytes.length };
      case CHUNK_LIST: {
        const node = decodeChunkList(bytes, id);
        let size = 0;
        for (const c of node.children) {
          await this.requireHeld(id, c.id, node.level === 0 ? CHUNK : CHUNK_LIST, c.size, received, node.level - 1);
          size += c.size;
        }
        return { kind, size, level: node.level };
      }
      case TREE: {
        const node = decodeTreeNode(bytes, id);
        if (node.type === 'index') {
          for (const c of node.children) await this.requireHeld(id, c.id, TREE, c.size, received);
        } else {
          for (const e of node.entries) await this.requireHeld(id, e.id, entryObjectKind(e), e.size, received);
        }
        return { kind, size: nodeSize(node, id) };
      }
      case COMMIT: {
        const c = decodeCommit(bytes, id);
        await this.requireHeld(id, c.tree, TREE, undefined, received);
        for (const p of c.parents) await this.requireHeld(id, p, COMMIT, undefined, received);
        return { kind, size: 0 };
      }
      default:
        throw new InvalidArgumentError(`unknown object kind ${String(kind)}`);
    }
  }

  private async requireHeld(
    parent: ObjectId,
    id: ObjectId,
    kind: ObjectKindName,
    size: number | undefined,
    received: Map<ObjectId, Received>,
    level?: number,
  ): Promise<void> {
    let r = received.get(id);
    if (!r) {
      if (this.target.has(id)) return;
      throw new IntegrityError(`object ${parent} references ${id}, which was neither sent before it nor held`, { id: parent, missing: id });
    }
    if (r.kind !== kind && kind !== CHUNK) {
      // The same bytes can be two kinds of object (a file holding a tree object's bytes): check it as this kind too.
      r = await this.verify(id, kind, await this.target.get(id), received);
    }
    const claimed = kind === CHUNK && r.kind !== CHUNK ? undefined : size;
    if (claimed !== undefined && r.size !== claimed) {
      throw new IntegrityError(`object ${parent} says ${id} holds ${claimed} bytes, but it holds ${r.size}`, { id: parent });
    }
    if (kind === CHUNK_LIST && level !== undefined && r.level !== level) {
      throw new IntegrityError(`chunk list ${parent} has child ${id} at the wrong level`, { id: parent });
    }
  }
}
