import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync, readlinkSync, statSync, appendFileSync, utimesSync } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Repository } from '@tributary/repository';
import { commitFiles } from '../libs/sync/src/testing/sync-harness';
import { lastLine, ok, tempDir, trib } from './support/trib';

describe('trib CLI: commit, log, show, status, diff', () => {
  let t: ReturnType<typeof tempDir>;
  let repo: string;
  beforeEach(() => {
    t = tempDir();
    repo = path.join(t.dir, 'ds');
    ok(t.dir, ['init', repo]);
  });
  afterEach(() => t.cleanup());

  it('commits a tree, prints the id last, and says when there is nothing to commit', () => {
    writeFileSync(path.join(repo, 'a.csv'), 'id,v\n1,x\n');
    mkdirSync(path.join(repo, 'sub'));
    writeFileSync(path.join(repo, 'sub/b.bin'), Buffer.from([0, 1, 2, 255]));
    // --annotate, and --meta, the same option under its older name.
    const c1 = ok(repo, ['commit', '-m', 'first', '--annotate', 'source=ward-7', '--meta', 'batch=1']);
    const id = lastLine(c1.stdout);
    expect(id).toMatch(/^[0-9a-f]{64}$/);

    const again = ok(repo, ['commit', '-m', 'nothing']);
    expect(again.stdout.trim()).toBe('');
    expect(again.stderr).toMatch(/nothing to commit/);

    const log = JSON.parse(ok(repo, ['log', '--json']).stdout);
    expect(log).toHaveLength(1);
    expect(log[0]).toMatchObject({ id, parents: [], author: 'Test <test@example.org>', message: 'first', annotations: { source: 'ward-7', batch: '1' } });
    expect(log[0].time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

    const show = JSON.parse(ok(repo, ['show', id.slice(0, 8), '--json']).stdout);
    expect(show.id).toBe(id);
    expect(show.size).toBe(9 + 4);
  });

  it('init refuses a folder that is a repository, and finishes one whose init was cut short', () => {
    const again = trib(t.dir, ['init', repo]);
    expect([again.code, again.stderr.trim()]).toEqual([2, `trib init: ${repo} is already a trib repository`]);
    // A kill after .trib/ (and its store) were made, before the config that makes them a repository.
    const cut = path.join(t.dir, 'cut');
    mkdirSync(path.join(cut, '.trib', 'store'), { recursive: true });
    ok(t.dir, ['init', cut]);
    writeFileSync(path.join(cut, 'a.txt'), 'a\n');
    ok(cut, ['commit', '-m', 'first']);
  });

  it('a repository made in a tracked folder leaves what the outer one tracks there tracked, as git does', () => {
    mkdirSync(path.join(repo, 'beats'));
    writeFileSync(path.join(repo, 'beats', '100.csv'), 'idx,R\n0,77\n');
    writeFileSync(path.join(repo, 'notes.txt'), 'x\n');
    ok(repo, ['commit', '-m', 'two']);
    ok(repo, ['init', 'beats']);
    writeFileSync(path.join(repo, 'beats', 'inner-only.csv'), 'i\n');
    expect(JSON.parse(ok(repo, ['status', '--json']).stdout).changes).toEqual([]);
    writeFileSync(path.join(repo, 'notes.txt'), 'y\n');
    appendFileSync(path.join(repo, 'beats', '100.csv'), '1,370\n');
    ok(repo, ['commit', '-m', 'edit both']);
    const changes = JSON.parse(ok(repo, ['diff', 'HEAD~1', 'HEAD', '--json']).stdout).changes;
    expect(changes.map((c: { path: string; status: string }) => [c.status, c.path])).toEqual([['modified', 'beats/100.csv'], ['modified', 'notes.txt']]);
  });

  it('init --store records a file store in its normal form: a FILE:// URL or a path with a trailing / names the same store', () => {
    const storeDir = path.join(t.dir, 'shared-store');
    const url = pathToFileURL(storeDir).href;
    const a = path.join(t.dir, 'a');
    const b = path.join(t.dir, 'b');
    ok(t.dir, ['init', a, '--store', `FILE${url.slice(4)}/`]);
    ok(t.dir, ['init', b, '--store', `${storeDir}/`]);
    for (const copy of [a, b]) expect(JSON.parse(readFileSync(path.join(copy, '.trib/config.json'), 'utf8')).store).toBe(url);
    writeFileSync(path.join(a, 'a.txt'), 'a\n');
    const id = lastLine(ok(a, ['commit', '-m', 'first']).stdout);
    expect(JSON.parse(ok(b, ['log', '--json']).stdout).map((c: { id: string }) => c.id)).toEqual([id]);
  });

  it('init --store takes a folder relative to where it runs as ./DIR or ../DIR, and records it absolute', () => {
    const work = path.join(t.dir, 'work');
    mkdirSync(work);
    ok(work, ['init', 'a', '--store', '../stores/one']);
    ok(path.join(work, 'a'), ['init', '../b', '--store', './../../stores/one']);
    const url = pathToFileURL(path.join(t.dir, 'stores', 'one')).href;
    for (const copy of ['a', 'b']) expect(JSON.parse(readFileSync(path.join(work, copy, '.trib/config.json'), 'utf8')).store).toBe(url);
    const bare = trib(work, ['init', 'c', '--store', 'stores/two']);
    expect([bare.code, bare.stderr]).toEqual([
      2,
      'trib init: --store "stores/two": expected ./stores/two for a folder (a relative path starts with ./ or ../), or a URL with its scheme, such as s3://stores/two\n',
    ]);
    expect(existsSync(path.join(work, 'c'))).toBe(false);
  });

  it('init refuses a store among the working files, or a working folder inside its store, and creates nothing', () => {
    const work = path.join(t.dir, 'nested');
    mkdirSync(work);
    const inside = trib(work, ['init', 'r', '--store', './r/objects']);
    expect([inside.code, inside.stderr]).toEqual([
      2,
      `trib init: cannot use ${path.join(work, 'r/objects')} as the store of ${path.join(work, 'r')}: the store would be among the working files, ` +
        `which a commit takes in (a store folder inside ${path.join(work, 'r')} goes under .trib/)\n`,
    ]);
    const around = trib(work, ['init', 'store/r', '--store', './store']);
    expect([around.code, around.stderr]).toEqual([
      2,
      `trib init: cannot use ${path.join(work, 'store')} as the store of ${path.join(work, 'store/r')}: the working folder would be inside the store\n`,
    ]);
    expect(readdirSync(work)).toEqual([]);
    // Under .trib/ is where the default store is, and no commit takes it in.
    ok(work, ['init', 'r', '--store', './r/.trib/objects']);
    writeFileSync(path.join(work, 'r', 'a.txt'), 'a\n');
    ok(path.join(work, 'r'), ['commit', '-m', 'first']);
    writeFileSync(path.join(work, 'r', 'b.txt'), 'b\n');
    ok(path.join(work, 'r'), ['commit', '-m', 'second']);
    const changes = JSON.parse(ok(path.join(work, 'r'), ['diff', 'HEAD~1', 'HEAD', '--json']).stdout).changes;
    expect(changes.map((c: { path: string }) => c.path)).toEqual(['b.txt']);
  });

  it('uses --author, then $TRIB_AUTHOR', () => {
    writeFileSync(path.join(repo, 'f'), 'x');
    ok(repo, ['commit', '-m', 'one', '--author', 'Dr Who']);
    writeFileSync(path.join(repo, 'f'), 'y');
    ok(repo, ['commit', '-m', 'two'], 0, { env: { TRIB_AUTHOR: 'Nurse Joy' } });
    const log = JSON.parse(ok(repo, ['log', '--json']).stdout);
    expect(log.map((c: any) => c.author)).toEqual(['Nurse Joy', 'Dr Who']);
  });

  it('status and diff report added, removed and modified paths', () => {
    writeFileSync(path.join(repo, 'keep.txt'), 'keep\n');
    writeFileSync(path.join(repo, 'gone.txt'), 'gone\n');
    writeFileSync(path.join(repo, 'edit.txt'), 'v1\n');
    const c1 = lastLine(ok(repo, ['commit', '-m', 'one']).stdout);
    rmSync(path.join(repo, 'gone.txt'));
    writeFileSync(path.join(repo, 'edit.txt'), 'v2\n');
    writeFileSync(path.join(repo, 'new.txt'), 'new\n');

    const st = JSON.parse(ok(repo, ['status', '--json']).stdout);
    expect(st.clean).toBe(false);
    expect(st.changes).toEqual([
      { path: 'edit.txt', status: 'modified' },
      { path: 'gone.txt', status: 'removed' },
      { path: 'new.txt', status: 'added' },
    ]);
    const wd = JSON.parse(ok(repo, ['diff', '--json']).stdout);
    expect(wd).toMatchObject({ added: ['new.txt'], removed: ['gone.txt'], modified: ['edit.txt'] });

    const c2 = lastLine(ok(repo, ['commit', '-m', 'two']).stdout);
    const d = JSON.parse(ok(repo, ['diff', c1, c2, '--json']).stdout);
    expect(d).toMatchObject({ added: ['new.txt'], removed: ['gone.txt'], modified: ['edit.txt'] });
    const one = JSON.parse(ok(repo, ['diff', c1, '--json']).stdout);
    expect(one.added).toEqual(['new.txt']);
    expect(JSON.parse(ok(repo, ['status', '--json']).stdout).clean).toBe(true);
    // One revision is compared with the working tree, as git diff does: uncommitted changes show too.
    writeFileSync(path.join(repo, 'later.txt'), 'not committed\n');
    expect(JSON.parse(ok(repo, ['diff', c1, '--json']).stdout)).toMatchObject({ to: 'working tree', added: ['later.txt', 'new.txt'] });
    expect(JSON.parse(ok(repo, ['diff', c1, c2, '--json']).stdout).added).toEqual(['new.txt']);
  });

  it('diff shows a mode change: an executable bit set, a file that became a symlink', () => {
    writeFileSync(path.join(repo, 'run.sh'), 'echo hi\n');
    writeFileSync(path.join(repo, 'f'), 'abc');
    const c1 = lastLine(ok(repo, ['commit', '-m', 'one']).stdout);
    chmodSync(path.join(repo, 'run.sh'), 0o755);
    rmSync(path.join(repo, 'f'));
    symlinkSync('abc', path.join(repo, 'f'));
    const d = JSON.parse(ok(repo, ['diff', '--json']).stdout);
    expect(d.changes).toEqual([
      { path: 'f', status: 'modified', oldSize: 3, newSize: 3, oldMode: 'file', newMode: 'symlink' },
      { path: 'run.sh', status: 'modified', oldSize: 8, newSize: 8, oldMode: 'file', newMode: 'executable' },
    ]);
    const c2 = lastLine(ok(repo, ['commit', '-m', 'two']).stdout);
    expect(ok(repo, ['diff', c1, c2]).stdout).toBe('M f (3 bytes)\n    mode: file -> symlink\nM run.sh (8 bytes)\n    mode: file -> executable\n');
    writeFileSync(path.join(repo, 'new.txt'), 'n\n');
    expect(JSON.parse(ok(repo, ['diff', '--json']).stdout).changes).toEqual([
      { path: 'new.txt', status: 'added', oldSize: null, newSize: 2, oldMode: null, newMode: 'file' },
    ]);
  });

  it('diff --rows shows no rows line for a file whose mode alone changed', () => {
    writeFileSync(path.join(repo, 'beats.csv'), 'idx,R\n0,77\n');
    const c1 = lastLine(ok(repo, ['commit', '-m', 'one']).stdout);
    chmodSync(path.join(repo, 'beats.csv'), 0o755);
    expect(ok(repo, ['diff', '--rows']).stdout).toBe('M beats.csv (11 bytes)\n    mode: file -> executable\n');
    const c2 = lastLine(ok(repo, ['commit', '-m', 'two']).stdout);
    expect(ok(repo, ['diff', c1, c2, '--rows']).stdout).toBe('M beats.csv (11 bytes)\n    mode: file -> executable\n');
    expect(JSON.parse(ok(repo, ['diff', c1, c2, '--rows', '--json']).stdout).changes).toEqual([
      { path: 'beats.csv', status: 'modified', oldSize: 11, newSize: 11, oldMode: 'file', newMode: 'executable' },
    ]);
  });

  it('diff shows a file moved as it is as one rename, not as its rows removed and added again', () => {
    const beats = 'idx,R\n' + Array.from({ length: 500 }, (_, i) => `${i},${(i * 7919) % 1000}`).join('\n') + '\n';
    writeFileSync(path.join(repo, '100.csv'), beats);
    writeFileSync(path.join(repo, 'notes.txt'), 'notes\n');
    writeFileSync(path.join(repo, 'empty-a'), '');
    const c1 = lastLine(ok(repo, ['commit', '-m', 'one']).stdout);
    mkdirSync(path.join(repo, 'raw'));
    writeFileSync(path.join(repo, 'raw', '100.csv'), beats);
    rmSync(path.join(repo, '100.csv'));
    writeFileSync(path.join(repo, 'notes.md'), 'notes, edited\n');
    rmSync(path.join(repo, 'notes.txt'));
    writeFileSync(path.join(repo, 'empty-b'), '');
    rmSync(path.join(repo, 'empty-a'));
    const c2 = lastLine(ok(repo, ['commit', '-m', 'two']).stdout);
    const d = JSON.parse(ok(repo, ['diff', c1, c2, '--rows', '--json']).stdout);
    expect(d).toMatchObject({ added: ['empty-b', 'notes.md'], removed: ['empty-a', 'notes.txt'], modified: [], renamed: [{ from: '100.csv', to: 'raw/100.csv' }] });
    expect(d.changes.find((c: any) => c.path === 'raw/100.csv')).toEqual({
      path: 'raw/100.csv', status: 'renamed', oldPath: '100.csv', oldSize: beats.length, newSize: beats.length, oldMode: 'file', newMode: 'file',
    });
    expect(ok(repo, ['diff', c1, c2]).stdout).toBe(
      `D empty-a (0 bytes)\nA empty-b (0 bytes)\nA notes.md (14 bytes)\nD notes.txt (6 bytes)\nR 100.csv -> raw/100.csv (${beats.length} bytes)\n`,
    );
  });

  it('row diff: appended and removed records, header skipped, quoted newlines kept, missing final newline is no change', () => {
    writeFileSync(path.join(repo, 'beats.csv'), 'idx,R\n0,77\n1,"a\nb"\n2,662');
    writeFileSync(path.join(repo, 'events.jsonl'), '{"a":1}\n{"a":2}\n');
    const c1 = lastLine(ok(repo, ['commit', '-m', 'one']).stdout);
    writeFileSync(path.join(repo, 'beats.csv'), 'idx,R\n0,77\n1,"a\nb"\n2,662\n3,946\n3,946\n');
    writeFileSync(path.join(repo, 'events.jsonl'), '{"a":2}\n{"a":3}\n');
    const c2 = lastLine(ok(repo, ['commit', '-m', 'two']).stdout);
    const d = JSON.parse(ok(repo, ['diff', c1, c2, '--rows', '--json']).stdout);
    const beats = d.changes.find((c: any) => c.path === 'beats.csv');
    expect(beats.rows).toMatchObject({ addedCount: 2, removedCount: 0, added: [{ record: '3,946', count: 2 }], removed: [] });
    const ev = d.changes.find((c: any) => c.path === 'events.jsonl');
    expect(ev.rows).toMatchObject({ addedCount: 1, removedCount: 1, added: [{ record: '{"a":3}', count: 1 }], removed: [{ record: '{"a":1}', count: 1 }] });
    const text = ok(repo, ['diff', c1, c2, '--rows']).stdout;
    expect(text).toContain('+ (x2) 3,946');
    expect(text).not.toContain('not listed');
    expect(beats.rows.headerChanged).toBeNull();
    // Capped, the text says how many records it does not list (the JSON has the counts).
    const capped = ok(repo, ['diff', c1, c2, '--rows', '--max-rows', '0']).stdout;
    expect(capped).toContain('M beats.csv (24 -> 37 bytes)\n    rows: +2 -0\n    ... 2 more not listed (--max-rows 0)\n');
    expect(capped).toContain('M events.jsonl (16 bytes)\n    rows: +1 -1\n    ... 2 more not listed (--max-rows 0)\n');
  });

  it('status and diff (--rows too) C-quote a name or record with a control character, as git; --json as is', () => {
    const odd = 'a\nM b';
    writeFileSync(path.join(repo, odd), 'x');
    writeFileSync(path.join(repo, 'b'), 'z\n');
    writeFileSync(path.join(repo, 'say "hi".txt'), 'x');
    writeFileSync(path.join(repo, 'r.csv'), 'id,v\n1,a\n');
    const c1 = lastLine(ok(repo, ['commit', '-m', 'one']).stdout);
    writeFileSync(path.join(repo, odd), 'zz');
    writeFileSync(path.join(repo, 'say "hi".txt'), 'y');
    writeFileSync(path.join(repo, 'r.csv'), 'id,v\n1,a\n2,"two\nM b"\n3,"x, y"\n');

    const lines = ['M "a\\nM b"', 'M r.csv', 'M "say \\"hi\\".txt"'];
    expect(ok(repo, ['status']).stdout.split('\n').slice(1, -1)).toEqual(lines);
    const sizes = [' (1 -> 2 bytes)', ' (9 -> 30 bytes)', ' (1 byte)'];
    expect(ok(repo, ['diff']).stdout.split('\n').slice(0, -1)).toEqual(lines.map((l, i) => l + sizes[i]));
    const paths = [odd, 'r.csv', 'say "hi".txt'];
    expect(JSON.parse(ok(repo, ['status', '--json']).stdout).changes.map((c: any) => c.path)).toEqual(paths);
    expect(JSON.parse(ok(repo, ['diff', '--json']).stdout).modified).toEqual(paths);

    const c2 = lastLine(ok(repo, ['commit', '-m', 'two']).stdout);
    const rows = ok(repo, ['diff', c1, c2, '--rows']).stdout.split('\n');
    expect(rows).toContain('    + "2,\\"two\\nM b\\""');
    expect(rows).toContain('    + 3,"x, y"');
    expect(rows).not.toContain('M b"');
    const d = JSON.parse(ok(repo, ['diff', c1, c2, '--rows', '--json']).stdout);
    const added = d.changes.find((c: any) => c.path === 'r.csv').rows.added.map((r: any) => r.record);
    expect(added).toEqual(['2,"two\nM b"', '3,"x, y"']);
  });

  it('row diff shows a changed CSV header, which is not a row', () => {
    writeFileSync(path.join(repo, 'beats.csv'), 'idx,R\n0,77\n');
    const c1 = lastLine(ok(repo, ['commit', '-m', 'one']).stdout);
    writeFileSync(path.join(repo, 'beats.csv'), 'idx,R,label\n0,77\n');
    const c2 = lastLine(ok(repo, ['commit', '-m', 'two']).stdout);
    const d = JSON.parse(ok(repo, ['diff', c1, c2, '--rows', '--json']).stdout);
    expect(d.changes[0].rows).toMatchObject({ addedCount: 0, removedCount: 0, headerChanged: { old: 'idx,R', new: 'idx,R,label' } });
    expect(ok(repo, ['diff', c1, c2, '--rows']).stdout).toContain('    header: idx,R -> idx,R,label\n');
  });

  it('keeps executable bits and symlinks (stored as links, never followed)', () => {
    writeFileSync(path.join(repo, 'run.sh'), '#!/bin/sh\necho hi\n');
    chmodSync(path.join(repo, 'run.sh'), 0o755);
    writeFileSync(path.join(t.dir, 'outside.txt'), 'secret');
    symlinkSync('../outside.txt', path.join(repo, 'link'));
    const id = lastLine(ok(repo, ['commit', '-m', 'x']).stdout);
    const out = path.join(t.dir, 'out');
    ok(repo, ['checkout', id, '--to', out]);
    expect(statSync(path.join(out, 'run.sh')).mode & 0o111).not.toBe(0);
    expect(readlinkSync(path.join(out, 'link'))).toBe('../outside.txt');
  });

  it('a symlink whose target is not UTF-8 comes back byte for byte after a switch, and is not modified', () => {
    const target = Buffer.from('tgt\xff', 'latin1');
    symlinkSync(target, path.join(repo, 'badlink'));
    writeFileSync(path.join(repo, 'a'), 'a\n');
    ok(repo, ['commit', '-m', 'with link']);
    ok(repo, ['branch', 'b']);
    rmSync(path.join(repo, 'badlink'));
    ok(repo, ['commit', '-m', 'without link']);
    ok(repo, ['switch', 'b']);
    expect(readlinkSync(path.join(repo, 'badlink'), { encoding: 'buffer' })).toEqual(target);
    expect(JSON.parse(ok(repo, ['status', '--json']).stdout).changes).toEqual([]);
  });

  it('status refuses a name that is not UTF-8, its path C-quoted as git quotes it', () => {
    writeFileSync(Buffer.concat([Buffer.from(`${repo}/`), Buffer.from('a"b\xff', 'latin1')]), 'x');
    const res = trib(repo, ['status']);
    expect([res.code, res.stderr]).toEqual([2, 'trib status: cannot track "a\\"b\\377": the name is not valid UTF-8; rename it, or add a pattern for it to .tribignore (a * stands for the bytes that are not)\n']);
  });

  it('honours .tribignore', () => {
    writeFileSync(path.join(repo, '.tribignore'), '*.tmp\ncache/\n');
    writeFileSync(path.join(repo, 'a.csv'), 'x\n');
    writeFileSync(path.join(repo, 'b.tmp'), 'x\n');
    mkdirSync(path.join(repo, 'cache'));
    writeFileSync(path.join(repo, 'cache/big'), 'x\n');
    const id = lastLine(ok(repo, ['commit', '-m', 'x']).stdout);
    const out = path.join(t.dir, 'out');
    ok(repo, ['checkout', id, '--to', out]);
    expect(existsSync(path.join(out, 'a.csv'))).toBe(true);
    expect(existsSync(path.join(out, '.tribignore'))).toBe(true);
    expect(existsSync(path.join(out, 'b.tmp'))).toBe(false);
    expect(existsSync(path.join(out, 'cache'))).toBe(false);
  });

  // The racily clean rule itself (an mtime not older than the saved cache is never trusted) is stat-cache.spec's:
  // from outside, the change time of an edit cannot be put back, so here the ctime catches it.
  it('sees a same-size edit whose mtime was put back', () => {
    const f = path.join(repo, 'r.csv');
    writeFileSync(f, 'a\n1\n');
    ok(repo, ['commit', '-m', 'one']);
    const before = statSync(f);
    writeFileSync(f, 'a\n2\n'); // same size
    utimesSync(f, before.atime, before.mtime);
    const st = JSON.parse(ok(repo, ['status', '--json']).stdout);
    expect(st.changes).toEqual([{ path: 'r.csv', status: 'modified' }]);
  });

  it('refs: ~N, ^, ^N, prefixes, and a tag and a branch never share a name', () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      writeFileSync(path.join(repo, 'f'), String(i));
      ids.push(lastLine(ok(repo, ['commit', '-m', `c${i}`]).stdout));
    }
    const show = (ref: string) => JSON.parse(ok(repo, ['show', ref, '--json']).stdout).id;
    expect(show('HEAD')).toBe(ids[2]);
    expect(show('HEAD~2')).toBe(ids[0]);
    expect(show('HEAD^')).toBe(ids[1]);
    expect(show('main^1~1')).toBe(ids[0]);
    expect(show(ids[1].slice(0, 6))).toBe(ids[1]);
    ok(repo, ['tag', 'same', ids[0]]);
    expect(trib(repo, ['branch', 'same', ids[1]]).code).toBe(2);
    expect(show('same')).toBe(ids[0]);
    expect(trib(repo, ['show', 'HEAD~5']).code).toBe(2);
    expect(trib(repo, ['show', 'nope']).code).toBe(2);
    expect(trib(repo, ['show', 'abc']).code).toBe(2);
  });

  it('gc merges the small packs of many commits, and every commit stays readable', () => {
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      appendFileSync(path.join(repo, 'rows.csv'), `${i},${'x'.repeat(200)}\n`);
      writeFileSync(path.join(repo, `batch-${i}.txt`), `batch ${i}\n`);
      ids.push(lastLine(ok(repo, ['commit', '-m', `batch ${i}`]).stdout));
    }
    const packs = () => readdirSync(path.join(repo, '.trib/store/packs')).filter((f) => f.endsWith('.pack')).length;
    expect(packs()).toBe(12);

    const r = JSON.parse(ok(repo, ['gc', '--grace', '0', '--json']).stdout);
    expect(r).toMatchObject({ deletedObjects: 0, mergedPacks: 12, writtenPacks: 1 });
    expect(packs()).toBe(1);
    expect(JSON.parse(ok(repo, ['log', '--json']).stdout).map((c: { id: string }) => c.id)).toEqual([...ids].reverse());
    ok(repo, ['verify', '--read-data']);
    const old = path.join(t.dir, 'old');
    ok(repo, ['checkout', ids[3], '--to', old]);
    expect(readFileSync(path.join(old, 'rows.csv'), 'utf8').split('\n')).toHaveLength(5);
    expect(ok(repo, ['gc', '--grace', '0']).stderr).not.toMatch(/merged/);
  });

  it('gc keeps the objects of files hashed but not committed yet, so the next commit is whole', () => {
    // status stores big.bin's chunks and names them in the stat cache; no ref reaches them until the commit.
    writeFileSync(path.join(repo, 'a.txt'), 'a\n');
    ok(repo, ['commit', '-m', 'base']);
    const big = randomBytes(2_000_000);
    writeFileSync(path.join(repo, 'big.bin'), big);
    ok(repo, ['status']);
    ok(repo, ['gc', '--grace', '0']);
    ok(repo, ['commit', '-m', 'add big']);
    ok(repo, ['verify', '--read-data']);
    ok(repo, ['checkout', 'HEAD', '--to', path.join(t.dir, 'co')]);
    expect(readFileSync(path.join(t.dir, 'co', 'big.bin')).equals(big)).toBe(true);
  });

  it('gc keeps all that a cached file refers to, even objects in packs past the grace period', () => {
    writeFileSync(path.join(repo, 'a.txt'), 'a\n');
    ok(repo, ['commit', '-m', 'base']);
    const packsDir = path.join(repo, '.trib/store/packs');
    const before = new Set(readdirSync(packsDir));
    writeFileSync(path.join(repo, 'big.bin'), randomBytes(2_000_000));
    ok(repo, ['status']);
    // Those chunks look two hours old; the append's new list, which reuses them, is fresh.
    const then = new Date(Date.now() - 2 * 3600_000);
    for (const f of readdirSync(packsDir).filter((f) => !before.has(f))) utimesSync(path.join(packsDir, f), then, then);
    appendFileSync(path.join(repo, 'big.bin'), randomBytes(100_000));
    ok(repo, ['status']);
    ok(repo, ['gc']);
    ok(repo, ['commit', '-m', 'add big']);
    ok(repo, ['verify', '--read-data']);
  });

  it('gc keeps all that a fresh object refers to, even when only another working copy of the store names it', () => {
    // Two working copies of one store: gc in `a` cannot see b's stat cache, only the fresh chunk list b's append
    // stored, which reuses chunks of packs past the grace period that no ref reaches.
    const storeDir = path.join(t.dir, 'shared-store');
    const a = path.join(t.dir, 'a');
    const b = path.join(t.dir, 'b');
    ok(t.dir, ['init', a, '--store', pathToFileURL(storeDir).href]);
    ok(t.dir, ['init', b, '--store', pathToFileURL(storeDir).href]);
    writeFileSync(path.join(a, 'a.txt'), 'a\n');
    ok(a, ['commit', '-m', 'base']);
    ok(b, ['switch', 'main']); // b's files take main's, so its commit builds on them
    const packsDir = path.join(storeDir, 'packs');
    const before = new Set(readdirSync(packsDir));
    const big = randomBytes(2_000_000);
    writeFileSync(path.join(b, 'big.bin'), big);
    ok(b, ['status']);
    const then = new Date(Date.now() - 2 * 3600_000);
    for (const f of readdirSync(packsDir).filter((f) => !before.has(f))) utimesSync(path.join(packsDir, f), then, then);
    const more = randomBytes(100_000);
    appendFileSync(path.join(b, 'big.bin'), more);
    ok(b, ['status']);
    ok(a, ['gc']);
    ok(b, ['commit', '-m', 'add big']);
    ok(b, ['verify', '--read-data']);
    ok(b, ['checkout', 'HEAD', '--to', path.join(t.dir, 'co')]);
    expect(readFileSync(path.join(t.dir, 'co', 'big.bin')).equals(Buffer.concat([big, more]))).toBe(true);
  });

  it('a commit that brings the small packs to 50 merges them, as git gc --auto does', async () => {
    // 49 commits through the library (fast), then the CLI's own: the 50th pack.
    const lib = await Repository.open(repo);
    try {
      for (let i = 0; i < 49; i++) await commitFiles(lib, { [`b/${i}.csv`]: `id\n${i}\n` });
    } finally {
      await lib.close();
    }
    const packs = () => readdirSync(path.join(repo, '.trib/store/packs')).filter((f) => f.endsWith('.idx')).length;
    expect(packs()).toBe(49);
    writeFileSync(path.join(repo, 'last.csv'), 'id\n50\n');
    const r = ok(repo, ['commit', '-m', 'the 50th']);
    expect(r.stderr).toMatch(/merged 50 small packs into 1/);
    expect(packs()).toBe(1);
    expect(JSON.parse(ok(repo, ['log', '--json']).stdout)).toHaveLength(50);
    ok(repo, ['verify', '--read-data']);
    // Below the threshold a commit leaves its pack alone.
    writeFileSync(path.join(repo, 'next.csv'), 'id\n51\n');
    expect(ok(repo, ['commit', '-m', 'one more']).stderr).not.toMatch(/merged/);
    expect(packs()).toBe(2);
  });
});
