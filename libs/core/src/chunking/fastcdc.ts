import { createHash } from 'node:crypto';
import { InvalidArgumentError } from '../errors/trib-error';

/**
 * FastCDC-style content-defined chunking: a gear rolling hash, no cut before `minSize`, and normalized chunking
 * (a strict mask up to `normalSize`, a loose one after it, a forced cut at `maxSize`).
 *
 * The gear table, the masks and the parameters below are part of the on-disk format: changing any of them changes
 * every chunk id. Golden vectors in golden/chunking.golden.spec.ts freeze them.
 */
export interface ChunkerParams {
  /** No cut before this many bytes (the hash starts here). */
  readonly minSize: number;
  /** Nominal average; a power of two. The masks have log2(avgSize) +/- `normalization` bits. */
  readonly avgSize: number;
  /** Where the strict mask hands over to the loose one. */
  readonly normalSize: number;
  /** A chunk never exceeds this. */
  readonly maxSize: number;
  /** Normalized chunking level. */
  readonly normalization: 1 | 2;
}

/**
 * min 16 KiB, avg 64 KiB, max 256 KiB, level 2 (18-bit then 14-bit mask). With the switch at 53 KiB the expected
 * size on random data is 16 + 256 (1 - e^(-37/256)) + 16 e^(-37/256) ~= 64.3 KiB (measured: 64.3 KiB); switching
 * at 64 KiB would give ~73 KiB.
 */
export const DEFAULT_CHUNKER_PARAMS: ChunkerParams = Object.freeze({
  minSize: 16 * 1024,
  avgSize: 64 * 1024,
  normalSize: 53 * 1024,
  maxSize: 256 * 1024,
  normalization: 2,
});

/** Gear table: entry i is the first 4 bytes (big-endian) of sha256("tributary-gear-" + i), kept as int32. */
const GEAR: Int32Array = (() => {
  const g = new Int32Array(256);
  for (let i = 0; i < 256; i++) g[i] = createHash('sha256').update(`tributary-gear-${i}`).digest().readInt32BE(0);
  return g;
})();

/** A copy of the gear table (for golden tests and other implementations). */
export function gearTable(): Uint32Array {
  return new Uint32Array(GEAR.buffer.slice(0));
}

interface Resolved {
  readonly min: number;
  readonly normal: number;
  readonly max: number;
  /** Top bits of the hash; the loose mask's bits are a subset of the strict one's, so a strict cut is always a cut. */
  readonly strictMask: number;
  readonly looseMask: number;
}

function resolve(p: ChunkerParams): Resolved {
  const bits = Math.log2(p.avgSize);
  const ok =
    Number.isInteger(p.minSize) && Number.isInteger(p.normalSize) && Number.isInteger(p.maxSize) &&
    Number.isInteger(bits) && (p.normalization === 1 || p.normalization === 2) &&
    0 < p.minSize && p.minSize < p.normalSize && p.normalSize <= p.maxSize && bits + p.normalization < 32;
  if (!ok) throw new InvalidArgumentError('invalid chunker parameters', { params: { ...p } });
  const topBits = (n: number) => (0xffffffff << (32 - n)) | 0;
  return {
    min: p.minSize,
    normal: p.normalSize,
    max: p.maxSize,
    strictMask: topBits(bits + p.normalization),
    looseMask: topBits(bits - p.normalization),
  };
}

const DEFAULT_RESOLVED = resolve(DEFAULT_CHUNKER_PARAMS);

/** Where a scan that ran out of data stopped: bytes already hashed (relative to the chunk start) and the hash. */
interface ScanState {
  hashed: number;
  hash: number;
}

function scan(data: Uint8Array, start: number, end: number, final: boolean, p: Resolved, st: ScanState): number {
  const avail = end - start;
  if (avail <= p.min) return final ? avail : -1;
  const limit = avail < p.max ? end : start + p.max;
  const normalEnd = start + p.normal < limit ? start + p.normal : limit;
  const strict = p.strictMask;
  const loose = p.looseMask;
  const gear = GEAR;
  let h = st.hash;
  let i = start + (st.hashed > p.min ? st.hashed : p.min);
  for (; i < normalEnd; i++) {
    h = ((h << 1) + gear[data[i]]) | 0;
    if ((h & strict) === 0) return done(st, i + 1 - start);
  }
  for (; i < limit; i++) {
    h = ((h << 1) + gear[data[i]]) | 0;
    if ((h & loose) === 0) return done(st, i + 1 - start);
  }
  if (limit - start === p.max || final) return done(st, limit - start);
  st.hashed = i - start;
  st.hash = h;
  return -1;
}

function done(st: ScanState, length: number): number {
  st.hashed = 0;
  st.hash = 0;
  return length;
}

