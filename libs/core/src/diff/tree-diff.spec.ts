import fc from 'fast-check';
import { TreeEntry } from '../objects/object-types';
import { buildTree, writeTreeFromPaths } from '../objects/tree-builder';
import { compareNames } from '../objects/tree.codec';
import { boundaryNames, comparePaths, fakeId, FlatTree, MemoryObjects, plainNames, writeFlatTree } from '../testing/memory-objects';
import { diffTrees, sameEntry, TreeChange } from './tree-diff';

type Content = Omit<TreeEntry, 'name'>;
const content = (seed: string | number, over: Partial<Content> = {}): Content => ({
  kind: 'file',
  executable: false,
  chunked: false,
  size: 10,
  id: fakeId(seed),
  ...over,
});
const flat = (entries: Record<string, Content>): FlatTree => new Map(Object.entries(entries));

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

/** Changes without entry names, for comparison with the flat model. */
function plain(changes: TreeChange[]) {
  const strip = (e?: TreeEntry) => {
    if (!e) return undefined;
    const { name: _name, ...rest } = e;
    return rest;
  };
  return changes.map((c) => ({ path: c.path, status: c.status, old: strip(c.old), new: strip(c.new) }));
}

function modelDiff(a: FlatTree, b: FlatTree) {
  const paths = [...new Set([...a.keys(), ...b.keys()])].sort(comparePaths);
  const out: ReturnType<typeof plain> = [];
  for (const path of paths) {
    const x = a.get(path);
    const y = b.get(path);
    const named = (c?: Content) => c && ({ ...c, name: 'n' } as TreeEntry);
    if (sameEntry(named(x), named(y))) continue;
    out.push({ path, status: !x ? 'added' : !y ? 'removed' : 'modified', old: x, new: y });
  }
  return out;
}

async function diffFlat(a: FlatTree, b: FlatTree) {
  const store = new MemoryObjects();
  const ta = await writeFlatTree(store, a);
  const tb = await writeFlatTree(store, b);
  return plain(await collect(diffTrees(store, ta.id, tb.id)));
}

