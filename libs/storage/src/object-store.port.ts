import { Readable } from 'node:stream';

/** Metadata of a stored object. */
export interface ObjectInfo {
  readonly key: string;
  readonly size: number;
  /** Last modification, used by gc's grace period. */
  readonly modified: Date;
}

/** A value read together with the opaque version a compare-and-swap must present to replace it. */
export interface Versioned {
  readonly data: Buffer;
  readonly version: string;
}

export interface ByteRange {
  readonly offset: number;
  /** Bytes to read from `offset`; the read is clipped at the end of the object. */
  readonly length: number;
}

/**
 * The storage port: a flat namespace of keys holding immutable blobs, plus small mutable values updated only by
 * compare-and-swap. Every backend (local disk, memory, S3, GCS, Azure Blob) implements it and passes the same
 * contract suite.
 *
 * Keys are `/`-separated relative paths of `[A-Za-z0-9._/-]` segments; no segment is empty, `.` or `..`.
 * Errors are the project's own categories: NotFoundError, AlreadyExistsError, ConflictError,
 * InvalidArgumentError (bad key), UnavailableError (unreachable or failing after retries).
 */
export interface ObjectStore {
  /** The storage URL, for messages: `file:///...`, `s3://bucket/prefix`, `mem://name`. */
  readonly url: string;

  /**
   * True when every request is a network round trip (the cloud stores), false or absent when it is a system call
   * (local disk, memory). Readers size and overlap their ranged reads by it: large reads, several in flight, pay
   * off only where a request costs a round trip.
   */
  readonly remote?: boolean;

  /**
   * True when an object's `modified` may be the time its upload began rather than when it appeared (S3 dates a
   * multipart upload by its CreateMultipartUpload), so an object listed as long unmodified may be a moment old.
   * Whoever judges by age that something was abandoned must look again later on such a store.
   */
  readonly datesFromUploadStart?: boolean;

  /**
   * Stores `data` under `key` if no object has that key. Atomic: a reader sees the whole object or nothing,
   * including when the writer dies midway. Throws AlreadyExistsError when the key exists (for content-addressed
   * keys the caller treats that as success). Streams are consumed without buffering the whole body.
   */
  putIfAbsent(key: string, data: Buffer | Readable): Promise<void>;

  /** Reads a whole object. Throws NotFoundError. Use only for objects known to be small. */
  get(key: string): Promise<Buffer>;

  /** Reads `range` of an object. Throws NotFoundError. */
  getRange(key: string, range: ByteRange): Promise<Buffer>;

  /** Streams an object (or a range of it). Throws NotFoundError before the first byte. */
  getStream(key: string, range?: ByteRange): Promise<Readable>;

  /** Size and time of an object, or undefined if absent. */
  head(key: string): Promise<ObjectInfo | undefined>;

  /** Every object whose key starts with `prefix`, in no particular order. Lazily paginated. */
  list(prefix: string): AsyncIterable<ObjectInfo>;

  /** Removes an object. Idempotent: deleting an absent key succeeds. */
  delete(key: string): Promise<void>;

  /** Reads a mutable value with its version, or undefined if absent. */
  readVersioned(key: string): Promise<Versioned | undefined>;

  /**
   * Replaces a mutable value only if its current version is `expected` (undefined: only if absent). Returns the
   * new version. Throws ConflictError when the current version differs, so of two racing writers exactly one wins.
   * A store that retries a request whose answer was lost knows its own earlier attempt when the retry finds it, and
   * returns its version rather than a conflict (the cloud adapters: cloud/write-id.ts).
   */
  compareAndSwap(key: string, expected: string | undefined, data: Buffer): Promise<string>;

  /** Removes a mutable value only if its version is `expected`. Throws ConflictError otherwise. */
  deleteVersioned(key: string, expected: string): Promise<void>;

  /**
   * Removes the unfinished writes that writers killed midway left beside the objects directly under `prefix` (a
   * folder: ends in `/`), last written more than `olderThanMs` ago; with `dryRun` only counts them. Only stores that
   * write such files have it (local disk's temp files); a cloud store's unfinished uploads are never objects, and
   * the cloud expires them. Returns the files and bytes removed.
   */
  sweepLeftovers?(prefix: string, olderThanMs: number, opts?: { dryRun?: boolean }): Promise<{ files: number; bytes: number }>;

  /** Releases connections and handles. */
  close(): Promise<void>;
}
