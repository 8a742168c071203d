import { createHash } from 'node:crypto';
import { bytesToId, idToBytes, IntegrityError, InvalidArgumentError, isObjectId, ObjectId } from '@tributary/core';

/**
 * The on-store byte formats of packs and pack indexes. Pure: no I/O. All integers are big-endian.
 *
 * Pack file (`packs/<name>.pack`):
 *   `TRIBPACK` | u32 version (1) | records...
 *   record = u8 type (1 full, 2 delta) | 32-byte object id | u32 payload length | payload
 *   full payload  = the object's bytes
 *   delta payload = 32-byte base id | bytes of `encodeChunkDelta(base, object)`
 *
 * Index file (`packs/<name>.idx`):
 *   `TRIBIDX1` | u32 count | count entries sorted by id, ids unique | sha256 of every preceding byte
 *   entry = 32-byte id | u64 payload offset | u32 stored (payload) length | u8 type | u32 object size | u8 delta depth
 *
 * A pack is immutable; its index is written only after the pack is durably stored, so a pack without an index
 * is invisible to readers.
 */
export const PACK_MAGIC = 'TRIBPACK';
export const PACK_VERSION = 1;
export const PACK_HEADER_BYTES = 12;
/** type (1) + id (32) + payload length (4). */
export const RECORD_HEADER_BYTES = 37;

export const IDX_MAGIC = 'TRIBIDX1';
export const IDX_HEADER_BYTES = 12;
/** id (32) + offset (8) + stored length (4) + type (1) + size (4) + depth (1). */
export const IDX_ENTRY_BYTES = 50;
export const IDX_CHECKSUM_BYTES = 32;

export const RECORD_FULL = 1;
export const RECORD_DELTA = 2;
export type RecordType = typeof RECORD_FULL | typeof RECORD_DELTA;

/** A delta is stored only against a base whose own depth is below this, so no chain is longer than this. */
export const MAX_DELTA_DEPTH = 8;

/** Store prefix of every pack and index key. */
export const PACKS_PREFIX = 'packs/';
const PACK_NAME = /^pack-[0-9a-f]{32}$/;

export function packKey(name: string): string {
  return `${PACKS_PREFIX}${name}.pack`;
}

export function idxKey(name: string): string {
  return `${PACKS_PREFIX}${name}.idx`;
}

/**
 * A gc's notice that it is about to delete some packs (`packs/gc-<id>.condemned`, a JSON list of pack names). It is
 * written once gc's copies of their live records are durable and before gc's last look for new packs; gc removes it
 * when it has deleted them or given up (the next gc removes one a killed gc left). A writer that sees it stores
 * again what it would otherwise refer to in those packs.
 */
export const CONDEMNED_PREFIX = `${PACKS_PREFIX}gc-`;
const CONDEMNED_SUFFIX = '.condemned';

export function condemnedKey(gcId: string): string {
  return `${CONDEMNED_PREFIX}${gcId}${CONDEMNED_SUFFIX}`;
}

export function isCondemnedKey(key: string): boolean {
  return key.startsWith(CONDEMNED_PREFIX) && key.endsWith(CONDEMNED_SUFFIX) && !key.slice(PACKS_PREFIX.length).includes('/');
}

export function encodeCondemned(packNames: readonly string[]): Buffer {
  return Buffer.from(JSON.stringify({ packs: packNames }));
}

/** The pack names a condemned notice lists; a notice that is not one (no other writer makes such keys) lists none. */
export function decodeCondemned(bytes: Buffer): string[] {
  try {
    const packs = (JSON.parse(bytes.toString('utf8')) as { packs?: unknown }).packs;
    return Array.isArray(packs) ? packs.filter((n): n is string => typeof n === 'string' && PACK_NAME.test(n)) : [];
  } catch {
    return [];
  }
}

/** The pack name and file kind behind a store key, or undefined for any other key. */
export function parsePackKey(key: string): { name: string; kind: 'pack' | 'idx' } | undefined {
  const m = /^packs\/([^/]+)\.(pack|idx)$/.exec(key);
  if (!m || !PACK_NAME.test(m[1])) return undefined;
  return { name: m[1], kind: m[2] as 'pack' | 'idx' };
}

const U32_MAX = 0xffffffff;
const ID_LEN = 32;

