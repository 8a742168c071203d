import { FailedPreconditionError } from '../errors/trib-error';
import { TreeId } from '../ids/ids';
import { quotePath } from '../paths/c-quote';
import { splitRelativePath } from '../paths/path-rules';
import { TreeEntry } from './object-types';
import { ObjectSink, ObjectSource } from './object-source';
import { BuiltTree, editTree } from './tree-builder';
import { lookupEntry } from './tree-reader';
import { EMPTY_TREE_ID } from './tree.codec';

/**
 * Sets (or with `entry` undefined removes) one path in a tree and returns the new root, without a working copy:
 * only the directories on the path are read and rewritten (editTree on each), so the cost follows the path's
 * depth, not the tree's size, and the result is the canonical tree. Missing directories are created; a directory
 * a removal leaves empty is dropped. `root` undefined means the empty tree.
 * Throws InvalidArgumentError for an unsafe path, FailedPreconditionError when a component other than the last is
 * an existing file or symlink.
 */
export async function editPath(
  src: ObjectSource,
  sink: ObjectSink,
  root: TreeId | undefined,
  path: string,
  entry: Omit<TreeEntry, 'name'> | undefined,
): Promise<BuiltTree> {
  const parts = splitRelativePath(path);
  const edit = async (tree: TreeId | undefined, depth: number): Promise<BuiltTree> => {
    const name = parts[depth];
    if (depth === parts.length - 1) return editTree(src, sink, tree, [{ name, entry: entry && { ...entry, name } }]);
    const existing = tree === undefined ? undefined : await lookupEntry(src, tree, name);
    if (existing && existing.kind !== 'dir') {
      throw new FailedPreconditionError(`cannot write ${quotePath(path)}: ${quotePath(parts.slice(0, depth + 1).join('/'))} is a ${existing.kind}`);
    }
    if (!existing && !entry) return editTree(src, sink, tree, []);
    const child = await edit(existing?.id, depth + 1);
    const dropped = child.id === EMPTY_TREE_ID;
    return editTree(src, sink, tree, [
      { name, entry: dropped ? undefined : { name, kind: 'dir', executable: false, chunked: false, id: child.id, size: child.size } },
    ]);
  };
  return edit(root, 0);
}
