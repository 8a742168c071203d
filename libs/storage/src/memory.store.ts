import { Readable } from 'node:stream';
import { AlreadyExistsError, InvalidArgumentError } from '@tributary/core';
import { isBytes } from './bytes';
import { keyChanged, keyExists, keyNotFound } from './key-errors';
import { ByteRange, ObjectInfo, ObjectStore, Versioned } from './object-store.port';
import { validateByteRange, validateListPrefix, validateStoreKey } from './store-keys';
import { collectChunks } from './stream-batches';

const STREAM_CHUNK = 64 * 1024;

interface Entry {
  readonly data: StoredBytes;
  readonly modified: Date;
  readonly version: string;
}

/**
 * The object store in process memory, with the same semantics as the others: for unit tests of pure logic and for
 * benches. Buffers are copied in and out, so callers cannot change stored bytes (a stream's chunks are kept as they
 * come). Versions are counters, unique per store, so a value written back gets a new version.
 */
export class MemoryStore implements ObjectStore {
  readonly url: string;
  private readonly entries = new Map<string, Entry>();
  private versions = 0;

  constructor(name = 'default') {
    this.url = `mem://${name}`;
  }

  async putIfAbsent(key: string, data: Buffer | Readable): Promise<void> {
    validateStoreKey(key);
    if (this.entries.has(key)) {
      if (!isBytes(data)) data.destroy();
      throw this.exists(key);
    }
    const bytes = isBytes(data) ? new StoredBytes([Buffer.from(data)]) : await readAll(data);
    await tick();
    if (this.entries.has(key)) throw this.exists(key);
    this.set(key, bytes);
  }

  async get(key: string): Promise<Buffer> {
    return this.entry(key).data.copy();
  }

  async getRange(key: string, range: ByteRange): Promise<Buffer> {
    validateByteRange(range);
    return this.entry(key).data.copy(range);
  }

  async getStream(key: string, range?: ByteRange): Promise<Readable> {
    if (range) validateByteRange(range);
    const bytes = this.entry(key).data.copy(range);
    function* chunks(): Generator<Buffer> {
      for (let pos = 0; pos < bytes.length; pos += STREAM_CHUNK) yield bytes.subarray(pos, pos + STREAM_CHUNK);
    }
    return Readable.from(chunks(), { objectMode: false });
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    validateStoreKey(key);
    const entry = this.entries.get(key);
    return entry && { key, size: entry.data.size, modified: entry.modified };
  }

  async *list(prefix: string): AsyncGenerator<ObjectInfo> {
    validateListPrefix(prefix);
    for (const [key, entry] of this.entries) {
      if (key.startsWith(prefix)) yield { key, size: entry.data.size, modified: entry.modified };
    }
  }

  async delete(key: string): Promise<void> {
    validateStoreKey(key);
    this.entries.delete(key);
  }

  async readVersioned(key: string): Promise<Versioned | undefined> {
    validateStoreKey(key);
    const entry = this.entries.get(key);
    return entry && { data: entry.data.copy(), version: entry.version };
  }

  async compareAndSwap(key: string, expected: string | undefined, data: Buffer): Promise<string> {
    validateStoreKey(key);
    if (!(data instanceof Uint8Array)) throw new InvalidArgumentError(`compare-and-swap of ${key} needs a Buffer`);
    const copy = new StoredBytes([Buffer.from(data)]);
    await tick();
    this.expectVersion(key, expected);
    return this.set(key, copy).version;
  }

  async deleteVersioned(key: string, expected: string): Promise<void> {
    validateStoreKey(key);
    await tick();
    this.expectVersion(key, expected);
    this.entries.delete(key);
  }

  async close(): Promise<void> {}

  private entry(key: string): Entry {
    validateStoreKey(key);
    const entry = this.entries.get(key);
    if (!entry) throw keyNotFound(this.url, key);
    return entry;
  }

  private set(key: string, data: StoredBytes): Entry {
    const entry = { data, modified: new Date(), version: `v${++this.versions}` };
    this.entries.set(key, entry);
    return entry;
  }

  private expectVersion(key: string, expected: string | undefined): void {
    const current = this.entries.get(key)?.version;
    if (current !== expected) {
      throw keyChanged(this.url, key, expected, { found: { version: current } });
    }
  }

  private exists(key: string): AlreadyExistsError {
    return keyExists(this.url, key);
  }
}

/**
 * A stream's bytes as the pieces it came in (a pack arrives as many 1 MiB slabs). Not copied: a readable stream's
 * producer hands each chunk over and never writes to it again, unlike the caller of a Buffer put, whose bytes are
 * copied.
 */
async function readAll(stream: Readable): Promise<StoredBytes> {
  return new StoredBytes((await collectChunks(stream)).parts);
}

/**
 * A stored value kept as the pieces it was written in: joining a large streamed object into one buffer would copy
 * it a second time, and a bench that measures a broker on this store would measure that copy.
 */
class StoredBytes {
  /** Offset of each part within the value. */
  private readonly starts: number[] = [];
  readonly size: number;

  constructor(private readonly parts: readonly Buffer[]) {
    let at = 0;
    for (const p of parts) {
      this.starts.push(at);
      at += p.length;
    }
    this.size = at;
  }

  /** A copy of `range` (clipped at the end), or of the whole value. */
  copy(range?: ByteRange): Buffer {
    const start = Math.min(range?.offset ?? 0, this.size);
    const end = range ? Math.min(this.size, start + range.length) : this.size;
    const out = Buffer.allocUnsafe(end - start);
    for (let i = this.partAt(start), at = start; at < end; i++) {
      const p = this.parts[i];
      const from = at - this.starts[i];
      const n = Math.min(p.length - from, end - at);
      p.copy(out, at - start, from, from + n);
      at += n;
    }
    return out;
  }

  /** Index of the part holding byte `offset` (binary search). */
  private partAt(offset: number): number {
    let lo = 0;
    let hi = this.parts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
}

/** Lets racing callers interleave, as they would against a real store. */
function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
