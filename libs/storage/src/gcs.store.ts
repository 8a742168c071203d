import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Bucket, File, IdempotencyStrategy, Storage } from '@google-cloud/storage';
import {
  AlreadyExistsError,
  ConflictError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  TribError,
  UnavailableError,
  isTribError,
} from '@tributary/core';
import { emptyStream, isStoreKey, openUploadBody, readAll } from './cloud/cloud-body';
import { DownloadAnswer, resumableBody } from './cloud/resumable-body';
import { Crc32c } from './gcs/crc32c';
import { beforeDeadline } from './cloud/deadline';
import { foreignAnswer, isWebPage } from './cloud/foreign-answer';
import { newWriteId, WRITE_ID_METADATA } from './cloud/write-id';
import { GCS_SERVICE, gcsError, gcsReason, gcsStatus, isGcsWebPage, isMissingBucket } from './gcs/gcs-errors';
import { keyChanged, keyChangedWhileRead, keyExists, keyNotFound } from './key-errors';
import { ByteRange, ObjectInfo, ObjectStore, Versioned } from './object-store.port';
import { parseStoreUrl } from './store-url';
import { validateByteRange, validateListPrefix, validateStoreKey } from './store-keys';

type Interceptor = Storage['interceptors'][number];

const MiB = 1024 * 1024;
const CONTENT_TYPE = 'application/octet-stream';
const LIST_PAGE = 1000;
const BUCKET_NAME = /^[a-z0-9][a-z0-9_.-]{1,61}[a-z0-9]$/;

export interface GcsStoreOptions {
  /** Bodies up to this size go in one multipart request; larger streams use a resumable upload (default 8 MiB). */
  readonly singleRequestMax?: number;
  /** Resumable upload chunk, a multiple of 256 KiB; each chunk is one request, retried on its own (default 16 MiB). */
  readonly chunkSize?: number;
  /** Per-request timeout in ms: connect until response headers (default 30 s). */
  readonly requestTimeoutMs?: number;
  /**
   * Deadline of one small request, retries included: a stat, a delete, a ref's read or swap (default 30 s). The
   * client's own limits apply per try, so a service that stopped answering would hold them about three times that.
   */
  readonly quickRequestMs?: number;
  /** Timeout of one resumable chunk request, which carries up to `chunkSize` bytes (default 120 s). */
  readonly chunkTimeoutMs?: number;
  /** Retries after a failed attempt, for throttling, 5xx and dropped connections (default 2). */
  readonly maxRetries?: number;
  /** Objects per list request (default and GCS maximum 1000). */
  readonly listPageSize?: number;
}

/**
 * The object store in a Google Cloud Storage bucket: `gs://bucket/prefix`, key `a/b` is the object
 * `prefix/a/b`. The endpoint comes from STORAGE_EMULATOR_HOST when set (then no credentials are used and the
 * metadata server is never asked); otherwise credentials come from Application Default Credentials.
 *
 * Guarantees, from GCS itself: create-if-absent is `ifGenerationMatch=0`; compare-and-swap is `ifGenerationMatch`
 * with the generation, which is the version; an object becomes visible only when its upload is finalized, so a
 * writer that dies midway leaves nothing. Bodies over `singleRequestMax` go up as resumable uploads whose
 * precondition GCS checks when it finalizes the object. Requests time out and are retried a bounded number of
 * times with jittered backoff.
 */
export class GcsStore implements ObjectStore {
  readonly url: string;
  readonly remote = true;
  /** Where requests go, for messages. */
  readonly endpoint: string;
  private readonly storage: Storage;
  private readonly bucket: Bucket;
  private readonly bucketName: string;
  /** Object-name prefix including its trailing `/`, or empty. */
  private readonly namePrefix: string;
  private readonly singleRequestMax: number;
  private readonly chunkSize: number;
  private readonly requestTimeoutMs: number;
  private readonly quickRequestMs: number;
  private readonly listPageSize: number;
  /** STORAGE_EMULATOR_HOST is set: the client then sends no credentials at all. */
  private readonly emulated: boolean;

