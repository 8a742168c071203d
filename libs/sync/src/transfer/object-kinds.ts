import { InvalidArgumentError, TreeEntry } from '@tributary/core';
import type { ObjectKind__Output } from '../generated/tributary/v1/ObjectKind';

export type ObjectKindName = Exclude<ObjectKind__Output, 'OBJECT_KIND_UNSPECIFIED'>;

export const CHUNK: ObjectKindName = 'OBJECT_KIND_CHUNK';
export const CHUNK_LIST: ObjectKindName = 'OBJECT_KIND_CHUNK_LIST';
export const TREE: ObjectKindName = 'OBJECT_KIND_TREE';
export const COMMIT: ObjectKindName = 'OBJECT_KIND_COMMIT';

const KINDS: readonly string[] = [CHUNK, CHUNK_LIST, TREE, COMMIT];

/** The kind of object a tree entry's id names. */
export function entryObjectKind(e: TreeEntry): ObjectKindName {
  if (e.kind === 'dir') return TREE;
  return e.kind === 'file' && e.chunked ? CHUNK_LIST : CHUNK;
}

/** A kind as a person says it: `chunk`, `chunk list`, `tree`, `commit`. */
export function kindWord(kind: ObjectKindName): string {
  return kind.slice('OBJECT_KIND_'.length).toLowerCase().replace('_', ' ');
}

/** Checks a kind received on the wire. Throws InvalidArgumentError for an unknown or unspecified kind. */
export function parseObjectKind(kind: unknown): ObjectKindName {
  if (typeof kind === 'string' && KINDS.includes(kind)) return kind as ObjectKindName;
  throw new InvalidArgumentError(`object frame has no valid kind (${String(kind)})`);
}
