import { Readable } from 'node:stream';
import {
  BucketLocationConstraint,
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  GetObjectCommandOutput,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import {
  AlreadyExistsError,
  ConflictError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  PermissionDeniedError,
  sleep,
  TribError,
  UnavailableError,
} from '@tributary/core';
import { keyChanged, keyChangedWhileRead, keyExists, keyNotFound } from './key-errors';
import { ByteRange, ObjectInfo, ObjectStore, Versioned } from './object-store.port';
import { S3Connection, S3Timeouts, S3_DEFAULT_TIMEOUTS, connectS3 } from './s3/s3-client.factory';
import {
  describeS3Failure,
  isS3ConditionalConflict,
  isS3NotFound,
  isS3PreconditionFailed,
  isS3WebPage,
  s3Error,
} from './s3/s3-errors';
import { S3Location, parseS3Url } from './s3/s3-location';
import { isBytes } from './bytes';
import { emptyStream, isStoreKey, openUploadBody, readAll } from './cloud/cloud-body';
import { foreignAnswer } from './cloud/foreign-answer';
import { resumableBody } from './cloud/resumable-body';
import { newWriteId, WRITE_ID_METADATA } from './cloud/write-id';
import { validateByteRange, validateListPrefix, validateStoreKey } from './store-keys';

/** Default multipart part size; S3's minimum is 5 MiB. Memory per upload is about (queueSize + 1) parts. */
export const S3_PART_SIZE = 8 * 1024 * 1024;
export const S3_UPLOAD_QUEUE_SIZE = 4;
/** Attempts at a replayable create-if-absent that meets a concurrent conditional write (409). */
const CONFLICT_ATTEMPTS = 5;
/** Whole reads of a versioned value that changed while a cut read of it was resumed. */
const CHANGED_WHILE_READ_ATTEMPTS = 3;

export interface S3StoreOptions {
  /** Create the bucket if it is missing (only `trib init` passes it). */
  readonly create?: boolean;
  /** Where endpoint, credentials and region are read from (default `process.env`); see connectS3. */
  readonly env?: NodeJS.ProcessEnv;
  /** Multipart part size in bytes (default 8 MiB, at least 5 MiB). */
  readonly partSize?: number;
  /** Parts uploaded in parallel per object (default 4). */
  readonly queueSize?: number;
  /** Per-attempt limits (default S3_DEFAULT_TIMEOUTS); each request makes at most 3 attempts. */
  readonly timeouts?: Partial<S3Timeouts>;
}

/**
 * The object store in an S3 bucket (AWS or an S3-compatible store): key `a/b` of `s3://bucket/prefix` is the
 * S3 object `prefix/a/b`.
 *
 * - Create-if-absent is `If-None-Match: *` on PutObject, and on CompleteMultipartUpload for objects streamed in
 *   parts, so a key is written once even by racing writers, and nothing is visible before the write completes: a
 *   multipart upload that dies midway leaves only invisible parts (abort them with a bucket lifecycle rule).
 * - Mutable values are versioned by ETag: compare-and-swap is PutObject with `If-Match: <etag>` (or
 *   `If-None-Match: *` to create). A 412, or a 409 for a concurrent conditional write, becomes ConflictError.
 * - Stores that ignore conditional headers (s3rver, some S3-compatible servers) silently lose these guarantees.
 *
 * Every request has connect, idle and total timeouts, and at most 3 attempts with jittered backoff; SDK errors
 * become the project's categories, naming the store URL. A download whose connection breaks off mid-body is resumed
 * from the byte reached, pinned to the object's ETag (`If-Match`), up to three times (cloud/resumable-body.ts).
 */
export class S3Store implements ObjectStore {
  readonly url: string;
  readonly remote = true;
  readonly datesFromUploadStart = true;
  readonly bucket: string;
  /** Key prefix inside the bucket, without leading or trailing `/`; may be empty. */
  readonly prefix: string;
  /** The endpoint override, or undefined for AWS. */
  readonly endpoint: string | undefined;
  private readonly client: S3Client;
  private readonly root: string;
  private readonly where: string;
  private readonly partSize: number;
  private readonly queueSize: number;
  /** Send options for requests without a body. */
  private readonly quick: { requestTimeout: number };

  private constructor(location: S3Location, connection: S3Connection, options: S3StoreOptions) {
    this.url = location.url;
    this.bucket = location.bucket;
    this.prefix = location.prefix;
    this.root = location.prefix === '' ? '' : `${location.prefix}/`;
    this.client = connection.client;
    this.endpoint = connection.endpoint;
    this.where = connection.endpoint ?? 'AWS S3';
    this.partSize = options.partSize ?? S3_PART_SIZE;
    this.queueSize = options.queueSize ?? S3_UPLOAD_QUEUE_SIZE;
    this.quick = { requestTimeout: options.timeouts?.quickRequestMs ?? S3_DEFAULT_TIMEOUTS.quickRequestMs };
    if (!Number.isSafeInteger(this.partSize) || this.partSize < 5 * 1024 * 1024) {
      throw new InvalidArgumentError(`S3 part size must be an integer of at least 5 MiB, got ${this.partSize}`);
    }
    if (!Number.isSafeInteger(this.queueSize) || this.queueSize < 1) {
      throw new InvalidArgumentError(`S3 upload queue size must be a positive integer, got ${this.queueSize}`);
    }
  }

  /**
   * Opens the store at `s3://bucket/prefix`, checking that the bucket exists and is reachable (HeadBucket).
   * With `create`, creates a missing bucket. Throws InvalidArgumentError for a malformed URL or endpoint,
   * NotFoundError naming the URL when the bucket is missing, PermissionDeniedError for rejected credentials and
   * UnavailableError (naming the URL and endpoint) when the endpoint cannot be reached.
   */
  static async open(url: string, opts: S3StoreOptions = {}): Promise<S3Store> {
    const location = parseS3Url(url);
    const connection = connectS3(opts.env ?? process.env, { ...S3_DEFAULT_TIMEOUTS, ...opts.timeouts });
    let store: S3Store;
    try {
      store = new S3Store(location, connection, opts);
      await store.checkRegion();
      await store.checkBucket(opts.create ?? false);
    } catch (e) {
      connection.client.destroy();
      throw e;
    }
    return store;
  }

  async putIfAbsent(key: string, data: Buffer | Readable): Promise<void> {
    validateStoreKey(key);
    // A stream that ends within one part (a small pack) is sent as bytes are: one conditional PutObject, no HEAD.
    const body = await openUploadBody(data, this.partSize);
    const whole = body.whole;
    try {
      // Fails fast before a large stream is sent; the conditional write below is what actually decides.
      if (!whole && (await this.head(key))) throw this.exists(key);
      for (let attempt = 1; ; attempt++) {
        try {
          if (whole && whole.length <= this.partSize) await this.putSmall(key, whole);
          else await this.upload(key, whole ?? body.stream!);
          return;
        } catch (e) {
          if (e instanceof SourceFailure) throw e;
          if (isS3PreconditionFailed(e)) throw this.exists(key);
          if (!isS3ConditionalConflict(e)) throw e;
          // Another conditional write of this key was in flight (409). If it wins, the key exists now.
          if (await this.appears(key)) throw this.exists(key);
          if (!whole || attempt >= CONFLICT_ATTEMPTS) {
            throw new ConflictError(`${key} in ${this.url}: a concurrent write of the same key interfered; retry`, {
              url: this.url,
              key,
            });
          }
        }
      }
    } catch (e) {
      body.discard();
      const source = body.sourceError();
      if (source) throw source.error;
      if (e instanceof SourceFailure) throw e.cause;
      throw this.fail(e, 'write', key);
    }
  }

  async get(key: string): Promise<Buffer> {
    validateStoreKey(key);
    return readAll(await this.fetch(key, undefined));
  }

  async getRange(key: string, range: ByteRange): Promise<Buffer> {
    validateStoreKey(key);
    validateByteRange(range);
    return readAll(await this.fetch(key, range));
  }

  /** The stream must be consumed or destroyed, or its connection stays busy until the idle timeout. */
  async getStream(key: string, range?: ByteRange): Promise<Readable> {
    validateStoreKey(key);
    if (range) validateByteRange(range);
    return this.fetch(key, range);
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    validateStoreKey(key);
    try {
      const out = await this.client.send(
        new HeadObjectCommand({ Bucket: this.bucket, Key: this.root + key }),
        this.quick,
      );
      return { key, size: out.ContentLength ?? 0, modified: out.LastModified ?? new Date(0) };
    } catch (e) {
      if (isKeyAbsent(e)) return undefined;
      throw this.fail(e, 'stat', key);
    }
  }

  async *list(prefix: string): AsyncGenerator<ObjectInfo> {
    validateListPrefix(prefix);
    let token: string | undefined;
    do {
      let page;
      try {
        page = await this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: this.root + prefix || undefined,
            ContinuationToken: token,
          }),
          this.quick,
        );
      } catch (e) {
        throw this.fail(e, 'list', prefix || '/');
      }
      for (const entry of page.Contents ?? []) {
        const key = entry.Key?.slice(this.root.length);
        // Objects written by others under the prefix may have names no store key can have.
        if (key === undefined || !entry.Key!.startsWith(this.root) || !isStoreKey(key)) continue;
        yield { key, size: entry.Size ?? 0, modified: entry.LastModified ?? new Date(0) };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async delete(key: string): Promise<void> {
    validateStoreKey(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.root + key }), this.quick);
    } catch (e) {
      if (isKeyAbsent(e)) return;
      throw this.fail(e, 'delete', key);
    }
  }

  async readVersioned(key: string): Promise<Versioned | undefined> {
    validateStoreKey(key);
    for (let attempt = 1; ; attempt++) {
      let out;
      try {
        out = await this.getObject(key, undefined);
      } catch (e) {
        if (isKeyAbsent(e)) return undefined;
        throw this.fail(e, 'read', key);
      }
      try {
        const data = await readAll(this.resumable(out, key, 0));
        return { data, version: this.versionOf(out.ETag, 'read', key) };
      } catch (e) {
        // Changed between a cut and its resume (a ref moved): its new value, read whole, is as good an answer.
        if (!(e instanceof ConflictError) || attempt === CHANGED_WHILE_READ_ATTEMPTS) throw e;
      }
    }
  }

  /** The version is the ETag (an MD5 of the value for single-part objects): writing back a value restores it. */
  async compareAndSwap(key: string, expected: string | undefined, data: Buffer): Promise<string> {
    validateStoreKey(key);
    if (!(data instanceof Uint8Array)) throw new InvalidArgumentError(`compare-and-swap of ${key} needs a Buffer`);
    const writeId = newWriteId();
    const since = Date.now();
    for (let attempt = 1; ; attempt++) {
      try {
        const out = await this.client.send(
          new PutObjectCommand({
            Bucket: this.bucket,
            Key: this.root + key,
            Body: data,
            ContentLength: data.length,
            Metadata: { [WRITE_ID_METADATA]: writeId },
            ...(expected === undefined ? { IfNoneMatch: '*' } : { IfMatch: expected }),
          }),
          this.quick,
        );
        return this.versionOf(out.ETag, 'update', key);
      } catch (e) {
        // 409: a conditional write of this key is still under way, perhaps this call's own first try (timed out
        // here, not yet done there). Once it is over, a try again either succeeds or fails its condition, and
        // the write id then tells whose write it was; until then, wait: up to a second try's time limit past
        // the first try's.
        if (isS3ConditionalConflict(e) && Date.now() - since < 2 * this.quick.requestTimeout) {
          await sleep(Math.random() * Math.min(1000, 25 * 2 ** attempt));
          continue;
        }
        // 404: If-Match on a key that has no object.
        if (isS3PreconditionFailed(e) || isS3ConditionalConflict(e) || isKeyAbsent(e)) {
          const own = await this.versionWrittenBy(key, writeId);
          if (own) return own;
          throw keyChanged(this.url, key, expected, { cause: e });
        }
        throw this.fail(e, 'update', key);
      }
    }
  }

  /** The key's ETag if the compare-and-swap with `writeId` wrote its current value (see write-id.ts). */
  private async versionWrittenBy(key: string, writeId: string): Promise<string | undefined> {
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.root + key }), this.quick);
      return out.Metadata?.[WRITE_ID_METADATA] === writeId ? out.ETag : undefined;
    } catch (e) {
      if (isKeyAbsent(e)) return undefined;
      throw this.fail(e, 'stat', key);
    }
  }

  async deleteVersioned(key: string, expected: string): Promise<void> {
    validateStoreKey(key);
    // S3 answers a conditional delete of an absent key with 404 on general purpose buckets but 204 on directory
    // buckets, and some S3-compatible stores ignore If-Match on DELETE: the HEAD makes absence and a stale version
    // a conflict everywhere, and the conditional delete then closes the window on stores that honour it.
    let current: string | undefined;
    try {
      const out = await this.client.send(
        new HeadObjectCommand({ Bucket: this.bucket, Key: this.root + key }),
        this.quick,
      );
      current = out.ETag;
    } catch (e) {
      if (!isKeyAbsent(e)) throw this.fail(e, 'stat', key);
    }
    if (current === undefined || stripQuotes(current) !== stripQuotes(expected)) {
      throw keyChanged(this.url, key, expected, { found: { version: current } });
    }
    try {
      await this.client.send(
        new DeleteObjectCommand({ Bucket: this.bucket, Key: this.root + key, IfMatch: expected }),
        this.quick,
      );
    } catch (e) {
      if (isS3PreconditionFailed(e) || isS3ConditionalConflict(e) || isKeyAbsent(e)) {
        throw keyChanged(this.url, key, expected, { cause: e });
      }
      throw this.fail(e, 'delete', key);
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  /**
   * On AWS itself the SDK finds the region (AWS_REGION, the shared config file, instance metadata) at the first
   * request, and none found is a plain error that would read as a store unavailable. It is a setting to fix (exit 2),
   * as missing keys are; when the keys are missing too, one line names both.
   */
  private async checkRegion(): Promise<void> {
    try {
      await this.client.config.region();
      return;
    } catch (e) {
      if (!/Region is missing/.test(describeS3Failure(e).message)) throw this.openError(e);
      const keys = await this.client.config.credentials().then(() => '', () => ', AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)');
      const message = `cannot open store ${this.url} at ${this.where}: no AWS region${keys ? ' or credentials' : ''}: set AWS_REGION${keys}`;
      throw new FailedPreconditionError(message, { url: this.url, variable: 'AWS_REGION' }, { cause: e });
    }
  }

  private async checkBucket(create: boolean): Promise<void> {
    try {
      // A web page answering in S3's place fails here too (s3-client.factory's refuseWebPages), whatever its status.
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }), this.quick);
      return;
    } catch (e) {
      // A web server's 404 page says nothing about the bucket.
      if (!isS3NotFound(e) || isS3WebPage(e)) throw this.openError(e);
    }
    if (await this.bucketAnswersList()) return;
    if (!create) {
      throw new NotFoundError(`no store at ${this.url}: bucket ${this.bucket} does not exist at ${this.where}`, {
        url: this.url,
        endpoint: this.endpoint,
      });
    }
    const region = await this.client.config.region();
    // Outside us-east-1, AWS wants the region restated; emulators take the default.
    const placed = this.endpoint === undefined && region !== 'us-east-1';
    try {
      await this.client.send(
        new CreateBucketCommand({
          Bucket: this.bucket,
          CreateBucketConfiguration: placed ? { LocationConstraint: region as BucketLocationConstraint } : undefined,
        }),
        this.quick,
      );
    } catch (e) {
      const { code } = describeS3Failure(e);
      if (code === 'BucketAlreadyOwnedByYou') return;
      if (code === 'BucketAlreadyExists') {
        throw new PermissionDeniedError(
          `cannot create ${this.url}: the bucket name ${this.bucket} is taken by another account`,
          { url: this.url },
          { cause: e },
        );
      }
      throw this.openError(e, 'create store');
    }
  }

  /**
   * After a 404 to HeadBucket, which has no body to say whose 404 it is: asks for one key, whose 404 S3 sends with
   * an XML body naming NoSuchBucket. False then; true when the listing works after all. Any other 404 came from a
   * server that does not speak S3 (another storage API, a proxy), which is said, naming the endpoint, rather than
   * that the bucket is missing.
   */
  private async bucketAnswersList(): Promise<boolean> {
    try {
      await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, MaxKeys: 1 }), this.quick);
      return true;
    } catch (e) {
      const { code, status } = describeS3Failure(e);
      if (code === 'NoSuchBucket') return false;
      if (status !== 404 || isS3WebPage(e)) throw this.openError(e);
      const what = `open store ${this.url} at ${this.where}`;
      throw new NotFoundError(`cannot ${what}: it answered HTTP 404 without an S3 error code (a proxy or another server?)`, {
        url: this.url,
        endpoint: this.endpoint,
      }, { cause: e });
    }
  }

  private openError(e: unknown, action = 'open store'): TribError {
    return s3Error(e, `${action} ${this.url} at ${this.where}`, this.where, { url: this.url, endpoint: this.endpoint });
  }

  private async putSmall(key: string, data: Uint8Array): Promise<void> {
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: this.root + key,
        Body: data,
        ContentLength: data.length,
        IfNoneMatch: '*',
      }),
    );
  }

  /**
   * Multipart (or, below one part, single) upload through lib-storage. Upload copies its params into every
   * request it sends, and the SDK serializes `IfNoneMatch` for PutObject and CompleteMultipartUpload (the
   * operations that publish the object) while CreateMultipartUpload and UploadPart have no such member, so the
   * condition is checked exactly when the object would become visible. On failure Upload aborts the multipart
   * upload. A failure of the caller's stream is rethrown wrapped in SourceFailure.
   */
  private async upload(key: string, body: Uint8Array | Readable): Promise<void> {
    let sourceError: unknown;
    const onSourceError = (e: unknown) => {
      // Node destroys a stream that a for-await loop leaves early with an AbortError: lib-storage stopping its
      // reading after a part failed, which is the upload's failure to report, not the caller's stream failing.
      if ((e as Error)?.name !== 'AbortError') sourceError ??= e;
    };
    if (!isBytes(body)) body.on('error', onSourceError);
    let partFailure: { error: unknown } | undefined;
    const client = failingFast(this.client, (error) => {
      partFailure ??= { error };
      void upload.abort();
    });
    const upload = new Upload({
      client,
      params: { Bucket: this.bucket, Key: this.root + key, Body: body, IfNoneMatch: '*' },
      partSize: this.partSize,
      queueSize: this.queueSize,
      leavePartsOnError: false,
    });
    try {
      await upload.done();
    } catch (e) {
      if (sourceError !== undefined) throw new SourceFailure(sourceError);
      throw partFailure ? partFailure.error : e;
    } finally {
      if (!isBytes(body)) body.off('error', onSourceError);
    }
  }

  /** Waits a little for a concurrent writer of `key` to finish; true if the key then exists. */
  private async appears(key: string): Promise<boolean> {
    for (let attempt = 0; attempt < 6; attempt++) {
      await sleep(Math.random() * 25 * 2 ** attempt);
      if (await this.head(key)) return true;
    }
    return false;
  }

  private async fetch(key: string, range: ByteRange | undefined): Promise<Readable> {
    if (range?.length === 0) {
      if (!(await this.head(key))) throw this.notFound(key);
      return emptyStream();
    }
    let out;
    try {
      out = await this.getObject(key, range);
    } catch (e) {
      if (isKeyAbsent(e)) throw this.notFound(key);
      // 416: the range starts at or past the end (or the object is empty); the object exists.
      const { code, status } = describeS3Failure(e);
      if (range && (status === 416 || code === 'InvalidRange')) return emptyStream();
      throw this.fail(e, 'read', key);
    }
    return this.resumable(out, key, range?.offset ?? 0);
  }

  private getObject(key: string, range: ByteRange | undefined, ifMatch?: string): Promise<GetObjectCommandOutput> {
    return this.client.send(
      new GetObjectCommand({
        Bucket: this.bucket,
        Key: this.root + key,
        Range: range && `bytes=${range.offset}-${range.offset + range.length - 1}`,
        IfMatch: ifMatch,
      }),
      this.quick,
    );
  }

  /**
   * The body of `first` (an answer for the bytes from `offset`) as a plain byte stream whose failures are the
   * project's errors. A body that breaks off (a connection cut, or an end short of its Content-Length) is resumed
   * with a ranged GET of the rest pinned to the first answer's ETag; after three resumes, or when the object has
   * changed, the read fails: never a silently truncated object, never one made of two versions.
   */
  private resumable(first: GetObjectCommandOutput, key: string, offset: number): Readable {
    if (!first.Body) return emptyStream();
    const etag = first.ETag;
    const rest = async (done: number, length: number) => {
      try {
        const out = await this.getObject(key, { offset: offset + done, length }, etag);
        return { body: (out.Body as Readable | undefined) ?? emptyStream(), bytes: out.ContentLength };
      } catch (e) {
        // 412: the object is no longer that version; 404: it is gone.
        if (isS3PreconditionFailed(e) || isKeyAbsent(e)) throw keyChangedWhileRead(this.url, key, etag!, 'ETag', e);
        throw this.fail(e, 'read', key);
      }
    };
    return resumableBody(
      { body: first.Body as Readable, bytes: first.ContentLength },
      {
        rest: etag ? rest : undefined,
        url: this.url,
        key,
        fail: (e, what) => s3Error(e, what, this.where, { url: this.url, key, action: 'read' }),
      },
    );
  }

  private versionOf(etag: string | undefined, action: string, key: string): string {
    if (etag) return etag;
    // S3 always sends one: whatever answered is something else, or something in front of it.
    const what = `${action} ${key} in ${this.url}`;
    throw new UnavailableError(`cannot ${what}: ${foreignAnswer(what, this.where, undefined, 'S3')} (no ETag)`, {
      url: this.url,
      key,
      action,
      endpoint: this.endpoint,
    });
  }

  private exists(key: string): AlreadyExistsError {
    return keyExists(this.url, key);
  }

  private notFound(key: string): NotFoundError {
    return keyNotFound(this.url, key);
  }

  private fail(e: unknown, action: string, key: string): TribError {
    return s3Error(e, `${action} ${key} in ${this.url}`, this.where, { url: this.url, key, action });
  }
}

