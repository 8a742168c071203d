import fs, { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { EntryKind } from '@tributary/core';
import { loadIgnoreRules, scanWorktree } from './worktree-scan';

/** A failure as Node reports one of `syscall` on `p`. */
function systemError(code: string, what: string, syscall: string, p: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${what}, ${syscall} '${p}'`), { code, syscall, path: p });
}

/**
 * Makes `name` of fs throw `error` for the paths ending in `suffix`. As root, chmod 000 stops no read, and EIO or
 * ELOOP have no trigger at all: such failures are planted.
 */
function failFor<K extends 'lstatSync' | 'readdirSync' | 'readFileSync'>(name: K, suffix: string, error: NodeJS.ErrnoException): void {
  const real = fs[name] as (...args: unknown[]) => unknown;
  jest.spyOn(fs, name).mockImplementation(((p: fs.PathLike, ...rest: unknown[]) => {
    if (String(p).endsWith(suffix)) throw error;
    return real(p, ...rest);
  }) as never);
}

describe('scanWorktree', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(path.join(tmpdir(), 'trib-scan-'));
    mkdirSync(path.join(root, '.trib'));
  });
  afterEach(() => {
    jest.restoreAllMocks();
    rmSync(root, { recursive: true, force: true });
  });

  /** The scan asking what is tracked, answered from `tracked`: the paths it kept, and those it asked about. */
  function scanAnswering(tracked: ReadonlyMap<string, EntryKind>): { kept: string[]; asked: string[] } {
    const asked: string[] = [];
    const kept: string[] = [];
    const scan = scanWorktree(root, undefined, { askTracked: true });
    for (let r = scan.next(); !r.done; ) {
      if (r.value.kind === 'ignored') {
        asked.push(r.value.path);
        r = scan.next(tracked.get(r.value.path));
      } else {
        kept.push(r.value.path);
        r = scan.next();
      }
    }
    return { kept, asked };
  }

  const paths = () => [...scanWorktree(root)].map((s) => s.path);

  it('refuses a name that is not UTF-8, naming it, instead of leaving the file out', () => {
    writeFileSync(path.join(root, 'good.csv'), 'ok\n');
    mkdirSync(path.join(root, 'sub'));
    writeFileSync(Buffer.concat([Buffer.from(path.join(root, 'sub') + '/'), Buffer.from([0x64, 0xe9, 0x6a, 0xe0])]), 'x');
    expect(() => paths()).toThrow(/^cannot track "sub\/d\\351j\\340": the name is not valid UTF-8; rename it, or add a pattern for it to \.tribignore \(a \* stands for the bytes that are not\)$/);
  });

  it('skips a name that is not UTF-8 once a pattern ignores it, a file or a folder, or its folder is ignored', () => {
    writeFileSync(path.join(root, 'good.csv'), 'ok\n');
    const raw = (dir: string, name: number[]) => Buffer.concat([Buffer.from(path.join(root, dir) + '/'), Buffer.from(name)]);
    writeFileSync(raw('', [0x72, 0x61, 0x77, 0xff, 0x2e, 0x62, 0x69, 0x6e]), 'x'); // raw\377.bin
    mkdirSync(raw('', [0x64, 0xe9, 0x6a, 0xe0])); // d\351j\340/
    writeFileSync(Buffer.concat([raw('', [0x64, 0xe9, 0x6a, 0xe0]), Buffer.from('/in.csv')]), 'y');
    mkdirSync(path.join(root, 'tmp'));
    writeFileSync(raw('tmp', [0xfe]), 'z');
    expect(() => paths()).toThrow(/^cannot track "d\\351j\\340"/);
    writeFileSync(path.join(root, '.tribignore'), 'd*/\n');
    expect(() => paths()).toThrow(/^cannot track "raw\\377\.bin"/);
    for (const rules of ['raw*\nd*/\ntmp/\n', 'raw?.bin\nd?j?/\ntmp\n', '*.bin\n/d*\ntmp/*\n']) {
      writeFileSync(path.join(root, '.tribignore'), rules);
      expect(paths()).toEqual(['.tribignore', 'good.csv']);
    }
  });

  it('quotes the whole path of a name that is not UTF-8 as git does, folder and name', () => {
    mkdirSync(path.join(root, 'd\tq'));
    writeFileSync(Buffer.concat([Buffer.from(path.join(root, 'd\tq') + '/'), Buffer.from('\xfe\\z"', 'latin1')]), 'x');
    expect(() => paths()).toThrow('cannot track "d\\tq/\\376\\\\z\\"": the name is not valid UTF-8; rename it, or add a pattern for it to .tribignore (a * stands for the bytes that are not)');
  });

  it('refuses a name no tree may hold (a backslash), saying how to go on, and skips it once it is ignored', () => {
    writeFileSync(path.join(root, 'good.csv'), 'ok\n');
    writeFileSync(path.join(root, 'back\\slash'), 'x');
    expect(() => paths()).toThrow('cannot track "back\\\\slash": unsafe path: "back\\\\slash" contains / or \\ or NUL; rename it, or add it to .tribignore');
    writeFileSync(path.join(root, '.tribignore'), 'back*\n');
    expect(paths()).toEqual(['.tribignore', 'good.csv']);
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

  it('keeps what HEAD tracks in a folder holding a repository of its own, and asks of nothing else there', () => {
    mkdirSync(path.join(root, 'inner', '.trib'), { recursive: true });
    writeFileSync(path.join(root, 'inner', '.trib', 'config.json'), '{}\n');
    writeFileSync(path.join(root, 'inner', 'f.csv'), 'f\n');
    writeFileSync(path.join(root, 'inner', 'g.csv'), 'g\n');
    mkdirSync(path.join(root, 'inner', 'sub'));
    writeFileSync(path.join(root, 'inner', 'sub', 'h.csv'), 'h\n');
    const tracked = new Map<string, EntryKind>([['inner', 'dir'], ['inner/f.csv', 'file']]);
    const { kept, asked } = scanAnswering(tracked);
    expect(kept).toEqual(['inner/f.csv']);
    expect(asked).toEqual(['inner/f.csv', 'inner/g.csv', 'inner/sub']);
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

  it('refuses a path it cannot stat or a folder it cannot list, naming it, instead of leaving it out', () => {
    writeFileSync(path.join(root, 'a.csv'), 'a\n');
    mkdirSync(path.join(root, 'sub'));
    writeFileSync(path.join(root, 'sub', 'b.csv'), 'b\n');
    failFor('lstatSync', '/sub/b.csv', systemError('EIO', 'i/o error', 'lstat', path.join(root, 'sub/b.csv')));
    expect(() => paths()).toThrow(/^cannot read "sub\/b.csv": EIO: i\/o error$/);
    jest.restoreAllMocks();
    failFor('readdirSync', '/sub', systemError('EACCES', 'permission denied', 'scandir', path.join(root, 'sub')));
    expect(() => paths()).toThrow(/^cannot read "sub": EACCES: permission denied$/);
  });

  it('takes a path removed while it scanned (gone, or its folder now a file) as not there', () => {
    writeFileSync(path.join(root, 'a.csv'), 'a\n');
    mkdirSync(path.join(root, 'sub'));
    writeFileSync(path.join(root, 'sub', 'b.csv'), 'b\n');
    mkdirSync(path.join(root, 'gone'));
    writeFileSync(path.join(root, 'gone', 'c.csv'), 'c\n');
    failFor('lstatSync', '/sub/b.csv', systemError('ENOTDIR', 'not a directory', 'lstat', path.join(root, 'sub/b.csv')));
    failFor('readdirSync', '/gone', systemError('ENOENT', 'no such file or directory', 'scandir', path.join(root, 'gone')));
    expect(paths()).toEqual(['a.csv']);
  });

  it('refuses a .tribignore it cannot read rather than ignoring nothing', () => {
    writeFileSync(path.join(root, '.tribignore'), 'secret/\n');
    failFor('readFileSync', '/.tribignore', systemError('EACCES', 'permission denied', 'open', path.join(root, '.tribignore')));
    expect(() => loadIgnoreRules(root)).toThrow(/^cannot read ".tribignore": EACCES: permission denied$/);
    jest.restoreAllMocks();
    rmSync(path.join(root, '.tribignore'));
    expect(loadIgnoreRules(root).empty).toBe(true);
  });

  it('asks about each path .tribignore matches and keeps it when tracked, and the tracked paths of an ignored folder', () => {
    const files = ['a.csv', 'x.tmp', 'y.tmp', 'z.tmp/f', 'scratch/keep.csv', 'scratch/new.csv', 'scratch/sub/deep.csv', 'scratch/other/n.csv'];
    for (const f of files) {
      mkdirSync(path.dirname(path.join(root, f)), { recursive: true });
      writeFileSync(path.join(root, f), f);
    }
    writeFileSync(path.join(root, '.tribignore'), '*.tmp\nscratch/\n');
    // y.tmp was a folder and z.tmp a file: a path is kept only as the kind it is tracked as.
    const tracked = new Map<string, EntryKind>([
      ['x.tmp', 'file'],
      ['y.tmp', 'dir'],
      ['z.tmp', 'file'],
      ['scratch', 'dir'],
      ['scratch/keep.csv', 'file'],
      ['scratch/sub', 'dir'],
      ['scratch/sub/deep.csv', 'symlink'],
    ]);
    const { kept, asked } = scanAnswering(tracked);
    expect(kept).toEqual(['.tribignore', 'a.csv', 'scratch/keep.csv', 'scratch/sub/deep.csv', 'x.tmp']);
    expect(asked).toEqual(['scratch', 'scratch/keep.csv', 'scratch/new.csv', 'scratch/other', 'scratch/sub', 'scratch/sub/deep.csv', 'x.tmp', 'y.tmp', 'z.tmp']);
    // Not asked, ignored paths are left out as ever.
    expect(paths()).toEqual(['.tribignore', 'a.csv']);
  });
});
