import { IntegrityError, InvalidArgumentError, NotFoundError } from '../errors/trib-error';
import { TreeId } from '../ids/ids';
import { boundaryNames, fakeId, MemoryObjects, plainNames } from '../testing/memory-objects';
import { TreeEntry } from './object-types';
import { buildTree, writeTreeFromPaths } from './tree-builder';
import { DirectoryLookup, lookupEntry, lookupPath, readTree, TreeCursor, treeSize, walkFiles } from './tree-reader';
import { compareNames, decodeTreeNode, encodeTreeIndex, encodeTreePage } from './tree.codec';

const file = (name: string, size = 10): TreeEntry => ({ name, kind: 'file', executable: false, chunked: false, size, id: fakeId(name) });
const sorted = (names: string[]) => [...names].sort(compareNames);

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe('readTree', () => {
  it('streams a paged directory one page at a time', async () => {
    const store = new MemoryObjects();
    const entries = sorted(plainNames(6000)).map((n) => file(n));
    const { id } = await buildTree(store, entries);
    store.resetCounts();
    const it = readTree(store, id);
    expect((await it.next()).value).toEqual(entries[0]);
    expect(store.gets).toBe(2);
    const rest = await collect({ [Symbol.asyncIterator]: () => it });
    expect([entries[0], ...rest]).toEqual(entries);
    expect(store.gets).toBe(4);
  });

  it('reads the empty tree', async () => {
    const store = new MemoryObjects();
    const { id } = await buildTree(store, []);
    expect(await collect(readTree(store, id))).toEqual([]);
  });

  it('reports a missing object as NotFoundError', async () => {
    await expect(collect(readTree(new MemoryObjects(), fakeId('nothing')))).rejects.toThrow(NotFoundError);
  });

  describe('rejects trees whose nodes do not fit together', () => {
    // Boundary names close a page after two entries, so [b0, b1] is a complete page.
    const [b0, b1, b2, b3] = sorted(boundaryNames(4));
    const [p0] = plainNames(1, 'zz');

    async function put(store: MemoryObjects, entries: TreeEntry[]) {
      const id = (await store.put(encodeTreePage(entries))) as TreeId;
      return { id, firstName: entries[0].name, size: entries.reduce((s, e) => s + e.size, 0) };
    }

    async function index(store: MemoryObjects, children: { id: TreeId; firstName: string; size: number }[]) {
      return (await store.put(encodeTreeIndex(children))) as TreeId;
    }

    it('accepts the well-formed version of the cases below', async () => {
      const store = new MemoryObjects();
      const root = await index(store, [await put(store, [file(b0), file(b1)]), await put(store, [file(b2), file(p0)])]);
      expect((await collect(readTree(store, root))).map((e) => e.name)).toEqual([b0, b1, b2, p0]);
    });

    it.each<[string, (store: MemoryObjects) => Promise<TreeId>]>([
      ['an index root with one child', async (s) => index(s, [await put(s, [file(b0), file(b1)])])],
      [
        'a first name that differs from the child',
        async (s) => {
          const a = await put(s, [file(b0), file(b1)]);
          return index(s, [{ ...a, firstName: b0.slice(0, -1) }, await put(s, [file(b2)])]);
        },
      ],
      [
        'a size that differs from the child',
        async (s) => index(s, [{ ...(await put(s, [file(b0), file(b1)])), size: 1 }, await put(s, [file(b2)])]),
      ],
      ['a page that ends before a boundary', async (s) => index(s, [await put(s, [file(b0)]), await put(s, [file(b1), file(b2)])])],
      [
        'pages at different depths',
        async (s) => {
          const deep = await index(s, [await put(s, [file(b2), file(b3)]), await put(s, [file(p0)])]);
          return index(s, [await put(s, [file(b0), file(b1)]), { id: deep, firstName: b2, size: 30 }]);
        },
      ],
      [
        'names out of order across pages',
        async (s) => index(s, [await put(s, [file(b0), file(b2)]), await put(s, [file(b1), file(b3)])]),
      ],
    ])('%s', async (_, make) => {
      const store = new MemoryObjects();
      const root = await make(store);
      await expect(collect(readTree(store, root))).rejects.toThrow(IntegrityError);
    });
  });
});

describe('lookupEntry', () => {
  it('descends the index: one read per level', async () => {
    const store = new MemoryObjects();
    const names = sorted(boundaryNames(64));
    const { id } = await buildTree(store, names.map((n) => file(n)));
    for (const name of [names[0], names[37], names[63]]) {
      store.resetCounts();
      expect(await lookupEntry(store, id, name)).toEqual(file(name));
      expect(store.gets).toBe(6);
    }
    store.resetCounts();
    expect(await lookupEntry(store, id, `${names[10]}x`)).toBeUndefined();
    expect(await lookupEntry(store, id, 'a')).toBeUndefined();
    expect(store.gets).toBe(7);
  });

  it('finds entries in a single page and rejects unsafe names', async () => {
    const store = new MemoryObjects();
    const { id } = await buildTree(store, [file('a'), file('b'), file('é')]);
    expect(await lookupEntry(store, id, 'é')).toEqual(file('é'));
    expect(await lookupEntry(store, id, 'c')).toBeUndefined();
    await expect(lookupEntry(store, id, '..')).rejects.toThrow(InvalidArgumentError);
  });
});

