import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { FailedPreconditionError, InvalidArgumentError, isTribError, NotFoundError, REPOSITORY_CONFIG_FILE, TribError } from '@tributary/core';
import { isWithin, Repository, TRIB_DIR } from '@tributary/repository';
import { openStore, parseStoreUrl } from '@tributary/storage';

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
 * Refuses an inbox that is the store's folder (file://) or its home, or lies inside the store or the home's `.trib`:
 * the agent claims and moves every file that lands in its inbox, and would take its own repository's files (its
 * config, HEAD, packs) for batches. InvalidArgumentError naming TRIB_INBOX.
 */
export function checkInboxApart(inbox: string, storeUrl: string, home?: string): void {
  const at = path.resolve(inbox);
  const own = processHome(storeUrl, home);
  const loc = parseStoreUrl(storeUrl);
  const within = (dir: string) => isWithin(dir, at);
  const clash =
    at === own ? `is the agent's home (TRIB_HOME, ${own})`
    : within(path.join(own, TRIB_DIR)) ? `is inside the agent's repository folder ${path.join(own, TRIB_DIR)}`
    : loc.scheme === 'file' && within(loc.path) ? `is inside the store's folder (TRIB_STORE, ${loc.path})`
    : undefined;
  if (clash) {
    throw new InvalidArgumentError(`TRIB_INBOX=${JSON.stringify(inbox)} ${clash}: the agent would take its own repository's files for batches; give the inbox a folder of its own`);
  }
}

/**
 * Opens the repository whose objects and refs are in `storeUrl`, creating the local home (and, for a new store, the
 * store's identity and HEAD -> main) when absent. Never creates a cloud bucket or container: only `trib init` does,
 * so a missing one is a NotFoundError naming the URL (a missing file:// store is still created). Throws
 * FailedPreconditionError when the home already belongs to a repository on another store.
 */
export async function openStoreRepository(storeUrl: string, opts: { home?: string } = {}): Promise<Repository> {
  const home = processHome(storeUrl, opts.home);
  try {
    return await openAtHome(storeUrl, home);
  } catch (e) {
    throw namingHome(e, home);
  }
}

/**
 * A failure to use the home folder (no permission to make or write it, a read-only disk) as a one-line error
 * naming TRIB_HOME, which is the setting to change; anything else as it is.
 */
function namingHome(e: unknown, home: string): unknown {
  if (isTribError(e)) {
    // Repository.init's own refusal to make the folder (it names the path); a store under the home names its URL.
    return e.details.path === home ? new TribError(e.code, `TRIB_HOME: ${e.message}`, e.details, { cause: e }) : e;
  }
  const err = e as NodeJS.ErrnoException;
  const where = typeof err?.path === 'string' ? path.resolve(err.path) : '';
  if (!err?.code || !where || !isWithin(home, where)) return e;
  const why = err.code === 'EACCES' || err.code === 'EPERM' ? 'permission denied' : err.code === 'EROFS' ? 'read-only file system' : err.code;
  return new FailedPreconditionError(`TRIB_HOME: cannot keep the local repository state in ${home}: ${why} (${where}); set TRIB_HOME to a folder this process may write`, { home }, { cause: e });
}

async function openAtHome(storeUrl: string, home: string): Promise<Repository> {
  const configFile = path.join(home, TRIB_DIR, REPOSITORY_CONFIG_FILE);
  const wanted = parseStoreUrl(storeUrl).url;
  const existing = await fs.readFile(configFile, 'utf8').then(
    (t) => JSON.parse(t) as { store?: string },
    () => undefined,
  );
  if (!existing) {
    await requireBucket(storeUrl);
    const defaultStore = parseStoreUrl(path.join(home, TRIB_DIR, 'store')).url;
    return Repository.init(home, { bare: true, ...(wanted === defaultStore ? {} : { storeUrl }) });
  }
  const have = existing.store ? parseStoreUrl(existing.store).url : parseStoreUrl(path.join(home, TRIB_DIR, 'store')).url;
  if (have !== wanted) {
    throw new FailedPreconditionError(`${home} holds the repository of ${have}, not of TRIB_STORE=${storeUrl}; set TRIB_HOME to another folder`);
  }
  return Repository.open(home);
}

/** Fails with NotFoundError when `storeUrl` is a cloud store whose bucket or container is missing. */
async function requireBucket(storeUrl: string): Promise<void> {
  const { scheme, url } = parseStoreUrl(storeUrl);
  if (scheme === 'file' || scheme === 'mem') return;
  let store;
  try {
    store = await openStore(storeUrl);
  } catch (e) {
    if (!(e instanceof NotFoundError)) throw e;
    throw new NotFoundError(`TRIB_STORE=${url}: ${e.message}; create it with \`trib init DIR --store ${url}\``, { url }, { cause: e });
  }
  await store.close();
}
