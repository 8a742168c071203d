import { IntegrityError } from '../errors/trib-error';
import { readUleb128, writeUleb128 } from '../objects/chunk-list.codec';

/**
 * A chunk stored or sent as a change to a base chunk the other side already holds. Ids never change: the target
 * keeps the id of its full bytes, and whoever applies a delta checks the result against that id.
 *
 * Format: LEB128 prefix length, LEB128 suffix length, then the inserted bytes:
 *   target = base[0, prefix) + inserted + base[base.length - suffix, base.length)
 * The case that matters is an appended file's new last chunk: its old last chunk plus new bytes (suffix 0).
 */

const BLOCK = 4096;

function commonPrefixLength(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  const ba = Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  const bb = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  let i = 0;
  // Whole blocks by memcmp first, then bytes: a JS byte loop over a whole 256 KiB chunk is the slow path.
  while (i + BLOCK <= n && ba.subarray(i, i + BLOCK).equals(bb.subarray(i, i + BLOCK))) i += BLOCK;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

function commonSuffixLength(a: Uint8Array, b: Uint8Array, limit: number): number {
  const ba = Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  const bb = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  let i = 0;
  while (i + BLOCK <= limit && ba.subarray(a.length - i - BLOCK, a.length - i).equals(bb.subarray(b.length - i - BLOCK, b.length - i))) {
    i += BLOCK;
  }
  while (i < limit && a[a.length - 1 - i] === b[b.length - 1 - i]) i++;
  return i;
}

/**
 * The delta that turns `base` into `target`, or undefined when it would be larger than `maxFraction` of the target
 * (default one half: then the target is better sent whole). Storage passes a higher fraction, because storing an
 * appended file's new last chunk whole would store its old tail again.
 */
export function encodeChunkDelta(base: Uint8Array, target: Uint8Array, opts: { maxFraction?: number } = {}): Buffer | undefined {
  const prefix = commonPrefixLength(base, target);
  const suffix = commonSuffixLength(base, target, Math.min(base.length, target.length) - prefix);
  const head: number[] = [];
  writeUleb128(head, prefix);
  writeUleb128(head, suffix);
  const inserted = target.subarray(prefix, target.length - suffix);
  if (head.length + inserted.length > target.length * (opts.maxFraction ?? 0.5)) return undefined;
  return Buffer.concat([Buffer.from(head), inserted]);
}

/** Rebuilds the target from `base` and a delta. Throws IntegrityError on a malformed delta or one that does not fit `base`. */
export function applyChunkDelta(base: Uint8Array, delta: Uint8Array): Buffer {
  let prefix;
  let suffix;
  try {
    prefix = readUleb128(delta, 0);
    suffix = readUleb128(delta, prefix.next);
  } catch (e) {
    throw new IntegrityError('chunk delta is malformed', {}, { cause: e });
  }
  if (prefix.value + suffix.value > base.length) {
    throw new IntegrityError(
      `chunk delta keeps ${prefix.value} + ${suffix.value} bytes of a ${base.length}-byte base`,
    );
  }
  return Buffer.concat([
    base.subarray(0, prefix.value),
    delta.subarray(suffix.next),
    base.subarray(base.length - suffix.value),
  ]);
}
