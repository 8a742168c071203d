import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { scanWorktree } from './worktree-scan';

describe('scanWorktree', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(path.join(tmpdir(), 'trib-scan-'));
    mkdirSync(path.join(root, '.trib'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  const paths = () => [...scanWorktree(root)].map((s) => s.path);

  it('refuses a name that is not UTF-8, naming it, instead of leaving the file out', () => {
    writeFileSync(path.join(root, 'good.csv'), 'ok\n');
    mkdirSync(path.join(root, 'sub'));
    writeFileSync(Buffer.concat([Buffer.from(path.join(root, 'sub') + '/'), Buffer.from([0x64, 0xe9, 0x6a, 0xe0])]), 'x');
    expect(() => paths()).toThrow(/^cannot track "sub\/d\\xe9j\\xe0": the name is not valid UTF-8; rename it$/);
  });

  it('keeps a name holding U+FFFD itself, which is valid UTF-8', () => {
    writeFileSync(path.join(root, 'a\uFFFDb.csv'), 'ok\n');
    expect(paths()).toEqual(['a\uFFFDb.csv']);
  });

  it('skips a folder holding a repository of its own, and the temp files of an interrupted write', () => {
    writeFileSync(path.join(root, 'a.csv'), 'a\n');
    mkdirSync(path.join(root, 'inner', '.trib'), { recursive: true });
    writeFileSync(path.join(root, 'inner', '.trib', 'config.json'), '{}\n');
    writeFileSync(path.join(root, 'inner', 'f.csv'), 'f\n');
    writeFileSync(path.join(root, '.trib-tmp-0123456789ab'), 'half a file');
    mkdirSync(path.join(root, 'd'));
    writeFileSync(path.join(root, 'd', '.trib-tmp-ba9876543210'), 'half a file');
    writeFileSync(path.join(root, 'd', 'b.csv'), 'b\n');
    expect(paths()).toEqual(['a.csv', 'd/b.csv']);
  });

  it('tracks the files beside a .trib/ that holds no repository (an init cut short), but never the .trib/', () => {
    mkdirSync(path.join(root, 'sub', '.trib'), { recursive: true });
    writeFileSync(path.join(root, 'sub', '.trib', 'HEAD'), 'x');
    writeFileSync(path.join(root, 'sub', 'data.csv'), 'd\n');
    expect(paths()).toEqual(['sub/data.csv']);
  });

  it("keeps a user's file that only begins like a temp file's name", () => {
    for (const name of ['.trib-tmp-notes.txt', '.trib-tmp-0123456789abc', '.trib-tmp-0123456789AB']) writeFileSync(path.join(root, name), 'mine');
    expect(paths()).toEqual(['.trib-tmp-0123456789AB', '.trib-tmp-0123456789abc', '.trib-tmp-notes.txt']);
  });
});
