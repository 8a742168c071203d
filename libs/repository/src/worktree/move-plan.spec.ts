import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { TreeChange, TreeEntry } from '@tributary/core';
import { firstLocalClash, hiddenBlockers, removeWriteTemps } from './move-plan';

const change = (path: string): TreeChange => ({ path, status: 'modified' }) as TreeChange;
const file = { kind: 'file' } as TreeEntry;
const link = { kind: 'symlink' } as TreeEntry;

/** A working tree `root` whose `data` links to `outside/shared`, a folder beside it holding x.csv. */
function linkedTree(): { dir: string; root: string; shared: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'trib-move-plan-'));
  const root = path.join(dir, 'root');
  const shared = path.join(dir, 'outside', 'shared');
  mkdirSync(root);
  mkdirSync(shared, { recursive: true });
  writeFileSync(path.join(shared, 'x.csv'), 'PRECIOUS');
  symlinkSync(shared, path.join(root, 'data'));
  return { dir, root, shared };
}

describe('firstLocalClash', () => {
  it('finds a local change at, beneath or above a planned path, and nothing that only shares a prefix', () => {
    const local = ['notes.txt', 'data/raw/a.csv', 'models', 'ab/c'];
    expect(firstLocalClash([change('notes.txt')], local)).toBe('notes.txt');
    expect(firstLocalClash([change('data')], local)).toBe('data/raw/a.csv');
    expect(firstLocalClash([change('models/v1.bin')], local)).toBe('models');
    expect(firstLocalClash([change('a'), change('ab'), change('data/raw/a.csv.bak'), change('note')], local)).toBe('ab/c');
    expect(firstLocalClash([change('a'), change('data/raw/a.csv.bak'), change('note'), change('model')], local)).toBeUndefined();
    expect(firstLocalClash([change('x')], [])).toBeUndefined();
  });

  it('answers for 30,000 planned paths against 30,000 local ones without comparing every pair', () => {
    const plan = Array.from({ length: 30_000 }, (_, i) => change(`new/${i}.csv`));
    const local = Array.from({ length: 30_000 }, (_, i) => `untracked/${i}.csv`);
    const compare = jest.spyOn(String.prototype, 'startsWith');
    try {
      expect(firstLocalClash(plan, local)).toBeUndefined();
      // A binary search per path: one prefix test each, not one per local change.
      expect(compare.mock.calls.length).toBeLessThanOrEqual(plan.length);
    } finally {
      compare.mockRestore();
    }
  });
});

describe('hiddenBlockers', () => {
  it('looks at nothing beneath a symlink: one the move removes first is in no way, one it keeps is the blocker', () => {
    const { dir, root } = linkedTree();
    try {
      const intoFolder: TreeChange[] = [
        { path: 'data', status: 'removed', old: link },
        { path: 'data/x.csv', status: 'added', new: file },
      ];
      expect(hiddenBlockers(root, intoFolder)).toEqual([]);
      expect(hiddenBlockers(root, intoFolder.slice(1))).toEqual([{ path: 'data', remove: 'data', symlink: true, empty: false }]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('finds a folder where a file goes in the way when it holds a file, and only empty otherwise', () => {
    const root = mkdtempSync(path.join(tmpdir(), 'trib-move-plan-'));
    try {
      mkdirSync(path.join(root, 'model', 'empty', 'too'), { recursive: true });
      const model: TreeChange[] = [{ path: 'model', status: 'added', new: file }];
      expect(hiddenBlockers(root, model)).toEqual([{ path: 'model', remove: 'model', symlink: false, empty: true }]);
      writeFileSync(path.join(root, 'model', 'empty', 'x.log'), 'x');
      expect(hiddenBlockers(root, model)).toEqual([{ path: 'model/empty/x.log', remove: 'model', symlink: false, empty: false }]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('removeWriteTemps', () => {
  it("deletes the temp files a killed move left beside its paths, and nothing else, not even a user's .trib-tmp-notes", () => {
    const root = mkdtempSync(path.join(tmpdir(), 'trib-temps-'));
    try {
      for (const name of ['.trib-tmp-0123456789ab', '.trib-tmp-notes.txt', 'a.csv']) writeFileSync(path.join(root, name), 'x');
      removeWriteTemps(root, [change('a.csv')]);
      expect(readdirSync(root).sort()).toEqual(['.trib-tmp-notes.txt', 'a.csv']);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('looks into no folder through a symlink', () => {
    const { dir, root, shared } = linkedTree();
    try {
      writeFileSync(path.join(shared, '.trib-tmp-0123456789ab'), 'not ours');
      removeWriteTemps(root, [change('data/x.csv')]);
      expect(readdirSync(shared).sort()).toEqual(['.trib-tmp-0123456789ab', 'x.csv']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
