import { createHash } from 'node:crypto';
import { bytesToId, InvalidArgumentError, ObjectId } from '@tributary/core';
import {
  IDX_CHECKSUM_BYTES,
  IDX_ENTRY_BYTES,
  IDX_HEADER_BYTES,
  checkIndexEntry,
  decodeIndexEntryAt,
  IDX_MAGIC,
  IndexEntry,
  writeIndexEntry,
} from './pack-format';

/** Entries live in fixed blocks of 2^BLOCK_SHIFT: growing never copies. */
const BLOCK_SHIFT = 14;
const BLOCK_ENTRIES = 1 << BLOCK_SHIFT;
const BLOCK_MASK = BLOCK_ENTRIES - 1;

/**
 * The index of a pack being written: its entries kept as index-entry bytes (pack-format's 50-byte layout) in an
 * open-addressing hash table, not as an object per entry. A pack of a million small objects costs about 60 MB
 * here instead of a few hundred, and `encode` sorts the bytes straight into the index file. Entries are checked
 * as they are added, with the same rules as `encodeIndex`, so a writer bug cannot produce an index a reader
 * would reject.
 */
export class PendingIndex {
  private readonly blocks: Buffer[] = [];
  /** Open addressing, linear probing; a slot holds entry number + 1, 0 is empty. Kept at most half full. */
  private table = new Int32Array(1024);
  private n = 0;

  get count(): number {
    return this.n;
  }

  has(id: ObjectId): boolean {
    return this.find(id) >= 0;
  }

  /** The entry for `id`, or undefined. */
  get(id: ObjectId): IndexEntry | undefined {
    const i = this.find(id);
    return i < 0 ? undefined : this.entryAt(i);
  }

  /** Adds an entry; throws InvalidArgumentError for an id already here or a field out of range. */
  add(e: IndexEntry): void {
    checkIndexEntry(e);
    if (this.find(e.id) >= 0) throw new InvalidArgumentError(`object ${e.id} appears twice in a pack`);
    const i = this.n++;
    if ((i & BLOCK_MASK) === 0) this.blocks.push(Buffer.allocUnsafe(BLOCK_ENTRIES * IDX_ENTRY_BYTES));
    const { buf, at } = this.locate(i);
    writeIndexEntry(buf, at, e);
    if (this.n * 2 > this.table.length) this.grow();
    else this.insert(i, at, buf);
  }

  /** Ids in the order they were added. */
  *ids(): Generator<ObjectId> {
    for (let i = 0; i < this.n; i++) {
      const { buf, at } = this.locate(i);
      yield bytesToId(buf, at);
    }
  }

  /** The index file's bytes (pack-format: entries sorted by id, then the checksum). */
  encode(): Buffer {
    const order = this.sortedOrder();
    const body = IDX_HEADER_BYTES + this.n * IDX_ENTRY_BYTES;
    const out = Buffer.allocUnsafe(body + IDX_CHECKSUM_BYTES);
    out.write(IDX_MAGIC, 0, 'ascii');
    out.writeUInt32BE(this.n, 8);
    let to = IDX_HEADER_BYTES;
    for (let k = 0; k < order.length; k++) {
      const { buf, at } = this.locate(order[k]);
      buf.copy(out, to, at, at + IDX_ENTRY_BYTES);
      to += IDX_ENTRY_BYTES;
    }
    createHash('sha256').update(out.subarray(0, body)).digest().copy(out, body);
    return out;
  }

  // ---- internals

  private locate(i: number): { buf: Buffer; at: number } {
    return { buf: this.blocks[i >>> BLOCK_SHIFT], at: (i & BLOCK_MASK) * IDX_ENTRY_BYTES };
  }

  private entryAt(i: number): IndexEntry {
    const { buf, at } = this.locate(i);
    return decodeIndexEntryAt(buf, at);
  }

  /** Entry number of `id`, or -1. Ids are SHA-256, so their first bytes are already a good hash. */
  private find(id: ObjectId): number {
    if (this.n === 0 || id.length !== 64) return -1;
    const key = Buffer.from(id, 'hex');
    if (key.length !== 32) return -1;
    const mask = this.table.length - 1;
    for (let s = key.readUInt32BE(0) & mask; ; s = (s + 1) & mask) {
      const v = this.table[s];
      if (v === 0) return -1;
      const { buf, at } = this.locate(v - 1);
      if (key.compare(buf, at, at + 32) === 0) return v - 1;
    }
  }

  private insert(i: number, at: number, buf: Buffer): void {
    const mask = this.table.length - 1;
    let s = buf.readUInt32BE(at) & mask;
    while (this.table[s] !== 0) s = (s + 1) & mask;
    this.table[s] = i + 1;
  }

  private grow(): void {
    this.table = new Int32Array(this.table.length * 2);
    for (let i = 0; i < this.n; i++) {
      const { buf, at } = this.locate(i);
      this.insert(i, at, buf);
    }
  }

  /** Entry numbers in id order: a numeric sort on each id's first 32 bits, ties settled byte by byte. */
  private sortedOrder(): Uint32Array {
    const order = new Uint32Array(this.n);
    const prefix = (i: number) => {
      const { buf, at } = this.locate(i);
      return buf.readUInt32BE(at);
    };
    if (this.n <= 1 << 21) {
      // prefix * 2^21 + entry number stays below 2^53: exact in a double, and a typed-array sort is native.
      const keys = new Float64Array(this.n);
      for (let i = 0; i < this.n; i++) keys[i] = prefix(i) * 2097152 + i;
      keys.sort();
      for (let k = 0; k < this.n; k++) order[k] = keys[k] % 2097152;
    } else {
      const keys = new BigUint64Array(this.n);
      for (let i = 0; i < this.n; i++) keys[i] = (BigInt(prefix(i)) << 32n) | BigInt(i);
      keys.sort();
      for (let k = 0; k < this.n; k++) order[k] = Number(keys[k] & 0xffffffffn);
    }
    for (let k = 0; k < this.n; ) {
      let end = k + 1;
      while (end < this.n && prefix(order[end]) === prefix(order[k])) end++;
      if (end - k > 1) {
        const run = Array.from(order.subarray(k, end)).sort((x, y) => {
          const a = this.locate(x);
          const b = this.locate(y);
          return a.buf.compare(b.buf, b.at, b.at + 32, a.at, a.at + 32);
        });
        order.set(run, k);
      }
      k = end;
    }
    return order;
  }
}