/** One record as the index describes it. */
export interface IndexEntry {
  readonly id: ObjectId;
  /** Offset of the payload (not of the record header) in the pack file. */
  readonly offset: number;
  /** Payload length as stored. */
  readonly storedLength: number;
  readonly type: RecordType;
  /** Length of the object's bytes (after resolving a delta). */
  readonly size: number;
  /** 0 for a full record; a delta's depth is its base's depth + 1. */
  readonly depth: number;
}

export interface RecordHeader {
  readonly type: RecordType;
  readonly id: ObjectId;
  readonly payloadLength: number;
}

/** The 12 bytes every pack starts with. */
export function encodePackHeader(): Buffer {
  const b = Buffer.alloc(PACK_HEADER_BYTES);
  b.write(PACK_MAGIC, 0, 'ascii');
  b.writeUInt32BE(PACK_VERSION, 8);
  return b;
}

/** Throws IntegrityError naming `key` unless `buf` starts with a version-1 pack header. */
export function checkPackHeader(buf: Buffer, key: string): void {
  if (buf.length < PACK_HEADER_BYTES || buf.toString('ascii', 0, 8) !== PACK_MAGIC) {
    throw new IntegrityError(`${key} is not a pack file`, { key });
  }
  const version = buf.readUInt32BE(8);
  if (version !== PACK_VERSION) throw new IntegrityError(`${key} has unsupported pack version ${version}`, { key });
}

/** The 37-byte header written before each record's payload. */
export function encodeRecordHeader(type: RecordType, id: ObjectId, payloadLength: number): Buffer {
  checkId(id);
  if (type !== RECORD_FULL && type !== RECORD_DELTA) throw new InvalidArgumentError(`bad pack record type ${type}`);
  checkU32(payloadLength, 'payload length');
  const b = Buffer.alloc(RECORD_HEADER_BYTES);
  b.writeUInt8(type, 0);
  idToBytes(id).copy(b, 1);
  b.writeUInt32BE(payloadLength, 33);
  return b;
}

/** Parses a record header at `offset`; the caller checks it against the index. */
export function decodeRecordHeader(buf: Buffer, offset = 0): RecordHeader {
  if (buf.length - offset < RECORD_HEADER_BYTES) throw new IntegrityError('pack record header is truncated');
  const type = buf.readUInt8(offset);
  if (type !== RECORD_FULL && type !== RECORD_DELTA) throw new IntegrityError(`bad pack record type ${type}`);
  return { type, id: bytesToId(buf, offset + 1), payloadLength: buf.readUInt32BE(offset + 33) };
}

/** The parts of a delta record's payload: the base id, then the delta bytes. */
export function encodeDeltaPayload(baseId: ObjectId, delta: Uint8Array): Buffer[] {
  checkId(baseId);
  return [idToBytes(baseId), Buffer.from(delta.buffer, delta.byteOffset, delta.byteLength)];
}

export function decodeDeltaPayload(payload: Buffer): { baseId: ObjectId; delta: Buffer } {
  if (payload.length < ID_LEN) throw new IntegrityError('delta record is shorter than its base id');
  return { baseId: bytesToId(payload, 0), delta: payload.subarray(ID_LEN) };
}

/**
 * Index bytes for `entries` (any order; they are sorted by id here). Throws InvalidArgumentError on a duplicate
 * id or a field out of range, so a writer bug cannot produce an index a reader would reject.
 */
export function encodeIndex(entries: readonly IndexEntry[]): Buffer {
  const sorted = [...entries].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  checkU32(sorted.length, 'entry count');
  const body = IDX_HEADER_BYTES + sorted.length * IDX_ENTRY_BYTES;
  const b = Buffer.alloc(body + IDX_CHECKSUM_BYTES);
  b.write(IDX_MAGIC, 0, 'ascii');
  b.writeUInt32BE(sorted.length, 8);
  let at = IDX_HEADER_BYTES;
  for (let i = 0; i < sorted.length; i++) {
    const e = sorted[i];
    checkIndexEntry(e);
    if (i > 0 && sorted[i - 1].id === e.id) throw new InvalidArgumentError(`object ${e.id} appears twice in a pack`);
    writeIndexEntry(b, at, e);
    at += IDX_ENTRY_BYTES;
  }
  createHash('sha256').update(b.subarray(0, body)).digest().copy(b, body);
  return b;
}

/**
 * Checks index bytes read from `key`: magic, length, checksum, ids strictly ascending, field sanity.
 * Returns the entry count. Throws IntegrityError naming `key`.
 */
