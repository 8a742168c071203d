import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { BlobDownloadResponseParsed, BlockBlobClient, ContainerClient } from '@azure/storage-blob';
import {
  AlreadyExistsError,
  ConflictError,
  InvalidArgumentError,
  NotFoundError,
  TribError,
  UnavailableError,
  isTribError,
} from '@tributary/core';
import { blockId, uploadBlocks } from './azure/azure-block-upload';
import { AzureServiceClient, createAzureServiceClient } from './azure/azure-client';
import { azureCode, azureError, azureStatus, isBlobAbsent, isMissingContainer } from './azure/azure-errors';
import { emptyStream, isStoreKey, openUploadBody, readAll } from './cloud/cloud-body';
import { DOWNLOAD_RESUMES, DownloadAnswer, resumableBody } from './cloud/resumable-body';
import { newWriteId, WRITE_ID_METADATA } from './cloud/write-id';
import { keyChanged, keyChangedWhileRead, keyExists, keyNotFound } from './key-errors';
import { ByteRange, ObjectInfo, ObjectStore, Versioned } from './object-store.port';
import { parseStoreUrl } from './store-url';
import { validateByteRange, validateListPrefix, validateStoreKey } from './store-keys';

const MiB = 1024 * 1024;
const CONTENT_TYPE = 'application/octet-stream';
// 3 to 63 of a-z, 0-9 and '-', starting and ending with a letter or digit, no '--'.
const CONTAINER_NAME = /^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$/;

export interface AzureBlobStoreOptions {
  /** Bodies up to this size go in one Put Blob request; larger streams go up as blocks (default 8 MiB). */
  readonly singleRequestMax?: number;
  /** Block size of streamed uploads (default 8 MiB). Memory per upload is about blockSize x (concurrency + 1). */
  readonly blockSize?: number;
  /** Blocks a streamed upload stages at once (default 5). */
  readonly concurrency?: number;
  /** TCP connect timeout in ms (default 5 s). */
  readonly connectTimeoutMs?: number;
  /** Longest a connection may go without traffic, waiting for an answer or mid-transfer, in ms (default 30 s). */
  readonly requestTimeoutMs?: number;
  /**
   * Longest a small request may take, its retries included, in ms (default 30 s): a stat, a delete, a ref's read or
   * swap. Without it a service that stopped answering would hold each for every try's requestTimeoutMs.
   */
  readonly quickRequestMs?: number;
  /** Attempts per request, the first included (default 3). */
  readonly maxTries?: number;
  /** The first retry waits a random time up to this, each later one up to twice as long, at most 8x (default 1 s). */
  readonly retryDelayMs?: number;
  /** Blobs per list request (default 1000, Azure's maximum 5000). */
  readonly listPageSize?: number;
}

/**
 * The object store in an Azure Blob Storage container: `az://container/prefix`, key `a/b` is the block blob
 * `prefix/a/b`. The account and its endpoint come from AZURE_STORAGE_CONNECTION_STRING (or AZURE_STORAGE_ACCOUNT
 * and AZURE_STORAGE_KEY).
 *
 * Guarantees, from Azure itself: create-if-absent is `If-None-Match: *`; compare-and-swap is `If-Match` with the
 * ETag, which is the version. Large bodies are staged as uncommitted blocks and become visible only when the
 * block list is committed, and the condition is on that commit, so a writer that dies midway leaves nothing a
 * reader or a listing can see (Azure discards uncommitted blocks after a week). Requests time out on the client
 * and are retried a bounded number of times, with jittered backoff.
 */
export class AzureBlobStore implements ObjectStore {
  readonly url: string;
  readonly remote = true;
  /** The blob endpoint, for messages. */
  readonly endpoint: string;
  private readonly client: AzureServiceClient;
  private readonly container: ContainerClient;
  private readonly containerName: string;
  /** Blob-name prefix including its trailing `/`, or empty. */
  private readonly namePrefix: string;
  private readonly singleRequestMax: number;
  private readonly blockSize: number;
  private readonly concurrency: number;
  private readonly listPageSize: number;
  private readonly quickRequestMs: number;