  private constructor(url: string, bucket: string, prefix: string, options: GcsStoreOptions) {
    if (!BUCKET_NAME.test(bucket)) {
      throw new InvalidArgumentError(
        `bad store URL ${JSON.stringify(url)}: GCS bucket names are 3 to 63 characters of a-z, 0-9, '-', '_' and '.'`,
        { url },
      );
    }
    this.url = url;
    this.bucketName = bucket;
    this.namePrefix = prefix ? `${prefix}/` : '';
    this.singleRequestMax = options.singleRequestMax ?? 8 * MiB;
    this.chunkSize = options.chunkSize ?? 16 * MiB;
    if (this.chunkSize % (256 * 1024) !== 0) throw new InvalidArgumentError('GCS chunkSize must be a multiple of 256 KiB');
    this.requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    this.quickRequestMs = options.quickRequestMs ?? 30_000;
    this.listPageSize = options.listPageSize ?? LIST_PAGE;
    const chunkTimeoutMs = options.chunkTimeoutMs ?? 120_000;
    const maxRetries = options.maxRetries ?? 2;
    const emulator = process.env.STORAGE_EMULATOR_HOST;
    // The client reads the variable itself: set but empty, it sends every request to `https://storage/`.
    if (emulator !== undefined && emulator.trim() === '') {
      throw new InvalidArgumentError('STORAGE_EMULATOR_HOST is set but empty: unset it for Google Cloud Storage, or give the emulator, as in http://127.0.0.1:4443');
    }
    // Without a scheme the client retries for seconds and then blames the protocol: say so at once.
    if (emulator && !/^https?:\/\//i.test(emulator)) {
      throw new InvalidArgumentError(`STORAGE_EMULATOR_HOST=${emulator} wants a scheme, as in http://${emulator}`);
    }
    this.emulated = Boolean(emulator);
    this.endpoint = emulator || 'https://storage.googleapis.com';
    this.storage = new Storage({
      // With an emulator the client skips authentication; a project id keeps it from asking the metadata server.
      projectId: process.env.GOOGLE_CLOUD_PROJECT || process.env.GCLOUD_PROJECT || (emulator ? 'tributary-local' : undefined),
      timeout: this.requestTimeoutMs,
      retryOptions: {
        // The client reads maxRetries 0 as "unset" (its default is 3), so no retries must be said with autoRetry.
        autoRetry: maxRetries > 0,
        maxRetries: Math.max(1, maxRetries),
        // Waits of 1.5^n s plus up to 1 s of jitter: an unreachable endpoint fails after about 4 to 6 s.
        retryDelayMultiplier: 1.5,
        maxRetryDelay: 8,
        totalTimeout: 120,
        // Every write here carries a generation precondition, so a retry can never overwrite anything; deletes
        // are idempotent by contract. RetryAlways also stops the client flipping its shared autoRetry flag
        // around each unconditional delete, which races with concurrent calls.
        idempotencyStrategy: IdempotencyStrategy.RetryAlways,
      },
      crc32cGenerator: () => new Crc32c(),
    });
    // Resumable-upload requests take their options from the interceptors (built from `{}`), so this is the only
    // way to give them a timeout; JSON API requests already carry the client's `timeout` and keep it.
    this.storage.interceptors.push({
      request: (opts) => ({ ...opts, timeout: opts.timeout ?? chunkTimeoutMs }) as ReturnType<Interceptor['request']>,
    });
    this.bucket = this.storage.bucket(bucket);
  }

  /**
   * Opens `gs://bucket/prefix`. Checks the bucket with one list call, so a wrong bucket, wrong credentials or an
   * unreachable endpoint fail here: NotFoundError naming the URL for a missing bucket (unless `create`, which
   * creates it), PermissionDeniedError, UnavailableError. InvalidArgumentError for a malformed URL.
   */
  static async open(url: string, opts: GcsStoreOptions & { create?: boolean } = {}): Promise<GcsStore> {
    const location = parseStoreUrl(url);
    if (location.scheme !== 'gs') {
      throw new InvalidArgumentError(`not a GCS store URL: ${JSON.stringify(url)} (expected gs://bucket/prefix)`, { url });
    }
    const unknown = Object.keys(location.params);
    if (unknown.length > 0) {
      throw new InvalidArgumentError(
        `bad store URL ${JSON.stringify(url)}: unknown parameter ${unknown[0]} (set the endpoint with STORAGE_EMULATOR_HOST)`,
        { url },
      );
    }
    const store = new GcsStore(location.url, location.bucket, location.prefix, opts);
    await store.checkCredentials();
    await store.checkBucket(opts.create ?? false);
    return store;
  }