export function checkIndexBytes(buf: Buffer, key: string): number {
  const bad = (why: string) => new IntegrityError(`pack index ${key} is corrupt: ${why}`, { key });
  if (buf.length < IDX_HEADER_BYTES + IDX_CHECKSUM_BYTES || buf.toString('ascii', 0, 8) !== IDX_MAGIC) {
    throw bad('bad magic');
  }
  const count = buf.readUInt32BE(8);
  const body = IDX_HEADER_BYTES + count * IDX_ENTRY_BYTES;
  if (buf.length !== body + IDX_CHECKSUM_BYTES) throw bad(`length ${buf.length} does not fit ${count} entries`);
  const sum = createHash('sha256').update(buf.subarray(0, body)).digest();
  if (!sum.equals(buf.subarray(body))) throw bad('checksum mismatch');
  for (let i = 0, at = IDX_HEADER_BYTES; i < count; i++, at += IDX_ENTRY_BYTES) {
    if (i > 0 && Buffer.compare(buf.subarray(at - IDX_ENTRY_BYTES, at - IDX_ENTRY_BYTES + ID_LEN), buf.subarray(at, at + ID_LEN)) >= 0) {
      throw bad('ids out of order');
    }
    const type = buf.readUInt8(at + 44);
    const depth = buf.readUInt8(at + 49);
    if ((type !== RECORD_FULL && type !== RECORD_DELTA) || (depth === 0) !== (type === RECORD_FULL)) {
      throw bad(`bad record type ${type} / depth ${depth}`);
    }
    if (buf.readBigUInt64BE(at + 32) > BigInt(Number.MAX_SAFE_INTEGER)) throw bad('offset out of range');
  }
  return count;
}

/** Throws InvalidArgumentError for an entry field an index cannot hold (or a reader would reject). */
export function checkIndexEntry(e: IndexEntry): void {
  checkId(e.id);
  if (!Number.isSafeInteger(e.offset) || e.offset < PACK_HEADER_BYTES + RECORD_HEADER_BYTES) {
    throw new InvalidArgumentError(`bad pack offset ${e.offset}`);
  }
  checkU32(e.storedLength, 'stored length');
  checkU32(e.size, 'object size');
  if (e.type !== RECORD_FULL && e.type !== RECORD_DELTA) throw new InvalidArgumentError(`bad record type ${e.type}`);
  if (!Number.isInteger(e.depth) || e.depth < 0 || e.depth > 255 || (e.depth === 0) !== (e.type === RECORD_FULL)) {
    throw new InvalidArgumentError(`bad delta depth ${e.depth} for record type ${e.type}`);
  }
}

/** Writes a checked entry's IDX_ENTRY_BYTES at byte `at` of `buf`: the layout decodeIndexEntryAt reads. */
export function writeIndexEntry(buf: Buffer, at: number, e: IndexEntry): void {
  buf.write(e.id, at, 32, 'hex');
  buf.writeBigUInt64BE(BigInt(e.offset), at + 32);
  buf.writeUInt32BE(e.storedLength, at + 40);
  buf.writeUInt8(e.type, at + 44);
  buf.writeUInt32BE(e.size, at + 45);
  buf.writeUInt8(e.depth, at + 49);
}

/** Entry `i` of index bytes already accepted by `checkIndexBytes`. */
export function readIndexEntry(buf: Buffer, i: number): IndexEntry {
  return decodeIndexEntryAt(buf, IDX_HEADER_BYTES + i * IDX_ENTRY_BYTES);
}

/** The index entry whose IDX_ENTRY_BYTES start at byte `at` of `buf` (an index file, or a writer's pending run). */
export function decodeIndexEntryAt(buf: Buffer, at: number): IndexEntry {
  return {
    id: bytesToId(buf, at),
    offset: Number(buf.readBigUInt64BE(at + 32)),
    storedLength: buf.readUInt32BE(at + 40),
    type: buf.readUInt8(at + 44) as RecordType,
    size: buf.readUInt32BE(at + 45),
    depth: buf.readUInt8(at + 49),
  };
}

function checkId(id: string): void {
  if (!isObjectId(id)) throw new InvalidArgumentError(`bad object id ${JSON.stringify(id)}`);
}

function checkU32(n: number, what: string): void {
  if (!Number.isInteger(n) || n < 0 || n > U32_MAX) throw new InvalidArgumentError(`${what} ${n} does not fit 32 bits`);
}
