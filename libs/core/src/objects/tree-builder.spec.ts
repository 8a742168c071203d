import fc from 'fast-check';
import { FailedPreconditionError, IntegrityError, InvalidArgumentError } from '../errors/trib-error';
import { TreeId } from '../ids/ids';
import { boundaryNames, fakeId, MemoryObjects, plainNames } from '../testing/memory-objects';
import { TreeEntry } from './object-types';
import { buildTree, editTree, TreeBuilder, TreeEdit, writeTreeFromPaths } from './tree-builder';
import { readTree, walkFiles } from './tree-reader';
import { compareNames, decodeTreeNode, EMPTY_TREE_ID, encodeTreeIndex, encodeTreePage, MAX_NODE_ITEMS, TreeNode } from './tree.codec';

const file = (name: string, seed: string | number = name, size = 10): TreeEntry => ({
  name,
  kind: 'file',
  executable: false,
  chunked: false,
  size,
  id: fakeId(seed),
});
const sorted = (names: string[]) => [...names].sort(compareNames);

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

/** The node structure of a directory: its pages' entry counts, per level from the root down. */
async function shape(store: MemoryObjects, id: TreeId): Promise<{ levels: number; pages: number[] }> {
  const pages: number[] = [];
  let levels = 0;
  const visit = async (nodeId: TreeId, depth: number): Promise<void> => {
    const node: TreeNode = decodeTreeNode(store.objects.get(nodeId)!);
    if (node.type === 'page') {
      pages.push(node.entries.length);
      levels = depth;
      return;
    }
    for (const c of node.children) await visit(c.id, depth + 1);
  };
  await visit(id, 0);
  return { levels, pages };
}

describe('TreeBuilder', () => {
  it('writes a small directory as one page with its total size', async () => {
    const store = new MemoryObjects();
    const b = new TreeBuilder(store);
    await b.add(file('a', 1, 5));
    await b.add({ name: 'd', kind: 'dir', executable: false, chunked: false, size: 100, id: fakeId('d') });
    await b.add({ name: 'l', kind: 'symlink', executable: false, chunked: false, size: 3, id: fakeId('l') });
    const { id, size } = await b.finish();
    expect(size).toBe(108);
    expect(store.objects.size).toBe(1);
    expect(decodeTreeNode(store.objects.get(id)!).type).toBe('page');
  });

  it('writes the empty directory for no entries', async () => {
    const store = new MemoryObjects();
    expect(await new TreeBuilder(store).finish()).toEqual({ id: EMPTY_TREE_ID, size: 0 });
    expect(store.objects.has(EMPTY_TREE_ID)).toBe(true);
  });

  it('rejects out-of-order and duplicate entries, invalid entries, and use after finish', async () => {
    const store = new MemoryObjects();
    const b = new TreeBuilder(store);
    await b.add(file('b'));
    await expect(b.add(file('a'))).rejects.toThrow(InvalidArgumentError);
    await expect(b.add(file('b'))).rejects.toThrow(/duplicate/);
    await expect(b.add(file('.trib'))).rejects.toThrow(InvalidArgumentError);
    await expect(b.add({ ...file('c'), size: -1 })).rejects.toThrow(InvalidArgumentError);
    await b.add(file('c'));
    await b.finish();
    await expect(b.add(file('d'))).rejects.toThrow(FailedPreconditionError);
    await expect(b.finish()).rejects.toThrow(FailedPreconditionError);
  });

  it('orders by UTF-8 bytes: a 4-byte character sorts after U+FB00', async () => {
    const b = new TreeBuilder(new MemoryObjects());
    await b.add(file('ﬀ'));
    await b.add(file('😀'));
    const c = new TreeBuilder(new MemoryObjects());
    await c.add(file('😀'));
    await expect(c.add(file('ﬀ'))).rejects.toThrow(InvalidArgumentError);
  });

  it('rejects concurrent use', async () => {
    const b = new TreeBuilder(new MemoryObjects());
    const first = b.add(file('a'));
    await expect(b.add(file('b'))).rejects.toThrow(FailedPreconditionError);
    await first;
  });

  it('splits a large directory into content-defined pages under an index', async () => {
    const store = new MemoryObjects();
    const entries = sorted(plainNames(3000, 'f').concat(boundaryNames(12, 'f'))).map((n) => file(n));
    const { id, size } = await buildTree(store, entries);
    expect(size).toBe(entries.length * 10);
    const { levels, pages } = await shape(store, id);
    expect(levels).toBe(1);
    expect(pages.reduce((a, b) => a + b, 0)).toBe(entries.length);
    expect(pages.length).toBeGreaterThanOrEqual(13);
    // Every page but the last ends with a boundary name (or at the cap).
    const got = await collect(readTree(store, id));
    expect(got).toEqual(entries);
  });

  it('closes a page at the item cap when no boundary name comes', async () => {
    const store = new MemoryObjects();
    const entries = sorted(plainNames(MAX_NODE_ITEMS * 2 + 5)).map((n) => file(n));
    const { id } = await buildTree(store, entries);
    expect((await shape(store, id)).pages).toEqual([MAX_NODE_ITEMS, MAX_NODE_ITEMS, 5]);
  });

  it('builds several index levels when pages are small', async () => {
    // Boundary names close every page at two entries, and every index node at two children.
    const store = new MemoryObjects();
    const entries = sorted(boundaryNames(64)).map((n) => file(n));
    const { id } = await buildTree(store, entries);
    const { levels, pages } = await shape(store, id);
    expect(pages).toEqual(Array(32).fill(2));
    expect(levels).toBe(5);
    expect(await collect(readTree(store, id))).toEqual(entries);
  });

  it('writes pages as they close, before finish', async () => {
    const store = new MemoryObjects();
    const b = new TreeBuilder(store);
    for (const n of sorted(plainNames(5000))) await b.add(file(n));
    expect(store.puts).toBeGreaterThanOrEqual(2);
    await b.finish();
  });

  it('an insertion into a big directory rewrites only the nodes around it', async () => {
    const store = new MemoryObjects();
    const names = sorted(plainNames(20000, 'f').concat(boundaryNames(80, 'f')));
    const before = await buildTree(store, names.map((n) => file(n)));
    const existing = new Set(store.objects.keys());
    const after = await buildTree(store, [...names, 'f5000x'].map((n) => file(n)));
    const fresh = [...store.objects.keys()].filter((k) => !existing.has(k));
    expect(after.id).not.toBe(before.id);
    expect(fresh.length).toBeLessThanOrEqual(4);
  });

  it('buildTree sorts its input and rejects duplicates', async () => {
    const store = new MemoryObjects();
    const a = await buildTree(store, [file('b'), file('a'), file('c')]);
    const b = await buildTree(store, [file('a'), file('b'), file('c')]);
    expect(a).toEqual(b);
    await expect(buildTree(store, [file('a'), file('a')])).rejects.toThrow(InvalidArgumentError);
  });
});

