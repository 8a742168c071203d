import { Readable } from 'node:stream';
import { asBuffer, isBytes } from '../bytes';
import { validateStoreKey } from '../store-keys';
import { chunksOf, collectChunks } from '../stream-batches';

/*
 * Request-body and response-stream plumbing shared by the cloud adapters (Azure Blob and GCS; S3 takes isStoreKey,
 * openUploadBody and readAll; S3's and GCS's downloads go through resumable-body.ts). Nothing here knows an SDK:
 * errors from the SDKs are mapped by each adapter.
 */

/** True when a listed name (with the store prefix cut off) is a key; other names are not this store's objects. */
export function isStoreKey(key: string): boolean {
  try {
    validateStoreKey(key);
    return true;
  } catch {
    return false;
  }
}

/**
 * The body of an upload, read far enough to choose between one request and a streamed multi-request upload.
 * Exactly one of `whole` and `stream` is set.
 */
export interface UploadBody {
  /** The whole body, when it fit under the limit (or was given as bytes). */
  readonly whole?: Buffer;
  /** The body as read so far followed by the rest of the source, for a streamed upload. */
  readonly stream?: Readable;
  /**
   * The error the caller's source stream raised, if it did. An upload that fails because of it must rethrow
   * exactly that error, so the caller sees its own failure and not an SDK's reaction to it.
   */
  sourceError(): { readonly error: unknown } | undefined;
  /** Stops reading the source (after a refusal), releasing it. */
  discard(): void;
}

/**
 * Reads `data` until more than `limit` bytes arrived or it ended. An error from the source while peeking is
 * thrown as is. Memory stays bounded by `limit` plus one source chunk.
 */
export async function openUploadBody(data: Buffer | Readable, limit: number): Promise<UploadBody> {
  if (isBytes(data)) {
    const whole = asBuffer(data);
    return { whole, sourceError: () => undefined, discard: () => undefined };
  }
  let failure: { error: unknown } | undefined;
  let discarded = false;
  // chunksOf, not the stream's own iterator, whose read() would join buffered chunks into new buffers.
  const iterator: AsyncIterator<Buffer | string> = chunksOf(data);
  const head: Buffer[] = [];
  let size = 0;
  for (;;) {
    const next = await iterator.next();
    if (next.done) {
      return { whole: Buffer.concat(head, size), sourceError: () => undefined, discard: () => undefined };
    }
    const chunk = asBuffer(next.value);
    head.push(chunk);
    size += chunk.length;
    if (size > limit) break;
  }
  async function* rest(): AsyncGenerator<Buffer> {
    yield* head.splice(0);
    for (;;) {
      let next: IteratorResult<Buffer | string>;
      try {
        next = await iterator.next();
      } catch (error) {
        // Once the upload is given up (discard), the source ends because this body destroyed it: not its failure.
        if (!discarded) failure = { error };
        throw error;
      }
      if (next.done) return;
      yield asBuffer(next.value);
    }
  }
  const stream = Readable.from(rest(), { objectMode: false });
  return {
    stream,
    sourceError: () => failure,
    discard: () => {
      discarded = true;
      stream.destroy();
      data.destroy();
    },
  };
}

export function emptyStream(): Readable {
  return Readable.from([], { objectMode: false });
}

/** Reads a whole stream into one Buffer: one copy of its chunks at the end, none while they arrive. */
export async function readAll(stream: Readable): Promise<Buffer> {
  const { parts, bytes } = await collectChunks(stream);
  return parts.length === 1 ? parts[0] : Buffer.concat(parts, bytes);
}

