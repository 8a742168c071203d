import { sha256 } from '../hashing/sha256';
import { ObjectId } from '../ids/ids';
import { TreeEntry } from '../objects/object-types';
import { buildTree, writeTreeFromPaths } from '../objects/tree-builder';
import { decodeTreeNode, EMPTY_TREE_ID } from '../objects/tree.codec';
import { boundaryNames, MemoryObjects } from '../testing/memory-objects';

/**
 * Golden vectors: fixed entries -> fixed tree ids. If one of these changes, every tree and commit id changes with
 * it; that needs a new format version, not an edit here.
 */
const id = (s: string): ObjectId => sha256(Buffer.from(s, 'utf8'));

const SMALL: TreeEntry[] = [
  { name: 'README.md', kind: 'file', executable: false, chunked: false, size: 12, id: id('readme') },
  { name: 'data', kind: 'dir', executable: false, chunked: false, size: 300000, id: id('data dir') },
  { name: 'latest', kind: 'symlink', executable: false, chunked: false, size: 9, id: id('latest target') },
  { name: 'run.sh', kind: 'file', executable: true, chunked: false, size: 40, id: id('script') },
  { name: 'big.bin', kind: 'file', executable: false, chunked: true, size: 1 << 20, id: id('chunk list') },
  { name: 'tool', kind: 'file', executable: true, chunked: true, size: 500000, id: id('tool list') },
  { name: 'é.csv', kind: 'file', executable: false, chunked: false, size: 0, id: id('') },
];

describe('tree golden vectors', () => {
  it('the empty tree', () => {
    expect(EMPTY_TREE_ID).toBe('d2f2a960df4c3a5b3fa08474cfe532896072e517c4b89ade2c1f145c507e487b');
  });

  it('a one-page directory with every mode', async () => {
    const store = new MemoryObjects();
    const tree = await buildTree(store, SMALL);
    const bytes = store.objects.get(tree.id)!;
    expect(bytes.toString('utf8')).toBe(
      'tree 1\n' +
        `f 12 ${id('readme')} README.md\0` +
        `F 1048576 ${id('chunk list')} big.bin\0` +
        `d 300000 ${id('data dir')} data\0` +
        `l 9 ${id('latest target')} latest\0` +
        `x 40 ${id('script')} run.sh\0` +
        `X 500000 ${id('tool list')} tool\0` +
        `f 0 ${id('')} é.csv\0`,
    );
    expect(sha256(bytes)).toBe(tree.id);
    expect(tree).toEqual({ id: '172b2eaa10680c616f77631a35a98dfb42f2f54b4bb4e098572428b5992fc317', size: 1848637 });
  });

  it('a paged directory of 5,000 entries', async () => {
    const store = new MemoryObjects();
    const entries: TreeEntry[] = Array.from({ length: 5000 }, (_, i) => ({
      name: `part-${String(i).padStart(5, '0')}.jsonl`,
      kind: 'file',
      executable: false,
      chunked: i % 7 === 0,
      size: i * 3,
      id: id(`part ${i}`),
    }));
    const tree = await buildTree(store, entries);
    const root = decodeTreeNode(store.objects.get(tree.id)!);
    expect(root.type).toBe('index');
    expect(root.type === 'index' && root.children.length).toBe(20);
    expect(tree).toEqual({ id: 'fd2fb75b82e384b014b0de649ba300e409fc8eff89ac43893441b17a0cd939e6', size: 37492500 });
  });

  it('a directory with five index levels (every name a paging boundary)', async () => {
    const entries: TreeEntry[] = boundaryNames(64).map((name) => ({ name, kind: 'file', executable: false, chunked: false, size: 1, id: id(name) }));
    const tree = await buildTree(new MemoryObjects(), entries);
    expect(tree).toEqual({ id: '6e418cebcba1c801779d6c49dc3176bf8cb772ad6a180dcd9288e63a77b15ee3', size: 64 });
  });

  it('nested trees from paths', async () => {
    const tree = await writeTreeFromPaths(new MemoryObjects(), [
      { path: 'regions/eu/batch-1.csv', entry: { kind: 'file', executable: false, chunked: false, size: 100, id: id('eu 1') } },
      { path: 'regions/na/batch-1.csv', entry: { kind: 'file', executable: false, chunked: false, size: 200, id: id('na 1') } },
      { path: 'regions.txt', entry: { kind: 'file', executable: false, chunked: false, size: 3, id: id('txt') } },
    ]);
    expect(tree).toEqual({ id: '9e0a0b0c588ef8dfaf61293a4614da44c24cb21063c61b1c12215a47af574425', size: 303 });
  });
});
