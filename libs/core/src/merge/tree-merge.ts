import { InvalidArgumentError } from '../errors/trib-error';
import { sha256 } from '../hashing/sha256';
import { TreeId } from '../ids/ids';
import { diffTreeEntries, EntryChange, sameEntry } from '../diff/tree-diff';
import { TreeEntry } from '../objects/object-types';
import { ObjectSink, ObjectSource } from '../objects/object-source';
import { BuiltTree, editTree, TreeEdit } from '../objects/tree-builder';
import { treeSize } from '../objects/tree-reader';
import { compareNames, EMPTY_TREE_ID, validateTreeEntry } from '../objects/tree.codec';
import { cQuote } from '../paths/c-quote';
import { checkNestingDepth } from '../paths/path-rules';

export type MergeConflictKind = 'modify/modify' | 'modify/delete' | 'delete/modify' | 'add/add' | 'rename/rename' | 'rename/delete';

/**
 * A path both sides changed incompatibly. `modify/delete`: ours modified it, theirs deleted it; `delete/modify` the
 * reverse; `rename/rename`: both moved it, to different paths; `rename/delete`: one side moved it, the other deleted
 * it (these two at the old path: followExactRenames).
 */
export interface MergeConflict {
  readonly path: string;
  readonly kind: MergeConflictKind;
}

export interface MergeOptions {
  /** Resolve every conflict by taking this side; a deletion on that side deletes. */
  strategy?: 'ours' | 'theirs';
  /**
   * Called for a file or symlink that both sides changed to different content (base undefined when both added
   * it; a side that only flipped a file's executable bit did not change its content): returns the merged entry (a
   * file or symlink, whose content the callback has already written), or undefined to leave it a conflict. This is
   * where row union of CSV/JSONL appends plugs in. Where there is a base, the merge sets a merged file's executable
   * bit itself (see mergedExecutable), whatever the callback returned.
   */
  mergeFile?: (path: string, base: TreeEntry | undefined, ours: TreeEntry, theirs: TreeEntry) => Promise<TreeEntry | undefined>;
}

export interface MergeResult {
  /** The merged tree; undefined exactly when there are conflicts and no strategy. */
  tree?: BuiltTree;
  /** Every conflicted path in sorted path order, including those a strategy resolved. */
  conflicts: MergeConflict[];
}


/** A merged file's executable bit, three-way: a side that flipped it from base wins (both flipping it agree). */
function mergedExecutable(
  merged: Omit<TreeEntry, 'name'>,
  base: TreeEntry | undefined,
  ours: TreeEntry,
  theirs: TreeEntry,
): boolean {
  if (!base || merged.kind !== 'file') return merged.executable;
  return ours.executable !== base.executable ? ours.executable : theirs.executable;
}

/** Equal but for the name and the executable bit. */
function sameContent(a: TreeEntry, b: TreeEntry): boolean {
  return a.kind === b.kind && a.id === b.id && a.chunked === b.chunked && a.size === b.size;
}

/**
 * When base and both sides are files and at most one side changed the content, the side whose content the merge
 * takes (ours when both made the same change); undefined otherwise. Its executable bit is still to be merged.
 */
function oneSidedContent(base: TreeEntry | undefined, ours: TreeEntry, theirs: TreeEntry): TreeEntry | undefined {
  if (base?.kind !== 'file' || ours.kind !== 'file' || theirs.kind !== 'file') return undefined;
  if (sameContent(ours, base)) return theirs;
  if (sameContent(theirs, base) || sameContent(ours, theirs)) return ours;
  return undefined;
}