  private constructor(url: string, container: string, prefix: string, options: AzureBlobStoreOptions) {
    if (!CONTAINER_NAME.test(container)) {
      throw new InvalidArgumentError(
        `bad store URL ${JSON.stringify(url)}: Azure container names are 3 to 63 characters of a-z, 0-9 and single '-'`,
        { url },
      );
    }
    this.url = url;
    this.containerName = container;
    this.namePrefix = prefix ? `${prefix}/` : '';
    this.singleRequestMax = options.singleRequestMax ?? 8 * MiB;
    this.blockSize = options.blockSize ?? 8 * MiB;
    this.concurrency = options.concurrency ?? 5;
    this.listPageSize = options.listPageSize ?? 1000;
    this.quickRequestMs = options.quickRequestMs ?? 30_000;
    this.client = createAzureServiceClient({
      connectTimeoutMs: options.connectTimeoutMs ?? 5_000,
      requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
      maxTries: options.maxTries ?? 3,
      retryDelayMs: options.retryDelayMs ?? 1_000,
    });
    this.endpoint = this.client.endpoint;
    this.container = this.client.service.getContainerClient(container);
  }

  /**
   * Opens `az://container/prefix`. Checks the container with one list call, so a wrong container, wrong
   * credentials or an unreachable endpoint fail here: NotFoundError naming the URL for a missing container
   * (unless `create`, which creates it), PermissionDeniedError, UnavailableError. InvalidArgumentError for a
   * malformed URL, FailedPreconditionError when no credentials are configured.
   */
  static async open(url: string, opts: AzureBlobStoreOptions & { create?: boolean } = {}): Promise<AzureBlobStore> {
    const location = parseStoreUrl(url);
    if (location.scheme !== 'az') {
      throw new InvalidArgumentError(`not an Azure store URL: ${JSON.stringify(url)} (expected az://container/prefix)`, {
        url,
      });
    }
    const unknown = Object.keys(location.params);
    if (unknown.length > 0) {
      throw new InvalidArgumentError(
        `bad store URL ${JSON.stringify(url)}: unknown parameter ${unknown[0]} (the endpoint comes from AZURE_STORAGE_CONNECTION_STRING)`,
        { url },
      );
    }
    const store = new AzureBlobStore(location.url, location.bucket, location.prefix, opts);
    try {
      await store.checkContainer(opts.create ?? false);
    } catch (e) {
      await store.close();
      throw e;
    }
    return store;
  }

