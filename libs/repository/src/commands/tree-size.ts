import { readTree, TreeId } from '@tributary/core';
import { Repository } from '../repository';

/** Total bytes of a tree: the sum of its top-level entry sizes (directories carry their totals). */
export async function lookupTreeSize(repo: Repository, tree: TreeId): Promise<number> {
  let size = 0;
  for await (const e of readTree(repo.objects, tree)) size += e.size;
  return size;
}
