import fc from 'fast-check';
import { sameEntry } from '../diff/tree-diff';
import { TreeId } from '../ids/ids';
import { TreeEntry } from '../objects/object-types';
import { buildTree, writeTreeFromPaths } from '../objects/tree-builder';
import { compareNames, EMPTY_TREE_ID } from '../objects/tree.codec';
import { boundaryNames, comparePaths, fakeId, FlatTree, MemoryObjects, plainNames, readFlatTree, writeFlatTree } from '../testing/memory-objects';
import { MergeConflict, MergeOptions, MergeResult, mergeTrees } from './tree-merge';

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
const same = (a?: Content, b?: Content) => sameEntry(a && { ...a, name: 'n' }, b && { ...b, name: 'n' });

/** Runs the merge on trees written from flat maps; returns the result and the merged tree as a flat map. */
async function mergeFlat(base: FlatTree | undefined, ours: FlatTree, theirs: FlatTree, opts: MergeOptions = {}) {
  const store = new MemoryObjects();
  const b = base && (await writeFlatTree(store, base)).id;
  const o = (await writeFlatTree(store, ours)).id;
  const t = (await writeFlatTree(store, theirs)).id;
  const result = await mergeTrees(store, store, b, o, t, opts);
  const files = result.tree && (await readFlatTree(store, result.tree.id));
  return { store, result, files };
}

/** The rules of tree-merge.ts restated over flat path -> content maps. */
async function modelMerge(base: FlatTree, ours: FlatTree, theirs: FlatTree, opts: MergeOptions) {
  const result: FlatTree = new Map();
  const conflicts: MergeConflict[] = [];
  const paths = [...new Set([...base.keys(), ...ours.keys(), ...theirs.keys()])];
  for (const p of paths) {
    const [b, o, t] = [base.get(p), ours.get(p), theirs.get(p)];
    let r: Content | undefined;
    if (same(o, t)) r = o;
    else if (same(o, b)) r = t;
    else if (same(t, b)) r = o;
    else {
      const name = p.split('/').pop()!;
      const files = b?.kind === 'file' && o?.kind === 'file' && t?.kind === 'file';
      const sameBytes = (x: Content, y: Content) => same({ ...x, executable: false }, { ...y, executable: false });
      const oneSided = files ? (sameBytes(o, b) ? t : sameBytes(t, b) || sameBytes(o, t) ? o : undefined) : undefined;
      const asked = () => opts.mergeFile!(p, b && { ...b, name }, { ...o!, name }, { ...t!, name });
      const merged = oneSided ? { ...oneSided, name } : o && t && opts.mergeFile ? await asked() : undefined;
      if (merged) {
        const { name: _n, ...rest } = merged;
        const flipped = b && rest.kind === 'file' ? (o!.executable !== b.executable ? o!.executable : t!.executable) : rest.executable;
        r = { ...rest, executable: flipped };
      } else {
        conflicts.push({ path: p, kind: !b ? 'add/add' : !o ? 'delete/modify' : !t ? 'modify/delete' : 'modify/modify' });
        r = opts.strategy === 'theirs' ? t : opts.strategy === 'ours' ? o : (o ?? t);
      }
    }
    if (r) result.set(p, r);
  }
  // A file and files beneath the same path cannot both stay: deepest first, as a recursive merge meets them.
  const depth = (p: string) => p.split('/').length;
  for (const p of [...result.keys()].sort((x, y) => depth(y) - depth(x))) {
    if (!result.has(p)) continue;
    const beneath = (m: FlatTree) => [...m.keys()].filter((k) => k.startsWith(`${p}/`));
    if (beneath(result).length === 0) continue;
    if (!conflicts.some((c) => c.path === p)) conflicts.push({ path: p, kind: 'add/add' });
    if (!opts.strategy) continue;
    const chosen = opts.strategy === 'theirs' ? theirs : ours;
    if (beneath(chosen).length > 0) result.delete(p);
    else for (const k of beneath(result)) result.delete(k);
  }
  conflicts.sort((x, y) => comparePaths(x.path, y.path));
  return { conflicts, files: conflicts.length > 0 && !opts.strategy ? undefined : result };
}

