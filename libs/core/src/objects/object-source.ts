import { ObjectId } from '../ids/ids';

/**
 * Read access to verified objects, the only I/O the core algorithms see.
 * Contract: `get` resolves the object's canonical bytes, already checked against the id, or rejects with
 * NotFoundError / IntegrityError. Implementations may count reads; callers must not assume caching.
 */
export interface ObjectSource {
  get(id: ObjectId): Promise<Buffer>;
}

/** Write access used by builders: `put` stores canonical bytes under their id and returns the id. Idempotent. */
export interface ObjectSink {
  put(bytes: Buffer): Promise<ObjectId>;
}
