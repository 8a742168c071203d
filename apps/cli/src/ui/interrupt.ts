/**
 * Ctrl-C for commands that can stop cleanly (a following subscriber acks what is durable and returns). While one
 * has registered, the CLI leaves the first Ctrl-C to it, and only a second one exits at once.
 */
const stoppers = new Set<() => void>();

/** Registers `stop` for the next Ctrl-C; returns the function that unregisters it. */
export function stopOnInterrupt(stop: () => void): () => void {
  stoppers.add(stop);
  return () => stoppers.delete(stop);
}

/** For the CLI's SIGINT handler: asks every registered command to stop; false when none had registered. */
export function stopGracefully(): boolean {
  if (stoppers.size === 0) return false;
  const all = [...stoppers];
  stoppers.clear();
  for (const stop of all) stop();
  return true;
}