describe('DirectoryLookup', () => {
  it('reads each node once for names looked up in order, and finds what lookupEntry finds', async () => {
    const store = new MemoryObjects();
    // Pages of about 300 entries under one index, as a day's batches/ folder grows to.
    const names = sorted([...boundaryNames(6), ...plainNames(1500)]);
    const { id } = await buildTree(store, names.map((n) => file(n)));
    const nodes = store.objects.size;
    expect(nodes).toBeGreaterThan(2);
    const lookup = new DirectoryLookup(store, id);
    store.resetCounts();
    for (const name of names) expect(await lookup.entry(name)).toEqual(file(name));
    expect(await lookup.entry(`${names[names.length - 1]}x`)).toBeUndefined();
    expect(store.gets).toBe(nodes);
    // Out of order it reads again, and still finds every entry.
    for (const name of [names[1400], names[3], names[900]]) expect(await lookup.entry(name)).toEqual(file(name));
    expect(await lookup.entry('a')).toBeUndefined();
    await expect(lookup.entry('..')).rejects.toThrow(InvalidArgumentError);
  });

  it('names the page that holds a name or would hold it', async () => {
    const store = new MemoryObjects();
    const names = sorted([...boundaryNames(6), ...plainNames(1500)]);
    const { id } = await buildTree(store, names.map((n) => file(n)));
    const lookup = new DirectoryLookup(store, id);
    const pageNames = async (page: TreeId) => {
      const node = decodeTreeNode(await store.get(page), page);
      return node.type === 'page' ? node.entries.map((e) => e.name) : [];
    };
    const middle = await pageNames(await lookup.pageFor(names[700]));
    expect(middle).toContain(names[700]);
    expect(middle.length).toBeLessThan(names.length);
    expect(await pageNames(await lookup.pageFor(`${names[700]}x`))).toEqual(middle);
    expect((await pageNames(await lookup.pageFor('a')))[0]).toBe(names[0]);
    expect((await pageNames(await lookup.pageFor('zz'))).at(-1)).toBe(names[names.length - 1]);
  });
});

describe('lookupPath and walkFiles', () => {
  const at = (path: string, kind: TreeEntry['kind'] = 'file') => ({
    path,
    entry: { kind, executable: false, chunked: false, size: path.length, id: fakeId(path) },
  });

  async function sample(store: MemoryObjects) {
    return writeTreeFromPaths(store, [at('a/b/c.csv'), at('a/b/d', 'symlink'), at('a/e'), at('a.txt'), at('z')]);
  }

  it('resolves paths through nested trees', async () => {
    const store = new MemoryObjects();
    const { id } = await sample(store);
    expect(await lookupPath(store, id, 'a/b/c.csv')).toMatchObject({ name: 'c.csv', kind: 'file', id: fakeId('a/b/c.csv') });
    expect(await lookupPath(store, id, 'a/b')).toMatchObject({ name: 'b', kind: 'dir' });
    expect(await lookupPath(store, id, 'a/x')).toBeUndefined();
    expect(await lookupPath(store, id, 'a.txt/x')).toBeUndefined();
    await expect(lookupPath(store, id, 'a/../z')).rejects.toThrow(InvalidArgumentError);
    await expect(lookupPath(store, id, '/z')).rejects.toThrow(InvalidArgumentError);
  });

  it('walks files and links depth first in sorted order', async () => {
    const store = new MemoryObjects();
    const { id, size } = await sample(store);
    const files = await collect(walkFiles(store, id));
    expect(files.map((f) => f.path)).toEqual(['a/b/c.csv', 'a/b/d', 'a/e', 'a.txt', 'z']);
    expect(files[1].entry.kind).toBe('symlink');
    expect(size).toBe(files.reduce((s, f) => s + f.entry.size, 0));
    expect(await treeSize(store, id)).toBe(size);
    const a = (await lookupPath(store, id, 'a'))!;
    expect((await collect(walkFiles(store, a.id, 'a'))).map((f) => f.path)).toEqual(['a/b/c.csv', 'a/b/d', 'a/e']);
  });
});

describe('TreeCursor', () => {
  it('reads a node only when expanded', async () => {
    const store = new MemoryObjects();
    const { id } = await buildTree(store, sorted(plainNames(5000)).map((n) => file(n)));
    store.resetCounts();
    const cursor = await TreeCursor.open(store, id);
    expect(store.gets).toBe(1);
    await cursor.expand();
    expect(store.gets).toBe(1);
    expect(cursor.peek()?.type).toBe('node');
    await cursor.expand();
    expect(store.gets).toBe(2);
    expect(cursor.peek()?.type).toBe('entry');
  });
});