  async putIfAbsent(key: string, data: Buffer | Readable): Promise<void> {
    validateStoreKey(key);
    const blob = this.blob(key);
    const body = await openUploadBody(data, this.singleRequestMax);
    const conditions = { ifNoneMatch: '*' };
    const blobHTTPHeaders = { blobContentType: CONTENT_TYPE };
    try {
      if (body.whole) {
        await this.create(blob, body.whole);
        return;
      }
      // Fails fast before sending a large body; the condition on the commit is what decides.
      if (await this.head(key)) throw this.exists(key);
      // Blocks are staged unconditionally; `conditions` go on the final Put Block List.
      await uploadBlocks(blob, body.stream!, this.blockSize, this.concurrency, { conditions, blobHTTPHeaders });
    } catch (e) {
      body.discard();
      const source = body.sourceError();
      if (source) throw source.error;
      if (isConditionFailure(e)) throw this.exists(key);
      // A commit that lost the race may find its staged blocks already discarded by the winner's commit.
      if (azureCode(e) === 'InvalidBlockList' && (await this.head(key).catch(() => undefined))) throw this.exists(key);
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
   * A download that breaks off mid-body is resumed from the byte reached, pinned to the blob's ETag, up to three times
   * (cloud/resumable-body.ts, shared with S3 and GCS). Not the SDK's own resume (`maxRetryRequests`): in 12.32 on
   * Node 20 it gives up at the first broken connection, which the response reports as aborted.
   */
  async getStream(key: string, range?: ByteRange): Promise<Readable> {
    validateStoreKey(key);
    if (range) validateByteRange(range);
    if (range?.length === 0) {
      if (!(await this.head(key))) throw this.notFound(key);
      return emptyStream();
    }
    const start = range?.offset ?? 0;
    let first: BlobDownloadResponseParsed;
    try {
      first = await this.blob(key).download(start, range?.length, { maxRetryRequests: 0 });
    } catch (e) {
      // 416: the range starts at or past the end, so the blob exists and the clipped range is empty.
      if (azureStatus(e) === 416) return emptyStream();
      if (isBlobAbsent(e)) throw this.notFound(key);
      throw this.fail(e, 'read', key);
    }
    if (!first.readableStreamBody) return emptyStream();
    const etag = first.etag;
    const rest = async (done: number, length: number): Promise<DownloadAnswer> => {
      try {
        const res = await this.blob(key).download(start + done, length, { maxRetryRequests: 0, conditions: { ifMatch: etag } });
        return { body: (res.readableStreamBody as Readable | undefined) ?? emptyStream(), bytes: res.contentLength };
      } catch (e) {
        // 412: the blob is no longer that version; 404: it is gone.
        if (azureStatus(e) === 412 || isBlobAbsent(e)) throw keyChangedWhileRead(this.url, key, etag!, 'ETag', e);
        throw this.fail(e, 'read', key);
      }
    };
    return resumableBody(
      { body: first.readableStreamBody as Readable, bytes: first.contentLength },
      {
        rest: etag ? rest : undefined,
        url: this.url,
        key,
        fail: (e) => this.fail(e, 'read', key),
      },
    );
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    validateStoreKey(key);
    try {
      const props = await this.blob(key).getProperties({ abortSignal: this.quick() });
      return { key, size: props.contentLength ?? 0, modified: props.lastModified ?? new Date(0) };
    } catch (e) {
      if (isBlobAbsent(e)) return undefined;
      throw this.fail(e, 'stat', key);
    }
  }

  async *list(prefix: string): AsyncGenerator<ObjectInfo> {
    validateListPrefix(prefix);
    const cut = this.namePrefix.length;
    // No deadline here: a page of a thousand blobs may take long on a slow link; the idle limit catches a stall.
    const pages = this.container
      .listBlobsFlat({ prefix: this.namePrefix + prefix })
      .byPage({ maxPageSize: this.listPageSize });
    for (;;) {
      let page;
      try {
        page = await pages.next();
      } catch (e) {
        throw this.fail(e, 'list', prefix || '/');
      }
      if (page.done) return;
      const items = page.value?.segment?.blobItems;
      if (!Array.isArray(items)) throw this.fail(new TypeError('a listing without blob items'), 'list', prefix || '/');
      for (const item of items) {
        const key = item.name.slice(cut);
        if (!isStoreKey(key)) continue;
        yield { key, size: item.properties.contentLength ?? 0, modified: item.properties.lastModified };
      }
    }
  }

  async delete(key: string): Promise<void> {
    validateStoreKey(key);
    try {
      await this.blob(key).delete({ abortSignal: this.quick() });
    } catch (e) {
      if (isBlobAbsent(e)) return;
      throw this.fail(e, 'delete', key);
    }
  }

  /** The version is the blob's ETag, read from the same response as the bytes. */
  async readVersioned(key: string): Promise<Versioned | undefined> {
    validateStoreKey(key);
    try {
      const res = await this.blob(key).download(0, undefined, { maxRetryRequests: DOWNLOAD_RESUMES, abortSignal: this.quick() });
      const data = await readAll(res.readableStreamBody as Readable);
      return { data, version: res.etag! };
    } catch (e) {
      if (isBlobAbsent(e)) return undefined;
      throw this.fail(e, 'read', key);
    }
  }

  async compareAndSwap(key: string, expected: string | undefined, data: Buffer): Promise<string> {
    validateStoreKey(key);
    if (!(data instanceof Uint8Array)) throw new InvalidArgumentError(`compare-and-swap of ${key} needs a Buffer`);
    const blob = this.blob(key);
    const writeId = newWriteId();
    const metadata = { [WRITE_ID_METADATA]: writeId };
    try {
      if (expected === undefined) return await this.create(blob, Buffer.from(data), this.quick(), metadata);
      const res = await blob.upload(Buffer.from(data), data.length, {
        conditions: { ifMatch: expected },
        blobHTTPHeaders: { blobContentType: CONTENT_TYPE },
        metadata,
        abortSignal: this.quick(),
      });
      return res.etag!;
    } catch (e) {
      if (isConditionFailure(e) || isBlobAbsent(e)) {
        const own = await this.versionWrittenBy(key, writeId);
        if (own) return own;
        throw this.conflict(key, expected);
      }
      throw this.fail(e, 'update', key);
    }
  }

  /** The blob's ETag if the compare-and-swap with `writeId` wrote its current value (see write-id.ts). */
  private async versionWrittenBy(key: string, writeId: string): Promise<string | undefined> {
    try {
      const props = await this.blob(key).getProperties({ abortSignal: this.quick() });
      return props.metadata?.[WRITE_ID_METADATA] === writeId ? props.etag : undefined;
    } catch (e) {
      if (isBlobAbsent(e)) return undefined;
      throw this.fail(e, 'stat', key);
    }
  }

  async deleteVersioned(key: string, expected: string): Promise<void> {
    validateStoreKey(key);
    try {
      await this.blob(key).delete({ conditions: { ifMatch: expected }, abortSignal: this.quick() });
    } catch (e) {
      if (isConditionFailure(e) || isBlobAbsent(e)) {
        throw this.conflict(key, expected);
      }
      throw this.fail(e, 'delete', key);
    }
  }

  async close(): Promise<void> {
    this.client.close();
  }

  /**
   * Creates a blob from bytes in one Put Blob with `If-None-Match: *`; returns its ETag. Azurite answers 409
   * BlobAlreadyExists while the name holds only another writer's uncommitted blocks, although no blob exists
   * and that writer may never commit. So a 409 is confirmed with a HEAD, and if no blob is there the bytes go
   * up as one block whose commit carries the condition (a commit does not count uncommitted blocks).
   */
  private async create(blob: BlockBlobClient, data: Buffer, abortSignal?: AbortSignal, metadata?: Record<string, string>): Promise<string> {
    const conditions = { ifNoneMatch: '*' };
    const blobHTTPHeaders = { blobContentType: CONTENT_TYPE };
    try {
      return (await blob.upload(data, data.length, { conditions, blobHTTPHeaders, metadata, abortSignal })).etag!;
    } catch (e) {
      if (!(azureStatus(e) === 409 && azureCode(e) === 'BlobAlreadyExists')) throw e;
      if (await blob.exists({ abortSignal })) throw e;
    }
    const id = blockId(randomUUID(), 0);
    await blob.stageBlock(id, data, data.length, { abortSignal });
    return (await blob.commitBlockList([id], { conditions, blobHTTPHeaders, metadata, abortSignal })).etag!;
  }

  /** The deadline of one small request, retries included (quickRequestMs). */
  private quick(): AbortSignal {
    return AbortSignal.timeout(this.quickRequestMs);
  }

  private blob(key: string): BlockBlobClient {
    return this.container.getBlockBlobClient(this.namePrefix + key);
  }

  private async checkContainer(create: boolean): Promise<void> {
    try {
      await this.container.listBlobsFlat({ prefix: this.namePrefix }).byPage({ maxPageSize: 1 }).next();
      return;
    } catch (e) {
      if (!create || !isMissingContainer(e)) throw this.openError(e, 'open store');
    }
    try {
      await this.container.createIfNotExists();
    } catch (e) {
      throw this.openError(e, 'create store');
    }
  }

  private openError(e: unknown, action: string): TribError {
    if (isMissingContainer(e)) return this.missingContainer();
    return azureError(e, `${action} ${this.url} at ${this.endpoint}`, this.endpoint, { url: this.url });
  }

  private fail(e: unknown, action: string, key: string): TribError {
    if (isTribError(e)) return e;
    if (isMissingContainer(e)) return this.missingContainer(key);
    return azureError(e, `${action} ${key} in ${this.url}`, this.endpoint, { url: this.url, key, action });
  }

  private missingContainer(key?: string): NotFoundError {
    return new NotFoundError(`no store at ${this.url}: container ${this.containerName} does not exist`, {
      url: this.url,
      endpoint: this.endpoint,
      ...(key ? { key } : {}),
    });
  }

  private notFound(key: string): NotFoundError {
    return keyNotFound(this.url, key);
  }

  private exists(key: string): AlreadyExistsError {
    return keyExists(this.url, key);
  }

  private conflict(key: string, expected: string | undefined): ConflictError {
    return keyChanged(this.url, key, expected, { versionName: 'ETag' });
  }
}

/** `If-None-Match: *` on an existing blob is 409 BlobAlreadyExists; a failed `If-Match` is 412 ConditionNotMet. */
function isConditionFailure(e: unknown): boolean {
  const status = azureStatus(e);
  return status === 412 || (status === 409 && azureCode(e) === 'BlobAlreadyExists');
}