describe('writeTreeFromPaths', () => {
  const at = (path: string, seed: string | number = path, size = 10) => {
    const { name: _name, ...entry } = file('x', seed, size);
    return { path, entry };
  };

  it('builds nested trees whose ids match building each directory by hand', async () => {
    const store = new MemoryObjects();
    const root = await writeTreeFromPaths(store, [at('a/b'), at('a/c/d', 'd', 5), at('a.c'), at('z')]);
    const c = await buildTree(store, [file('d', 'd', 5)]);
    const a = await buildTree(store, [file('b', 'a/b'), { name: 'c', kind: 'dir', executable: false, chunked: false, ...c }]);
    const manual = await buildTree(store, [{ name: 'a', kind: 'dir', executable: false, chunked: false, ...a }, file('a.c', 'a.c'), file('z', 'z')]);
    expect(root).toEqual(manual);
    expect(root.size).toBe(35);
    expect((await collect(walkFiles(store, root.id))).map((f) => f.path)).toEqual(['a/b', 'a/c/d', 'a.c', 'z']);
  });

  it('accepts async iterables and an empty input', async () => {
    const store = new MemoryObjects();
    async function* none() {}
    expect(await writeTreeFromPaths(store, none())).toEqual({ id: EMPTY_TREE_ID, size: 0 });
  });

  it('places an existing subtree given as a dir entry', async () => {
    const store = new MemoryObjects();
    const sub = await writeTreeFromPaths(store, [at('x'), at('y')]);
    const root = await writeTreeFromPaths(store, [{ path: 'r/s', entry: { kind: 'dir', executable: false, chunked: false, ...sub } }]);
    expect((await collect(walkFiles(store, root.id))).map((f) => f.path)).toEqual(['r/s/x', 'r/s/y']);
    await expect(writeTreeFromPaths(store, [{ path: 's', entry: { kind: 'dir', executable: false, chunked: false, ...sub } }, at('s/z')])).rejects.toThrow(
      /not a directory/,
    );
  });

  it.each<[string, string[]]>([
    ['string order instead of component order', ['a.c', 'a/b']],
    ['a repeated path', ['a/b', 'a/b']],
    ['a directory reopened', ['a/x', 'b', 'a/y']],
    ['a file then a path beneath it', ['a', 'a/b']],
    ['a path beneath a file after it', ['a/b', 'a']],
    ['an unsafe path', ['a/../b']],
    ['an absolute path', ['/etc/passwd']],
    ['a .trib component', ['x/.trib/y']],
  ])('rejects %s', async (_, paths) => {
    await expect(writeTreeFromPaths(new MemoryObjects(), paths.map((p) => at(p)))).rejects.toThrow(InvalidArgumentError);
  });
});

