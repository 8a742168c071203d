/** Bits of filter per id: with 7 probes, about 1% of absent ids are reported as maybe present. */
const BITS_PER_ID = 10;
const PROBES = 7;
const MIN_BITS = 1 << 16;

/**
 * A Bloom filter over object ids: `mightHave` is false only for an id never added, and true for about 1% of the
 * others. It lets an id that no pack holds (every object a commit or a transfer brings that is new) be answered
 * without searching each pack's index in turn, which grew with the number of packs: 25 to 40 us per id with
 * 1,000 packs loaded, against about 1 us with 10.
 *
 * Ids are SHA-256 digests, so their bytes are already uniformly spread: the probes are read straight from the id,
 * four bytes each, with no hashing. Ids cannot be removed; a removed pack only leaves false positives behind.
 */
export class IdFilter {
  private readonly bits: Uint32Array;
  private readonly mask: number;
  private ids = 0;

  /** A filter sized for `expectedIds` at 10 bits each (64 Kibit at least). */
  constructor(expectedIds = 0) {
    const size = sizeFor(expectedIds);
    this.bits = new Uint32Array(size / 32);
    this.mask = size - 1;
  }

  /** Ids added so far, repeats included. */
  get count(): number {
    return this.ids;
  }

  /** True while `more` ids can be added within the size the filter was made for (past it, false positives grow). */
  hasRoomFor(more: number): boolean {
    return (this.ids + more) * BITS_PER_ID <= this.bits.length * 32;
  }

  /** Adds the 32-byte id at `offset` of `bytes`. */
  add(bytes: Uint8Array, offset = 0): void {
    const bits = this.bits;
    for (let p = 0, at = offset; p < PROBES; p++, at += 4) {
      const bit = word(bytes, at) & this.mask;
      bits[bit >>> 5] |= 1 << (bit & 31);
    }
    this.ids++;
  }

  /** False when the 32-byte id at `offset` of `bytes` was never added; true when it may have been. */
  mightHave(bytes: Uint8Array, offset = 0): boolean {
    const bits = this.bits;
    for (let p = 0, at = offset; p < PROBES; p++, at += 4) {
      const bit = word(bytes, at) & this.mask;
      if ((bits[bit >>> 5] & (1 << (bit & 31))) === 0) return false;
    }
    return true;
  }
}

/** Filter bits for `ids` ids: a power of two, so a probe is a mask. */
function sizeFor(ids: number): number {
  let size = MIN_BITS;
  while (size < ids * BITS_PER_ID && size < 2 ** 31) size *= 2;
  return size;
}

function word(b: Uint8Array, at: number): number {
  return (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0;
}
