import { TribError } from '../errors/trib-error';
import { TreeId } from '../ids/ids';
import { TreeEntry } from '../objects/object-types';
import { ObjectSource } from '../objects/object-source';
import { CursorItem, itemFirstName, TreeCursor, walkFiles } from '../objects/tree-reader';
import { compareNames, EMPTY_TREE_ID } from '../objects/tree.codec';
import { checkNestingDepth } from '../paths/path-rules';

/** What git's mode says of a file or symlink entry: `file` (100644), `executable` (100755) or `symlink` (120000). */
export type FileMode = 'file' | 'executable' | 'symlink';

/** The mode of a file or symlink entry; undefined for none, or a directory. */
export function fileMode(entry: TreeEntry | undefined): FileMode | undefined {
  if (!entry || entry.kind === 'dir') return undefined;
  return entry.kind === 'symlink' ? 'symlink' : entry.executable ? 'executable' : 'file';
}

/** One changed file or symlink between two trees. */
export interface TreeChange {
  readonly path: string;
  readonly status: 'added' | 'removed' | 'modified';
  readonly old?: TreeEntry;
  readonly new?: TreeEntry;
}

/** One name whose entry differs between two versions of a directory; a missing side is undefined. */
export interface EntryChange {
  readonly name: string;
  readonly old?: TreeEntry;
  readonly new?: TreeEntry;
}


/** Same content and metadata (kind, executable bit, chunking, size, id); names are not compared. */
export function sameEntry(a: TreeEntry | undefined, b: TreeEntry | undefined): boolean {
  if (!a || !b) return a === b;
  return a.kind === b.kind && a.id === b.id && a.executable === b.executable && a.chunked === b.chunked && a.size === b.size;
}

/**
 * The names whose entries differ between two versions of one directory (undefined: empty), in name order, without
 * descending into subdirectories. Index nodes and pages with equal ids in both versions are skipped unread, so the
 * objects read follow the changes, not the directory's size.
 */
export async function* diffTreeEntries(src: ObjectSource, a: TreeId | undefined, b: TreeId | undefined): AsyncGenerator<EntryChange> {
  if ((a ?? EMPTY_TREE_ID) === (b ?? EMPTY_TREE_ID)) return;
  const ca = await TreeCursor.open(src, a);
  const cb = await TreeCursor.open(src, b);
  for (;;) {
    const ha = ca.peek();
    const hb = cb.peek();
    if (!ha && !hb) return;
    if (ha?.type === 'node' && hb?.type === 'node' && ha.id === hb.id) {
      ca.pop();
      cb.pop();
      continue;
    }
    const c = !ha ? 1 : !hb ? -1 : compareNames(itemFirstName(ha), itemFirstName(hb));
    // A node starting at or before the other side's next name may hold that name: open it before comparing entries.
    let expanded = false;
    if (c <= 0 && ha?.type === 'node') {
      await ca.expand();
      expanded = true;
    }
    if (c >= 0 && hb?.type === 'node') {
      await cb.expand();
      expanded = true;
    }
    if (expanded) continue;
    if (c < 0) {
      const old = entryOf(ca.pop());
      yield { name: old.name, old };
    } else if (c > 0) {
      const neu = entryOf(cb.pop());
      yield { name: neu.name, new: neu };
    } else {
      const old = entryOf(ca.pop());
      const neu = entryOf(cb.pop());
      if (!sameEntry(old, neu)) yield { name: old.name, old, new: neu };
    }
  }
}

function entryOf(item: CursorItem | undefined): TreeEntry {
  if (item?.type !== 'entry') throw new TribError('INTERNAL', 'diffTreeEntries: expected an entry at the cursor');
  return item.entry;
}

/**
 * Files and symlinks that differ between two trees (undefined: empty), in sorted path order (component by
 * component, by UTF-8 bytes: the order of a depth-first walk). A removed or added directory yields every path
 * beneath it; a file replaced by a directory yields its removal, then the additions beneath it (and the reverse);
 * any change of id, size, kind, chunking or the executable bit is `modified`. Subtrees and pages with equal ids are
 * skipped unread, so the objects read follow the changed paths, not the tree's size.
 */
export async function* diffTrees(src: ObjectSource, a: TreeId | undefined, b: TreeId | undefined): AsyncGenerator<TreeChange> {
  yield* diffDir(src, a, b, '', 0);
}

async function* diffDir(src: ObjectSource, a: TreeId | undefined, b: TreeId | undefined, prefix: string, depth: number): AsyncGenerator<TreeChange> {
  checkNestingDepth(prefix, depth);
  for await (const { name, old, new: neu } of diffTreeEntries(src, a, b)) {
    const path = prefix ? `${prefix}/${name}` : name;
    const oldDir = old?.kind === 'dir' ? old : undefined;
    const newDir = neu?.kind === 'dir' ? neu : undefined;
    if (oldDir && newDir) {
      yield* diffDir(src, oldDir.id, newDir.id, path, depth + 1);
      continue;
    }
    const oldFile = oldDir ? undefined : old;
    const newFile = newDir ? undefined : neu;
    if (oldFile && newFile) yield { path, status: 'modified', old: oldFile, new: newFile };
    else if (oldFile) yield { path, status: 'removed', old: oldFile };
    else if (newFile) yield { path, status: 'added', new: newFile };
    if (oldDir) for await (const f of walkFiles(src, oldDir.id, path)) yield { path: f.path, status: 'removed', old: f.entry };
    if (newDir) for await (const f of walkFiles(src, newDir.id, path)) yield { path: f.path, status: 'added', new: f.entry };
  }
}
