import { ChunkId, CommitId, isObjectId, ObjectId, TreeId } from '../ids/ids';

/**
 * The object model. Every id is the SHA-256 of the object's canonical bytes, so ids depend on content and
 * metadata only, never on the history that produced them.
 *
 * - chunk: raw file bytes cut by content-defined chunking. id = sha256(bytes).
 * - chunk list: `list 1\n` + u8 level + repeated (32-byte child id, LEB128 child byte size). Level 0 children are
 *   chunks, level k children are level k-1 lists. A file of two or more chunks is the root of such a tree.
 * - tree: a directory, `tree 1\n` + entries, or for a large directory an index of tree pages (`tidx 1\n`).
 * - commit: `commit 1\n` + canonical JSON.
 * - tag: `tag 1\n` + canonical JSON (annotated tags only; a lightweight tag is a ref to a commit).
 */
export type EntryKind = 'file' | 'dir' | 'symlink';

export interface TreeEntry {
  /** One path segment, validated by `validateEntryName`. */
  readonly name: string;
  readonly kind: EntryKind;
  /** Executable bit; always false for dirs and symlinks. */
  readonly executable: boolean;
  /**
   * Bytes: file length; symlink target length; for a dir, the total of all file and link sizes beneath it, so a
   * commit's dataset size is its root tree's size.
   */
  readonly size: number;
  /**
   * file: a chunk id when `chunked` is false (files of zero or one chunk), else a chunk-list root id.
   * symlink: the chunk holding the link target. dir: a tree id.
   */
  readonly id: ObjectId;
  /** True when `id` is a chunk-list root rather than a single chunk. Only files can be chunked. */
  readonly chunked: boolean;
}

export type Annotations = Readonly<Record<string, string>>;

export interface Commit {
  readonly tree: TreeId;
  /** First parent first. Empty for a root commit, two for a merge. */
  readonly parents: readonly CommitId[];
  readonly author: string;
  /** UTC, ISO 8601 with milliseconds, e.g. `2026-11-24T04:49:11.123Z`. */
  readonly time: string;
  readonly message: string;
  readonly annotations: Annotations;
}

/**
 * The annotation whose value names a tree a commit depends on besides its own: a hub merge's view of a region
 * (the region's tree with paths held back from a parked conflict). Reachability follows it as it follows `tree`, so
 * gc keeps that tree and verify checks it, and a transfer of the commit carries it.
 */
export const VIEW_TREE_ANNOTATION = 'trib.view';

/** The tree `c` names by VIEW_TREE_ANNOTATION, if its value is an object id (anything else names nothing). */
export function viewTreeOf(c: Commit): TreeId | undefined {
  const view = c.annotations[VIEW_TREE_ANNOTATION];
  return view !== undefined && isObjectId(view) ? (view as TreeId) : undefined;
}

export interface Tag {
  readonly object: CommitId;
  readonly name: string;
  readonly tagger: string;
  readonly time: string;
  readonly message: string;
  readonly annotations: Annotations;
}

/** A chunk reference inside a file: its id and its length in bytes. */
export interface ChunkRef {
  readonly id: ChunkId;
  readonly size: number;
}

/** What is needed to read a file's bytes: its root id, whether that id is a chunk list, and its length. */
export interface FileRef {
  readonly id: ObjectId;
  readonly chunked: boolean;
  readonly size: number;
}