/**
 * Length of the chunk that starts at `data[start]`, looking at `data[start..end)` only.
 * Returns -1 when the cut cannot be decided yet (only when `!final` and fewer than `maxSize` bytes remain);
 * with `final`, the remaining bytes end a chunk. Returns 0 only when `start === end`.
 * Throws InvalidArgumentError on a bad range or bad params.
 */
export function findCutPoint(
  data: Uint8Array,
  start: number,
  end: number,
  final: boolean,
  params: ChunkerParams = DEFAULT_CHUNKER_PARAMS,
): number {
  if (!(Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start <= end && end <= data.length)) {
    throw new InvalidArgumentError(`bad chunking range ${start}..${end} of ${data.length} bytes`);
  }
  const p = params === DEFAULT_CHUNKER_PARAMS ? DEFAULT_RESOLVED : resolve(params);
  if (!primed) primeScan();
  return scan(data, start, end, final, p, { hashed: 0, hash: 0 });
}

/**
 * Streaming chunker. Chunk boundaries depend only on the bytes, never on how they were split into pushes.
 * `push` returns the chunks it completed; `finish` returns the last one (none for empty input).
 * Returned chunks may be views into a pushed block: do not modify a block after pushing it.
 * Holds at most `maxSize` bytes between calls; a chunk spanning pushes is scanned once, not re-scanned per push.
 */
export class Chunker {
  private readonly p: Resolved;
  private readonly pending: Buffer;
  private pendingLength = 0;
  private readonly state: ScanState = { hashed: 0, hash: 0 };
  private finished = false;

  constructor(params: ChunkerParams = DEFAULT_CHUNKER_PARAMS) {
    this.p = params === DEFAULT_CHUNKER_PARAMS ? DEFAULT_RESOLVED : resolve(params);
    this.pending = Buffer.allocUnsafe(this.p.max);
    if (!primed) primeScan();
  }

  push(data: Uint8Array): Buffer[] {
    if (this.finished) throw new InvalidArgumentError('chunker already finished');
    const block = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const out: Buffer[] = [];
    let pos = 0;
    if (this.pendingLength > 0) {
      // Complete the chunk in progress inside `pending`; it needs at most maxSize bytes in total.
      const before = this.pendingLength;
      const take = Math.min(block.length, this.p.max - before);
      block.copy(this.pending, before, 0, take);
      this.pendingLength += take;
      const n = scan(this.pending, 0, this.pendingLength, false, this.p, this.state);
      if (n < 0) return out;
      out.push(Buffer.from(this.pending.subarray(0, n)));
      this.pendingLength = 0;
      pos = n - before;
    }
    for (;;) {
      const n = scan(block, pos, block.length, false, this.p, this.state);
      if (n < 0) break;
      out.push(block.subarray(pos, pos + n));
      pos += n;
    }
    // The scan state stays valid: `pending` holds the same bytes from the same chunk start.
    this.pendingLength = block.copy(this.pending, 0, pos);
    return out;
  }

  finish(): Buffer[] {
    if (this.finished) throw new InvalidArgumentError('chunker already finished');
    this.finished = true;
    if (this.pendingLength === 0) return [];
    return [Buffer.from(this.pending.subarray(0, this.pendingLength))];
  }
}

/**
 * Runs every path of `scan` once, on a few KiB with small parameters, so that V8 has type feedback for all of them
 * before it optimizes the loop. Why: the paths a large file takes rarely (the loose mask's loop, a cut at
 * `maxSize`, running out of pushed bytes) would otherwise first run in optimized code that has no feedback for
 * them, and on Node 20 that deoptimized `scan` about 40 times in the first 256 MiB a process or worker chunked,
 * each time back in the interpreter: that first 256 MiB cost about 1.5 times the CPU of the next. Every commit
 * chunks in new worker threads, so every commit paid it. Runs once per thread, on first use: about a millisecond.
 */
let primed = false;

function primeScan(): void {
  primed = true;
  const p = resolve({ minSize: 64, avgSize: 1024, normalSize: 128, maxSize: 256, normalization: 2 });
  const data = Buffer.alloc(16 * 1024);
  let x = 0x9e3779b9;
  for (let i = 0; i < data.length; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) | 0;
    data[i] = x >>> 24;
  }
  const st: ScanState = { hashed: 0, hash: 0 };
  for (let at = 0; at < data.length; ) {
    // A window shorter than maxSize runs out of bytes (-1); the rest of the data then resumes from the state.
    const n = scan(data, at, Math.min(at + 200, data.length), false, p, st);
    at += n >= 0 ? n : scan(data, at, data.length, true, p, st);
  }
}