describe('diffTrees', () => {
  it('reports added, removed and modified files in sorted path order', async () => {
    const got = await diffFlat(
      flat({ 'a/b': content(1), 'a.c': content(2), 'd/e/f': content(3), g: content(4) }),
      flat({ 'a/b': content(9), 'a.c': content(2), 'd/e/f': content(3), h: content(5) }),
    );
    expect(got.map((c) => [c.path, c.status])).toEqual([
      ['a/b', 'modified'],
      ['g', 'removed'],
      ['h', 'added'],
    ]);
  });

  it('treats an executable-bit, kind or chunking change as modified', async () => {
    const got = await diffFlat(
      flat({ x: content(1), l: content(2), c: content(3) }),
      flat({ x: content(1, { executable: true }), l: content(2, { kind: 'symlink' }), c: content(3, { chunked: true }) }),
    );
    expect(got.map((c) => [c.path, c.status])).toEqual([
      ['c', 'modified'],
      ['l', 'modified'],
      ['x', 'modified'],
    ]);
  });

  it('expands removed and added directories into their files', async () => {
    const got = await diffFlat(flat({ 'gone/a': content(1), 'gone/b/c': content(2), keep: content(3) }), flat({ keep: content(3), 'new/x': content(4) }));
    expect(got.map((c) => [c.path, c.status])).toEqual([
      ['gone/a', 'removed'],
      ['gone/b/c', 'removed'],
      ['new/x', 'added'],
    ]);
  });

  it('reports a file replaced by a directory as a removal then additions, and the reverse', async () => {
    const fileToDir = await diffFlat(flat({ x: content(1) }), flat({ 'x/a': content(2), 'x/b': content(3) }));
    expect(fileToDir.map((c) => [c.path, c.status])).toEqual([
      ['x', 'removed'],
      ['x/a', 'added'],
      ['x/b', 'added'],
    ]);
    const dirToFile = await diffFlat(flat({ 'x/a': content(2) }), flat({ x: content(1) }));
    expect(dirToFile.map((c) => [c.path, c.status])).toEqual([
      ['x', 'added'],
      ['x/a', 'removed'],
    ]);
  });

  it('treats undefined as the empty tree and reads nothing for equal trees', async () => {
    const store = new MemoryObjects();
    const t = await writeFlatTree(store, flat({ 'a/b': content(1), c: content(2) }));
    expect((await collect(diffTrees(store, undefined, t.id))).map((c) => c.status)).toEqual(['added', 'added']);
    expect((await collect(diffTrees(store, t.id, undefined))).map((c) => c.status)).toEqual(['removed', 'removed']);
    store.resetCounts();
    expect(await collect(diffTrees(store, t.id, t.id))).toEqual([]);
    expect(await collect(diffTrees(store, undefined, undefined))).toEqual([]);
    expect(store.gets).toBe(0);
  });

  describe('agrees with a flat reference model', () => {
    // Boundary names page even small directories; the others exercise UTF-8 ordering ('ﬀ' < '😀').
    const pool = ['a', 'b', 'a.b', 'a-b', 'B', 'é', 'ﬀ', '😀', ...boundaryNames(4, 'k')];
    const pathArb = fc.array(fc.constantFrom(...pool), { minLength: 1, maxLength: 3 }).map((p) => p.join('/'));
    const contentArb = fc
      .record({ kind: fc.constantFrom<'file' | 'symlink'>('file', 'symlink'), executable: fc.boolean(), chunked: fc.boolean(), v: fc.nat(3) })
      .map(({ kind, executable, chunked, v }): Content => content(v, kind === 'file' ? { executable, chunked, size: v } : { kind, size: v }));

    /** Sets a path, first removing whatever would make it invalid (a file above it, or files beneath it). */
    const place = (m: FlatTree, path: string, c: Content) => {
      for (const k of [...m.keys()]) if (k.startsWith(`${path}/`) || path.startsWith(`${k}/`)) m.delete(k);
      m.set(path, c);
    };
    const treeArb = fc.array(fc.tuple(pathArb, contentArb), { maxLength: 30 }).map((items) => {
      const m: FlatTree = new Map();
      for (const [p, c] of items) place(m, p, c);
      return m;
    });
    const mutationArb = fc.oneof(
      fc.record({ op: fc.constant('del' as const), i: fc.nat() }),
      fc.record({ op: fc.constant('mod' as const), i: fc.nat(), c: contentArb }),
      fc.record({ op: fc.constant('put' as const), path: pathArb, c: contentArb }),
    );
    type Mutation = typeof mutationArb extends fc.Arbitrary<infer M> ? M : never;
    const mutate = (base: FlatTree, muts: Mutation[]) => {
      const m = new Map(base);
      for (const mu of muts) {
        const keys = [...m.keys()];
        if (mu.op === 'put') place(m, mu.path, mu.c);
        else if (keys.length === 0) continue;
        else if (mu.op === 'del') m.delete(keys[mu.i % keys.length]);
        else m.set(keys[mu.i % keys.length], mu.c);
      }
      return m;
    };

    it('for random trees and edits', async () => {
      await fc.assert(
        fc.asyncProperty(treeArb, fc.array(mutationArb, { maxLength: 10 }), async (a, muts) => {
          const b = mutate(a, muts);
          expect(await diffFlat(a, b)).toEqual(modelDiff(a, b));
        }),
        { numRuns: 300 },
      );
    });

    it('for random edits of a paged directory', async () => {
      const names = [...plainNames(600, 'f'), ...boundaryNames(20, 'f')];
      const base: FlatTree = new Map(names.map((n) => [n, content(n)]));
      const editArb = fc.record({ name: fc.oneof(fc.constantFrom(...names), fc.constantFrom(...plainNames(30, 'g'))), v: fc.option(fc.nat(2)) });
      await fc.assert(
        fc.asyncProperty(fc.array(editArb, { maxLength: 12 }), async (edits) => {
          const b = new Map(base);
          for (const e of edits) {
            if (e.v === null) b.delete(e.name);
            else b.set(e.name, content(`${e.name}:${e.v}`));
          }
          expect(await diffFlat(base, b)).toEqual(modelDiff(base, b));
        }),
        { numRuns: 60 },
      );
    });
  });

  it('reads objects in proportion to the changes: 10 changed files among 100,000 in 1,000 folders', async () => {
    const store = new MemoryObjects();
    const changed = new Set(Array.from({ length: 10 }, (_, i) => `d${String(i * 97 + 3).padStart(3, '0')}/f${String(i * 7).padStart(2, '0')}`));
    function* files(version: number) {
      for (let d = 0; d < 1000; d++) {
        for (let f = 0; f < 100; f++) {
          const path = `d${String(d).padStart(3, '0')}/f${String(f).padStart(2, '0')}`;
          yield { path, entry: content(version > 0 && changed.has(path) ? `${path}:v2` : path) };
        }
      }
    }
    const a = await writeTreeFromPaths(store, files(0));
    const b = await writeTreeFromPaths(store, files(1));
    const objects = store.objects.size;
    store.resetCounts();
    const changes = await collect(diffTrees(store, a.id, b.id));
    expect(changes.map((c) => [c.path, c.status])).toEqual([...changed].sort().map((p) => [p, 'modified']));
    expect(store.gets).toBeLessThan(60);
    expect(objects).toBeGreaterThan(2000);
  });

  it('compares a big directory page by page: 3 changes among 50,000 entries read a few pages', async () => {
    const store = new MemoryObjects();
    const names = Array.from({ length: 50000 }, (_, i) => `row-${String(i).padStart(6, '0')}.json`).sort(compareNames);
    const entry = (name: string, seed = name): TreeEntry => ({ name, ...content(seed) });
    const a = await buildTree(store, names.map((n) => entry(n)));
    const edited = names.filter((n) => n !== names[30000]).map((n) => (n === names[100] ? entry(n, 'changed') : entry(n)));
    const b = await buildTree(store, [...edited, entry('row-044444.5.json')]);
    store.resetCounts();
    const changes = await collect(diffTrees(store, a.id, b.id));
    expect(changes.map((c) => [c.path, c.status])).toEqual([
      [names[100], 'modified'],
      [names[30000], 'removed'],
      ['row-044444.5.json', 'added'],
    ]);
    expect(store.gets).toBeLessThanOrEqual(14);
  });
});
