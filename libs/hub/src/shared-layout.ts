import {
  diffTrees,
  editPath,
  FileRef,
  lookupPath,
  ObjectSink,
  ObjectSource,
  recordFormatOf,
  sameEntry,
  sha256,
  TreeEntry,
  TreeId,
} from '@tributary/core';
import { CommitReader } from '@tributary/repository';
import { LastMerge, topicTree } from './merge-index';
import { insertRegionalRecords, layRecordFile, leavesQuoteOpen, normaliseRecordFile, RecordBlock, recordBlock, TopicBlocks } from './record-append';

const CACHE_LIMIT = 50_000;

/**
 * The other topics' blocks of a shared record file on main (see TopicBlocks), measured on each topic's last-merged
 * version of the file (its view, when the merge held paths back). Blocks are cached by (regional commit or view, path), as a topic's block only changes when it is
 * merged again: once a path's blocks are known, a merge reads only those of topics merged since (a path lookup and
 * the first and last chunk of their file each), plus an in-memory pass over every topic.
 */
export class SharedRecordLayout {
  private readonly blocks = new Map<string, RecordBlock>();

  constructor(
    private readonly src: ObjectSource,
    private readonly commits: CommitReader,
  ) {}

  /** The blocks before and after `topic`'s, given the newest merge of every topic on main. */
  async blocksAround(merges: ReadonlyMap<string, LastMerge>, topic: string, path: string): Promise<TopicBlocks> {
    let before = 0;
    let after = 0;
    let headerBefore = false;
    for (const [other, last] of merges) {
      if (other === topic) continue;
      const block = await this.block(last, path);
      if (other < topic) {
        before += block.size;
        headerBefore ||= block.header;
      } else {
        after += block.size;
      }
    }
    return { before, after, headerBefore };
  }

  /** Whether a topic other than `topic` has a version of the file that holds a header or records. */
  async othersHold(merges: ReadonlyMap<string, LastMerge>, topic: string, path: string): Promise<boolean> {
    for (const [other, last] of merges) if (other !== topic && (await this.block(last, path)).held) return true;
    return false;
  }

  private async block(last: LastMerge, path: string): Promise<RecordBlock> {
    const key = `${last.view ?? last.source}\0${path}`;
    let block = this.blocks.get(key);
    if (block === undefined) {
      const entry = await lookupPath(this.src, await topicTree(this.commits, last), path);
      block = await recordBlock(this.src, path, entry?.kind === 'file' ? fileRef(entry) : undefined);
      if (this.blocks.size >= CACHE_LIMIT) this.blocks.clear();
      this.blocks.set(key, block);
    }
    return block;
  }
}

/** Inserts a topic's new records into main's version of a record file, in the topic's block. */
export type RecordInserter = (path: string, base: FileRef | undefined, ours: FileRef, theirs: FileRef) => Promise<FileRef | undefined>;

export function recordInserter(src: ObjectSource, sink: ObjectSink, blocks: (path: string) => Promise<TopicBlocks>): RecordInserter {
  return async (path, base, ours, theirs) => insertRegionalRecords(src, sink, path, base, ours, theirs, await blocks(path));
}

/**
 * The tree merge takes a side whole, without asking mergeFile, when only one side changed a path or both made the
 * same change. For record files the topic changed that still has to fit the shared layout:
 * - main had no such file, or exactly the topic's last version while no other topic's version holds anything (a
 *   header or records): the topic's version, with a final `\n` added when it has records but lacks one; a CSV
 *   version that leaves a quoted field open is a conflict, as insertRegionalRecords has it, or other topics' records
 *   laid after it later would be read into that field;
 * - main had exactly the topic's last version, and another topic's version holds a header but adds nothing visible
 *   to main (it is only the same header): the topic's new records go in as if that version had come first, so a
 *   change that is not the last version plus whole records (a new header, a truncation) is a conflict, whatever
 *   order the topics arrived in;
 * - main already had the topic's new version (another topic wrote the same bytes): the topic's new records still go
 *   into its own block, so the file does not depend on which of them came first; a version that is not the last
 *   one plus whole records is then a conflict.
 * `inserted` holds the paths mergeFile already merged. Returns the fixed tree, or the conflicted paths.
 */
export async function fitTakenRecordFiles(
  src: ObjectSource,
  sink: ObjectSink,
  trees: { base: TreeId | undefined; ours: TreeId; theirs: TreeId; merged: TreeId },
  inserted: ReadonlySet<string>,
  insert: RecordInserter,
  othersHold: (path: string) => Promise<boolean>,
): Promise<{ tree: TreeId; conflicts: string[] }> {
  let tree = trees.merged;
  const conflicts: string[] = [];
  for await (const change of diffTrees(src, trees.base, trees.theirs)) {
    const t = change.new;
    if (t?.kind !== 'file' || !recordFormatOf(change.path) || inserted.has(change.path)) continue;
    const merged = await lookupPath(src, tree, change.path);
    if (merged?.kind !== 'file' || merged.id !== t.id) continue;
    const ours = await lookupPath(src, trees.ours, change.path);
    let file: FileRef | undefined;
    // Main holds a file here, so it was the topic's new version or its last one (else mergeFile would have merged it).
    if (ours?.kind === 'file' && (ours.id === t.id || (await othersHold(change.path)))) {
      file = await insert(change.path, change.old?.kind === 'file' ? fileRef(change.old) : undefined, fileRef(ours), fileRef(t));
      if (!file) {
        conflicts.push(`${change.path} (modify/modify)`);
        continue;
      }
    } else {
      if (await leavesQuoteOpen(src, change.path, change.old?.kind === 'file' ? fileRef(change.old) : undefined, fileRef(t))) {
        conflicts.push(`${change.path} (unclosed quote)`);
        continue;
      }
      file = await normaliseRecordFile(src, sink, change.path, fileRef(t));
    }
    if (file.id !== merged.id) tree = (await editPath(src, sink, tree, change.path, { ...merged, id: file.id, chunked: file.chunked, size: file.size })).id;
  }
  return { tree, conflicts };
}

