/**
 * Polls `cond` until it holds. After `ms` it throws naming `what` (a function is called then, for context that is
 * only worth reading on a failure, such as an app's output).
 */
export async function waitUntil(
  cond: () => boolean | Promise<boolean>,
  what: string | (() => string) = 'condition',
  ms = 30_000,
  intervalMs = 25,
): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`not reached within ${ms} ms: ${typeof what === 'function' ? what() : what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