describe('editTree', () => {
  it('gives the same tree as building the edited entries afresh, and reuses untouched nodes', async () => {
    const store = new MemoryObjects();
    const names = sorted(plainNames(30000, 'f').concat(boundaryNames(120, 'f')));
    const base = await buildTree(store, names.map((n) => file(n)));
    const edits: TreeEdit[] = [
      { name: 'f0', entry: file('f0', 'changed') },
      { name: 'f12345' },
      { name: 'f20000x', entry: file('f20000x') },
    ];
    store.resetCounts();
    const edited = await editTree(store, store, base.id, edits);
    const reads = store.gets;
    const expected = names.filter((n) => n !== 'f12345').concat('f20000x');
    const fresh = await buildTree(new MemoryObjects(), sorted(expected).map((n) => (n === 'f0' ? file('f0', 'changed') : file(n))));
    expect(edited).toEqual(fresh);
    expect(reads).toBeLessThan(15);
  });

  it('with no edits returns the same tree after reading only the leftmost path', async () => {
    const store = new MemoryObjects();
    const base = await buildTree(store, sorted(boundaryNames(64)).map((n) => file(n)));
    store.resetCounts();
    expect(await editTree(store, store, base.id, [])).toEqual(base);
    expect(store.gets).toBe(6);
    expect(store.puts).toBe(0);
  });

  it('edits the empty tree and can empty a tree', async () => {
    const store = new MemoryObjects();
    const t = await editTree(store, store, undefined, [{ name: 'a', entry: file('a') }]);
    expect(t).toEqual(await buildTree(store, [file('a')]));
    expect(await editTree(store, store, t.id, [{ name: 'a' }, { name: 'b' }])).toEqual({ id: EMPTY_TREE_ID, size: 0 });
  });

  it('reports an edited tree whose index ranges overlap as IntegrityError', async () => {
    const store = new MemoryObjects();
    const [b0, b1, b2, b3] = sorted(boundaryNames(4));
    const page = async (names: string[]) => ({ id: (await store.put(encodeTreePage(names.map((n) => file(n))))) as TreeId, firstName: names[0], size: 20 });
    // Each node decodes on its own, but the first page runs past the second page's first name.
    const root = (await store.put(encodeTreeIndex([await page([b0, b2]), await page([b1, b3])]))) as TreeId;
    await expect(editTree(store, store, root, [{ name: `${b0}x`, entry: file(`${b0}x`) }])).rejects.toThrow(IntegrityError);
  });

  it('rejects unsorted edits and mismatched names', async () => {
    const store = new MemoryObjects();
    await expect(editTree(store, store, undefined, [{ name: 'b' }, { name: 'a' }])).rejects.toThrow(InvalidArgumentError);
    await expect(editTree(store, store, undefined, [{ name: 'a', entry: file('b') }])).rejects.toThrow(InvalidArgumentError);
  });

  it('matches a fresh build for random edits of paged directories', async () => {
    // A name pool rich in boundary names makes many small pages and several index levels.
    const pool = sorted([...boundaryNames(40, 'n'), ...plainNames(40, 'n')]);
    const store = new MemoryObjects();
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.constantFrom(...pool), { maxLength: 80 }),
        fc.uniqueArray(fc.record({ name: fc.constantFrom(...pool), v: fc.option(fc.nat(3)) }), { selector: (e) => e.name, maxLength: 20 }),
        async (baseNames, rawEdits) => {
          const base = await buildTree(store, baseNames.map((n) => file(n)));
          const edits = rawEdits
            .sort((a, b) => compareNames(a.name, b.name))
            .map((e): TreeEdit => ({ name: e.name, entry: e.v === null ? undefined : file(e.name, `${e.name}:${e.v}`) }));
          const expected = new Map(baseNames.map((n) => [n, file(n)]));
          for (const e of edits) {
            if (e.entry) expected.set(e.name, e.entry);
            else expected.delete(e.name);
          }
          const edited = await editTree(store, store, base.id, edits);
          expect(edited).toEqual(await buildTree(store, [...expected.values()]));
        },
      ),
      { numRuns: 300 },
    );
  });
});
