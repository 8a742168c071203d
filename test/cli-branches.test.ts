import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { lastLine, ok, tempDir, trib } from './support/trib';

describe('trib CLI: branches, tags, switch, checkout, merge', () => {
  let t: ReturnType<typeof tempDir>;
  let repo: string;
  const write = (p: string, s: string) => {
    mkdirSync(path.dirname(path.join(repo, p)), { recursive: true });
    writeFileSync(path.join(repo, p), s);
  };
  const read = (p: string) => readFileSync(path.join(repo, p), 'utf8');
  beforeEach(() => {
    t = tempDir();
    repo = path.join(t.dir, 'ds');
    ok(t.dir, ['init', repo]);
    write('beats.csv', 'idx,R\n0,77\n1,370\n');
    write('notes.txt', 'base\n');
    ok(repo, ['commit', '-m', 'base']);
  });
  afterEach(() => t.cleanup());

  it('creates, lists and deletes branches and validates names', () => {
    ok(repo, ['branch', 'exp/a']);
    const list = JSON.parse(ok(repo, ['branch', '--json']).stdout);
    expect(list.map((b: any) => [b.name, b.current])).toEqual([['exp/a', false], ['main', true]]);
    for (const bad of ['-x', '/x', 'x/', 'a..b', 'a b', 'a\\b', '', 'HEAD', 'refs/heads/z', 'topics/t/one', 'topics']) {
      expect([bad, trib(repo, ['branch', '--', bad]).code]).toEqual([bad, 2]);
    }
    expect(trib(repo, ['tag', 'topics/t/one']).code).toBe(2);
    // As git: no segment of a new name starts with "." (a hidden name), and no name ends with one.
    for (const [kind, bad] of [['branch', '.hidden'], ['branch', 'exp/.x'], ['tag', '.v1']]) {
      const r = trib(repo, [kind, '--', bad]);
      expect([bad, r.code, r.stderr]).toEqual([bad, 2, expect.stringMatching(/starts with "\."\n$/)]);
    }
    for (const [kind, bad] of [['branch', 'foo.'], ['branch', 'a/b.'], ['tag', 'rel.']]) {
      const r = trib(repo, [kind, '--', bad]);
      expect([bad, r.code, r.stderr]).toEqual([bad, 2, expect.stringMatching(/ends with "\."\n$/)]);
    }
    expect(trib(repo, ['branch', 'exp/a']).code).toBe(2);
    expect(trib(repo, ['branch', 'exp']).stderr.trim()).toBe('trib branch: cannot create branch exp: branch exp/a exists');
    expect(trib(repo, ['branch', '-d', 'main']).code).toBe(2);
    expect(JSON.parse(ok(repo, ['branch', '-d', 'exp/a', '--json']).stdout)).toEqual({ deleted: 'exp/a' });
    expect(JSON.parse(ok(repo, ['branch', '--json']).stdout)).toHaveLength(1);
  });

  it('keeps a tag from being hidden by a branch of its name: refused, and the tag wins where both exist', () => {
    const pinned = JSON.parse(ok(repo, ['show', 'HEAD', '--json']).stdout).id;
    ok(repo, ['tag', 'v1', '-m', 'training set']);
    write('notes.txt', 'later\n');
    const later = lastLine(ok(repo, ['commit', '-m', 'later']).stdout);
    const branch = trib(repo, ['branch', 'v1', 'HEAD~1']);
    expect([branch.code, branch.stderr.trim()]).toEqual([2, 'trib branch: cannot create branch v1: tag v1 exists; a name may be one or the other']);
    ok(repo, ['branch', 'exp']);
    const tag = trib(repo, ['tag', 'exp']);
    expect([tag.code, tag.stderr.trim()]).toEqual([2, 'trib tag: cannot create tag exp: branch exp exists; a name may be one or the other']);
    // A repository made before the refusal may hold both: the name means the tag, as in git.
    const refs = path.join(repo, '.trib', 'store', 'refs');
    writeFileSync(path.join(refs, 'heads', 'v1'), readFileSync(path.join(refs, 'heads', 'exp')));
    expect(JSON.parse(ok(repo, ['show', 'v1', '--json']).stdout).id).toBe(pinned);
    expect(JSON.parse(ok(repo, ['show', 'exp', '--json']).stdout).id).toBe(later);
  });

  it('takes a name again once the branch or tag nested in it is deleted, as git does', () => {
    ok(repo, ['branch', 'exp/a']);
    ok(repo, ['branch', '-d', 'exp/a']);
    ok(repo, ['branch', 'exp']);
    ok(repo, ['tag', 'v1/rc/2']);
    ok(repo, ['tag', '-d', 'v1/rc/2']);
    ok(repo, ['tag', 'v1']);
    expect(JSON.parse(ok(repo, ['branch', '--json']).stdout).map((b: { name: string }) => b.name)).toEqual(['exp', 'main']);
  });

  it('refuses to delete a branch HEAD has not merged, whose commits gc would take, unless -D', () => {
    ok(repo, ['branch', 'feature']);
    ok(repo, ['switch', 'feature']);
    write('work.txt', 'work\n');
    const work = lastLine(ok(repo, ['commit', '-m', 'work']).stdout);
    ok(repo, ['switch', 'main']);
    const refused = trib(repo, ['branch', '-d', 'feature']);
    expect([refused.code, refused.stderr.trim()]).toEqual([
      2,
      'trib branch: branch feature is not fully merged into HEAD: its commits would be lost to gc; delete it anyway with trib branch -D feature',
    ]);
    expect(JSON.parse(ok(repo, ['show', 'feature', '--json']).stdout).id).toBe(work);
    ok(repo, ['merge', 'feature']);
    expect(JSON.parse(ok(repo, ['branch', '-d', 'feature', '--json']).stdout)).toEqual({ deleted: 'feature' });
    ok(repo, ['branch', 'spike']);
    ok(repo, ['switch', 'spike']);
    write('spike.txt', 'spike\n');
    ok(repo, ['commit', '-m', 'spike']);
    ok(repo, ['switch', 'main']);
    expect(JSON.parse(ok(repo, ['branch', '-D', 'spike', '--json']).stdout)).toEqual({ deleted: 'spike' });
    expect(JSON.parse(ok(repo, ['branch', '--json']).stdout).map((b: { name: string }) => b.name)).toEqual(['main']);
  });

  it('a branch whose ref is damaged is deleted by -D, and -d says so, so the repository is usable again', () => {
    writeFileSync(path.join(repo, '.trib', 'store', 'refs', 'heads', 'garbage'), 'hello\n');
    expect(trib(repo, ['branch']).code).toBe(1);
    const refused = trib(repo, ['branch', '-d', 'garbage']);
    expect([refused.code, refused.stderr.trim()]).toEqual([1, expect.stringMatching(/ref refs\/heads\/garbage in .* is corrupt: trib branch -D garbage deletes it$/)]);
    expect(JSON.parse(ok(repo, ['branch', '-D', 'garbage', '--json']).stdout)).toEqual({ deleted: 'garbage' });
    expect(JSON.parse(ok(repo, ['branch', '--json']).stdout).map((b: { name: string }) => b.name)).toEqual(['main']);
    ok(repo, ['verify']);
    // A sound branch is still checked as before.
    expect(trib(repo, ['branch', '-D', 'nothing']).code).toBe(2);
  });

  it('tags are create-once and may carry a message and annotations', () => {
    ok(repo, ['tag', 'v1', '-m', 'release one', '--meta', 'model=pvc-1']);
    expect(trib(repo, ['tag', 'v1']).code).toBe(2);
    expect(trib(repo, ['tag', '-m', 'no name']).code).toBe(2);
    const head = JSON.parse(ok(repo, ['show', 'HEAD', '--json']).stdout).id;
    expect(JSON.parse(ok(repo, ['show', 'v1', '--json']).stdout).id).toBe(head);
    // show prints the annotated tag before its commit, as git show does; a commit reached otherwise has none.
    const tag = JSON.parse(ok(repo, ['show', 'v1', '--json']).stdout).tag;
    expect(tag).toMatchObject({ name: 'v1', tagger: 'Test <test@example.org>', message: 'release one', annotations: { model: 'pvc-1' } });
    expect(ok(repo, ['show', 'v1']).stdout).toMatch(/^tag v1\nTagger: Test <test@example.org>\nDate: .*\nAnnotation: model=pvc-1\n\n {4}release one\n\ncommit /);
    expect(JSON.parse(ok(repo, ['show', 'HEAD', '--json']).stdout).tag).toBeUndefined();
    // The list gives each annotated tag as show does: which tag holds the data of model pvc-1 takes one command.
    expect(JSON.parse(ok(repo, ['tag', '--json']).stdout)).toEqual([{ name: 'v1', commit: head, tag }]);
    expect(JSON.parse(ok(repo, ['tag', '-d', 'v1', '--json']).stdout)).toEqual({ deleted: 'v1' });
    ok(repo, ['tag', 'v1']);
    expect(JSON.parse(ok(repo, ['tag', '--json']).stdout)).toEqual([{ name: 'v1', commit: head }]);
  });

  it('switch moves the working tree, removes tracked files, leaves untracked ones, refuses to clobber', () => {
    ok(repo, ['branch', 'feature']);
    ok(repo, ['switch', 'feature']);
    write('only-feature.txt', 'f\n');
    write('notes.txt', 'feature\n');
    ok(repo, ['commit', '-m', 'feature work']);
    ok(repo, ['switch', 'main']);
    expect(existsSync(path.join(repo, 'only-feature.txt'))).toBe(false);
    expect(read('notes.txt')).toBe('base\n');

    write('untracked.txt', 'mine\n');
    ok(repo, ['switch', 'feature']);
    expect(read('untracked.txt')).toBe('mine\n');
    expect(read('notes.txt')).toBe('feature\n');

    write('notes.txt', 'local edit\n');
    const refused = trib(repo, ['switch', 'main']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/notes\.txt/);
    expect(read('notes.txt')).toBe('local edit\n');
    ok(repo, ['switch', 'main', '--force']);
    expect(read('notes.txt')).toBe('base\n');

    write('only-feature.txt', 'untracked here\n');
    expect(trib(repo, ['switch', 'feature']).code).toBe(2);
    expect(read('only-feature.txt')).toBe('untracked here\n');
  });

  it('switch refuses, changing nothing, when an ignored file is in the way of a path it must write', () => {
    // main has a folder d/ where branch other has a file d; the folder also holds an ignored log.
    write('d/a', '1\n');
    write('.tribignore', '*.log\n');
    ok(repo, ['commit', '-m', 'folder d']);
    ok(repo, ['branch', 'other']);
    rmSync(path.join(repo, 'd'), { recursive: true });
    write('d', 'a file now\n');
    ok(repo, ['commit', '-m', 'file d']);
    ok(repo, ['switch', 'other']);
    write('d/x.log', 'scratch\n');
    write('d/y.log', 'more scratch\n');

    const refused = trib(repo, ['switch', 'main']);
    expect(refused.code).toBe(2);
    expect(refused.stderr.trim()).toMatch(/^trib switch: would overwrite d\/x\.log, which is not tracked/);
    expect(read('d/a')).toBe('1\n');
    expect(read('.tribignore')).toBe('*.log\n');
    expect(JSON.parse(ok(repo, ['status', '--json']).stdout)).toMatchObject({ clean: true });

    ok(repo, ['switch', 'main', '--force']);
    expect(read('d')).toBe('a file now\n');

    // The other way round: an ignored file where a folder must go.
    ok(repo, ['switch', 'other']);
    write('keep/b', 'b\n');
    ok(repo, ['commit', '-m', 'folder keep']);
    ok(repo, ['switch', 'main']);
    write('.tribignore', '*.log\nkeep\n');
    ok(repo, ['commit', '-m', 'ignore keep']);
    write('keep', 'mine\n');
    const blocked = trib(repo, ['switch', 'other']);
    expect(blocked.code).toBe(2);
    expect(blocked.stderr).toMatch(/would overwrite keep, which is not tracked/);
    expect(read('keep')).toBe('mine\n');
    expect(read('.tribignore')).toBe('*.log\nkeep\n');
    ok(repo, ['switch', 'other', '--force']);
    expect(read('keep/b')).toBe('b\n');
  });

  it('switch and merge refuse to overwrite an ignored file where they would write one', () => {
    ok(repo, ['branch', 'b']);
    ok(repo, ['switch', 'b']);
    write('x.log', 'committed on b\n');
    ok(repo, ['commit', '-m', 'add x.log']);
    ok(repo, ['switch', 'main']);
    write('.tribignore', '*.log\n');
    ok(repo, ['commit', '-m', 'ignore logs']);
    write('x.log', 'my precious notes\n');
    for (const args of [['switch', 'b'], ['merge', 'b']]) {
      const refused = trib(repo, args);
      expect([args, refused.code, refused.stderr.trim()]).toEqual([
        args,
        2,
        expect.stringMatching(/would overwrite x\.log, which is not tracked \(an ignored file\?\)/),
      ]);
      expect(read('x.log')).toBe('my precious notes\n');
    }
    expect(JSON.parse(ok(repo, ['status', '--json']).stdout)).toMatchObject({ branch: 'main', clean: true });
    ok(repo, ['switch', 'b', '--force']);
    expect(read('x.log')).toBe('committed on b\n');
  });

  /** Commits, on a new branch `name`, a real folder where HEAD has the symlink `link`, holding `file`; back on main. */
  const branchWithFolderAt = (name: string, link: string, file: string, text: string) => {
    ok(repo, ['branch', name]);
    ok(repo, ['switch', name]);
    rmSync(path.join(repo, link));
    write(`${link}/${file}`, text);
    ok(repo, ['commit', '-m', `${link} is a folder`]);
    ok(repo, ['switch', 'main']);
  };

  it('switch and merge replace a committed symlink by the folder another branch has there, never touching where it points', () => {
    // main links data/ to storage outside the repository; branch b has a real folder data/ holding a copy.
    const shared = path.join(t.dir, 'shared');
    mkdirSync(shared);
    writeFileSync(path.join(shared, 'x.csv'), 'PRECIOUS\n');
    ok(repo, ['branch', 'b']);
    ok(repo, ['switch', 'b']);
    write('data/x.csv', 'copy\n');
    ok(repo, ['commit', '-m', 'b: real folder']);
    ok(repo, ['switch', 'main']);
    symlinkSync('../shared', path.join(repo, 'data'));
    ok(repo, ['commit', '-m', 'main: data -> shared storage']);
    const linked = () => lstatSync(path.join(repo, 'data')).isSymbolicLink();
    for (const args of [['switch', 'b'], ['switch', 'b', '--force']]) {
      ok(repo, args);
      expect([args, linked(), read('data/x.csv')]).toEqual([args, false, 'copy\n']);
      ok(repo, ['switch', 'main']);
      expect(linked()).toBe(true);
    }
    branchWithFolderAt('unlinked', 'data', 'x.csv', 'copy\n');
    expect(JSON.parse(ok(repo, ['merge', 'unlinked', '--json']).stdout).result).toBe('fast-forward');
    expect([linked(), read('data/x.csv')]).toEqual([false, 'copy\n']);
    expect(readdirSync(shared)).toEqual(['x.csv']);
    expect(readFileSync(path.join(shared, 'x.csv'), 'utf8')).toBe('PRECIOUS\n');
  });

  it('switch --force replaces a committed symlink to a folder of the repository without deleting the files it points at', () => {
    write('v2/train.csv', 'v2 rows\n');
    symlinkSync('v2', path.join(repo, 'latest'));
    ok(repo, ['commit', '-m', 'latest -> v2']);
    branchWithFolderAt('pinned', 'latest', 'train.csv', 'pinned rows\n');
    ok(repo, ['switch', 'pinned', '--force']);
    expect([read('v2/train.csv'), read('latest/train.csv')]).toEqual(['v2 rows\n', 'pinned rows\n']);
    expect(JSON.parse(ok(repo, ['status', '--json']).stdout)).toMatchObject({ branch: 'pinned', clean: true });
  });

  it('switch and merge clear an empty folder where they write a file, and refuse one holding a file before changing anything', () => {
    ok(repo, ['branch', 'without']);
    ok(repo, ['branch', 'b']);
    ok(repo, ['switch', 'b']);
    write('model', 'v1\n');
    ok(repo, ['commit', '-m', 'b: model']);
    ok(repo, ['switch', 'main']);
    // trib tracks no folders, so one holding only empty folders is nothing to lose, as for git.
    mkdirSync(path.join(repo, 'model', 'empty', 'too'), { recursive: true });
    ok(repo, ['switch', 'b']);
    expect(read('model')).toBe('v1\n');
    ok(repo, ['switch', 'main']);
    mkdirSync(path.join(repo, 'model'));
    expect(JSON.parse(ok(repo, ['merge', 'b', '--json']).stdout).result).toBe('fast-forward');
    expect(read('model')).toBe('v1\n');
    ok(repo, ['status']);

    ok(repo, ['switch', 'without']);
    write('model/sub/notes.txt', 'mine\n');
    write('model/x.log', 'scratch\n');
    const untracked = trib(repo, ['switch', 'main']);
    expect([untracked.code, untracked.stderr]).toEqual([2, expect.stringMatching(/would overwrite untracked file model\/sub\/notes\.txt/)]);
    rmSync(path.join(repo, 'model', 'sub'), { recursive: true });
    write('.tribignore', '*.log\n');
    const ignored = trib(repo, ['switch', 'main']);
    expect([ignored.code, ignored.stderr]).toEqual([2, expect.stringMatching(/would overwrite model\/x\.log, which is not tracked/)]);
    expect(existsSync(path.join(repo, '.trib', 'MOVING'))).toBe(false);
    expect(readdirSync(path.join(repo, 'model'))).toEqual(['x.log']);
    expect(JSON.parse(ok(repo, ['status', '--json']).stdout)).toMatchObject({ branch: 'without', changes: [{ path: '.tribignore' }] });
  });

  it('switch --force throws local changes to tracked files away, as git switch -f, and keeps untracked files', () => {
    write('notes.txt', 'edited\n');
    rmSync(path.join(repo, 'beats.csv'));
    write('mine.txt', 'untracked\n');
    ok(repo, ['switch', 'main', '--force']);
    expect([read('notes.txt'), read('beats.csv'), read('mine.txt')]).toEqual(['base\n', 'idx,R\n0,77\n1,370\n', 'untracked\n']);
    expect(JSON.parse(ok(repo, ['status', '--json']).stdout).changes).toEqual([{ path: 'mine.txt', status: 'added' }]);

    // To another branch: a change to a path both branches hold alike goes too.
    ok(repo, ['branch', 'other']);
    write('notes.txt', 'edited again\n');
    expect(trib(repo, ['switch', 'other']).code).toBe(0);
    expect(read('notes.txt')).toBe('edited again\n');
    ok(repo, ['switch', 'main', '--force']);
    expect(read('notes.txt')).toBe('base\n');
    expect(JSON.parse(ok(repo, ['status', '--json']).stdout)).toMatchObject({ branch: 'main', changes: [{ path: 'mine.txt' }] });
  });

  it('checkout --to writes any commit, and refuses a non-empty directory without --force', () => {
    const first = JSON.parse(ok(repo, ['show', 'HEAD', '--json']).stdout).id;
    write('notes.txt', 'later\n');
    ok(repo, ['commit', '-m', 'later']);
    const out = path.join(t.dir, 'co');
    ok(repo, ['checkout', first, '--to', out]);
    expect(readFileSync(path.join(out, 'notes.txt'), 'utf8')).toBe('base\n');
    expect(trib(repo, ['checkout', 'HEAD', '--to', out]).code).toBe(2);
    ok(repo, ['checkout', 'HEAD', '--to', out, '--force']);
    expect(readFileSync(path.join(out, 'notes.txt'), 'utf8')).toBe('later\n');

    // Files the commit does not have stay, and are named: whoever reads the folder as that version must hear it.
    mkdirSync(path.join(out, 'extra'));
    writeFileSync(path.join(out, 'extra', 'stale.csv'), 'old\n');
    const forced = trib(repo, ['checkout', first, '--to', out, '--force']);
    expect(forced.code).toBe(0);
    expect(forced.stderr).toMatch(/warning: .* also holds 1 file\(s\) that [0-9a-f]{12} does not, left as they were: extra\/stale\.csv$/m);
    expect(JSON.parse(ok(repo, ['checkout', first, '--to', out, '--force', '--json']).stdout).extra).toEqual(['extra/stale.csv']);
    expect(JSON.parse(ok(repo, ['checkout', first, '--to', path.join(t.dir, 'fresh'), '--json']).stdout).extra).toEqual([]);
  });

  it('checkout --to refuses a folder inside a .trib folder or the store, even with --force, and leaves the repository whole', () => {
    // A commit whose files would pass for a repository's own, were they written over it.
    write('config.json', '{"garbage":1}\n');
    write('store/HEAD', 'ref: refs/heads/zzz\n');
    ok(repo, ['commit', '-m', 'looks like .trib']);
    const other = path.join(t.dir, 'other');
    ok(t.dir, ['init', other, '--store', `file://${path.join(t.dir, 'elsewhere')}`]);
    writeFileSync(path.join(other, 'config'), 'not the store config\n');
    ok(other, ['commit', '-m', 'one file']);
    mkdirSync(path.join(t.dir, 'links'));
    symlinkSync(path.join(repo, '.trib'), path.join(t.dir, 'links', 'to-trib'));
    for (const [cwd, to] of [
      [repo, '.trib'],
      [repo, '.trib/new/folder'],
      [repo, path.join(other, '.trib')],
      [repo, path.join(t.dir, 'links', 'to-trib')],
      [other, path.join(t.dir, 'elsewhere')],
      [other, path.join(t.dir, 'elsewhere', 'x')],
    ]) {
      const r = trib(cwd, ['checkout', 'main', '--to', to, '--force']);
      expect([to, r.code, r.stderr.trim()]).toEqual([to, 2, expect.stringMatching(/^trib checkout: cannot check out into .*: it is inside a repository's own folder/)]);
    }
    expect(readFileSync(path.join(repo, '.trib', 'config.json'), 'utf8')).not.toContain('garbage');
    expect(existsSync(path.join(repo, '.trib', 'new'))).toBe(false);
    ok(repo, ['status']);
    ok(other, ['status']);
    ok(repo, ['verify', '--read-data']);
  });

  it('checkout --to says in one line when the target is a file, or a folder stands where a file goes', () => {
    const file = path.join(t.dir, 'a-file');
    writeFileSync(file, 'x');
    const onFile = trib(repo, ['checkout', 'HEAD', '--to', file]);
    expect([onFile.code, onFile.stderr.trim()]).toEqual([2, `trib checkout: ${file} is a file, not a folder`]);
    const underFile = trib(repo, ['checkout', 'HEAD', '--to', path.join(file, 'sub')]);
    expect([underFile.code, underFile.stderr.trim()]).toEqual([2, `trib checkout: cannot check out into ${path.join(file, 'sub')}: a file is in its way`]);
    const out = path.join(t.dir, 'co');
    mkdirSync(path.join(out, 'notes.txt'), { recursive: true });
    const blocked = trib(repo, ['checkout', 'HEAD', '--to', out, '--force']);
    expect([blocked.code, blocked.stderr.trim()]).toEqual([2, `trib checkout: cannot write ${path.join(out, 'notes.txt')}: a folder is in its place`]);
    expect(readdirSync(out).filter((f) => f.startsWith('.trib-tmp'))).toEqual([]);
  });

  it('fast-forwards, or makes a two-parent merge; one-sided changes win; appends on both sides are row-unioned', () => {
    ok(repo, ['branch', 'ward']);
    ok(repo, ['switch', 'ward']);
    write('beats.csv', 'idx,R\n0,77\n1,370\n2,662\n');
    const wardHead = lastLine(ok(repo, ['commit', '-m', 'ward append']).stdout);
    ok(repo, ['switch', 'main']);
    const ff = JSON.parse(ok(repo, ['merge', 'ward', '--json']).stdout);
    expect(ff).toMatchObject({ result: 'fast-forward', commit: wardHead });
    expect(read('beats.csv')).toBe('idx,R\n0,77\n1,370\n2,662\n');

    ok(repo, ['switch', 'ward']);
    write('beats.csv', 'idx,R\n0,77\n1,370\n2,662\n3,946\n');
    write('ward-only.txt', 'w\n');
    ok(repo, ['commit', '-m', 'ward append 2']);
    ok(repo, ['switch', 'main']);
    write('beats.csv', 'idx,R\n0,77\n1,370\n2,662\n9,999\n');
    write('notes.txt', 'main edit\n');
    const mainHead = lastLine(ok(repo, ['commit', '-m', 'main append']).stdout);
    const m = JSON.parse(ok(repo, ['merge', 'ward', '--json']).stdout);
    expect(m.result).toBe('merge');
    expect(read('beats.csv')).toBe('idx,R\n0,77\n1,370\n2,662\n9,999\n3,946\n');
    expect(read('ward-only.txt')).toBe('w\n');
    expect(read('notes.txt')).toBe('main edit\n');
    const log = JSON.parse(ok(repo, ['log', '-n', '1', '--json']).stdout);
    expect(log[0].parents[0]).toBe(mainHead);
    expect(log[0].parents).toHaveLength(2);
    expect(JSON.parse(ok(repo, ['merge', 'ward', '--json']).stdout).result).toBe('up-to-date');
  });

  it('knows an ancestor whatever the clocks said: commits stamped days behind still fast-forward and are up to date', () => {
    // An edge device whose clock runs three days behind, as a preload that shifts Date in the trib process.
    const behind = path.join(t.dir, 'clock-behind.js');
    writeFileSync(behind, 'const D = Date; const off = -3 * 864e5;\nglobal.Date = class extends D { constructor(...a) { super(...(a.length ? a : [D.now() + off])); } static now() { return D.now() + off; } };\n');
    const skewed = { env: { NODE_OPTIONS: `--require ${behind}` } };
    ok(repo, ['branch', 'old']);
    ok(repo, ['branch', 'b']);
    ok(repo, ['switch', 'b']);
    write('notes.txt', 'on a clock behind\n');
    const b1 = lastLine(ok(repo, ['commit', '-m', 'b1'], 0, skewed).stdout);
    expect(Date.parse(JSON.parse(ok(repo, ['show', b1, '--json']).stdout).time)).toBeLessThan(Date.now() - 2 * 864e5);
    expect(JSON.parse(ok(repo, ['merge', 'old', '--json']).stdout).result).toBe('up-to-date');
    ok(repo, ['switch', 'old']);
    expect(JSON.parse(ok(repo, ['merge', 'b', '--json']).stdout)).toMatchObject({ result: 'fast-forward', commit: b1 });
    expect(read('notes.txt')).toBe('on a clock behind\n');
  });

  it('takes rows both branches appended alike once: a batch both took is not doubled', () => {
    ok(repo, ['branch', 'b']);
    ok(repo, ['switch', 'b']);
    write('beats.csv', 'idx,R\n0,77\n1,370\n2,662\n3,946\n');
    ok(repo, ['commit', '-m', 'b: beats 2 and 3']);
    ok(repo, ['switch', 'main']);
    write('beats.csv', 'idx,R\n0,77\n1,370\n2,662\n3,946\n4,1230\n');
    ok(repo, ['commit', '-m', 'main: the same beats, then 4']);
    expect(JSON.parse(ok(repo, ['merge', 'b', '--json']).stdout)).toMatchObject({ result: 'merge', conflicts: [] });
    expect(read('beats.csv')).toBe('idx,R\n0,77\n1,370\n2,662\n3,946\n4,1230\n');
  });

  it('takes rows both branches appended in another order once: two batches taken the other way round', () => {
    ok(repo, ['branch', 'b']);
    ok(repo, ['switch', 'b']);
    write('beats.csv', 'idx,R\n0,77\n1,370\n3,946\n2,662\n');
    ok(repo, ['commit', '-m', 'b: batch 3, then batch 2']);
    ok(repo, ['switch', 'main']);
    write('beats.csv', 'idx,R\n0,77\n1,370\n2,662\n3,946\n4,1230\n');
    ok(repo, ['commit', '-m', 'main: batch 2, batch 3, then 4']);
    expect(JSON.parse(ok(repo, ['merge', 'b', '--json']).stdout)).toMatchObject({ result: 'merge', conflicts: [] });
    expect(read('beats.csv')).toBe('idx,R\n0,77\n1,370\n2,662\n3,946\n4,1230\n');
  });

  it("follows a file one branch moved: the other branch's new rows land at its new path", () => {
    ok(repo, ['branch', 'b']);
    ok(repo, ['switch', 'b']);
    mkdirSync(path.join(repo, 'raw'));
    writeFileSync(path.join(repo, 'raw', 'beats.csv'), read('beats.csv'));
    rmSync(path.join(repo, 'beats.csv'));
    ok(repo, ['commit', '-m', 'move into raw/']);
    ok(repo, ['switch', 'main']);
    write('beats.csv', 'idx,R\n0,77\n1,370\n2,662\n');
    ok(repo, ['commit', '-m', 'one more beat']);
    expect(JSON.parse(ok(repo, ['merge', 'b', '--json']).stdout)).toMatchObject({ result: 'merge', conflicts: [], settled: [] });
    expect(existsSync(path.join(repo, 'beats.csv'))).toBe(false);
    expect(read('raw/beats.csv')).toBe('idx,R\n0,77\n1,370\n2,662\n');
  });

  it('stops on a file both branches moved to different paths, and a strategy keeps one copy', () => {
    ok(repo, ['branch', 'b']);
    ok(repo, ['switch', 'b']);
    write('rec/beats.csv', read('beats.csv'));
    rmSync(path.join(repo, 'beats.csv'));
    ok(repo, ['commit', '-m', 'b: to rec/']);
    ok(repo, ['switch', 'main']);
    write('raw/beats.csv', read('beats.csv'));
    rmSync(path.join(repo, 'beats.csv'));
    ok(repo, ['commit', '-m', 'main: to raw/']);
    const stopped = trib(repo, ['merge', 'b', '--json']);
    expect(stopped.code).toBe(1);
    expect(JSON.parse(stopped.stdout)).toMatchObject({ result: 'conflict', conflicts: [{ path: 'beats.csv', kind: 'rename/rename' }] });
    const r = JSON.parse(ok(repo, ['merge', 'b', '--strategy', 'theirs', '--json']).stdout);
    expect(r).toMatchObject({ result: 'merge', settled: [{ path: 'beats.csv', kind: 'rename/rename' }] });
    expect([existsSync(path.join(repo, 'raw', 'beats.csv')), read('rec/beats.csv')]).toEqual([false, 'idx,R\n0,77\n1,370\n']);
  });

  it('follows the file alike of the same name: one branch\'s rows do not land in an unrelated file', () => {
    write('labels/100_pvc.csv', ',PVC\n');
    write('labels/121_pvc.csv', ',PVC\n');
    ok(repo, ['commit', '-m', 'two label files alike']);
    ok(repo, ['branch', 'annot']);
    ok(repo, ['switch', 'annot']);
    write('labels/100_pvc.csv', ',PVC\n0,546792\n1,600000\n');
    ok(repo, ['commit', '-m', 'PVC labels for record 100']);
    ok(repo, ['switch', 'main']);
    rmSync(path.join(repo, 'labels', '100_pvc.csv'));
    write('archive/121_pvc.csv', read('labels/121_pvc.csv'));
    rmSync(path.join(repo, 'labels', '121_pvc.csv'));
    const head = lastLine(ok(repo, ['commit', '-m', 'drop record 100, archive 121']).stdout);
    expect(ok(repo, ['diff', 'HEAD~1', 'HEAD']).stdout).toBe('R labels/121_pvc.csv -> archive/121_pvc.csv (5 bytes)\nD labels/100_pvc.csv (5 bytes)\n');
    const stopped = trib(repo, ['merge', 'annot', '--json']);
    expect(stopped.code).toBe(1);
    expect(JSON.parse(stopped.stdout)).toMatchObject({ result: 'conflict', conflicts: [{ path: 'labels/100_pvc.csv', kind: 'delete/modify' }] });
    expect(JSON.parse(ok(repo, ['show', 'HEAD', '--json']).stdout).id).toBe(head);
    expect([read('archive/121_pvc.csv'), existsSync(path.join(repo, 'labels', '100_pvc.csv'))]).toEqual([',PVC\n', false]);
  });

  it('stops on a file one branch moved and the other deleted, either way round, and a strategy takes its side', () => {
    ok(repo, ['branch', 'x']);
    ok(repo, ['switch', 'x']);
    rmSync(path.join(repo, 'beats.csv'));
    ok(repo, ['commit', '-m', 'x: delete a bad file']);
    ok(repo, ['branch', 'x2']);
    ok(repo, ['switch', 'main']);
    write('b.csv', read('beats.csv'));
    rmSync(path.join(repo, 'beats.csv'));
    const renamed = lastLine(ok(repo, ['commit', '-m', 'main: rename']).stdout);
    ok(repo, ['branch', 'm2']);
    ok(repo, ['branch', 'm3']);
    const conflict = { result: 'conflict', conflicts: [{ path: 'beats.csv', kind: 'rename/delete' }] };
    const settled = { result: 'merge', settled: [{ path: 'beats.csv', kind: 'rename/delete' }] };
    const held = () => [existsSync(path.join(repo, 'b.csv')), existsSync(path.join(repo, 'beats.csv'))];
    const stopped = trib(repo, ['merge', 'x', '--json']);
    expect([stopped.code, JSON.parse(stopped.stdout)]).toMatchObject([1, conflict]);
    expect([JSON.parse(ok(repo, ['show', 'HEAD', '--json']).stdout).id, read('b.csv')]).toEqual([renamed, 'idx,R\n0,77\n1,370\n']);
    expect(JSON.parse(ok(repo, ['merge', 'x', '--strategy', 'ours', '--json']).stdout)).toMatchObject(settled);
    expect([held(), read('b.csv')]).toEqual([[true, false], 'idx,R\n0,77\n1,370\n']);
    ok(repo, ['switch', 'm2']);
    expect(JSON.parse(ok(repo, ['merge', 'x', '--strategy', 'theirs', '--json']).stdout)).toMatchObject(settled);
    expect(held()).toEqual([false, false]);
    // The mirror: ours deleted, theirs renamed.
    ok(repo, ['switch', 'x']);
    const mirrored = trib(repo, ['merge', 'm3', '--json']);
    expect([mirrored.code, JSON.parse(mirrored.stdout)]).toMatchObject([1, conflict]);
    expect(held()).toEqual([false, false]);
    expect(JSON.parse(ok(repo, ['merge', 'm3', '--strategy', 'ours', '--json']).stdout)).toMatchObject(settled);
    expect(held()).toEqual([false, false]);
    ok(repo, ['switch', 'x2']);
    expect(JSON.parse(ok(repo, ['merge', 'm3', '--strategy', 'theirs', '--json']).stdout)).toMatchObject(settled);
    expect([held(), read('b.csv')]).toEqual([[true, false], 'idx,R\n0,77\n1,370\n']);
  });

  it('--no-ff makes a merge commit even when a fast-forward is possible', () => {
    ok(repo, ['branch', 'b']);
    ok(repo, ['switch', 'b']);
    write('x.txt', 'x\n');
    ok(repo, ['commit', '-m', 'x']);
    ok(repo, ['switch', 'main']);
    const m = JSON.parse(ok(repo, ['merge', 'b', '--no-ff', '-m', 'merge b', '--json']).stdout);
    expect(m.result).toBe('merge');
    const log = JSON.parse(ok(repo, ['log', '-n', '1', '--json']).stdout);
    expect(log[0]).toMatchObject({ message: 'merge b' });
    expect(log[0].parents).toHaveLength(2);
  });

  it('conflicts exit 1, list each path, and change nothing; --strategy resolves', () => {
    ok(repo, ['branch', 'other']);
    write('notes.txt', 'main says\n');
    ok(repo, ['commit', '-m', 'main']);
    ok(repo, ['switch', 'other']);
    write('notes.txt', 'other says\n');
    write('beats.csv', 'idx,R\n0,78\n');
    ok(repo, ['commit', '-m', 'other']);
    ok(repo, ['switch', 'main']);
    const before = JSON.parse(ok(repo, ['show', 'HEAD', '--json']).stdout).id;
    const r = trib(repo, ['merge', 'other']);
    expect(r.code).toBe(1);
    expect(r.stdout.trim().split('\n')).toEqual(['notes.txt']);
    expect(read('notes.txt')).toBe('main says\n');
    expect(JSON.parse(ok(repo, ['show', 'HEAD', '--json']).stdout).id).toBe(before);
    ok(repo, ['merge', 'other', '--strategy', 'theirs']);
    expect(read('notes.txt')).toBe('other says\n');
    expect(read('beats.csv')).toBe('idx,R\n0,78\n');
  });

  it('--strategy reports each conflict it settled, in text and in --json, and leaves none', () => {
    write('a', 'a\n');
    write('b', 'b\n');
    ok(repo, ['commit', '-m', 'two more']);
    ok(repo, ['branch', 'o']);
    write('a', 'a2\n');
    rmSync(path.join(repo, 'b'));
    ok(repo, ['commit', '-m', 'main side']);
    ok(repo, ['switch', 'o']);
    ok(repo, ['branch', 'o-text']);
    rmSync(path.join(repo, 'a'));
    write('b', 'b2\n');
    ok(repo, ['commit', '-m', 'o side']);

    const r = JSON.parse(ok(repo, ['merge', 'main', '--strategy', 'ours', '--json']).stdout);
    expect(r).toMatchObject({ result: 'merge', conflicts: [] });
    expect(r.settled).toEqual([
      { path: 'a', kind: 'delete/modify' },
      { path: 'b', kind: 'modify/delete' },
    ]);
    expect(existsSync(path.join(repo, 'a'))).toBe(false);
    expect(read('b')).toBe('b2\n');

    ok(repo, ['switch', 'o-text']);
    rmSync(path.join(repo, 'a'));
    ok(repo, ['commit', '-m', 'o side, a only']);
    const text = ok(repo, ['merge', 'main', '--strategy', 'theirs']);
    expect(text.stderr).toContain('settled a (delete/modify): took theirs\n');
    expect(text.stderr).not.toContain('settled b');
    expect(text.stdout.trim()).toMatch(/^[0-9a-f]{64}$/);
    expect(read('a')).toBe('a2\n');
  });

  it('lists a conflicting path with a control character C-quoted, on one line', () => {
    const odd = 'a\nb';
    ok(repo, ['branch', 'other']);
    write(odd, 'main\n');
    ok(repo, ['commit', '-m', 'main']);
    ok(repo, ['switch', 'other']);
    write(odd, 'other\n');
    ok(repo, ['commit', '-m', 'other']);
    const r = trib(repo, ['merge', 'main']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('"a\\nb"\n');
    const json = JSON.parse(trib(repo, ['merge', 'main', '--json']).stdout);
    expect(json.conflicts).toEqual([{ path: odd, kind: 'add/add' }]);
  });

  it('refusals name a path with a control character C-quoted, as status lists it, on one line', () => {
    const odd = 'new\nline.txt';
    ok(repo, ['branch', 'other']);
    ok(repo, ['switch', 'other']);
    write(odd, 'tracked\n');
    ok(repo, ['commit', '-m', 'odd name']);
    ok(repo, ['switch', 'main']);
    write(odd, 'untracked\n');
    const refused = trib(repo, ['switch', 'other']);
    expect([refused.code, refused.stderr]).toEqual([
      2,
      'trib switch: would overwrite untracked file "new\\nline.txt"; commit it or move it away, or use --force\n',
    ]);
    rmSync(path.join(repo, odd));
    ok(repo, ['switch', 'other']);
    write(odd, 'edited\n');
    const dirty = trib(repo, ['merge', 'main']);
    expect([dirty.code, dirty.stderr]).toEqual([2, 'trib merge: working tree has uncommitted changes ("new\\nline.txt"); commit them before merging\n']);
    // A name no tree can hold: quoted as git quotes, not as JSON (\u0007).
    ok(repo, ['switch', 'main', '--force']);
    write('bell\x07\\x', 'b\n');
    const untrackable = trib(repo, ['status']);
    expect([untrackable.code, untrackable.stderr]).toEqual([
      2,
      'trib status: cannot track "bell\\a\\\\x": unsafe path: "bell\\a\\\\x" contains / or \\ or NUL; rename it, or add it to .tribignore\n',
    ]);
  });

  it('after a criss-cross merge, a path the two sides resolved differently is a conflict, not one side silently', () => {
    ok(repo, ['branch', 'b']);
    write('notes.txt', 'a\n');
    ok(repo, ['commit', '-m', 'A1']);
    ok(repo, ['switch', 'b']);
    write('notes.txt', 'b\n');
    ok(repo, ['commit', '-m', 'B1']);
    ok(repo, ['switch', 'main']);
    ok(repo, ['merge', 'b', '--strategy', 'ours']); // main keeps a
    ok(repo, ['switch', 'b']);
    ok(repo, ['merge', 'main~1', '--strategy', 'ours']); // b keeps b
    ok(repo, ['switch', 'main']);
    const r = trib(repo, ['merge', 'b', '--json']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ conflicts: [{ path: 'notes.txt', kind: 'modify/modify' }] });
    expect(read('notes.txt')).toBe('a\n');
    ok(repo, ['merge', 'b', '--strategy', 'theirs']);
    expect(read('notes.txt')).toBe('b\n');
  });

  it('refuses to merge on a dirty tree', () => {
    ok(repo, ['branch', 'o']);
    write('notes.txt', 'dirty\n');
    expect(trib(repo, ['merge', 'o']).code).toBe(2);
    expect(read('notes.txt')).toBe('dirty\n');
  });

  it('a path a commit tracks stays tracked though .tribignore matches it, as in git: after a merge, a switch, an edit', () => {
    const status = () => JSON.parse(ok(repo, ['status', '--json']).stdout).changes;
    ok(repo, ['branch', 'b']);
    ok(repo, ['switch', 'b']);
    write('labels.tmp.csv', 'labels\n');
    write('scratch/keep.csv', 'kept\n');
    ok(repo, ['commit', '-m', 'b: labels']);
    ok(repo, ['switch', 'main']);
    write('.tribignore', '*.tmp.csv\nscratch/\n');
    ok(repo, ['commit', '-m', 'ignore scratch']);
    ok(repo, ['merge', 'b', '-m', 'merge']);
    expect([read('labels.tmp.csv'), read('scratch/keep.csv')]).toEqual(['labels\n', 'kept\n']);
    // Untracked paths the rules match stay ignored, beside tracked ones and inside an ignored folder.
    write('other.tmp.csv', 'scratch\n');
    write('scratch/new.csv', 'scratch\n');
    write('scratch/deeper/new.csv', 'scratch\n');
    expect(status()).toEqual([]);
    expect(JSON.parse(ok(repo, ['diff', '--json']).stdout)).toMatchObject({ added: [], removed: [], modified: [] });

    write('labels.tmp.csv', 'labels v2\n');
    rmSync(path.join(repo, 'scratch/keep.csv'));
    expect(status()).toEqual([
      { path: 'labels.tmp.csv', status: 'modified' },
      { path: 'scratch/keep.csv', status: 'removed' },
    ]);
    write('scratch/keep.csv', 'kept\n');
    const next = lastLine(ok(repo, ['commit', '-m', 'next']).stdout);
    const out = path.join(t.dir, 'out');
    ok(repo, ['checkout', next, '--to', out]);
    expect(readdirSync(out).sort()).toEqual(['.tribignore', 'beats.csv', 'labels.tmp.csv', 'notes.txt', 'scratch']);
    expect([readFileSync(path.join(out, 'labels.tmp.csv'), 'utf8'), readdirSync(path.join(out, 'scratch'))]).toEqual(['labels v2\n', ['keep.csv']]);

    // A branch without them takes them away, and back on main they are written and tracked again.
    ok(repo, ['switch', 'b']);
    expect(read('labels.tmp.csv')).toBe('labels\n');
    ok(repo, ['branch', 'bare', 'HEAD~1']);
    ok(repo, ['switch', 'main']);
    ok(repo, ['switch', 'bare']);
    expect([existsSync(path.join(repo, 'labels.tmp.csv')), existsSync(path.join(repo, 'scratch/keep.csv')), existsSync(path.join(repo, 'other.tmp.csv'))]).toEqual([false, false, true]);
    ok(repo, ['switch', 'main']);
    expect([read('labels.tmp.csv'), read('scratch/keep.csv')]).toEqual(['labels v2\n', 'kept\n']);
    expect(status()).toEqual([]);
  });
});
