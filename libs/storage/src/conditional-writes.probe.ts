import { randomBytes } from 'node:crypto';
import { AlreadyExistsError, ConflictError } from '@tributary/core';
import { ObjectStore } from './object-store.port';

/** What a store did when asked for conditional writes it should refuse. */
export interface ConditionalWrites {
  /** A second `putIfAbsent` of one key threw AlreadyExistsError. */
  readonly createIfAbsent: boolean;
  /** `compareAndSwap` refused to create a present value and refused a stale version, with ConflictError. */
  readonly compareAndSwap: boolean;
}

/** Both kinds of conditional write are enforced: several writers may share the store. */
export function enforcesConditionalWrites(c: ConditionalWrites): boolean {
  return c.createIfAbsent && c.compareAndSwap;
}

const PROBE_PREFIX = 'probe/conditional-writes/';

/**
 * Finds out whether `store` enforces create-if-absent and compare-and-swap, by asking for writes it must refuse, on
 * two fresh random keys under `probe/conditional-writes/`, removed afterwards. Some S3-compatible stores accept the
 * conditional headers and ignore them; this tells them apart at start-up. A store that refuses a write it should
 * accept is not a store this project can use at all, so that throws like any store error (as do store failures).
 */
export async function probeConditionalWrites(store: ObjectStore): Promise<ConditionalWrites> {
  const id = randomBytes(12).toString('hex');
  const createKey = `${PROBE_PREFIX}${id}.create`;
  const swapKey = `${PROBE_PREFIX}${id}.swap`;
  try {
    await store.putIfAbsent(createKey, Buffer.from('first\n'));
    const createIfAbsent = await refuses(() => store.putIfAbsent(createKey, Buffer.from('second\n')), AlreadyExistsError);

    const v1 = await store.compareAndSwap(swapKey, undefined, Buffer.from('1\n'));
    const refusesCreate = await refuses(() => store.compareAndSwap(swapKey, undefined, Buffer.from('x\n')), ConflictError);
    const current = (await store.readVersioned(swapKey))?.version ?? v1;
    await store.compareAndSwap(swapKey, current, Buffer.from('2\n'));
    const refusesStale = await refuses(() => store.compareAndSwap(swapKey, current, Buffer.from('3\n')), ConflictError);
    return { createIfAbsent, compareAndSwap: refusesCreate && refusesStale };
  } finally {
    await store.delete(createKey).catch(() => undefined);
    await removeVersioned(store, swapKey).catch(() => undefined);
  }
}

async function refuses(write: () => Promise<unknown>, refusal: new (...args: never[]) => Error): Promise<boolean> {
  try {
    await write();
    return false;
  } catch (e) {
    if (e instanceof refusal) return true;
    throw e;
  }
}

async function removeVersioned(store: ObjectStore, key: string): Promise<void> {
  const v = await store.readVersioned(key);
  if (v) await store.deleteVersioned(key, v.version);
}