/** A topic's last-merged entry at a path. */
export interface TopicVersion {
  readonly topic: string;
  readonly entry: TreeEntry;
}

/** What the other topics' last-merged versions hold at a path, in topic order; empty when none holds it. */
export type OtherTopicsAt = (path: string) => Promise<readonly TopicVersion[]>;

/** Topic order, as TopicBlocks has it: by UTF-16 code unit. */
export function byTopic(a: { topic: string }, b: { topic: string }): number {
  return a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : 0;
}

/** Hashes what a layout would write, storing nothing: to compare a layout with main's file. */
const HASH_ONLY: ObjectSink = { put: async (bytes) => sha256(bytes) };

/**
 * Record files the topic removed whose main version is not the topic's last one (other topics' blocks share it).
 * The tree merge would call each a modify/delete conflict, so it is given `theirs` with those paths as base has
 * them, and keepOtherTopicsPaths takes the topic's block out afterwards. Returns that tree and the paths, each with
 * the topic's last version.
 */
export async function sharedRecordRemovals(
  src: ObjectSource,
  sink: ObjectSink,
  trees: { base: TreeId | undefined; ours: TreeId; theirs: TreeId },
): Promise<{ theirs: TreeId; removed: Map<string, TreeEntry> }> {
  let theirs = trees.theirs;
  const removed = new Map<string, TreeEntry>();
  for await (const change of diffTrees(src, trees.base, trees.theirs)) {
    const before = change.old;
    if (change.new || before?.kind !== 'file' || !recordFormatOf(change.path)) continue;
    const ours = await lookupPath(src, trees.ours, change.path);
    if (ours?.kind !== 'file' || sameEntry(ours, before)) continue;
    removed.set(change.path, before);
    theirs = (await editPath(src, sink, theirs, change.path, before)).id;
  }
  return { theirs, removed };
}

/**
 * The tree merge takes a topic's change to a path whole when main still had the topic's last version there. Other
 * topics may hold that path too, and then main must stay what their versions and the topic's new one make of it,
 * whatever order they came in:
 * - the topic removed the path: main keeps what the other topics hold there: their file (the same for all of
 *   them, as two different versions of a path are a conflict), or a record file laid out from their blocks;
 * - the topic changed a path that is not a record file while another topic holds another version of it: a
 *   conflict, as if the change had come after theirs (record files follow fitTakenRecordFiles).
 * `removed` (sharedRecordRemovals) are record files whose main version holds other topics' blocks: the topic's
 * block is taken out, if main's file is indeed the layout of the blocks (else a modify/delete conflict).
 * Costs a lookup per topic for each path the topic changed or removed, nothing for added ones; a removed record
 * file is laid out afresh, reading the other topics' versions whole.
 */
export async function keepOtherTopicsPaths(
  src: ObjectSource,
  sink: ObjectSink,
  trees: { base: TreeId | undefined; ours: TreeId; theirs: TreeId; merged: TreeId },
  othersAt: OtherTopicsAt,
  topic: string,
  removed: ReadonlyMap<string, TreeEntry>,
): Promise<{ tree: TreeId; conflicts: string[] }> {
  let tree = trees.merged;
  const conflicts: string[] = [];
  for await (const change of diffTrees(src, trees.base, trees.theirs)) {
    const { old: before, new: after, path } = change;
    const record = recordFormatOf(path) !== undefined;
    if (!before || (after && record && after.kind === 'file' && before.kind === 'file')) continue;
    const ours = await lookupPath(src, trees.ours, path);
    if (removed.has(path)) {
      const others = await othersAt(path);
      const expected = await layRecordFile(src, HASH_ONLY, path, [...others, { topic, entry: before }].sort(byTopic).map((v) => fileRef(v.entry)));
      const kept = others.length === 0 ? undefined : await keptRecordFile(src, sink, path, others);
      if (ours?.kind !== 'file' || expected?.id !== ours.id || (others.length > 0 && !kept)) conflicts.push(`${path} (modify/delete)`);
      else tree = (await editPath(src, sink, tree, path, kept)).id;
      continue;
    }
    if (!sameEntry(ours, before)) continue;
    const others = await othersAt(path);
    if (others.length === 0) continue;
    if (after) {
      // Other topics that already hold the new version agree with it; one holding another version does not.
      if (others.some((o) => !sameEntry(o.entry, after))) conflicts.push(`${path} (modify/modify)`);
      continue;
    }
    const kept = record ? await keptRecordFile(src, sink, path, others) : others[0].entry;
    if (!kept) conflicts.push(`${path} (delete/modify)`);
    else tree = (await editPath(src, sink, tree, path, kept)).id;
  }
  return { tree, conflicts };
}

/** The record file the other topics' versions make, as an entry; undefined when they cannot be laid out together. */
async function keptRecordFile(src: ObjectSource, sink: ObjectSink, path: string, others: readonly TopicVersion[]): Promise<TreeEntry | undefined> {
  if (others.some((o) => o.entry.kind !== 'file')) return undefined;
  const file = await layRecordFile(src, sink, path, others.map((o) => fileRef(o.entry)));
  return file && { ...others[0].entry, id: file.id, chunked: file.chunked, size: file.size };
}

export function fileRef(e: TreeEntry): FileRef {
  return { id: e.id, chunked: e.chunked, size: e.size };
}