const unionOfFiles: MergeOptions['mergeFile'] = async (_path, _base, ours, theirs) =>
  ours.kind === 'file' && theirs.kind === 'file'
    ? { name: ours.name, kind: 'file', executable: ours.executable, chunked: false, size: ours.size + theirs.size, id: fakeId(`${ours.id}+${theirs.id}`) }
    : undefined;

describe('mergeTrees', () => {
  it('takes each side where only it changed, and agrees on identical changes', async () => {
    const base = flat({ a: content(1), b: content(2), 'd/x': content(3), same: content(4) });
    const ours = flat({ a: content('a2'), b: content(2), 'd/x': content(3), same: content('s2'), new: content(5) });
    const theirs = flat({ a: content(1), 'd/x': content('x2'), 'd/y': content(6), same: content('s2'), new: content(5) });
    const { result, files } = await mergeFlat(base, ours, theirs);
    expect(result.conflicts).toEqual([]);
    expect(files).toEqual(flat({ a: content('a2'), 'd/x': content('x2'), 'd/y': content(6), new: content(5), same: content('s2') }));
    expect(result.tree!.size).toBe(50);
  });

  it('returns a side unchanged when the other did nothing', async () => {
    const store = new MemoryObjects();
    const base = (await writeFlatTree(store, flat({ a: content(1) }))).id;
    const ours = await writeFlatTree(store, flat({ a: content(2, { size: 7 }) }));
    expect(await mergeTrees(store, store, base, ours.id, base)).toEqual({ tree: ours, conflicts: [] });
    expect(await mergeTrees(store, store, base, base, ours.id)).toEqual({ tree: ours, conflicts: [] });
    expect(await mergeTrees(store, store, base, ours.id, ours.id)).toEqual({ tree: ours, conflicts: [] });
  });

  it('asks mergeFile when both sides changed a file, and uses its answer', async () => {
    const calls: unknown[] = [];
    const mergeFile: MergeOptions['mergeFile'] = async (path, b, o, t) => {
      calls.push([path, b?.id, o.id, t.id]);
      return { ...o, id: fakeId('merged'), size: 99 };
    };
    const { result, files } = await mergeFlat(flat({ 'd/f.csv': content(1) }), flat({ 'd/f.csv': content(2) }), flat({ 'd/f.csv': content(3) }), { mergeFile });
    expect(calls).toEqual([['d/f.csv', fakeId(1), fakeId(2), fakeId(3)]]);
    expect(result.conflicts).toEqual([]);
    expect(files).toEqual(flat({ 'd/f.csv': content('merged', { size: 99 }) }));
  });

  it('merges the executable bit three-way around the answer of mergeFile: a side that flipped it wins', async () => {
    const keepOurs: MergeOptions['mergeFile'] = async (_path, _b, o) => ({ ...o, id: fakeId('merged') });
    const base = flat({ 'f.csv': content(1) });
    const ours = flat({ 'f.csv': content(2) });
    const theirsExec = flat({ 'f.csv': content(3, { executable: true }) });
    const merged = (over: Partial<Content>) => flat({ 'f.csv': content('merged', over) });
    expect((await mergeFlat(base, ours, theirsExec, { mergeFile: keepOurs })).files).toEqual(merged({ executable: true }));
    expect((await mergeFlat(base, theirsExec, ours, { mergeFile: keepOurs })).files).toEqual(merged({ executable: true }));
    const execBase = flat({ 'f.csv': content(1, { executable: true }) });
    expect((await mergeFlat(execBase, ours, theirsExec, { mergeFile: keepOurs })).files).toEqual(merged({ executable: false }));
  });

  describe('merges a file\'s content and executable bit apart when both sides changed it', () => {
    const base = flat({ 's.txt': content(1) });
    const execOnly = flat({ 's.txt': content(1, { executable: true }) });
    const contentOnly = flat({ 's.txt': content(2) });
    const both = flat({ 's.txt': content(2, { executable: true }) });
    const neverAsked: MergeOptions['mergeFile'] = async (path) => {
      throw new Error(`mergeFile asked about ${path}`);
    };

    it.each([
      ['ours the bit, theirs the content', execOnly, contentOnly],
      ['ours the content, theirs the bit', contentOnly, execOnly],
      ['both the bit, ours the content too', both, execOnly],
      ['both the bit, theirs the content too', execOnly, both],
    ])('%s', async (_, ours, theirs) => {
      for (const opts of [{}, { mergeFile: neverAsked }]) {
        const { result, files } = await mergeFlat(base, ours, theirs, opts);
        expect(result.conflicts).toEqual([]);
        expect(files).toEqual(both);
      }
    });

    it('clears the bit a side cleared while the other changed the content', async () => {
      const execBase = flat({ 's.txt': content(1, { executable: true }) });
      const { result, files } = await mergeFlat(execBase, base, both);
      expect(result.conflicts).toEqual([]);
      expect(files).toEqual(contentOnly);
    });
  });

  it.each<[string, FlatTree, FlatTree, FlatTree, MergeConflict['kind']]>([
    ['modify/modify', flat({ f: content(1) }), flat({ f: content(2) }), flat({ f: content(3) }), 'modify/modify'],
    ['modify/delete', flat({ f: content(1) }), flat({ f: content(2) }), flat({}), 'modify/delete'],
    ['delete/modify', flat({ f: content(1) }), flat({}), flat({ f: content(3) }), 'delete/modify'],
    ['add/add', flat({}), flat({ f: content(2) }), flat({ f: content(3) }), 'add/add'],
    [
      'mode and content modify/modify',
      flat({ f: content(1) }),
      flat({ f: content(2, { executable: true }) }),
      flat({ f: content(3) }),
      'modify/modify',
    ],
  ])('reports %s and leaves the tree undefined', async (_, base, ours, theirs, kind) => {
    const { result } = await mergeFlat(base, ours, theirs, { mergeFile: async () => undefined });
    expect(result).toEqual({ conflicts: [{ path: 'f', kind }] });
  });

  it('resolves conflicts with a strategy, a deletion on the chosen side deleting', async () => {
    const base = flat({ m: content(1), d: content(2) });
    const ours = flat({ m: content('m-ours'), d: content('d-ours') });
    const theirs = flat({ m: content('m-theirs') });
    const o = await mergeFlat(base, ours, theirs, { strategy: 'ours' });
    expect(o.files).toEqual(ours);
    const t = await mergeFlat(base, ours, theirs, { strategy: 'theirs' });
    expect(t.files).toEqual(theirs);
    expect(t.result.conflicts).toEqual([
      { path: 'd', kind: 'modify/delete' },
      { path: 'm', kind: 'modify/modify' },
    ]);
  });

  it('reports a file on one side and a directory on the other as add/add', async () => {
    const ours = flat({ x: content(1) });
    const theirs = flat({ 'x/a': content(2) });
    expect((await mergeFlat(flat({}), ours, theirs)).result).toEqual({ conflicts: [{ path: 'x', kind: 'add/add' }] });
    expect((await mergeFlat(flat({}), ours, theirs, { strategy: 'ours' })).files).toEqual(ours);
    expect((await mergeFlat(flat({}), ours, theirs, { strategy: 'theirs' })).files).toEqual(theirs);
  });

  it('reports a clash with a directory whose only file is itself in conflict', async () => {
    // Ours deleted x/a and made x a file; theirs modified x/a. Both the file and the directory are still claimed.
    const base = flat({ 'x/a': content(1) });
    const ours = flat({ x: content(2) });
    const theirs = flat({ 'x/a': content(3) });
    expect((await mergeFlat(base, ours, theirs)).result).toEqual({
      conflicts: [
        { path: 'x', kind: 'add/add' },
        { path: 'x/a', kind: 'delete/modify' },
      ],
    });
    const t = await mergeFlat(base, ours, theirs, { strategy: 'theirs' });
    expect(t.files).toEqual(theirs);
    expect(t.result.conflicts).toHaveLength(2);
    expect((await mergeFlat(base, ours, theirs, { strategy: 'ours' })).files).toEqual(ours);
  });

  it('drops a directory the merge leaves empty', async () => {
    const { files } = await mergeFlat(flat({ 'd/a': content(1), 'd/b': content(2), k: content(3) }), flat({ 'd/b': content(2), k: content(3) }), flat({ 'd/a': content(1), k: content(3) }));
    expect(files).toEqual(flat({ k: content(3) }));
  });

  it('merges unrelated histories from the empty base', async () => {
    const { result, files } = await mergeFlat(undefined, flat({ a: content(1), s: content(3) }), flat({ b: content(2), s: content(3) }));
    expect(result.conflicts).toEqual([]);
    expect(files).toEqual(flat({ a: content(1), b: content(2), s: content(3) }));
  });

  it('writes nothing once the first path conflicts', async () => {
    const store = new MemoryObjects();
    const base = (await writeFlatTree(store, flat({ a: content(1), 'z/x': content(2) }))).id;
    const ours = (await writeFlatTree(store, flat({ a: content(3), 'z/x': content(2), 'z/y': content(5) }))).id;
    const theirs = (await writeFlatTree(store, flat({ a: content(4), 'z/x': content(6) }))).id;
    store.resetCounts();
    const result = await mergeTrees(store, store, base, ours, theirs);
    expect(result).toEqual({ conflicts: [{ path: 'a', kind: 'modify/modify' }] });
    expect(store.puts).toBe(0);
  });

  describe('agrees with a flat reference model', () => {
    const pool = ['a', 'b', 'a.b', 'B', 'é', 'ﬀ', '😀', ...boundaryNames(3, 'k')];
    const pathArb = fc.array(fc.constantFrom(...pool), { minLength: 1, maxLength: 3 }).map((p) => p.join('/'));
    const contentArb = fc
      .record({ kind: fc.constantFrom<'file' | 'symlink'>('file', 'file', 'symlink'), executable: fc.boolean(), v: fc.nat(2) })
      .map(({ kind, executable, v }): Content => content(v, kind === 'file' ? { executable, size: v } : { kind, size: v }));
    const place = (m: FlatTree, path: string, c: Content) => {
      for (const k of [...m.keys()]) if (k.startsWith(`${path}/`) || path.startsWith(`${k}/`)) m.delete(k);
      m.set(path, c);
    };
    const treeArb = fc.array(fc.tuple(pathArb, contentArb), { maxLength: 20 }).map((items) => {
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
    const optsArb = fc.record({
      strategy: fc.constantFrom<MergeOptions['strategy']>(undefined, 'ours', 'theirs'),
      mergeFile: fc.constantFrom<MergeOptions['mergeFile']>(undefined, unionOfFiles),
    });

    async function check(base: FlatTree, ours: FlatTree, theirs: FlatTree, opts: MergeOptions) {
      const expected = await modelMerge(base, ours, theirs, opts);
      const { store, result, files } = await mergeFlat(base, ours, theirs, opts);
      expect(result.conflicts).toEqual(expected.conflicts);
      expect(files).toEqual(expected.files);
      if (expected.files) {
        // Canonical: the merged tree is exactly the tree of its files, with its total size.
        expect(result.tree).toEqual(await writeFlatTree(store, expected.files));
      }
    }

    it('for random trees changed on both sides', async () => {
      await fc.assert(
        fc.asyncProperty(
          treeArb,
          fc.array(mutationArb, { maxLength: 5 }),
          fc.array(mutationArb, { maxLength: 6 }),
          fc.array(mutationArb, { maxLength: 6 }),
          optsArb,
          async (base, shared, mineOnly, theirsOnly, opts) => {
            // Shared mutations make identical changes on both sides.
            const ours = mutate(mutate(base, shared), mineOnly);
            const theirs = mutate(mutate(base, shared), theirsOnly);
            await check(base, ours, theirs, opts);
          },
        ),
        { numRuns: 400 },
      );
    });

    it('for random edits of a paged directory on both sides', async () => {
      const names = [...plainNames(500, 'f'), ...boundaryNames(20, 'f')];
      const base: FlatTree = new Map(names.map((n) => [n, content(n)]));
      const editArb = fc.array(fc.record({ name: fc.oneof(fc.constantFrom(...names), fc.constantFrom(...plainNames(20, 'g'))), v: fc.option(fc.nat(1)) }), {
        maxLength: 10,
      });
      const apply = (edits: { name: string; v: number | null }[]) => {
        const m = new Map(base);
        for (const e of edits) {
          if (e.v === null) m.delete(e.name);
          else m.set(e.name, content(`${e.name}:${e.v}`));
        }
        return m;
      };
      await fc.assert(
        fc.asyncProperty(editArb, editArb, optsArb, async (a, b, opts) => check(base, apply(a), apply(b), opts)),
        { numRuns: 60 },
      );
    });
  });

  it('follows the changes: 5 + 5 changed files among 100,000 in 1,000 folders', async () => {
    const store = new MemoryObjects();
    const path = (d: number, f: number) => `d${String(d).padStart(3, '0')}/f${String(f).padStart(2, '0')}`;
    const oursChanged = new Set([path(3, 1), path(200, 2), path(500, 3), path(501, 4), path(998, 99)]);
    const theirsChanged = new Set([path(4, 1), path(200, 50), path(700, 3), path(702, 4), path(999, 0)]);
    function* files(changed: Set<string>, tag: string) {
      for (let d = 0; d < 1000; d++) {
        for (let f = 0; f < 100; f++) yield { path: path(d, f), entry: content(changed.has(path(d, f)) ? `${tag}:${path(d, f)}` : path(d, f)) };
      }
    }
    const base = await writeTreeFromPaths(store, files(new Set(), ''));
    const ours = await writeTreeFromPaths(store, files(oursChanged, 'ours'));
    const theirs = await writeTreeFromPaths(store, files(theirsChanged, 'theirs'));
    const objects = store.objects.size;
    store.resetCounts();
    const result = await mergeTrees(store, store, base.id, ours.id, theirs.id);
    const { gets, puts } = store;
    expect(result.conflicts).toEqual([]);
    const expected = await writeTreeFromPaths(
      new MemoryObjects(),
      (function* () {
        for (const f of files(oursChanged, 'ours')) yield theirsChanged.has(f.path) ? { path: f.path, entry: content(`theirs:${f.path}`) } : f;
      })(),
    );
    expect(result.tree).toEqual(expected);
    expect(objects).toBeGreaterThan(3000);
    expect(gets).toBeLessThan(120);
    expect(puts).toBeLessThan(30);
  });

  it('merges appends to one big directory by reading and writing a few pages', async () => {
    const store = new MemoryObjects();
    const names = Array.from({ length: 50000 }, (_, i) => `batch-${String(i * 2).padStart(6, '0')}.csv`).sort(compareNames);
    const entry = (name: string): TreeEntry => ({ name, ...content(name) });
    const base = await buildTree(store, names.map(entry));
    const ours = await buildTree(store, [...names, 'batch-000101.csv', 'batch-099999.csv'].map(entry));
    const theirs = await buildTree(store, [...names, 'batch-050001.csv'].map(entry));
    store.resetCounts();
    const result = await mergeTrees(store, store, base.id, ours.id, theirs.id);
    const { gets, puts } = store;
    expect(result.tree).toEqual(await buildTree(new MemoryObjects(), [...names, 'batch-000101.csv', 'batch-099999.csv', 'batch-050001.csv'].map(entry)));
    expect(gets).toBeLessThan(30);
    expect(puts).toBeLessThan(8);
  });

  it('keeps the empty tree as a valid merge result', async () => {
    const { result } = await mergeFlat(flat({ a: content(1), b: content(2) }), flat({ b: content(2) }), flat({ a: content(1) }));
    expect(result).toEqual<MergeResult>({ tree: { id: EMPTY_TREE_ID as TreeId, size: 0 }, conflicts: [] });
  });
});
