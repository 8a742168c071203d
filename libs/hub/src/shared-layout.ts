import { CommitId, diffTrees, editPath, FileRef, lookupPath, ObjectSink, ObjectSource, recordFormatOf, TreeEntry, TreeId } from '@tributary/core';
import { CommitReader } from '@tributary/repository';
import { LastMerge } from './merge-index';
import { insertRegionalRecords, normaliseRecordFile, RecordBlock, recordBlock, TopicBlocks } from './record-append';

const CACHE_LIMIT = 50_000;

/**
 * The other topics' blocks of a shared record file on main (see TopicBlocks), measured on each topic's last-merged
 * version of the file. Blocks are cached by (regional commit, path), as a topic's block only changes when it is
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
      const block = await this.block(last.source, path);
      if (other < topic) {
        before += block.size;
        headerBefore ||= block.header;
      } else {
        after += block.size;
      }
    }
    return { before, after, headerBefore };
  }

  private async block(source: CommitId, path: string): Promise<RecordBlock> {
    const key = `${source}\0${path}`;
    let block = this.blocks.get(key);
    if (block === undefined) {
      const entry = await lookupPath(this.src, (await this.commits.readCommit(source)).tree, path);
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
 * - main had no such file, or exactly the topic's last version (so no other topic has records or a header of its
 *   own in it): the topic's version, with a final `\n` added when it has records but lacks one;
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
    if (ours?.kind === 'file' && ours.id === t.id) {
      file = await insert(change.path, change.old?.kind === 'file' ? fileRef(change.old) : undefined, fileRef(ours), fileRef(t));
      if (!file) {
        conflicts.push(`${change.path} (modify/modify)`);
        continue;
      }
    } else {
      file = await normaliseRecordFile(src, sink, change.path, fileRef(t));
    }
    if (file.id !== merged.id) tree = (await editPath(src, sink, tree, change.path, { ...merged, id: file.id, chunked: file.chunked, size: file.size })).id;
  }
  return { tree, conflicts };
}

export function fileRef(e: TreeEntry): FileRef {
  return { id: e.id, chunked: e.chunked, size: e.size };
}