  /**
   * Finds the Application Default Credentials before the first request (the client keeps them for the later ones).
   * When it finds none, the client sends its requests without, and GCS's refusal would read as credentials
   * rejected; no credentials, or a GOOGLE_APPLICATION_CREDENTIALS it cannot use, is a setting to fix (exit 2), as
   * missing S3 keys or Azure connection strings are.
   */
  private async checkCredentials(): Promise<void> {
    if (this.emulated) return;
    try {
      await this.storage.authClient.getClient();
    } catch (e) {
      const reason = gcsReason(e);
      const file = process.env.GOOGLE_APPLICATION_CREDENTIALS;
      if (file) {
        const message = `cannot open store ${this.url}: GOOGLE_APPLICATION_CREDENTIALS=${file} gives no credentials: ${reason}`;
        throw new FailedPreconditionError(message, { url: this.url, variable: 'GOOGLE_APPLICATION_CREDENTIALS' }, { cause: e });
      }
      // google-auth-library's own words for "none found", which the storage client checks for too.
      if (/Could not load the default credentials/.test(reason)) {
        const message = `cannot open store ${this.url}: no Google Cloud credentials: set GOOGLE_APPLICATION_CREDENTIALS to a key file or run \`gcloud auth application-default login\` (STORAGE_EMULATOR_HOST for an emulator)`;
        throw new FailedPreconditionError(message, { url: this.url }, { cause: e });
      }
      throw gcsError(e, `open store ${this.url} at ${this.endpoint}`, this.endpoint, { url: this.url });
    }
  }

  async putIfAbsent(key: string, data: Buffer | Readable): Promise<void> {
    validateStoreKey(key);
    const file = this.file(key);
    const body = await openUploadBody(data, this.singleRequestMax);
    try {
      if (body.whole) {
        await this.saveSmall(file, body.whole, '0');
        return;
      }
      // Fails fast before sending a large body; the precondition on the upload is what decides.
      if (await this.head(key)) throw this.exists(key);
      await this.saveStream(file, body.stream!);
    } catch (e) {
      body.discard();
      const source = body.sourceError();
      if (source) throw source.error;
      if (gcsStatus(e) === 412) throw this.exists(key);
      throw this.fail(e, 'write', key);
    }
  }

  async get(key: string): Promise<Buffer> {
    return readAll(await this.getStream(key));
  }

  async getRange(key: string, range: ByteRange): Promise<Buffer> {
    validateStoreKey(key);
    validateByteRange(range);
    return readAll(await this.getStream(key, range));
  }

  /**
   * Full reads are checked against the object's CRC32C as they stream; a mismatch fails the stream (IntegrityError).
   * A download that breaks off is resumed from the byte reached, pinned to the object's generation, up to three times
   * (cloud/resumable-body.ts); the rest of a full read is then a ranged read, which the client does not check, and
   * the object ids the reader verifies are what still covers those bytes.
   */
  async getStream(key: string, range?: ByteRange): Promise<Readable> {
    validateStoreKey(key);
    if (range) validateByteRange(range);
    if (range?.length === 0) {
      if (!(await this.head(key))) throw this.notFound(key);
      return emptyStream();
    }
    const start = range?.offset ?? 0;
    let first: DownloadAnswer & { generation: string | undefined };
    try {
      first = await this.openDownload(this.file(key), key, start, range?.length);
    } catch (e) {
      // 416: the range starts at or past the end, so the object exists and the clipped range is empty.
      if (gcsStatus(e) === 416) return emptyStream();
      throw this.readError(e, key);
    }
    const { generation } = first;
    const rest = async (done: number, length: number) => {
      try {
        return await this.openDownload(this.file(key, generation), key, start + done, length);
      } catch (e) {
        // 404 for the generation: the object is no longer that version.
        if (isObjectAbsent(e)) throw keyChangedWhileRead(this.url, key, generation!, 'generation', e);
        throw this.readError(e, key);
      }
    };
    return resumableBody(first, {
      rest: generation ? rest : undefined,
      // The client's read stream neither ends nor fails when its connection closes mid-body: only silence shows it.
      idleMs: this.requestTimeoutMs,
      url: this.url,
      key,
      fail: (e, what) => (isTribError(e) ? e : gcsError(e, what, this.endpoint, { url: this.url, key, action: 'read' })),
    });
  }

