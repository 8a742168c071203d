import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import { AlreadyExistsError, FailedPreconditionError, InvalidArgumentError, ObjectId } from '@tributary/core';
import { ObjectStore } from '@tributary/storage';
import { crashPoint } from '../testing/crash-points';
import {
  encodePackHeader,
  encodeRecordHeader,
  idxKey,
  IndexEntry,
  PACK_HEADER_BYTES,
  packKey,
  RECORD_HEADER_BYTES,
  RecordType,
} from './pack-format';
import { PackIndex } from './pack-index';
import { PendingIndex } from './pending-index';

/** `pack-` + 128 random bits in hex: unique without coordination between writers. */
export function newPackName(): string {
  return `pack-${randomBytes(16).toString('hex')}`;
}

/** A pack whose bytes and index are both durably stored. */
export interface FinishedPack {
  readonly name: string;
  readonly packKey: string;
  readonly idxKey: string;
  readonly index: PackIndex;
  readonly packBytes: number;
  readonly idxBytes: number;
}

/** Bytes the store may hold unread before `append` waits for it. */
const HIGH_WATER_MARK = 1 << 20;
/**
 * Records are copied into slabs of this size and handed to the stream a slab at a time: one copy per byte, and
 * few, large writes for the store, instead of a buffer (and a stream concat) per record.
 */
const SLAB_BYTES = 1 << 20;
/** A handed-over payload part at least this large goes to the stream as it is, not through the slab. */
const DIRECT_MIN_BYTES = 16 * 1024;

/**
 * Streams one pack into the store: a single `putIfAbsent(packs/<name>.pack, stream)` that stays open while
 * records are appended, with backpressure, so memory stays flat however large the pack grows. `finish` ends the
 * stream, waits until the store holds the whole pack, and only then writes the index; until the index exists the
 * pack is invisible to readers. Not safe for concurrent `append` calls that each await: callers serialize.
 */
export class PackWriter {
  readonly packKey: string;
  readonly idxKey: string;
  private readonly out = new PassThrough({ highWaterMark: HIGH_WATER_MARK });
  private readonly stored: Promise<void>;
  private readonly storeEnded: Promise<never>;
  private readonly entries = new PendingIndex();
  private written = PACK_HEADER_BYTES;
  private slab: Buffer | undefined;
  private slabUsed = 0;
  /** Bytes of the slab already handed to the stream (before a direct part, the slab's start is shipped early). */
  private slabShipped = 0;
  private error: Error | undefined;
  private state: 'open' | 'finishing' | 'done' | 'aborted' = 'open';

  private constructor(
    private readonly store: ObjectStore,
    readonly name: string,
  ) {
    this.packKey = packKey(name);
    this.idxKey = idxKey(name);
    // The store owns the stream from here on; destroying it (abort) makes the put reject and store nothing.
    this.out.on('error', () => undefined);
    const key = this.packKey;
    const out = this.out;
    this.stored = (async () => store.putIfAbsent(key, out))();
    this.stored.catch((e: unknown) => {
      this.error ??= e instanceof Error ? e : new Error(String(e));
    });
    this.storeEnded = this.stored.then(
      () => {
        throw new FailedPreconditionError(`store finished ${this.packKey} before the pack was complete`);
      },
      (e: unknown) => {
        throw e;
      },
    );
    this.storeEnded.catch(() => undefined);
    this.stage(encodePackHeader());
  }

  /** Starts a pack under a fresh random name (or `name`, for tests). */
  static open(store: ObjectStore, name: string = newPackName()): PackWriter {
    return new PackWriter(store, name);
  }

  /** Pack bytes appended so far, header included. */
  get size(): number {
    return this.written;
  }

  get count(): number {
    return this.entries.count;
  }

  /** The store error that broke this pack, if any; a broken pack can only be aborted. */
  get failure(): Error | undefined {
    return this.error;
  }

  /** The index entry of a pending record. */
  entry(id: ObjectId): IndexEntry | undefined {
    return this.entries.get(id);
  }

  /** Whether a record for `id` was appended (cheaper than `entry`). */
  has(id: ObjectId): boolean {
    return this.entries.has(id);
  }

  /** Ids appended so far, in order. */
  ids(): IterableIterator<ObjectId> {
    return this.entries.ids();
  }