/**
 * Three-way merge of trees (base undefined: no common ancestor, as if empty).
 *
 * Per file or symlink path: a path changed on one side only takes that side; identical changes agree; when both
 * changed a file, its content and its executable bit are merged apart (each from the side that changed it); when both
 * changed the content differently, `mergeFile` decides, else it is a conflict (modify/modify, add/add, modify/delete,
 * delete/modify). A path that one side made a file and the other a directory with files is an add/add conflict on
 * that path (unless the file itself already conflicts); under a strategy the chosen side's kind wins. A directory
 * the merge leaves without entries is dropped. With `strategy`, each conflict takes that side. Without one, a
 * conflict leaves `tree` undefined and nothing more is written once the first conflict is found.
 *
 * Cost follows the changes: subtrees, index nodes and pages that are equal where it matters are skipped unread,
 * and the merged directories reuse ours' unchanged nodes (see editTree).
 */
export async function mergeTrees(
  src: ObjectSource,
  sink: ObjectSink,
  base: TreeId | undefined,
  ours: TreeId,
  theirs: TreeId,
  opts: MergeOptions = {},
): Promise<MergeResult> {
  const b = base ?? EMPTY_TREE_ID;
  if (ours === theirs || b === theirs) return { tree: { id: ours, size: await treeSize(src, ours) }, conflicts: [] };
  if (b === ours) return { tree: { id: theirs, size: await treeSize(src, theirs) }, conflicts: [] };
  const merge = new TreeMerge(src, sink, opts);
  const tree = await merge.mergeDir('', b, ours, theirs, 0);
  if (merge.conflicts.length > 0 && !opts.strategy) return { conflicts: merge.conflicts };
  return { tree, conflicts: merge.conflicts };
}

function dirEntry(name: string, tree: BuiltTree): TreeEntry {
  return { name, kind: 'dir', executable: false, chunked: false, id: tree.id, size: tree.size };
}

class TreeMerge {
  readonly conflicts: MergeConflict[] = [];
  /** Set once the result is known to be unusable (a conflict and no strategy): from then on trees are only hashed. */
  private hashOnly = false;
  private readonly out: ObjectSink;

  constructor(
    private readonly src: ObjectSource,
    sink: ObjectSink,
    private readonly opts: MergeOptions,
  ) {
    this.out = { put: async (bytes) => (this.hashOnly ? sha256(bytes) : sink.put(bytes)) };
  }

  /** Merges three versions of one directory (the empty tree for a missing side); the result may be the empty tree. */
  mergeDir(path: string, base: TreeId, ours: TreeId, theirs: TreeId, depth: number): Promise<BuiltTree> {
    checkNestingDepth(path, depth);
    return editTree(this.src, this.out, ours, this.edits(path, base, ours, theirs, depth));
  }

  /** The edits that turn ours into the merge: a join of base->ours and base->theirs by name. */
  private async *edits(path: string, base: TreeId, ours: TreeId, theirs: TreeId, depth: number): AsyncGenerator<TreeEdit> {
    const oursChanges = diffTreeEntries(this.src, base, ours);
    const theirsChanges = diffTreeEntries(this.src, base, theirs);
    let o = await oursChanges.next();
    let t = await theirsChanges.next();
    while (!o.done || !t.done) {
      const c = o.done ? 1 : t.done ? -1 : compareNames(o.value.name, t.value.name);
      if (c < 0) {
        o = await oursChanges.next();
        continue;
      }
      const theirsChange: EntryChange = t.value!;
      if (c > 0) {
        yield { name: theirsChange.name, entry: theirsChange.new };
        t = await theirsChanges.next();
        continue;
      }
      const oursChange: EntryChange = o.value!;
      const name = oursChange.name;
      const childPath = path ? `${path}/${name}` : name;
      const merged = await this.resolve(childPath, name, oursChange.old, oursChange.new, theirsChange.new, depth);
      if (!sameEntry(merged, oursChange.new)) yield { name, entry: merged };
      o = await oursChanges.next();
      t = await theirsChanges.next();
    }
  }

