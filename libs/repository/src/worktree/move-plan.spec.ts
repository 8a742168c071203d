import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { TreeChange } from '@tributary/core';
import { firstLocalClash, removeWriteTemps } from './move-plan';

const change = (path: string): TreeChange => ({ path, status: 'modified' }) as TreeChange;

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
});
