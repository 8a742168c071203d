import { createHash, randomBytes } from 'node:crypto';
import { promises as fs, statSync, BigIntStats } from 'node:fs';
import * as path from 'node:path';
import { bytesToId, EntryKind, isObjectId, ObjectId } from '@tributary/core';

/** What the working copy looked like when a path was last hashed (as git's index keeps it). */
export interface CachedEntry {
  readonly kind: EntryKind;
  readonly executable: boolean;
  readonly size: number;
  readonly mtimeNs: bigint;
  readonly ctimeNs: bigint;
  readonly ino: bigint;
  readonly id: ObjectId;
  readonly chunked: boolean;
}

/** The stat fields the cache compares; a BigIntStats is one. */
export type StatStamp = Pick<BigIntStats, 'size' | 'mtimeNs' | 'ctimeNs' | 'ino'>;

/**
 * On disk (`.trib/index`), version 2: `TRIBSTC2` | u32 count | count x (u32 path length | UTF-8 path | record) |
 * sha256 of every preceding byte. A file that fails its checksum, or any other version, loads as an empty cache:
 * the cache only saves work, so damage costs a rehash, never a wrong id. Version 1 (JSON lines) is still read.
 */
const MAGIC = 'TRIBSTC2';
const LEGACY_FORMAT = 'trib-index 1';

/**
 * A record, little-endian: id (32) | kind (1) | flags (1: executable 1, chunked 2) | size f64 (8) | mtimeNs i64 (8)
 * | ctimeNs i64 (8) | ino u64 (8).
 */
const REC = 66;
const KINDS: readonly EntryKind[] = ['file', 'dir', 'symlink'];
/** Records live in fixed blocks of 2^BLOCK_SHIFT: growing never copies, and a million entries are 62 buffers. */
const BLOCK_SHIFT = 14;
const BLOCK_RECORDS = 1 << BLOCK_SHIFT;
const BLOCK_MASK = BLOCK_RECORDS - 1;
const WRITE_CHUNK = 1 << 20;

/**
 * The stat cache: lets a commit reuse a file's id without reading it when size, mtime, ctime and inode are
 * unchanged. Entries whose mtime is not older than the cache file itself are "racily clean" -- the file may have
 * changed again within the same timestamp tick after it was hashed -- so they are never trusted, only rehashed.
 *
 * Memory: a path -> slot map plus a 66-byte record per path, no objects per entry, so a million-file tree costs
 * about 150 MB here rather than several times that, and the garbage collector has nothing per entry to trace.
 */
export class StatCache {
  private slots = new Map<string, number>();
  private readonly blocks: Buffer[] = [];
  private readonly marks: Uint32Array[] = [];
  private used = 0;
  private generation = 0;
  private writtenAtNs = 0n;
  /** Whether an entry changed since the file was read or written: `save` writes only then. */
  private dirty = false;

  constructor(
    private readonly file: string,
    /** False for a cache whose entries may name objects the store will not keep (see Repository.scratchWrites). */
    private readonly persist = true,
  ) {}

  /** Reads the cache in `file`; with `persist: false`, `save` never writes it back. */
  static async load(file: string, opts: { persist?: boolean } = {}): Promise<StatCache> {
    const cache = new StatCache(file, opts.persist ?? true);
    let bytes: Buffer;
    try {
      bytes = await fs.readFile(file);
      cache.writtenAtNs = statSync(file, { bigint: true }).mtimeNs;
    } catch {
      return cache;
    }
    if (bytes.subarray(0, MAGIC.length).toString('latin1') === MAGIC) cache.decode(bytes);
    else if (bytes.subarray(0, LEGACY_FORMAT.length + 1).toString('latin1') === `${LEGACY_FORMAT}\n`) {
      cache.decodeLegacy(bytes.toString('utf8'));
      cache.dirty = true; // written again in the current format
    }
    return cache;
  }

