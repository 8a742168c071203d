/**
 * `work`, unless it has not settled `ms` after the call: then the error `late()` makes. Work past its deadline goes
 * on unobserved (a failure of it is dropped), and what it yields then goes to `onLateResult` (a store opened too
 * late is closed, say). For an SDK call that takes no abort signal, so a caller waits no longer than it meant to.
 */
export function beforeDeadline<T>(work: Promise<T>, ms: number, late: () => Error, onLateResult?: (value: T) => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let expired = false;
  work.then(
    (value) => (expired ? onLateResult?.(value) : undefined),
    () => undefined,
  );
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      expired = true;
      reject(late());
    }, ms);
    timer.unref();
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}
