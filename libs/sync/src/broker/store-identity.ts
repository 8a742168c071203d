import { randomBytes } from 'node:crypto';
import { AlreadyExistsError, IntegrityError, NotFoundError } from '@tributary/core';
import { ObjectStore } from '@tributary/storage';

/** The store's identity object, the same one `trib init` writes (see StoreConfig in @tributary/repository). */
const CONFIG_KEY = 'config';
const FORMAT = 1;

/**
 * The random id of a store, created with the store (create-if-absent, so two brokers starting on a fresh store
 * agree on one). Anything kept about the store elsewhere, such as Redis cursors, is keyed by it, so a fresh store
 * never inherits an old run's state. On a store that ignores create-if-absent, `agree` picks the id instead: given
 * this broker's candidate, it returns the one every broker of the store uses (see `agreeInRedis`). Throws
 * IntegrityError for an unreadable identity object.
 */
export async function readOrCreateStoreId(store: ObjectStore, agree?: (candidate: string) => Promise<string>): Promise<string> {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return parse(await store.get(CONFIG_KEY), store.url);
    } catch (e) {
      if (!(e instanceof NotFoundError)) throw e;
    }
    const candidate = randomBytes(16).toString('hex');
    const config = { format: FORMAT, id: agree ? await agree(candidate) : candidate };
    try {
      await store.putIfAbsent(CONFIG_KEY, Buffer.from(JSON.stringify(config) + '\n'));
      return config.id;
    } catch (e) {
      if (!(e instanceof AlreadyExistsError)) throw e;
    }
  }
  throw new IntegrityError(`cannot read or create the identity of store ${store.url}`);
}

function parse(data: Buffer, url: string): string {
  let id: unknown;
  try {
    id = JSON.parse(data.toString('utf8')).id;
  } catch {
    id = undefined;
  }
  if (typeof id !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(id)) {
    throw new IntegrityError(`store ${url} has a corrupt identity (${CONFIG_KEY})`, { url });
  }
  return id;
}
