import { bytesToId, idToBytes, ObjectId } from '@tributary/core';
import { IdFilter } from './id-filter';
import { checkIndexBytes, IDX_ENTRY_BYTES, IDX_HEADER_BYTES, IndexEntry, readIndexEntry } from './pack-format';

const ID_LEN = 32;

/**
 * A pack's index held in memory as its raw bytes (50 bytes per object), looked up by binary search within a
 * 256-way fan-out on the first id byte. Immutable.
 */
export class PackIndex {
  private readonly fanout = new Uint32Array(257);

  private constructor(
    private readonly buf: Buffer,
    readonly count: number,
  ) {
    for (let i = 0; i < count; i++) this.fanout[buf[IDX_HEADER_BYTES + i * IDX_ENTRY_BYTES] + 1]++;
    for (let b = 1; b <= 256; b++) this.fanout[b] += this.fanout[b - 1];
  }

  /** Parses and verifies index bytes (checksum included). Throws IntegrityError naming `key`. */
  static decode(buf: Buffer, key: string): PackIndex {
    const count = checkIndexBytes(buf, key);
    return new PackIndex(buf, count);
  }

  /** Total bytes of the encoded index. */
  get byteLength(): number {
    return this.buf.length;
  }

  /**
   * Position of `id` in id order, or -1. `id` may be given as its 32 bytes, so a caller probing many packs
   * converts it once.
   */
  find(id: ObjectId | Buffer): number {
    const key = typeof id === 'string' ? idToBytes(id) : id;
    if (key.length !== ID_LEN) return -1;
    let lo = this.fanout[key[0]];
    let hi = this.fanout[key[0] + 1] - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const at = IDX_HEADER_BYTES + mid * IDX_ENTRY_BYTES;
      const c = key.compare(this.buf, at, at + ID_LEN);
      if (c === 0) return mid;
      if (c > 0) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /** Every id that starts with the lowercase hex `prefix`, in id order (for resolving abbreviated ids). */
  idsWithPrefix(prefix: string): ObjectId[] {
    if (!/^[0-9a-f]{0,64}$/.test(prefix)) return [];
    const low = Buffer.from(prefix.padEnd(64, '0'), 'hex');
    let lo = this.fanout[low[0]];
    let hi = this.fanout[low[0] + 1];
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (low.compare(this.buf, IDX_HEADER_BYTES + mid * IDX_ENTRY_BYTES, IDX_HEADER_BYTES + mid * IDX_ENTRY_BYTES + ID_LEN) > 0) lo = mid + 1;
      else hi = mid;
    }
    const out: ObjectId[] = [];
    for (let i = lo; i < this.count; i++) {
      const id = this.idAt(i);
      if (!id.startsWith(prefix)) break;
      out.push(id);
    }
    return out;
  }

  has(id: ObjectId | Buffer): boolean {
    return this.find(id) >= 0;
  }

  /** The entry for `id`, or undefined. */
  lookup(id: ObjectId | Buffer): IndexEntry | undefined {
    const i = this.find(id);
    return i < 0 ? undefined : readIndexEntry(this.buf, i);
  }

  entryAt(i: number): IndexEntry {
    if (!Number.isInteger(i) || i < 0 || i >= this.count) throw new RangeError(`index position ${i} out of range`);
    return readIndexEntry(this.buf, i);
  }

  idAt(i: number): ObjectId {
    if (!Number.isInteger(i) || i < 0 || i >= this.count) throw new RangeError(`index position ${i} out of range`);
    return bytesToId(this.buf, IDX_HEADER_BYTES + i * IDX_ENTRY_BYTES);
  }

  /** Adds every id of this index to `filter`. */
  addIdsTo(filter: IdFilter): void {
    for (let i = 0; i < this.count; i++) filter.add(this.buf, IDX_HEADER_BYTES + i * IDX_ENTRY_BYTES);
  }

  /** Every entry in id order. */
  *entries(): Generator<IndexEntry> {
    for (let i = 0; i < this.count; i++) yield readIndexEntry(this.buf, i);
  }
}
