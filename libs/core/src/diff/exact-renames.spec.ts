import { TreeEntry } from '../objects/object-types';
import { fakeId } from '../testing/memory-objects';
import { pairExactRenames } from './exact-renames';
import { TreeChange } from './tree-diff';

const entry = (path: string, seed: string, size = 10): TreeEntry => ({
  name: path.slice(path.lastIndexOf('/') + 1),
  kind: 'file',
  executable: false,
  chunked: false,
  size,
  id: fakeId(seed),
});
const removed = (path: string, seed: string, size?: number): TreeChange => ({ path, status: 'removed', old: entry(path, seed, size) });
const added = (path: string, seed: string, size?: number): TreeChange => ({ path, status: 'added', new: entry(path, seed, size) });

/** The pairs as `old -> new` lines, sorted. */
function renames(changes: TreeChange[]): string[] {
  return [...pairExactRenames(changes)].map(([to, from]) => `${from.path} -> ${to.path}`).sort();
}

describe('pairExactRenames', () => {
  it('pairs files alike by name first, whatever their path order', () => {
    const changes = [removed('labels/100_pvc.csv', 'pvc'), removed('labels/121_pvc.csv', 'pvc'), added('archive/121_pvc.csv', 'pvc')];
    expect(renames(changes)).toEqual(['labels/121_pvc.csv -> archive/121_pvc.csv']);
    const both = [removed('a/x.csv', 'h'), removed('a/y.csv', 'h'), added('b/x.csv', 'h'), added('b/y.csv', 'h')];
    expect(renames(both)).toEqual(['a/x.csv -> b/x.csv', 'a/y.csv -> b/y.csv']);
    const swapped = [removed('a/x.csv', 'h'), removed('a/y.csv', 'h'), added('b/y.csv', 'h'), added('c/x.csv', 'h')];
    expect(renames(swapped)).toEqual(['a/x.csv -> c/x.csv', 'a/y.csv -> b/y.csv']);
    // Then the one file alike left on each side.
    const left = [removed('a/x.csv', 'h'), removed('a/y.csv', 'h'), added('b/z.csv', 'h'), added('c/x.csv', 'h')];
    expect(renames(left)).toEqual(['a/x.csv -> c/x.csv', 'a/y.csv -> b/z.csv']);
  });

  it('does not guess: files alike that names do not tell apart stay removed and added', () => {
    expect(renames([removed('a/x.csv', 'h'), removed('a/y.csv', 'h'), added('b/z.csv', 'h')])).toEqual([]);
    expect(renames([removed('a/x.csv', 'h'), added('b/y.csv', 'h'), added('b/z.csv', 'h')])).toEqual([]);
    expect(renames([removed('a/x.csv', 'h'), removed('b/x.csv', 'h'), added('c/x.csv', 'h')])).toEqual([]);
    expect(renames([removed('a/x.csv', 'h'), added('b/x.csv', 'h'), added('c/x.csv', 'h')])).toEqual([]);
    // Another content's ambiguity does not stop a clear pair.
    expect(renames([removed('a/x.csv', 'h'), removed('a/y.csv', 'h'), added('b/z.csv', 'h'), removed('k', 'k'), added('m/k', 'k')])).toEqual(['k -> m/k']);
  });
});
