declare const brand: unique symbol;
/** A string that the type system keeps apart from other strings of the same shape. */
export type Brand<T, B extends string> = T & { readonly [brand]: B };

/** Lowercase hex SHA-256 of an object's canonical bytes: 64 characters. */
export type ObjectId = Brand<string, 'ObjectId'>;
/** Id of a chunk: SHA-256 of the chunk's raw bytes. */
export type ChunkId = ObjectId;
/** Id of a chunk-list node (the Merkle tree behind a file of two or more chunks). */
export type ChunkListId = ObjectId;
export type TreeId = ObjectId;
export type CommitId = ObjectId;
export type TagId = ObjectId;

/** A branch name such as `main` or `feature/x`. */
export type BranchName = Brand<string, 'BranchName'>;
export type TagName = Brand<string, 'TagName'>;
/** A ref's full name inside the repository, such as `refs/heads/main` or `HEAD`. */
export type RefName = Brand<string, 'RefName'>;
/** A topic such as `datasets/heart/na-aws`. */
export type TopicName = Brand<string, 'TopicName'>;
export type SubscriberId = Brand<string, 'SubscriberId'>;

const OBJECT_ID = /^[0-9a-f]{64}$/;

export function isObjectId(s: string): s is ObjectId {
  return OBJECT_ID.test(s);
}

export const ID_BYTES = 32;
