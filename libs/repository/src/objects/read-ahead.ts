import { ChunkRef, IntegrityError, InvalidArgumentError } from '@tributary/core';
import { ObjectStore } from '@tributary/storage';
import { COALESCE_MAX_SPAN, ObjectDatabase } from './object-database';

export interface ReadAheadLimits {
  /** Most chunk bytes asked for in one `getMany`: one coalesced ranged read when the chunks are neighbours. */
  readonly batchBytes: number;
  /** Most chunk bytes in flight or fetched and waiting, beside the batch the consumer is on. At least batchBytes. */
  readonly aheadBytes: number;
  /** Most items in one batch, so a run of tiny chunks or markers does not become one huge batch. */
  readonly batchItems: number;
}

/**
 * For a cloud store: batches that fit one coalesced read of ObjectDatabase with room for record headers, four of
 * them ahead, enough requests in flight to hide the round trips; memory ~40 MiB however large the files.
 */
export const REMOTE_READ_AHEAD: ReadAheadLimits = {
  batchBytes: COALESCE_MAX_SPAN - (256 << 10),
  aheadBytes: 4 * (COALESCE_MAX_SPAN - (256 << 10)),
  batchItems: 4096,
};

/**
 * For local disk or memory, where a read is a system call: small batches, a few ahead to overlap reads with
 * writes. Large reads only cost memory there (buffers of several MiB fragment the heap: +70 MB peak RSS on a
 * 2 GiB checkout with 8 MiB batches, and no faster).
 */
export const LOCAL_READ_AHEAD: ReadAheadLimits = { batchBytes: 1 << 20, aheadBytes: 8 << 20, batchItems: 4096 };

/** The read-ahead limits that suit `store`. */
export function readAheadFor(store: ObjectStore): ReadAheadLimits {
  return store.remote ? REMOTE_READ_AHEAD : LOCAL_READ_AHEAD;
}

/** An item of a read-ahead stream and, for an item with a chunk, that chunk's verified bytes. */
export interface ReadAheadResult<T> {
  readonly item: T;
  readonly bytes?: Buffer;
}

interface Batch<T> {
  readonly items: T[];
  readonly refs: (ChunkRef | undefined)[];
  readonly bytes: number;
  readonly result: Promise<Buffer[]>;
}

/**
 * Reads the chunks of `items` (the chunk of an item is `chunkOf(item)`; items without one are passed through, for
 * the caller's markers) and yields every item in order, with its chunk's bytes verified against the id by
 * ObjectDatabase.getMany and its length checked against the ref's size (IntegrityError otherwise: a chunk-list
 * node's sizes are only claims).
 *
 * Chunks are fetched in batches of neighbours, several batches in flight while the consumer works on an earlier
 * one, so store round trips overlap each other and the consumer's writes. Memory is bounded: at most
 * `aheadBytes` of chunks are in flight or waiting besides the batch being consumed (given chunks no larger than
 * `batchBytes`). `items` is read only as the consumer pulls, never further ahead than those limits.
 *
 * A failed read is thrown when the consumer reaches its batch, after every item of the batches before it; an error
 * of `items` itself is thrown at the next pull. When the consumer stops early (return or throw), `items` is closed
 * and the reads in flight are awaited and dropped, so none outlives the generator.
 */
export async function* readAhead<T>(
  db: ObjectDatabase,
  items: AsyncIterable<T> | Iterable<T>,
  chunkOf: (item: T) => ChunkRef | undefined,
  limits: ReadAheadLimits = readAheadFor(db.store),
): AsyncGenerator<ReadAheadResult<T>> {
  const { batchBytes, aheadBytes, batchItems: maxItems } = limits;
  if (!(batchBytes > 0 && aheadBytes >= batchBytes && maxItems > 0)) {
    throw new InvalidArgumentError(`read-ahead limits need 0 < batchBytes <= aheadBytes and batchItems > 0, got ${JSON.stringify(limits)}`);
  }
  const source = (async function* () {
    yield* items;
  })();
  const queue: Batch<T>[] = [];
  let queuedBytes = 0;
  let carried: T | undefined;
  let sourceDone = false;

  const nextItem = async (): Promise<T | undefined> => {
    if (carried !== undefined) {
      const item = carried;
      carried = undefined;
      return item;
    }
    if (sourceDone) return undefined;
    const r = await source.next();
    if (r.done) {
      sourceDone = true;
      return undefined;
    }
    return r.value;
  };

  /** Takes items up to one batch's limits and starts its read; undefined when `items` is exhausted. */
  const startBatch = async (): Promise<Batch<T> | undefined> => {
    const batchItems: T[] = [];
    const refs: (ChunkRef | undefined)[] = [];
    let bytes = 0;
    while (batchItems.length < maxItems) {
      const item = await nextItem();
      if (item === undefined) break;
      const ref = chunkOf(item);
      if (ref && bytes > 0 && bytes + ref.size > batchBytes) {
        carried = item;
        break;
      }
      batchItems.push(item);
      refs.push(ref);
      if (ref) bytes += ref.size;
    }
    if (batchItems.length === 0) return undefined;
    const ids = refs.filter((r): r is ChunkRef => r !== undefined).map((r) => r.id);
    const result = ids.length ? db.getMany(ids) : Promise.resolve([]);
    // Handled where the consumer reaches the batch; this only keeps a failure ahead of it from being "unhandled".
    result.catch(() => undefined);
    return { items: batchItems, refs, bytes, result };
  };

  /** Starts batches while a whole one more still fits under `aheadBytes`. */
  const fill = async () => {
    while (queuedBytes + batchBytes <= aheadBytes) {
      const batch = await startBatch();
      if (!batch) return;
      queue.push(batch);
      queuedBytes += batch.bytes;
    }
  };

  try {
    for (;;) {
      await fill();
      const batch = queue.shift();
      if (!batch) return;
      queuedBytes -= batch.bytes;
      // Reads of the batches still queued go on while this one is verified and consumed.
      await fill();
      const bufs = await batch.result;
      let k = 0;
      for (let i = 0; i < batch.items.length; i++) {
        const ref = batch.refs[i];
        if (!ref) {
          yield { item: batch.items[i] };
          continue;
        }
        const bytes = bufs[k++];
        if (bytes.length !== ref.size) throw new IntegrityError(`chunk ${ref.id} is ${bytes.length} bytes, its file says ${ref.size}`, { id: ref.id });
        yield { item: batch.items[i], bytes };
      }
    }
  } finally {
    await Promise.allSettled(queue.map((b) => b.result));
    await source.return?.();
  }
}
