/**
 * Resolves after `ms`, or as soon as `signal` aborts, at once if it already has: a pause that a stop cuts short.
 * Never rejects, so a loop that pauses between retries checks its own stop condition afterwards.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    // An aborted signal fires no more 'abort' events: without this, the pause would run its full length.
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
  });
}