  /**
   * Appends one record. `payload` parts are copied, so the caller may reuse its buffers, unless `handedOver`: then
   * the caller never changes them again and large parts go to the store as they are (one copy fewer per byte).
   * Resolves once the stream has room again. Throws InvalidArgumentError for an id already in this pack, or the
   * store's error if the upload failed.
   */
  async append(type: RecordType, id: ObjectId, payload: readonly Uint8Array[], size: number, depth: number, handedOver = false): Promise<void> {
    if (this.error) throw this.error;
    if (this.state !== 'open') throw new FailedPreconditionError(`pack ${this.name} is ${this.state}`);
    if (this.entries.has(id)) throw new InvalidArgumentError(`object ${id} is already in pack ${this.name}`);
    let length = 0;
    for (const p of payload) length += p.byteLength;
    const header = encodeRecordHeader(type, id, length);
    // Checked (and kept) before a byte is staged, so a bad entry leaves the pack as it was.
    this.entries.add({ id, offset: this.written + RECORD_HEADER_BYTES, storedLength: length, type, size, depth });
    let room = this.stage(header);
    for (const p of payload) room = (handedOver && p.byteLength >= DIRECT_MIN_BYTES ? this.sendDirect(p) : this.stage(p)) && room;
    this.written += RECORD_HEADER_BYTES + length;
    if (!room) await Promise.race([once(this.out, 'drain'), this.storeEnded]);
  }

  /** Copies `bytes` towards the stream (through the slab); false when the stream asks the writer to wait. */
  private stage(bytes: Uint8Array): boolean {
    let room = true;
    // Records straddle slabs: only full slabs reach the stream, so it never has to join small pieces.
    for (let at = 0; at < bytes.byteLength; ) {
      this.slab ??= Buffer.allocUnsafeSlow(SLAB_BYTES);
      const n = Math.min(bytes.byteLength - at, SLAB_BYTES - this.slabUsed);
      this.slab.set(bytes.subarray(at, at + n), this.slabUsed);
      this.slabUsed += n;
      at += n;
      if (this.slabUsed === SLAB_BYTES) room = this.shipSlab() && room;
    }
    return room;
  }

  /** Hands the slab's unshipped bytes to the stream; a full slab is let go, a partial one keeps filling after them. */
  private shipSlab(): boolean {
    const slab = this.slab;
    if (!slab) return true;
    const part = slab.subarray(this.slabShipped, this.slabUsed);
    this.slabShipped = this.slabUsed;
    if (this.slabUsed === SLAB_BYTES) {
      this.slab = undefined;
      this.slabUsed = 0;
      this.slabShipped = 0;
    }
    return part.byteLength === 0 || this.out.write(part);
  }

  /** Writes a handed-over part to the stream without copying it, after the slab bytes staged before it. */
  private sendDirect(part: Uint8Array): boolean {
    const room = this.shipSlab();
    return this.out.write(part) && room;
  }

  /**
   * Ends the pack, waits until the store holds all of it, then writes its index. After this resolves both files
   * are durable and the pack is visible to any reader that loads indexes. If the index cannot be written the pack
   * is deleted (best effort; otherwise gc removes it as an orphan).
   */
  async finish(): Promise<FinishedPack> {
    if (this.error) throw this.error;
    if (this.state !== 'open') throw new FailedPreconditionError(`pack ${this.name} is ${this.state}`);
    this.state = 'finishing';
    this.shipSlab();
    this.out.end();
    try {
      await this.stored;
    } catch (e) {
      // A retried upload (its first answer lost) may find its own earlier attempt: all of it, under our random name.
      if (!(e instanceof AlreadyExistsError) || (await this.store.head(this.packKey))?.size !== this.written) throw e;
      this.error = undefined;
    }
    const idx = this.entries.encode();
    crashPoint('pack.before-index');
    try {
      await this.putIndex(idx);
    } catch (e) {
      await this.store.delete(this.packKey).catch(() => undefined);
      this.state = 'aborted';
      throw e;
    }
    this.state = 'done';
    return {
      name: this.name,
      packKey: this.packKey,
      idxKey: this.idxKey,
      index: PackIndex.decode(idx, this.idxKey),
      packBytes: this.written,
      idxBytes: idx.length,
    };
  }

  /** Drops the pack: the upload is cancelled and nothing becomes visible. Never throws. */
  async abort(): Promise<void> {
    if (this.state === 'done' || this.state === 'aborted') return;
    this.state = 'aborted';
    this.out.destroy(new FailedPreconditionError(`pack ${this.name} aborted`));
    await this.stored.catch(() => undefined);
    // A conforming store kept nothing; deleting our own random key anyway costs one request and tidies up after
    // one that did not.
    await this.store.delete(this.packKey).catch(() => undefined);
  }

  private async putIndex(idx: Buffer): Promise<void> {
    try {
      await this.store.putIfAbsent(this.idxKey, idx);
    } catch (e) {
      // A retried put may find its own earlier attempt; anything else under our random name is not ours.
      if (!(e instanceof AlreadyExistsError)) throw e;
      const existing = await this.store.get(this.idxKey);
      if (!existing.equals(idx)) throw e;
    }
  }
}