  /** Starts a download of `length` bytes (undefined: to the end) from `start`; the answer must begin within the deadline. */
  private async openDownload(file: File, key: string, start: number, length: number | undefined) {
    const options = length === undefined ? {} : { start, end: start + length - 1 };
    const { stream, headers } = await this.quick('read', key, openRead(file, options), (late) => late.stream.destroy());
    return { body: stream, bytes: announcedBytes(headers), generation: headerGeneration(headers) };
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    validateStoreKey(key);
    try {
      const [meta] = await this.quick('stat', key, this.file(key).getMetadata());
      this.generationOf(meta, 'stat', key);
      return { key, size: Number(meta.size), modified: new Date(String(meta.updated)) };
    } catch (e) {
      if (isObjectAbsent(e)) return undefined;
      throw this.fail(e, 'stat', key);
    }
  }

  async *list(prefix: string): AsyncGenerator<ObjectInfo> {
    validateListPrefix(prefix);
    const cut = this.namePrefix.length;
    let pageToken: string | undefined;
    do {
      let items: ListedObject[];
      let next: { pageToken?: string } | null;
      try {
        let files: unknown[];
        let answer: unknown;
        const page = this.bucket.getFiles({
          prefix: this.namePrefix + prefix,
          autoPaginate: false,
          maxResults: this.listPageSize,
          pageToken,
          fields: 'items(name,size,updated),nextPageToken',
        });
        [files, next, answer] = await this.quick('list', prefix || '/', page);
        if (typeof answer === 'string') throw this.foreign('list', prefix || '/');
        // With `fields`, the client hands back the raw items instead of File objects.
        items = files as ListedObject[];
      } catch (e) {
        throw this.fail(e, 'list', prefix || '/');
      }
      for (const item of items) {
        const key = item.name.slice(cut);
        if (!isStoreKey(key)) continue;
        yield { key, size: Number(item.size), modified: new Date(item.updated) };
      }
      pageToken = next?.pageToken;
    } while (pageToken);
  }

  async delete(key: string): Promise<void> {
    validateStoreKey(key);
    try {
      await this.quick('delete', key, this.file(key).delete());
    } catch (e) {
      if (isObjectAbsent(e)) return;
      throw this.fail(e, 'delete', key);
    }
  }

  /** The version is the object's generation, read from the same response as the bytes. */
  async readVersioned(key: string): Promise<Versioned | undefined> {
    validateStoreKey(key);
    try {
      return await this.quick('read', key, this.readCurrent(key));
    } catch (e) {
      if (isObjectAbsent(e)) return undefined;
      throw this.fail(e, 'read', key);
    }
  }

  private async readCurrent(key: string): Promise<Versioned> {
    const file = this.file(key);
    const { stream, headers } = await openRead(file, {});
    const generation = headerGeneration(headers);
    const data = await readAll(stream);
    if (generation) return { data, version: generation };
    // A server that does not send the header: take the generation, then read exactly that generation.
    const [meta] = await file.getMetadata();
    const version = this.generationOf(meta, 'read', key);
    const pinned = this.bucket.file(file.name, { generation: version });
    return { data: await readAll((await openRead(pinned, {})).stream), version };
  }

  async compareAndSwap(key: string, expected: string | undefined, data: Buffer): Promise<string> {
    validateStoreKey(key);
    if (!(data instanceof Uint8Array)) throw new InvalidArgumentError(`compare-and-swap of ${key} needs a Buffer`);
    // No object has a generation that is not a positive integer, so such a version can only mismatch.
    if (expected !== undefined && !GENERATION.test(expected)) throw this.conflict(key, expected);
    const writeId = newWriteId();
    try {
      return await this.quick('update', key, this.saveSmall(this.file(key), Buffer.from(data), expected ?? '0', { [WRITE_ID_METADATA]: writeId }));
    } catch (e) {
      if (gcsStatus(e) === 412) {
        const own = await this.versionWrittenBy(key, writeId);
        if (own) return own;
        throw this.conflict(key, expected);
      }
      throw this.fail(e, 'update', key);
    }
  }

  /** The object's generation if the compare-and-swap with `writeId` wrote its current value (see write-id.ts). */
  private async versionWrittenBy(key: string, writeId: string): Promise<string | undefined> {
    try {
      const [meta] = await this.quick('stat', key, this.file(key).getMetadata());
      return meta.metadata?.[WRITE_ID_METADATA] === writeId ? this.generationOf(meta, 'stat', key) : undefined;
    } catch (e) {
      if (isObjectAbsent(e)) return undefined;
      throw this.fail(e, 'stat', key);
    }
  }

