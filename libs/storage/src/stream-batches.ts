import { finished, Readable } from 'node:stream';
import { asBuffer } from './bytes';

/**
 * Hands the bytes of `source` to `take` in batches of at least `minBytes` (the last may be smaller; an empty stream
 * gives none), as the very Buffers the stream pushed: 'data' events, no copy in user space. (`for await` would call
 * `read()`, which concatenates whatever is buffered into a new buffer, and joining a batch would copy every byte
 * again.) The source is paused while a `take` runs. Resolves once the source has ended and the last `take` has
 * resolved. A failure of the source rejects with `wrapSourceError(error)`; a failure of `take` destroys the source
 * and rejects with that failure.
 */
export function forEachBatch(
  source: Readable,
  minBytes: number,
  take: (parts: Buffer[], bytes: number) => Promise<void>,
  wrapSourceError: (e: unknown) => unknown = (e) => e,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let batch: Buffer[] = [];
    let batched = 0;
    let done = false;
    const finish = (e?: unknown) => {
      if (done) return;
      done = true;
      source.off('data', onData);
      if (e === undefined) resolve();
      else reject(e);
    };
    const takeBatch = (): Promise<void> => {
      const parts = batch;
      const bytes = batched;
      batch = [];
      batched = 0;
      return parts.length === 0 ? Promise.resolve() : take(parts, bytes);
    };
    const onData = (chunk: Buffer | string) => {
      const buf = asBuffer(chunk);
      if (buf.length === 0) return;
      batch.push(buf);
      batched += buf.length;
      if (batched < minBytes) return;
      source.pause();
      takeBatch().then(
        () => source.resume(),
        (e: unknown) => {
          source.destroy();
          finish(e);
        },
      );
    };
    // finished() also reports a stream that failed or ended before we got here (an abort before the caller was
    // ready). Its end comes only while flowing again, so never while a batch is being taken.
    finished(source, (e) => {
      if (e) finish(wrapSourceError(e));
      else takeBatch().then(() => finish(), finish);
    });
    source.on('data', onData);
  });
}

/** Every chunk of `source` as the stream pushed it, and their total length, once the stream has ended. */
export async function collectChunks(source: Readable): Promise<{ parts: Buffer[]; bytes: number }> {
  let parts: Buffer[] = [];
  let bytes = 0;
  await forEachBatch(source, Number.POSITIVE_INFINITY, async (all, total) => {
    parts = all;
    bytes = total;
  });
  return { parts, bytes };
}

/**
 * The chunks of `source` one at a time, as the stream pushed them ('data' events: `for await` on the stream would
 * call `read()`, which joins whatever is buffered into a new buffer). Reading starts with the first pull, and a
 * source that failed before that fails the first pull. Breaking off destroys the source.
 */
export async function* chunksOf(source: Readable): AsyncGenerator<Buffer> {
  const queue: Buffer[] = [];
  let ended = false;
  let failure: { error: unknown } | undefined;
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const onData = (chunk: Buffer | string) => {
    queue.push(asBuffer(chunk));
    source.pause();
    notify();
  };
  const stopWatching = finished(source, (e) => {
    if (e) failure = { error: e };
    else ended = true;
    notify();
  });
  source.on('data', onData);
  try {
    for (;;) {
      if (queue.length > 0) {
        yield queue.shift()!;
        continue;
      }
      if (failure) throw failure.error;
      if (ended) return;
      const woken = new Promise<void>((resolve) => (wake = resolve));
      source.resume();
      await woken;
    }
  } finally {
    source.off('data', onData);
    stopWatching();
    if (!ended) source.destroy();
  }
}
