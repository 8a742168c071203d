import fc from 'fast-check';
import { FailedPreconditionError, InvalidArgumentError } from '../errors/trib-error';
import { fakeId, FlatTree, MemoryObjects, readFlatTree, writeFlatTree } from '../testing/memory-objects';
import { TreeEntry } from './object-types';
import { editPath } from './tree-path-edit';

function file(seed: string, size = 10): Omit<TreeEntry, 'name'> {
  return { kind: 'file', executable: false, chunked: false, id: fakeId(seed), size };
}

describe('editPath', () => {
  it('property: equals building the edited flat tree afresh', async () => {
    const segment = fc.constantFrom('a', 'b', 'c', 'batches', '2026-01-02', 'x.csv');
    const path = fc.array(segment, { minLength: 1, maxLength: 4 }).map((p) => p.join('/'));
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(path, { maxLength: 12 }), fc.array(fc.tuple(path, fc.boolean()), { maxLength: 6 }), async (initial, edits) => {
        const model: FlatTree = new Map();
        // Keep only paths that do not lie beneath another file, as a real tree would.
        const addable = (p: string) => ![...model.keys()].some((q) => p.startsWith(`${q}/`) || q.startsWith(`${p}/`) || q === p);
        for (const p of initial) if (addable(p)) model.set(p, file(p));
        const objects = new MemoryObjects();
        let root = (await writeFlatTree(objects, model)).id;
        for (const [p, remove] of edits) {
          if (remove) {
            model.delete(p);
            for (const q of [...model.keys()]) if (q.startsWith(`${p}/`)) model.delete(q);
            if ([...model.keys()].some((q) => p.startsWith(`${q}/`))) continue;
            root = (await editPath(objects, objects, root, p, undefined)).id;
            // Removing a directory path removes everything beneath it, like the model.
          } else {
            if ([...model.keys()].some((q) => p.startsWith(`${q}/`) || q.startsWith(`${p}/`))) continue;
            model.set(p, file(`${p}!`));
            root = (await editPath(objects, objects, root, p, file(`${p}!`))).id;
          }
        }
        const expected = await writeFlatTree(new MemoryObjects(), model);
        expect(root).toBe(expected.id);
        expect(await readFlatTree(objects, root)).toEqual(model);
      }),
      { numRuns: 150 },
    );
  });

  it('creates missing directories, reports sizes, and drops directories a removal empties', async () => {
    const objects = new MemoryObjects();
    const a = await editPath(objects, objects, undefined, 'batches/2026-01-02/b1.csv', file('1', 100));
    const b = await editPath(objects, objects, a.id, 'batches/2026-01-03/b2.csv', file('2', 50));
    expect(b.size).toBe(150);
    const c = await editPath(objects, objects, b.id, 'batches/2026-01-03/b2.csv', undefined);
    expect(c).toEqual(a);
    const d = await editPath(objects, objects, c.id, 'nope/missing', undefined);
    expect(d).toEqual(a);
  });

  it('refuses to descend through a file and rejects unsafe paths', async () => {
    const objects = new MemoryObjects();
    const a = await editPath(objects, objects, undefined, 'data.csv', file('1'));
    await expect(editPath(objects, objects, a.id, 'data.csv/x', file('2'))).rejects.toThrow(FailedPreconditionError);
    await expect(editPath(objects, objects, a.id, '../x', file('2'))).rejects.toThrow(InvalidArgumentError);
  });
});
