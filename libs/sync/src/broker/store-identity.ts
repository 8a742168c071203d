import { randomBytes } from 'node:crypto';
import { AlreadyExistsError, IntegrityError, NotFoundError } from '@tributary/core';
import { ObjectStore } from '@tributary/storage';

/** The store's identity object, the same one `trib init` writes (see StoreConfig in @tributary/repository). */
const CONFIG_KEY = 'config';
const FORMAT = 1;

/**
 * Where an identity is agreed for a store that ignores create-if-absent (see `readOrCreateStoreId`): given this
 * broker's candidate, the id every broker creating the identity now uses, held until `release` (called once the
 * identity is written, or found written); undefined when that id is being released and the store must be re-read.
 */
export type IdentityAgreement = (candidate: string) => Promise<{ readonly id: string; release(): Promise<void> } | undefined>;

const MAX_ATTEMPTS = 20;

/**
 * The random id of a store, created with the store (create-if-absent, so two brokers starting on a fresh store
 * agree on one). Anything kept about the store elsewhere, such as Redis cursors, is keyed by it, so a fresh store
 * never inherits an old run's state. On a store that ignores create-if-absent, `agree` picks the id instead, and
 * the store is read again after agreeing, so a broker that agrees after another one wrote the identity takes the
 * written one. Throws IntegrityError for an unreadable identity object.
 */
export async function readOrCreateStoreId(store: ObjectStore, agree?: IdentityAgreement): Promise<string> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const existing = await readStoreId(store);
    if (existing) return existing;
    const candidate = randomBytes(16).toString('hex');
    if (!agree) {
      try {
        await store.putIfAbsent(CONFIG_KEY, configBytes(candidate));
        return candidate;
      } catch (e) {
        if (!(e instanceof AlreadyExistsError)) throw e;
        continue;
      }
    }
    const agreed = await agree(candidate);
    if (!agreed) {
      await new Promise((r) => setTimeout(r, 50));
      continue;
    }
    try {
      const written = await readStoreId(store);
      if (written) return written;
      // Every broker creating the identity now writes these same bytes, so overwriting each other is harmless.
      await store.putIfAbsent(CONFIG_KEY, configBytes(agreed.id)).catch((e) => {
        if (!(e instanceof AlreadyExistsError)) throw e;
      });
      const id = await readStoreId(store);
      if (id) return id;
    } finally {
      await agreed.release();
    }
  }
  throw new IntegrityError(`cannot read or create the identity of store ${store.url}`);
}

async function readStoreId(store: ObjectStore): Promise<string | undefined> {
  try {
    return parse(await store.get(CONFIG_KEY), store.url);
  } catch (e) {
    if (e instanceof NotFoundError) return undefined;
    throw e;
  }
}

function configBytes(id: string): Buffer {
  return Buffer.from(JSON.stringify({ format: FORMAT, id }) + '\n');
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
