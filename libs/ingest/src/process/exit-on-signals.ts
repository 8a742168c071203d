import { describeError } from '@tributary/core';

/**
 * Stops an app process cleanly on the first SIGINT or SIGTERM: logs the signal, runs `stop` once (later signals
 * are ignored while it runs), then exits 0. The apps' work is durable before it is acknowledged, so a second,
 * harder kill loses nothing either. A `stop` that fails (a store gone unwritable under a last flush, say) is one
 * log line and exit 1, never a stack trace.
 */
export function exitOnSignals(log: (line: string) => void, stop: () => Promise<void>): void {
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: stopping`);
    try {
      await stop();
    } catch (e) {
      log(`${signal}: stopped, but not cleanly: ${describeError(e)}`);
      process.exit(1);
    }
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}