  async deleteVersioned(key: string, expected: string): Promise<void> {
    validateStoreKey(key);
    if (!GENERATION.test(expected)) throw this.conflict(key, expected);
    try {
      await this.quick('delete', key, this.file(key).delete({ ifGenerationMatch: expected }));
    } catch (e) {
      const status = gcsStatus(e);
      if (status === 412 || isObjectAbsent(e)) throw this.conflict(key, expected);
      throw this.fail(e, 'delete', key);
    }
  }

  async close(): Promise<void> {}

  /**
   * `work`, or UnavailableError if it takes longer than quickRequestMs (see GcsStoreOptions); what it yields too late
   * goes to `onLate`.
   */
  private quick<T>(action: string, key: string, work: Promise<T>, onLate?: (value: T) => void): Promise<T> {
    const late = () =>
      new UnavailableError(`cannot ${action} ${key} in ${this.url}: no answer from ${this.endpoint} in time`, {
        url: this.url,
        key,
        action,
        endpoint: this.endpoint,
      });
    return beforeDeadline(work, this.quickRequestMs, late, onLate);
  }

  /**
   * An object resource's generation, the version. GCS always gives one (a positive integer); an answer without is a
   * page from something else at the endpoint, which must never pass for a write that took effect.
   */
  private generationOf(meta: unknown, action: string, key: string): string {
    const generation = typeof meta === 'object' && meta !== null ? (meta as { generation?: unknown }).generation : undefined;
    const text = typeof generation === 'number' || typeof generation === 'string' ? String(generation) : '';
    if (GENERATION.test(text)) return text;
    throw this.foreign(action, key);
  }

  /** A 2xx answer that is not the JSON API's, to `action` on `key` (no key: opening the store). */
  private foreign(action: string, key?: string): UnavailableError {
    const what = key === undefined ? `${action} ${this.url} at ${this.endpoint}` : `${action} ${key} in ${this.url}`;
    return new UnavailableError(`cannot ${what}: ${foreignAnswer(what, this.endpoint, undefined, GCS_SERVICE)}`, {
      url: this.url,
      ...(key === undefined ? {} : { key, action }),
      endpoint: this.endpoint,
    });
  }

  /** The object at `key`, or that generation of it. */
  private file(key: string, generation?: string): File {
    return this.bucket.file(this.namePrefix + key, generation === undefined ? undefined : { generation });
  }

  private async checkBucket(create: boolean): Promise<void> {
    const listed = await this.bucket
      .getFiles({ autoPaginate: false, maxResults: 1, prefix: this.namePrefix, fields: 'nextPageToken' })
      .then(([, , answer]) => ({ answer }))
      .catch((e: unknown) => {
        // Only GCS's own answer means the bucket is missing; any other 404 names the endpoint that gave it.
        if (gcsStatus(e) === 404 && create && !isGcsWebPage(e)) return undefined;
        if (isMissingBucket(e)) throw this.missingBucket({ endpoint: this.endpoint });
        throw gcsError(e, `open store ${this.url} at ${this.endpoint}`, this.endpoint, { url: this.url });
      });
    if (listed) {
      // The client hands back a body that is not JSON as a string (a web server at the endpoint), without failing.
      if (typeof listed.answer !== 'string') return;
      throw this.foreign('open store');
    }
    try {
      await this.storage.createBucket(this.bucketName);
    } catch (e) {
      // 409: someone created it meanwhile, which is what we wanted.
      if (gcsStatus(e) !== 409) {
        throw gcsError(e, `create store ${this.url} at ${this.endpoint}`, this.endpoint, { url: this.url });
      }
    }
  }

  /**
   * One multipart request with `ifGenerationMatch`. The MD5 goes in the metadata so GCS rejects a body damaged in
   * transit before storing it; the client's own after-the-fact check is off because its remedy is an
   * unconditional delete, which could remove a value another writer has stored since. Returns the generation.
   */
  private async saveSmall(file: File, data: Buffer, ifGenerationMatch: string, metadata?: Record<string, string>): Promise<string> {
    await file.save(data, {
      resumable: false,
      validation: false,
      timeout: this.requestTimeoutMs,
      preconditionOpts: { ifGenerationMatch },
      metadata: { contentType: CONTENT_TYPE, md5Hash: createHash('md5').update(data).digest('base64'), ...(metadata ? { metadata } : {}) },
    });
    return this.generationOf(file.metadata, 'update', file.name.slice(this.namePrefix.length));
  }

