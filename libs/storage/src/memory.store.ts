import { Readable } from 'node:stream';
import { AlreadyExistsError, ConflictError, InvalidArgumentError, NotFoundError } from '@tributary/core';
import { ByteRange, ObjectInfo, ObjectStore, Versioned } from './object-store.port';
import { validateStoreKey } from './store-keys';

const STREAM_CHUNK = 64 * 1024;

interface Entry {
  readonly data: Buffer;
  readonly modified: Date;
  readonly version: string;
}

/**
 * The object store in process memory, with the same semantics as the others: for unit tests of pure logic and for
 * benches. Values are copied in and out, so callers cannot change stored bytes. Versions are counters, unique per
 * store, so a value written back gets a new version.
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
    const bytes = isBytes(data) ? Buffer.from(data) : await readAll(data);
    await tick();
    if (this.entries.has(key)) throw this.exists(key);
    this.set(key, bytes);
  }

  async get(key: string): Promise<Buffer> {
    return Buffer.from(this.entry(key).data);
  }

  async getRange(key: string, range: ByteRange): Promise<Buffer> {
    checkRange(range);
    return Buffer.from(slice(this.entry(key).data, range));
  }

  async getStream(key: string, range?: ByteRange): Promise<Readable> {
    if (range) checkRange(range);
    const bytes = Buffer.from(slice(this.entry(key).data, range));
    function* chunks(): Generator<Buffer> {
      for (let pos = 0; pos < bytes.length; pos += STREAM_CHUNK) yield bytes.subarray(pos, pos + STREAM_CHUNK);
    }
    return Readable.from(chunks(), { objectMode: false });
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    validateStoreKey(key);
    const entry = this.entries.get(key);
    return entry && { key, size: entry.data.length, modified: entry.modified };
  }

  async *list(prefix: string): AsyncGenerator<ObjectInfo> {
    if (prefix !== '') validateStoreKey(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix);
    for (const [key, entry] of this.entries) {
      if (key.startsWith(prefix)) yield { key, size: entry.data.length, modified: entry.modified };
    }
  }

  async delete(key: string): Promise<void> {
    validateStoreKey(key);
    this.entries.delete(key);
  }

  async readVersioned(key: string): Promise<Versioned | undefined> {
    validateStoreKey(key);
    const entry = this.entries.get(key);
    return entry && { data: Buffer.from(entry.data), version: entry.version };
  }

  async compareAndSwap(key: string, expected: string | undefined, data: Buffer): Promise<string> {
    validateStoreKey(key);
    if (!(data instanceof Uint8Array)) throw new InvalidArgumentError(`compare-and-swap of ${key} needs a Buffer`);
    const copy = Buffer.from(data);
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
    if (!entry) throw new NotFoundError(`${key} not found in ${this.url}`, { url: this.url, key });
    return entry;
  }

  private set(key: string, data: Buffer): Entry {
    const entry = { data, modified: new Date(), version: `v${++this.versions}` };
    this.entries.set(key, entry);
    return entry;
  }

  private expectVersion(key: string, expected: string | undefined): void {
    const current = this.entries.get(key)?.version;
    if (current !== expected) {
      const show = (v: string | undefined) => (v === undefined ? 'no value' : `version ${v}`);
      throw new ConflictError(`${key} in ${this.url} changed: expected ${show(expected)}, found ${show(current)}`, {
        url: this.url,
        key,
        expected,
        actual: current,
      });
    }
  }

  private exists(key: string): AlreadyExistsError {
    return new AlreadyExistsError(`${key} already exists in ${this.url}`, { url: this.url, key });
  }
}

function isBytes(data: Buffer | Readable): data is Buffer {
  return Buffer.isBuffer(data) || data instanceof Uint8Array;
}

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk));
  return Buffer.concat(parts);
}

function slice(data: Buffer, range: ByteRange | undefined): Buffer {
  if (!range) return data;
  const start = Math.min(range.offset, data.length);
  return data.subarray(start, Math.min(data.length, start + range.length));
}

function checkRange(range: ByteRange): void {
  const ok = (n: number) => Number.isSafeInteger(n) && n >= 0;
  if (!ok(range.offset) || !ok(range.length)) {
    throw new InvalidArgumentError(`bad byte range offset=${range.offset} length=${range.length}`);
  }
}

/** Lets racing callers interleave, as they would against a real store. */
function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
