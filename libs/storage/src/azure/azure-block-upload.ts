import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import type { BlockBlobClient, BlockBlobCommitBlockListOptions } from '@azure/storage-blob';
import { forEachBatch } from '../stream-batches';

/**
 * The id of block `index` of the upload `uploadId` (a UUID), in the SDK's uploadStream form: 48 characters before
 * base64, the index padded with zeros. Every block id under one blob name must have the same length, uncommitted
 * blocks of other writers included, so this form is shared with every SDK writer.
 */
export function blockId(uploadId: string, index: number): string {
  return Buffer.from(`${uploadId}${String(index).padStart(48 - uploadId.length, '0')}`).toString('base64');
}

/**
 * Uploads `source` as blocks of at least `blockSize` bytes, staging up to `concurrency` at once, then commits the
 * block list with `options`, whose conditions decide whether the blob may be created. Resolves the blob's ETag.
 *
 * The SDK's uploadStream copies every byte into pooled buffers first; here a block is staged from the stream's
 * own buffers, through a factory that replays them, so a retried request sends them again. Memory is about
 * `blockSize` x (`concurrency` + 1). On any failure (the source's or a request's) staging stops, the requests in
 * flight are waited for, and the failure is thrown; blocks never committed stay invisible, and Azure discards them.
 */
export async function uploadBlocks(
  blob: BlockBlobClient,
  source: Readable,
  blockSize: number,
  concurrency: number,
  options: BlockBlobCommitBlockListOptions,
): Promise<string> {
  const uploadId = randomUUID();
  const ids: string[] = [];
  const inFlight = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  const stage = (parts: Buffer[], bytes: number) => {
    const id = blockId(uploadId, ids.length);
    ids.push(id);
    const staged: Promise<void> = blob
      .stageBlock(id, () => Readable.from(parts, { objectMode: false }), bytes)
      .then(
        () => undefined,
        (error: unknown) => {
          failure ??= { error };
        },
      )
      .finally(() => inFlight.delete(staged));
    inFlight.add(staged);
  };
  const throwIfFailed = () => {
    if (failure) throw failure.error;
  };
  try {
    await forEachBatch(source, blockSize, async (parts, bytes) => {
      throwIfFailed();
      stage(parts, bytes);
      while (inFlight.size >= concurrency && !failure) await Promise.race(inFlight);
      throwIfFailed();
    });
  } finally {
    await Promise.all(inFlight);
  }
  throwIfFailed();
  return (await blob.commitBlockList(ids, options)).etag!;
}
