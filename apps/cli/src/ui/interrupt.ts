/**
 * Ctrl-C (SIGINT) or SIGTERM for commands that can stop cleanly (a following subscriber acks what is durable and
 * returns). While one has registered, the CLI leaves the first signal to it, and only a second one exits at once.
 */
const stoppers = new Set<() => void>();

/** Registers `stop` for the next Ctrl-C or SIGTERM; returns the function that unregisters it. */
export function stopOnInterrupt(stop: () => void): () => void {
  stoppers.add(stop);
  return () => stoppers.delete(stop);
}

/** For the CLI's signal handler: asks every registered command to stop; false when none had registered. */
export function stopGracefully(): boolean {
  if (stoppers.size === 0) return false;
  const all = [...stoppers];
  stoppers.clear();
  for (const stop of all) stop();
  return true;
}

/** Synchronous steps a signal that ends the process runs first (removing the temp files a checkout is writing). */
const cleanups = new Set<() => void>();

/** Registers `step` to run if Ctrl-C or SIGTERM ends the process; returns the function that unregisters it. */
export function cleanUpOnInterrupt(step: () => void): () => void {
  cleanups.add(step);
  return () => cleanups.delete(step);
}

/** For the CLI's signal handler, just before it exits: runs every registered step, a failing one not stopping the rest. */
export function cleanUpBeforeExit(): void {
  const all = [...cleanups];
  cleanups.clear();
  for (const step of all) {
    try {
      step();
    } catch {
      // Exiting is what the user asked for: a step that fails must not keep the process alive.
    }
  }
}
