import { CommitId, InvalidArgumentError, ObjectId } from '@tributary/core';
import type { CommitEnd } from '../generated/tributary/v1/CommitEnd';
import type { HaveQuery } from '../generated/tributary/v1/HaveQuery';
import type { ObjectBatch } from '../generated/tributary/v1/ObjectBatch';

/** At most this many ids per HaveQuery (128 KiB of ids). */
export const MAX_HAVE_IDS = 4096;
/** An ObjectBatch is sent once it holds this many payload bytes (one object may push it past, up to 256 KiB). */
export const BATCH_BYTES = 1024 * 1024;

/** What a sender sends during one commit's transfer: exactly one of the three. */
export type TransferMessage =
  | { readonly haveQuery: HaveQuery; readonly objects?: undefined; readonly commitEnd?: undefined }
  | { readonly objects: ObjectBatch; readonly haveQuery?: undefined; readonly commitEnd?: undefined }
  | { readonly commitEnd: CommitEnd; readonly haveQuery?: undefined; readonly objects?: undefined };

/**
 * The sender's view of the transport: both the publishing client and the broker serving a subscriber implement it
 * over their own gRPC stream. `send` resolves once the transport can take more (it honours write() backpressure).
 */
export interface SenderChannel {
  send(msg: TransferMessage): Promise<void>;
  /**
   * The receiver's answer to the oldest HaveQuery not answered yet (several may be in flight; answers come in
   * order): one bit per queried id, 1 = missing.
   */
  receiveHaveReply(): Promise<Buffer>;
}

/** The receiver's view of the transport. */
export interface ReceiverChannel {
  /**
   * True when the byte fields of each message are views of a buffer that belongs to that message alone and that
   * nothing else reads after `receive` (a decoded gRPC message). The receiver may then move the buffer to a worker
   * thread to hash it there.
   */
  readonly ownsMessageBuffers?: boolean;
  /** The next transfer message; rejects (InvalidArgumentError) if the peer sends anything else or hangs up. */
  receive(): Promise<TransferMessage>;
  sendHaveReply(missing: Buffer): Promise<void>;
}

/** Read access to the sender's objects (an ObjectDatabase fits). Reads must be verified against their ids. */
export interface ObjectReader {
  get(id: ObjectId): Promise<Buffer>;
  /**
   * Many objects at once, in order (neighbours in a pack come in one ranged read). Optional. The sender asks for
   * chunks with `verify: false`: the receiver hashes every object before it stores it, so the sender may skip its
   * own hash of the bytes it only passes on (it must still check their sizes).
   */
  getMany?(ids: readonly ObjectId[], opts?: { verify?: boolean }): Promise<Buffer[]>;
}

/**
 * Where a receiver puts verified objects. `has` must mean "held with everything beneath it" (the closure
 * invariant), which holds for an ObjectDatabase that only ever stores an object after its references.
 */
export interface ObjectTarget {
  /** Whether the target holds `id` for new objects to refer to (one in a pack a gc is deleting does not count). */
  has(id: ObjectId): boolean;
  /** Whether a held object's bytes can be read now, one in a pack a gc is deleting included: a delta base needs no more. */
  readable(id: ObjectId): boolean;
  /** The length of a held object's bytes without reading them (undefined when not held). */
  sizeOf(id: ObjectId): number | undefined;
  /** Bytes of a held object, for applying a delta. */
  get(id: ObjectId): Promise<Buffer>;
  /** Bytes of held objects, in order: the small ones a new object refers to, read at once to learn their kinds. */
  getMany(ids: readonly ObjectId[]): Promise<Buffer[]>;
  /**
   * Stores a verified object; `deltaBase` is the object it travelled as a delta against, a hint for storage. The
   * receiver hands `bytes` over: it never changes them afterwards, so the target may keep them without a copy.
   */
  put(id: ObjectId, bytes: Buffer, deltaBase?: ObjectId): Promise<void>;
  /** Makes every object put so far durable. */
  flush(): Promise<void>;
}

export interface TransferStats {
  /** Objects that travelled. */
  objects: number;
  /** Payload bytes of the objects that travelled: their bytes, or their delta's when a delta travelled. */
  wireBytes: number;
  /** Objects that travelled as deltas. */
  deltas: number;
  /** HaveQuery messages. */
  haveQueries: number;
  /**
   * Rounds of HaveQuery messages: a round's messages go out before its answers are awaited (16 at a time), so a
   * round is one round trip for up to 64K ids.
   */
  haveRounds: number;
}

export function emptyStats(): TransferStats {
  return { objects: 0, wireBytes: 0, deltas: 0, haveQueries: 0, haveRounds: 0 };
}

export function idFromWire(bytes: Uint8Array | undefined, what: string): ObjectId {
  if (!bytes || bytes.length !== 32) throw new InvalidArgumentError(`${what} must be 32 bytes, got ${bytes?.length ?? 0}`);
  return Buffer.from(bytes.buffer, bytes.byteOffset, 32).toString('hex') as ObjectId;
}

export function idToWire(id: ObjectId): Buffer {
  return Buffer.from(id, 'hex');
}

export function commitIdFromWire(bytes: Uint8Array | undefined): CommitId {
  return idFromWire(bytes, 'commit id');
}

export function bitSet(bits: Buffer, i: number): boolean {
  return (bits[i >> 3] & (1 << (i & 7))) !== 0;
}

export function setBit(bits: Buffer, i: number): void {
  bits[i >> 3] |= 1 << (i & 7);
}
