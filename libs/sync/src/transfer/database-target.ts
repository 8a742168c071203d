import { ObjectId } from '@tributary/core';
import { ObjectDatabase } from '@tributary/repository';
import { ObjectTarget } from './transfer-channel';

/**
 * Objects up to this size (trees, chunk lists, commits, small chunks) are stored with `verify`, which hashes them
 * once more (microseconds) and keeps them in the database's cache: what a subscriber does next with a commit it
 * received (the hub merges it) reads them without a store round trip.
 */
const CACHED_MAX_BYTES = 32 << 10;

/**
 * A receiver target writing straight into an ObjectDatabase (a subscriber's repository). Objects of a transfer that
 * fails stay pending and become durable with the next flush; that is safe because the receiver only stores
 * complete, verified sub-graphs, and it never calls `abort`, which would also drop objects other transfers into the
 * same database are relying on.
 */
export function databaseTarget(db: ObjectDatabase, opts: { flushOnReceive?: boolean } = {}): ObjectTarget {
  const flushOnReceive = opts.flushOnReceive ?? true;
  return {
    has: (id: ObjectId) => db.has(id),
    get: (id: ObjectId) => db.get(id),
    put: (id: ObjectId, bytes: Buffer, deltaBase?: ObjectId) =>
      db.putWithId(id, bytes, { deltaBase, verify: bytes.length <= CACHED_MAX_BYTES, handedOver: true }),
    // Without flushOnReceive the caller makes the objects durable itself before anything durable refers to them.
    flush: () => (flushOnReceive ? db.flush() : Promise.resolve()),
  };
}
