import { Readable } from 'node:stream';
import { NotFoundError, PermissionDeniedError } from '@tributary/core';
import { keyExists } from './key-errors';
import { ByteRange, ObjectInfo, ObjectStore, Versioned } from './object-store.port';

/**
 * A store that reads `base` and writes new objects to `scratch` instead, for a command that must store objects to
 * compute its answer (`trib status` and `trib diff` store the working files' new chunks) on a store whose
 * credentials only read. Reads try `scratch` first, so what was written reads back; listings show both. Nothing
 * reaches `base`: mutable values (refs) are read from it and never written, and a delete removes only what scratch
 * holds. Closing closes both; clearing `scratch` is its owner's business.
 */
export class ScratchOverlayStore implements ObjectStore {
  readonly url: string;
  readonly remote?: boolean;
  readonly datesFromUploadStart?: boolean;

  constructor(
    private readonly base: ObjectStore,
    private readonly scratch: ObjectStore,
  ) {
    this.url = base.url;
    this.remote = base.remote;
    this.datesFromUploadStart = base.datesFromUploadStart;
  }

  async putIfAbsent(key: string, data: Buffer | Readable): Promise<void> {
    if (await this.base.head(key)) {
      if (data instanceof Readable) data.destroy();
      throw keyExists(this.base.url, key);
    }
    await this.scratch.putIfAbsent(key, data);
  }

  get(key: string): Promise<Buffer> {
    return this.fromEither(key, (s) => s.get(key));
  }

  getRange(key: string, range: ByteRange): Promise<Buffer> {
    return this.fromEither(key, (s) => s.getRange(key, range));
  }

  getStream(key: string, range?: ByteRange): Promise<Readable> {
    return this.fromEither(key, (s) => s.getStream(key, range));
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    return (await this.scratch.head(key)) ?? this.base.head(key);
  }

  async *list(prefix: string): AsyncGenerator<ObjectInfo> {
    const written = new Set<string>();
    for await (const info of this.scratch.list(prefix)) {
      written.add(info.key);
      yield info;
    }
    for await (const info of this.base.list(prefix)) if (!written.has(info.key)) yield info;
  }

  delete(key: string): Promise<void> {
    return this.scratch.delete(key);
  }

  readVersioned(key: string): Promise<Versioned | undefined> {
    return this.base.readVersioned(key);
  }

  compareAndSwap(key: string, _expected: string | undefined, _data: Buffer): Promise<string> {
    return Promise.reject(this.refused(key));
  }

  deleteVersioned(key: string, _expected: string): Promise<void> {
    return Promise.reject(this.refused(key));
  }

  async close(): Promise<void> {
    await Promise.all([this.scratch.close(), this.base.close()]);
  }

  private async fromEither<T>(key: string, read: (store: ObjectStore) => Promise<T>): Promise<T> {
    try {
      return await read(this.scratch);
    } catch (e) {
      if (!(e instanceof NotFoundError)) throw e;
      return read(this.base);
    }
  }

  private refused(key: string): PermissionDeniedError {
    return new PermissionDeniedError(`cannot update ${key} in ${this.base.url}: this command only reads it`, { key, url: this.base.url });
  }
}
