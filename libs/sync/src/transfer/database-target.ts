import { ObjectId } from '@tributary/core';
import { ObjectDatabase } from '@tributary/repository';
import { ObjectTarget } from './transfer-channel';

/**
 * A receiver target writing straight into an ObjectDatabase (a subscriber's repository). Objects of a transfer that
 * fails stay pending and become durable with the next flush; that is safe because the receiver only stores
 * complete, verified sub-graphs, and it never calls `abort`, which would also drop objects other transfers into the
 * same database are relying on.
 */
export function databaseTarget(db: ObjectDatabase, opts: { flushOnReceive?: boolean } = {}): ObjectTarget {
  const flushOnReceive = opts.flushOnReceive ?? true;
  return {
    // What the receiver finds held it refers to instead of receiving: noted for a watch of reuse (see subscribe).
    has: (id: ObjectId) => {
      const held = db.has(id);
      if (held) db.noteReused(id);
      return held;
    },
    readable: (id: ObjectId) => db.isStored(id),
    sizeOf: (id: ObjectId) => db.sizeOf(id),
    get: (id: ObjectId) => db.get(id),
    getMany: (ids: readonly ObjectId[]) => db.getMany(ids),
    // The receiver hashed every object it puts, so the small ones (trees, lists, commits) may go straight to the
    // database's cache: what a subscriber does next with the commit (the hub merges it) reads them from memory.
    put: (id: ObjectId, bytes: Buffer, deltaBase?: ObjectId) => db.putWithId(id, bytes, { deltaBase, hashed: true, handedOver: true }),
    // Without flushOnReceive the caller makes the objects durable itself before anything durable refers to them.
    flush: () => (flushOnReceive ? db.flush() : Promise.resolve()),
  };
}
