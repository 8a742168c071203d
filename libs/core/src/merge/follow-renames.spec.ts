import { TreeEntry } from '../objects/object-types';
import { fakeId, FlatTree, MemoryObjects, readFlatTree, writeFlatTree } from '../testing/memory-objects';
import { mergeFollowingRenames } from './follow-renames';

type Content = Omit<TreeEntry, 'name'>;
const file = (seed: string, size = 10): Content => ({ kind: 'file', executable: false, chunked: false, size, id: fakeId(seed) });
const flat = (entries: Record<string, Content>): FlatTree => new Map(Object.entries(entries));

/** Merges trees written from flat maps; returns the merged files (undefined on conflict) and every conflict. */
async function mergeFollowing(base: FlatTree, ours: FlatTree, theirs: FlatTree, strategy?: 'ours' | 'theirs') {
  const store = new MemoryObjects();
  const trees = {
    base: (await writeFlatTree(store, base)).id,
    ours: (await writeFlatTree(store, ours)).id,
    theirs: (await writeFlatTree(store, theirs)).id,
  };
  const merged = await mergeFollowingRenames(store, store, trees.base, trees.ours, trees.theirs, { strategy });
  const files = merged.tree && Object.fromEntries(await readFlatTree(store, merged.tree.id));
  return { files, conflicts: merged.conflicts };
}

describe('mergeFollowingRenames', () => {
  const v1 = file('v1');
  const v2 = file('v2');
  const other = file('other');

  it('moves the other side\'s change to the new path, whichever side moved the file', async () => {
    const base = flat({ 'a.csv': v1, 'k.txt': other });
    expect(await mergeFollowing(base, flat({ 'raw/a.csv': v1, 'k.txt': other }), flat({ 'a.csv': v2, 'k.txt': other }))).toEqual({
      files: { 'k.txt': other, 'raw/a.csv': v2 },
      conflicts: [],
    });
    expect(await mergeFollowing(base, flat({ 'a.csv': v2, 'k.txt': other }), flat({ 'raw/a.csv': v1, 'k.txt': other }))).toEqual({
      files: { 'k.txt': other, 'raw/a.csv': v2 },
      conflicts: [],
    });
  });

  it('follows the file alike of the same name, not the first in path order, and none it cannot tell apart', async () => {
    const pvc = file('pvc');
    const base = flat({ 'labels/100_pvc.csv': pvc, 'labels/121_pvc.csv': pvc });
    const archived = flat({ 'archive/121_pvc.csv': pvc });
    const annotated = flat({ 'labels/100_pvc.csv': v2, 'labels/121_pvc.csv': pvc });
    expect(await mergeFollowing(base, archived, annotated)).toEqual({ files: undefined, conflicts: [{ path: 'labels/100_pvc.csv', kind: 'delete/modify' }] });
    expect(await mergeFollowing(base, annotated, archived)).toEqual({ files: undefined, conflicts: [{ path: 'labels/100_pvc.csv', kind: 'modify/delete' }] });
    // Two alike moved under other names: which went where is a guess, so neither is followed.
    const renamed = flat({ 'archive/a.csv': pvc, 'archive/b.csv': pvc });
    expect((await mergeFollowing(base, renamed, annotated)).conflicts).toEqual([{ path: 'labels/100_pvc.csv', kind: 'delete/modify' }]);
  });

  it('is a rename/delete conflict when one side moved it and the other deleted it, which a strategy settles', async () => {
    const base = flat({ 'a.csv': v1, 'k.txt': other });
    const moved = flat({ 'b.csv': v1, 'k.txt': other });
    const deleted = flat({ 'k.txt': other });
    const conflicts = [{ path: 'a.csv', kind: 'rename/delete' }];
    expect(await mergeFollowing(base, moved, deleted)).toEqual({ files: undefined, conflicts });
    expect(await mergeFollowing(base, deleted, moved)).toEqual({ files: undefined, conflicts });
    expect(await mergeFollowing(base, moved, deleted, 'ours')).toEqual({ files: { 'b.csv': v1, 'k.txt': other }, conflicts });
    expect(await mergeFollowing(base, moved, deleted, 'theirs')).toEqual({ files: { 'k.txt': other }, conflicts });
    expect(await mergeFollowing(base, deleted, moved, 'ours')).toEqual({ files: { 'k.txt': other }, conflicts });
    expect(await mergeFollowing(base, deleted, moved, 'theirs')).toEqual({ files: { 'b.csv': v1, 'k.txt': other }, conflicts });
    // The deleting side put its own file at the new path: that is an add/add conflict too, whichever side wins.
    const replaced = flat({ 'b.csv': file('mine'), 'k.txt': other });
    const both = [...conflicts, { path: 'b.csv', kind: 'add/add' }];
    expect(await mergeFollowing(base, moved, replaced)).toEqual({ files: undefined, conflicts: both });
    expect(await mergeFollowing(base, moved, replaced, 'ours')).toEqual({ files: { 'b.csv': v1, 'k.txt': other }, conflicts: both });
    expect(await mergeFollowing(base, moved, replaced, 'theirs')).toEqual({ files: { 'b.csv': file('mine'), 'k.txt': other }, conflicts: both });
  });

  it('agrees when both moved it alike', async () => {
    const base = flat({ 'a.csv': v1, 'k.txt': other });
    expect((await mergeFollowing(base, flat({ 'b.csv': v1, 'k.txt': other }), flat({ 'b.csv': v1, 'k.txt': file('k2') })))).toEqual({
      files: { 'b.csv': v1, 'k.txt': file('k2') },
      conflicts: [],
    });
  });

  it('is a rename/rename conflict when both moved it apart, which a strategy settles with one copy', async () => {
    const base = flat({ 'a.csv': v1 });
    const ours = flat({ 'raw/a.csv': v1 });
    const theirs = flat({ 'rec/a.csv': v1 });
    expect(await mergeFollowing(base, ours, theirs)).toEqual({ files: undefined, conflicts: [{ path: 'a.csv', kind: 'rename/rename' }] });
    expect((await mergeFollowing(base, ours, theirs, 'ours')).files).toEqual({ 'raw/a.csv': v1 });
    expect((await mergeFollowing(base, ours, theirs, 'theirs')).files).toEqual({ 'rec/a.csv': v1 });
  });

  it('leaves a path alone when the other side also put something at the new path, and never pairs empty files', async () => {
    const base = flat({ 'a.csv': v1 });
    const both = await mergeFollowing(base, flat({ 'b.csv': v1 }), flat({ 'a.csv': v2, 'b.csv': file('mine') }));
    expect(both.files).toBeUndefined();
    expect(both.conflicts).toEqual([{ path: 'a.csv', kind: 'delete/modify' }, { path: 'b.csv', kind: 'add/add' }]);
    const empty = file('empty', 0);
    const e = await mergeFollowing(flat({ 'e1': empty }), flat({ 'e2': empty }), flat({ 'e1': { ...empty, executable: true } }));
    expect(e.conflicts).toEqual([{ path: 'e1', kind: 'delete/modify' }]);
  });
});
