import { unlinkSync } from 'node:fs';

const registered = new Set<string>();
let hooked = false;

/**
 * Deletes `file` should the process exit while it is registered (Ctrl-C in the CLI, any process.exit), so an
 * interrupted write leaves no half-written temp file or held lock behind. Returns the function that unregisters it.
 * A SIGKILL runs nothing: such leftovers are still for the sweeps and stale-lock checks.
 */
export function removeOnExit(file: string): () => void {
  if (!hooked) {
    hooked = true;
    process.on('exit', () => {
      for (const f of registered) {
        try {
          unlinkSync(f);
        } catch {
          // Gone already, or not ours to remove any more: nothing to do on the way out.
        }
      }
    });
  }
  registered.add(file);
  return () => registered.delete(file);
}