  private async resolve(
    path: string,
    name: string,
    base: TreeEntry | undefined,
    ours: TreeEntry | undefined,
    theirs: TreeEntry | undefined,
    depth: number,
  ): Promise<TreeEntry | undefined> {
    if (sameEntry(ours, theirs)) return ours;
    if (sameEntry(ours, base)) return theirs;
    if (sameEntry(theirs, base)) return ours;
    // Both sides changed this name. A name can be a file on one side and a directory on another, so the file part
    // and the directory part are merged apart, as the per-path rules would, and must not both survive.
    const fileOf = (e?: TreeEntry) => (e?.kind === 'dir' ? undefined : e);
    const dirOf = (e?: TreeEntry) => (e?.kind === 'dir' ? e : undefined);
    const mark = this.conflicts.length;
    const file = ours?.kind !== 'dir' || theirs?.kind !== 'dir' ? await this.resolveFile(path, name, fileOf(base), fileOf(ours), fileOf(theirs)) : undefined;
    const dir = ours?.kind === 'dir' || theirs?.kind === 'dir' ? await this.resolveDir(path, name, dirOf(base), dirOf(ours), dirOf(theirs), depth) : undefined;
    if (!file?.entry || !dir) return file?.entry ?? dir;
    if (!file.conflict) this.conflicts.splice(mark, 0, { path, kind: 'add/add' });
    this.conflicted();
    const chosen = this.opts.strategy === 'theirs' ? theirs : ours;
    return chosen?.kind === 'dir' ? dir : file.entry;
  }

  private async resolveFile(
    path: string,
    name: string,
    base: TreeEntry | undefined,
    ours: TreeEntry | undefined,
    theirs: TreeEntry | undefined,
  ): Promise<{ entry?: TreeEntry; conflict: boolean }> {
    if (sameEntry(ours, theirs)) return { entry: ours, conflict: false };
    if (sameEntry(ours, base)) return { entry: theirs, conflict: false };
    if (sameEntry(theirs, base)) return { entry: ours, conflict: false };
    const merged = ours && theirs && (await this.mergedFile(path, name, base, ours, theirs));
    if (merged) return { entry: merged, conflict: false };
    const kind: MergeConflictKind = !base ? 'add/add' : !ours ? 'delete/modify' : !theirs ? 'modify/delete' : 'modify/modify';
    this.conflicts.push({ path, kind });
    this.conflicted();
    const entry = this.opts.strategy === 'theirs' ? theirs : this.opts.strategy === 'ours' ? ours : (ours ?? theirs);
    return { entry, conflict: true };
  }

  /** A path both sides changed, not to a directory: the merged entry, or undefined to leave it a conflict. */
  private async mergedFile(
    path: string,
    name: string,
    base: TreeEntry | undefined,
    ours: TreeEntry,
    theirs: TreeEntry,
  ): Promise<TreeEntry | undefined> {
    const merged = oneSidedContent(base, ours, theirs) ?? (await this.opts.mergeFile?.(path, base, ours, theirs));
    if (!merged) return undefined;
    const entry: TreeEntry = { ...merged, name, executable: mergedExecutable(merged, base, ours, theirs) };
    validateTreeEntry(entry);
    if (entry.kind === 'dir') {
      throw new InvalidArgumentError(`mergeFile for ${cQuote(path)} returned a directory`);
    }
    return entry;
  }

  private async resolveDir(
    path: string,
    name: string,
    base: TreeEntry | undefined,
    ours: TreeEntry | undefined,
    theirs: TreeEntry | undefined,
    depth: number,
  ): Promise<TreeEntry | undefined> {
    if (sameEntry(ours, theirs)) return ours;
    if (sameEntry(ours, base)) return theirs;
    if (sameEntry(theirs, base)) return ours;
    const merged = await this.mergeDir(path, base?.id ?? EMPTY_TREE_ID, ours?.id ?? EMPTY_TREE_ID, theirs?.id ?? EMPTY_TREE_ID, depth + 1);
    return merged.id === EMPTY_TREE_ID ? undefined : dirEntry(name, merged);
  }

  private conflicted(): void {
    if (!this.opts.strategy) this.hashOnly = true;
  }
}
