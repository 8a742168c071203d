/**
 * Named points where a test can make this process die with SIGKILL, to prove that a crash at that moment leaves the
 * repository readable. Armed only by `TRIB_CRASH_AT=<point>:<n>` (die on the n-th time the point is reached), so
 * the cost in normal runs is one string comparison per call. `TRIB_CRASH_SIGNAL=SIGINT` (or SIGTERM) sends that
 * instead: a Ctrl-C (or a supervisor stopping the process) at that moment.
 */
const armed = (() => {
  const spec = process.env.TRIB_CRASH_AT;
  if (!spec) return undefined;
  const [point, n] = spec.split(':');
  return { point, remaining: Math.max(1, Number.parseInt(n ?? '1', 10) || 1) };
})();

export function crashPoint(point: string): void {
  if (!armed || armed.point !== point) return;
  if (--armed.remaining > 0) return;
  const signal = process.env.TRIB_CRASH_SIGNAL;
  process.kill(process.pid, signal === 'SIGINT' || signal === 'SIGTERM' ? signal : 'SIGKILL');
}