  /** The cached entry when `st` proves the path unchanged since it was hashed; undefined means "hash it". */
  lookup(relPath: string, st: StatStamp): CachedEntry | undefined {
    const slot = this.slots.get(relPath);
    if (slot === undefined) return undefined;
    const { buf, at } = this.record(slot);
    const mtimeNs = buf.readBigInt64LE(at + 42);
    if (mtimeNs >= this.writtenAtNs) return undefined;
    if (
      buf.readDoubleLE(at + 34) !== Number(st.size) ||
      mtimeNs !== st.mtimeNs ||
      buf.readBigInt64LE(at + 50) !== st.ctimeNs ||
      buf.readBigUInt64LE(at + 58) !== BigInt.asUintN(64, st.ino)
    ) {
      return undefined;
    }
    return this.entryAt(slot);
  }

  /** Number of entries. */
  get size(): number {
    return this.slots.size;
  }

  /** Every entry with its path, in no particular order. */
  *entries(): Generator<[string, CachedEntry]> {
    for (const [p, slot] of this.slots) yield [p, this.entryAt(slot)];
  }

  get(relPath: string): CachedEntry | undefined {
    const slot = this.slots.get(relPath);
    return slot === undefined ? undefined : this.entryAt(slot);
  }

  set(relPath: string, st: StatStamp, e: Omit<CachedEntry, 'mtimeNs' | 'ctimeNs' | 'ino'>): void {
    let slot = this.slots.get(relPath);
    if (slot === undefined) {
      slot = this.allocate();
      this.slots.set(relPath, slot);
    }
    const { buf, at } = this.record(slot);
    writeRecord(buf, at, e.id, e.kind, e.executable, e.chunked, e.size, st.mtimeNs, st.ctimeNs, BigInt.asUintN(64, st.ino));
    this.mark(slot);
    this.dirty = true;
  }

  delete(relPath: string): void {
    if (this.slots.delete(relPath)) this.dirty = true;
  }

  /** Drops every entry not in `keep` (paths that no longer exist). */
  retainOnly(keep: Set<string>): void {
    for (const p of this.slots.keys()) if (!keep.has(p)) this.delete(p);
  }

  /**
   * Starts a sweep: from now on `keep` and `set` mark paths as still there, and `sweep` drops every entry not
   * marked since. Costs 4 bytes per entry, where `retainOnly` needs a set of every path.
   */
  beginSweep(): void {
    this.generation++;
  }

  keep(relPath: string): void {
    const slot = this.slots.get(relPath);
    if (slot !== undefined) this.mark(slot);
  }

  sweep(): void {
    for (const [p, slot] of this.slots) if (this.marks[slot >>> BLOCK_SHIFT][slot & BLOCK_MASK] !== this.generation) this.delete(p);
  }