/**
 * `client` for one lib-storage Upload, which gives up only once every part it started has ended: after a part
 * failed (the SDK's own retries spent), the others would go on, each waiting out its timeouts on an endpoint that
 * stopped answering, and more parts after them. So the first failed UploadPart calls `onPartFailed` (which aborts
 * the Upload) and cancels the parts still in flight. Cleaning up (AbortMultipartUpload) is left to run on its own.
 */
function failingFast(client: S3Client, onPartFailed: (error: unknown) => void): S3Client {
  const parts = new AbortController();
  const wrapped = Object.create(client) as S3Client;
  wrapped.send = (async (command: unknown, options?: { abortSignal?: AbortSignal }) => {
    if (!(command instanceof UploadPartCommand)) return client.send(command as never, options as never);
    try {
      return await client.send(command, { ...options, abortSignal: parts.signal });
    } catch (e) {
      if (!parts.signal.aborted) {
        onPartFailed(e);
        parts.abort();
      }
      throw e;
    }
  }) as S3Client['send'];
  return wrapped;
}

/** A failure of the caller's input stream, to be rethrown as is rather than mistaken for a store error. */
class SourceFailure {
  constructor(readonly cause: unknown) {}
}

/** 404 for a key; a missing bucket is a different failure and is reported as such, and so is a web page's 404. */
function isKeyAbsent(e: unknown): boolean {
  return isS3NotFound(e) && describeS3Failure(e).code !== 'NoSuchBucket' && !isS3WebPage(e);
}

function stripQuotes(etag: string): string {
  return etag.replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
}