  /**
   * A resumable upload in `chunkSize` requests; the client keeps one chunk in memory to resend it. The client
   * sends the precondition when it opens the session; GCS checks it when it finalizes the object. The client
   * checks the CRC32C of what GCS stored and, on a mismatch, deletes the object it has just created.
   */
  private async saveStream(file: File, body: Readable): Promise<void> {
    await pipeline(
      body,
      file.createWriteStream({
        resumable: true,
        chunkSize: this.chunkSize,
        preconditionOpts: { ifGenerationMatch: 0 },
        metadata: { contentType: CONTENT_TYPE },
        validation: 'crc32c',
      }),
    );
  }

  private readError(e: unknown, key: string): unknown {
    if (isObjectAbsent(e)) return this.notFound(key);
    return this.fail(e, 'read', key);
  }

  private fail(e: unknown, action: string, key: string): TribError {
    if (isTribError(e)) return e;
    if (isMissingBucket(e)) return this.missingBucket({ key });
    return gcsError(e, `${action} ${key} in ${this.url}`, this.endpoint, { url: this.url, key, action });
  }

  private missingBucket(details: Record<string, unknown>): NotFoundError {
    const message = `no store at ${this.url}: bucket ${this.bucketName} does not exist`;
    return new NotFoundError(message, { url: this.url, ...details });
  }

  private notFound(key: string): NotFoundError {
    return keyNotFound(this.url, key);
  }

  private exists(key: string): AlreadyExistsError {
    return keyExists(this.url, key);
  }

  private conflict(key: string, expected: string | undefined): ConflictError {
    return keyChanged(this.url, key, expected, { versionName: 'generation' });
  }
}

/** Every GCS object's generation is a positive integer: anything else is no version of one. */
const GENERATION = /^[1-9]\d*$/;

/** The generation an answer's `x-goog-generation` header names, if it names one. */
function headerGeneration(headers: IncomingHttpHeaders): string | undefined {
  const generation = headers['x-goog-generation'];
  return typeof generation === 'string' && GENERATION.test(generation) ? generation : undefined;
}

/** The Content-Length of an answer whose bytes are the object's as stored (not transcoded); else undefined. */
function announcedBytes(headers: IncomingHttpHeaders): number | undefined {
  const length = headers['content-length'];
  if (length === undefined || headers['content-encoding'] || !/^\d+$/.test(length)) return undefined;
  return Number(length);
}

/**
 * Starts a download and waits for its response, so a missing object fails here rather than on the first read.
 * The client's read stream is lazy: `read(0)` makes it send the request.
 */
function openRead(
  file: File,
  options: { start?: number; end?: number },
): Promise<{ stream: Readable; headers: IncomingHttpHeaders }> {
  const stream = file.createReadStream(options);
  return new Promise((resolve, reject) => {
    const onError = (e: unknown) => {
      stream.removeListener('response', onResponse);
      reject(e);
    };
    const onResponse = (res: { statusCode?: number; headers?: IncomingHttpHeaders }) => {
      // An error status is followed by an 'error' carrying the parsed body.
      if ((res.statusCode ?? 0) >= 300) return;
      stream.removeListener('error', onError);
      // A page from something in front of GCS is no object's bytes (gcsError says so).
      if (isWebPage(res.headers)) {
        // Read to its end, not cut, so its connection goes back to the pool whole: a page is short.
        stream.on('error', () => undefined).resume();
        return reject(Object.assign(new Error('a web page'), { response: res }));
      }
      resolve({ stream, headers: res.headers ?? {} });
    };
    stream.once('error', onError);
    stream.once('response', onResponse);
    stream.read(0);
  });
}

interface ListedObject {
  readonly name: string;
  readonly size: string;
  readonly updated: string;
}

/** 404 for an object: not the bucket's (reported as a missing bucket) and not a web page's (someone else's). */
function isObjectAbsent(e: unknown): boolean {
  return gcsStatus(e) === 404 && !isMissingBucket(e) && !isGcsWebPage(e);
}
