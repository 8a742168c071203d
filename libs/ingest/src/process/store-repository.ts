import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { FailedPreconditionError } from '@tributary/core';
import { Repository, TRIB_DIR } from '@tributary/repository';
import { parseStoreUrl } from '@tributary/storage';

/**
 * Where a long-running process (edge agent, hub) keeps its local repository state (`.trib/config.json` naming the
 * store, and the lock) for a store given as a URL. Nothing durable lives there: objects and refs are in the store,
 * so a lost home is recreated on the next start.
 * - `home` when given (TRIB_HOME);
 * - for `file:///x/.trib/store`, the repository `/x` that `trib init` made, so the CLI and the process share it;
 * - otherwise `<tmpdir>/tributary/<sha256(store URL), 16 hex>`: one home per store per machine, so two processes on
 *   the same store share one lock, and processes on sibling stores never share a home.
 */
export function processHome(storeUrl: string, home?: string): string {
  if (home) return path.resolve(home);
  const loc = parseStoreUrl(storeUrl);
  if (loc.scheme === 'file' && path.basename(loc.path) === 'store' && path.basename(path.dirname(loc.path)) === TRIB_DIR) {
    return path.dirname(path.dirname(loc.path));
  }
  return path.join(tmpdir(), 'tributary', createHash('sha256').update(loc.url).digest('hex').slice(0, 16));
}

/**
 * Opens the repository whose objects and refs are in `storeUrl`, creating the local home (and, for a new store, the
 * store's identity and HEAD -> main) when absent. Throws FailedPreconditionError when the home already belongs to
 * a repository on another store.
 */
export async function openStoreRepository(storeUrl: string, opts: { home?: string } = {}): Promise<Repository> {
  const home = processHome(storeUrl, opts.home);
  const configFile = path.join(home, TRIB_DIR, 'config.json');
  const wanted = parseStoreUrl(storeUrl).url;
  const existing = await fs.readFile(configFile, 'utf8').then(
    (t) => JSON.parse(t) as { store?: string },
    () => undefined,
  );
  if (!existing) {
    const defaultStore = parseStoreUrl(path.join(home, TRIB_DIR, 'store')).url;
    return Repository.init(home, wanted === defaultStore ? {} : { storeUrl });
  }
  const have = existing.store ? parseStoreUrl(existing.store).url : parseStoreUrl(path.join(home, TRIB_DIR, 'store')).url;
  if (have !== wanted) {
    throw new FailedPreconditionError(`${home} holds the repository of ${have}, not of TRIB_STORE=${storeUrl}; set TRIB_HOME to another folder`);
  }
  return Repository.open(home);
}
