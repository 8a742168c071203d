import { Readable } from 'node:stream';
import { sleep, UnavailableError } from '@tributary/core';

/*
 * A download's body that survives a few broken connections: when it breaks off before the length its answer
 * announced, the rest is asked for again, from the byte reached, of the same version of the object (S3, GCS and
 * Azure). Nothing here knows an SDK: each adapter opens the answers and maps its transport's errors.
 */

/** Times a body is resumed after breaking off, before its read fails. */
export const DOWNLOAD_RESUMES = 3;
/** The wait before resume n is drawn from [0, min(RESUME_MAX_WAIT_MS, RESUME_BASE_WAIT_MS x 2^(n-1))]. */
const RESUME_BASE_WAIT_MS = 250;
const RESUME_MAX_WAIT_MS = 2000;
const HIGH_WATER_MARK = 1024 * 1024;

/** One answer to a download request. */
export interface DownloadAnswer {
  readonly body: Readable;
  /** The bytes the answer announced (its Content-Length); undefined when it announced none (then never resumed). */
  readonly bytes: number | undefined;
}

export interface Resumption {
  /**
   * Asks for `length` bytes from `done` bytes into the first answer again, of the version the first answer came from,
   * failing (with the adapter's own error) if the object has changed since. Undefined when the first answer names no
   * version to pin the rest to: then a break fails the read, as it would without resuming.
   */
  readonly rest: ((done: number, length: number) => Promise<DownloadAnswer>) | undefined;
  /**
   * Longest wait for the next bytes while the reader wants them, a stall counting as a break; for an SDK whose stream
   * may never say its connection closed mid-body (the GCS client's neither ends nor fails). Undefined: the
   * transport's own idle limit applies.
   */
  readonly idleMs?: number;
  /** The store's URL and the key read, for the error of a body that broke off for good. */
  readonly url: string;
  readonly key: string;
  /**
   * The error for a body whose transport failed for good: `what` is `read KEY in URL`, with how often it was resumed.
   * (A body that broke off without a transport error, ending short or stalling, is UNAVAILABLE, named the same way.)
   */
  readonly fail: (cause: unknown, what: string) => unknown;
  /** Times to resume (default DOWNLOAD_RESUMES). */
  readonly resumes?: number;
}

/** How a body broke off when its transport raised no error: it ended short, stalled, or the rest did not fit. */
class BrokenBody extends Error {}

/** What a failed read's message adds after the URL: how often it was resumed before it gave up. */
function resumedNote(resumed: number): string {
  return resumed === 0 ? '' : resumed === 1 ? ' (resumed once)' : ` (resumed ${resumed} times)`;
}

/**
 * The bytes of `first` and, each time its body breaks off (an error, a connection cut, an end short of the announced
 * length, a stall past `idleMs`), of the rest asked for again: at most `resumes` times, then `fail`. Plain stream
 * events rather than an async generator: this sits on every byte read. Destroying the result destroys the body.
 */
export function resumableBody(first: DownloadAnswer, how: Resumption): Readable {
  const total = first.bytes;
  const resumes = how.rest && total !== undefined ? how.resumes ?? DOWNLOAD_RESUMES : 0;
  let body: Readable | undefined;
  let got = 0;
  let resumed = 0;
  let idle: NodeJS.Timeout | undefined;

  const out = new Readable({
    highWaterMark: HIGH_WATER_MARK,
    read: () => {
      if (!body) return;
      watch();
      body.resume();
    },
    destroy: (error, callback) => {
      unwatch();
      body?.destroy();
      body = undefined;
      callback(error);
    },
  });
  const failure = (cause: unknown): Error => {
    const what = `read ${how.key} in ${how.url}${resumedNote(resumed)}`;
    if (!(cause instanceof BrokenBody)) return how.fail(cause, what) as Error;
    return new UnavailableError(`cannot ${what}: ${cause.message}`, { url: how.url, key: how.key, action: 'read' });
  };
  // A body that fails before the reader starts would emit 'error' with no listener and crash the process; readers
  // still see the failure, as they look at the stream's errored state (stream.finished, chunksOf).
  out.on('error', () => undefined);
  follow(first.body);
  return out;

  function follow(answer: Readable): void {
    body = answer;
    const current = () => body === answer;
    answer.on('data', (chunk: Buffer) => {
      if (!current()) return;
      got += chunk.length;
      unwatch();
      if (out.push(chunk)) watch();
      else answer.pause();
    });
    answer.once('end', () => {
      if (!current()) return;
      if (total === undefined || got === total) {
        unwatch();
        body = undefined;
        out.push(null);
      } else {
        broke(new BrokenBody(`the body ended after ${got} of ${total} bytes`));
      }
    });
    // Kept after the body is dropped: a late error must find a listener.
    answer.on('error', (e) => current() && broke(e));
    // IncomingMessage reports a connection cut mid-body as 'aborted' (and, depending on timing, not as 'error').
    answer.once('aborted', () => {
      if (current()) broke(Object.assign(new Error('connection closed mid-body'), { code: 'ECONNRESET' }));
    });
  }

  function broke(cause: unknown): void {
    unwatch();
    body?.destroy();
    body = undefined;
    if (out.destroyed) return;
    if (total === undefined || got >= total || resumed >= resumes) {
      out.destroy(failure(cause));
      return;
    }
    resumed++;
    const left = total - got;
    sleep(Math.random() * Math.min(RESUME_MAX_WAIT_MS, RESUME_BASE_WAIT_MS * 2 ** (resumed - 1)))
      .then(() => how.rest!(got, left))
      .then(
        (rest) => {
          if (out.destroyed) return void rest.body.destroy();
          // A server that ignored the range would send other bytes than the rest: never splice them in.
          if (rest.bytes !== left) {
            rest.body.destroy();
            out.destroy(failure(new BrokenBody(`asked again for the last ${left} bytes, it answered ${rest.bytes ?? 'an unknown number of'} bytes`)));
            return;
          }
          follow(rest.body);
        },
        (e: unknown) => out.destroy(e as Error),
      );
  }

  function watch(): void {
    if (how.idleMs === undefined || idle) return;
    idle = setTimeout(() => {
      idle = undefined;
      broke(new BrokenBody(`no bytes came for ${how.idleMs} ms`));
    }, how.idleMs);
  }

  function unwatch(): void {
    clearTimeout(idle);
    idle = undefined;
  }
}