  /**
   * Writes the cache durably (temp file, fsync, rename, fsync of the directory), streaming; only when an entry
   * changed, so a status of an unchanged tree writes nothing. (An entry too recent to trust is hashed again and
   * set, which changes the cache: it is then written, and trusted from the next run on.)
   */
  async save(): Promise<void> {
    if (!this.dirty || !this.persist) return;
    const dir = path.dirname(this.file);
    await fs.mkdir(dir, { recursive: true });
    const tmp = `${this.file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    const fh = await fs.open(tmp, 'w');
    try {
      const hash = createHash('sha256');
      let chunk = Buffer.allocUnsafe(WRITE_CHUNK);
      let n = 0;
      const flush = async () => {
        hash.update(chunk.subarray(0, n));
        await fh.write(chunk, 0, n);
        n = 0;
      };
      const room = async (k: number) => {
        if (n + k > chunk.length) await flush();
        if (k > chunk.length) chunk = Buffer.allocUnsafe(k);
      };
      await room(12);
      n += chunk.write(MAGIC, n, 'latin1');
      n = chunk.writeUInt32LE(this.slots.size, n);
      for (const [p, slot] of this.slots) {
        const len = Buffer.byteLength(p, 'utf8');
        await room(4 + len + REC);
        n = chunk.writeUInt32LE(len, n);
        n += chunk.write(p, n, 'utf8');
        const { buf, at } = this.record(slot);
        n += buf.copy(chunk, n, at, at + REC);
      }
      await flush();
      await fh.write(hash.digest());
      await fh.sync();
    } catch (e) {
      await fh.close().catch(() => undefined);
      await fs.unlink(tmp).catch(() => undefined);
      throw e;
    }
    await fh.close();
    await fs.rename(tmp, this.file);
    const d = await fs.open(dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
    this.writtenAtNs = statSync(this.file, { bigint: true }).mtimeNs;
    this.dirty = false;
  }

  // ---- records

  private allocate(): number {
    const slot = this.used++;
    if ((slot & BLOCK_MASK) === 0) {
      this.blocks.push(Buffer.alloc(BLOCK_RECORDS * REC));
      this.marks.push(new Uint32Array(BLOCK_RECORDS));
    }
    return slot;
  }

  private record(slot: number): { buf: Buffer; at: number } {
    return { buf: this.blocks[slot >>> BLOCK_SHIFT], at: (slot & BLOCK_MASK) * REC };
  }

  private mark(slot: number): void {
    this.marks[slot >>> BLOCK_SHIFT][slot & BLOCK_MASK] = this.generation;
  }

  private entryAt(slot: number): CachedEntry {
    const { buf, at } = this.record(slot);
    const flags = buf[at + 33];
    return {
      id: bytesToId(buf, at),
      kind: KINDS[buf[at + 32]],
      executable: (flags & 1) !== 0,
      chunked: (flags & 2) !== 0,
      size: buf.readDoubleLE(at + 34),
      mtimeNs: buf.readBigInt64LE(at + 42),
      ctimeNs: buf.readBigInt64LE(at + 50),
      ino: buf.readBigUInt64LE(at + 58),
    };
  }

  private decode(bytes: Buffer): void {
    const body = bytes.length - 32;
    if (body < 12 || !createHash('sha256').update(bytes.subarray(0, body)).digest().equals(bytes.subarray(body))) return;
    const count = bytes.readUInt32LE(8);
    const slots = new Map<string, number>();
    let at = 12;
    for (let i = 0; i < count; i++) {
      if (at + 4 > body) return;
      const len = bytes.readUInt32LE(at);
      at += 4;
      if (at + len + REC > body || bytes[at + len + 32] >= KINDS.length) return;
      const p = bytes.toString('utf8', at, at + len);
      at += len;
      const slot = this.allocate();
      const { buf, at: to } = this.record(slot);
      bytes.copy(buf, to, at, at + REC);
      at += REC;
      slots.set(p, slot);
    }
    if (at === body) this.slots = slots;
  }

  private decodeLegacy(text: string): void {
    const lines = text.split('\n');
    for (let i = 1; i < lines.length; i++) {
      if (!lines[i]) continue;
      try {
        const [p, kind, exec, size, mtime, ctime, ino, id, chunked] = JSON.parse(lines[i]);
        if (typeof p !== 'string' || !KINDS.includes(kind) || !isObjectId(id) || !Number.isSafeInteger(size)) continue;
        const slot = this.allocate();
        const { buf, at } = this.record(slot);
        writeRecord(buf, at, id, kind, exec === 1, chunked === 1, size, BigInt(mtime), BigInt(ctime), BigInt.asUintN(64, BigInt(ino)));
        this.slots.set(p, slot);
      } catch {
        // A damaged line only costs a rehash of that path.
      }
    }
  }
}

function writeRecord(
  buf: Buffer,
  at: number,
  id: ObjectId,
  kind: EntryKind,
  executable: boolean,
  chunked: boolean,
  size: number,
  mtimeNs: bigint,
  ctimeNs: bigint,
  ino: bigint,
): void {
  buf.write(id, at, 32, 'hex');
  buf[at + 32] = KINDS.indexOf(kind);
  buf[at + 33] = (executable ? 1 : 0) | (chunked ? 2 : 0);
  buf.writeDoubleLE(size, at + 34);
  buf.writeBigInt64LE(mtimeNs, at + 42);
  buf.writeBigInt64LE(ctimeNs, at + 50);
  buf.writeBigUInt64LE(ino, at + 58);
}
