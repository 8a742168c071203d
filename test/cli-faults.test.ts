import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync, openSync, readSync, writeSync, closeSync, fstatSync } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { encodeCheckedTreePage, encodeCommit, ObjectId, readChunkRefs, sha256, walkFiles } from '@tributary/core';
import { branchRef, Repository } from '@tributary/repository';
import { lastLine, ok, tempDir, TRIB, trib, tribAsync, UNPRIVILEGED } from './support/trib';

function packFiles(repo: string): string[] {
  const dir = path.join(repo, '.trib/store/packs');
  return readdirSync(dir).filter((f) => f.endsWith('.pack')).map((f) => path.join(dir, f));
}

/** Writes raw objects and a branch pointing at a commit of `treeBytes`, bypassing every check a commit makes. */
async function plantTree(repoDir: string, branch: string, objects: Buffer[], treeBytes: Buffer): Promise<void> {
  const repo = await Repository.open(repoDir);
  try {
    for (const o of objects) await repo.objects.put(o);
    const tree = await repo.objects.put(treeBytes);
    const commit = await repo.objects.put(
      encodeCommit({ tree, parents: [], author: 'mallory', time: new Date().toISOString(), message: 'evil', annotations: {} }),
    );
    await repo.objects.flush();
    await repo.refs.create(branchRef(branch), { commit });
  } finally {
    await repo.close();
  }
}

/**
 * Runs `script` (Node, with `fs` at hand) in `root`'s folder `folders` (made as needed), reached one step at a
 * time: past 4,096 characters a full path names nothing, and only a relative one from a folder nearer still does.
 */
function inDeepFolder(root: string, folders: readonly string[], script: string): void {
  const code = `const fs = require('fs'); for (const f of ${JSON.stringify(folders)}) { fs.mkdirSync(f, { recursive: true }); process.chdir(f); } ${script}`;
  const r = spawnSync(process.execPath, ['-e', code], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
}


/** Inverts (never overwrites with a value it may hold already) the byte at `at` of `file`. */
function invertByte(file: string, at: number): void {
  chmodSync(file, 0o644);
  const fd = openSync(file, 'r+');
  const byte = Buffer.alloc(1);
  readSync(fd, byte, 0, 1, at);
  byte[0] ^= 0xff;
  writeSync(fd, byte, 0, 1, at);
  closeSync(fd);
}

/** Damages the chunk stored last of those of `paths` at `rev` (one commit's, so one pack's); returns its id. */
async function damageLastChunk(repoDir: string, rev: string, paths: readonly string[]): Promise<string> {
  const repo = await Repository.open(repoDir);
  try {
    const { tree } = await repo.readCommit(await repo.resolve(rev));
    let last: { id: string; pack: string; offset: number } | undefined;
    for await (const f of walkFiles(repo.objects, tree)) {
      if (!paths.includes(f.path)) continue;
      for await (const ref of readChunkRefs(repo.objects, f.entry)) {
        const place = repo.objects.placeOf(ref.id)!;
        if (last) expect(place.pack).toBe(last.pack);
        if (!last || place.offset > last.offset) last = { id: ref.id, ...place };
      }
    }
    const pack = repo.objects.packs().find((p) => p.name === last!.pack)!;
    invertByte(path.join(repoDir, '.trib', 'store', pack.packKey), last!.offset + 10);
    return last!.id;
  } finally {
    await repo.close();
  }
}

/** Every file under `dir` but .trib/, temp files included, with the hash of its bytes. */
function filesOf(dir: string, rel = ''): [string, string][] {
  return readdirSync(path.join(dir, rel), { withFileTypes: true }).flatMap((e): [string, string][] => {
    const p = rel ? `${rel}/${e.name}` : e.name;
    if (p === '.trib') return [];
    return e.isDirectory() ? filesOf(dir, p) : [[p, sha256(readFileSync(path.join(dir, p)))]];
  });
}

/**
 * Commits the files in `repo` (with f1..f3.bin of `size` random bytes) as main, then a branch b changing f1 and f2,
 * removing f3 and adding new/n.bin; leaves main checked out.
 */
function mainAndB(repo: string, size = 700_000): void {
  for (let i = 1; i <= 3; i++) writeFileSync(path.join(repo, `f${i}.bin`), randomBytes(size));
  ok(repo, ['commit', '-m', 'main']);
  ok(repo, ['branch', 'b']);
  ok(repo, ['switch', 'b']);
  for (const f of ['f1.bin', 'f2.bin']) writeFileSync(path.join(repo, f), randomBytes(size));
  rmSync(path.join(repo, 'f3.bin'));
  mkdirSync(path.join(repo, 'new'));
  writeFileSync(path.join(repo, 'new', 'n.bin'), randomBytes(200_000));
  ok(repo, ['commit', '-m', 'b']);
  ok(repo, ['switch', 'main']);
}

describe('trib CLI: bad input and damage', () => {
  let t: ReturnType<typeof tempDir>;
  let repo: string;
  beforeEach(() => {
    t = tempDir();
    repo = path.join(t.dir, 'ds');
    ok(t.dir, ['init', repo]);
  });
  afterEach(() => t.cleanup());

  it('usage mistakes get one line on stderr and exit 2, never a stack trace', () => {
    for (const args of [['commit'], ['frobnicate'], ['log', '--bogus'], ['show', 'nope'], ['branch', '-d'], ['merge']]) {
      const r = trib(repo, args);
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    // A revision no ref could be named is refused as a revision, not passed on to the store as a key.
    const refused = {
      'HEAD:data.csv': 'only letters, digits, ".", "_", "/" and "-" are allowed',
      'refs/../config': 'contains ".."',
    };
    for (const [rev, why] of Object.entries(refused)) {
      const r = trib(repo, ['show', rev]);
      expect(r.code).toBe(2);
      expect(r.stderr.trim()).toBe(`trib show: invalid revision ${JSON.stringify(rev)}: ${why}`);
    }
    const outside = trib(t.dir, ['log']);
    expect(outside.code).toBe(2);
    expect(outside.stderr).toMatch(/not a trib repository/);
  });

  it('with --json a failure is also one JSON error on stdout, with its category and exit code', () => {
    const gone = path.join(t.dir, 'gone');
    ok(t.dir, ['init', gone, '--store', pathToFileURL(path.join(t.dir, 'gone-store')).href]);
    rmSync(path.join(t.dir, 'gone-store'), { recursive: true });
    const cases: [string, string[], string, number, RegExp][] = [
      [t.dir, ['log', '--json'], 'INVALID_ARGUMENT', 2, /^not a trib repository/],
      [repo, ['show', 'nope', '--json'], 'NOT_FOUND', 2, /^unknown ref "nope"$/],
      [repo, ['switch', 'nope', '--json'], 'NOT_FOUND', 2, /^no branch named nope$/],
      [repo, ['log', '-n', 'x', '--json'], 'INVALID_ARGUMENT', 2, /^-n wants a whole number/],
      [repo, ['branch', '-d', 'gone', '--json'], 'NOT_FOUND', 2, /^no branch named gone$/],
      [gone, ['log', '--json'], 'NOT_FOUND', 2, /^no store at file:\S+: the directory does not exist$/],
      [repo, ['topics', '--broker', '127.0.0.1:1', '--json'], 'UNAVAILABLE', 3, /^broker 127\.0\.0\.1:1 is unavailable/],
      // Refused before any command runs: no command, or one that does not exist.
      [repo, ['bogus', '--json'], 'INVALID_ARGUMENT', 2, /^unknown command "bogus"; see trib --help$/],
      [repo, ['--json'], 'INVALID_ARGUMENT', 2, /^no command before "--json"; see trib --help$/],
      [repo, ['--json', 'log'], 'INVALID_ARGUMENT', 2, /^no command before "--json"; see trib --help$/],
    ];
    for (const [cwd, args, code, exitCode, message] of cases) {
      const r = trib(cwd, args);
      expect({ args, code: r.code, stderr: r.stderr.trim().split('\n').length }).toEqual({ args, code: exitCode, stderr: 1 });
      expect(JSON.parse(r.stdout)).toEqual({ error: { code, message: expect.stringMatching(message), exitCode } });
    }
    // Without --json stdout stays empty: the line on stderr is the whole report.
    expect(trib(repo, ['show', 'nope']).stdout).toBe('');
    // An empty --broker is refused as empty, not as missing, whatever TRIB_BROKER says.
    const empty = trib(repo, ['topics', '--broker', ''], { env: { TRIB_BROKER: '127.0.0.1:1' } });
    expect([empty.code, empty.stderr.trim()]).toEqual([2, 'trib topics: --broker is empty: pass HOST:PORT']);
  });

  it('numbers, authors, annotation keys and an init target are checked at the boundary, in one line each', () => {
    const refused: [string[], RegExp][] = [
      [['log', '-n', 'abc'], /^trib log: -n wants a whole number from 0, got "abc"$/],
      [['log', '-n', '-1'], /^trib log: -n wants a whole number from 0, got "-1"$/],
      [['diff', '--max-rows', '5x'], /^trib diff: --max-rows wants a whole number from 0, got "5x"$/],
      [['gc', '--grace='], /^trib gc: --grace wants a number of seconds, got ""$/],
      [['commit', '-m', 'x', '--author', 'evil\nparent 0000'], /^trib commit: author "evil\\nparent 0000" holds a control character/],
      [['commit', '-m', 'x', '--meta', '__proto__=x'], /^trib commit: annotation key __proto__ is reserved$/],
      [['commit', '-m', 'title', '-m', 'body'], /^trib commit: option -m is given twice$/],
      [['commit', '-m', 'x', '--annotate', 'k=v', '--meta', 'k=w'], /^trib commit: annotation key k is given twice$/],
      [['tag', 'v9', '--meta', 'k=v', '--meta', 'k=w'], /^trib tag: annotation key k is given twice$/],
      [['commit', '-m', 'x', '--author', ' '], /^trib commit: --author is empty$/],
      [['diff', '--max-rows', '5'], /^trib diff: --max-rows needs --rows$/],
      [['subscribe', 'datasets/x', '--as', 'a', '--from', '9999999999999999'], /--from wants a sequence number from 1 to 9007199254740991, or "latest"; got 9999999999999999$/],
      [['init', 'in-memory', '--store', 'mem://x'], /^trib init: a mem:\/\/ store lives only as long as one process/],
      [['init', 'rootward', '--store', 'file:relative'], /^trib init: bad store URL "file:relative": expected file:\/\/\/absolute\/path$/],
      [['init', 'made/on/the/way', '--store', 'gs://c/p'], /^trib init: bad store URL "gs:\/\/c\/p": GCS bucket names are 3 to 63 characters/],
      [['init', 'there', '--store', 'gs://c/p'], /^trib init: bad store URL "gs:\/\/c\/p"/],
    ];
    mkdirSync(path.join(repo, 'there'));
    writeFileSync(path.join(repo, 'more.txt'), 'more\n');
    for (const [args, message] of refused) {
      const r = trib(repo, args);
      expect({ args, code: r.code, stderr: r.stderr.trim() }).toEqual({ args, code: 2, stderr: expect.stringMatching(message) });
    }
    // No folder is left behind, not even for a URL only the store refuses; one that was there stays.
    expect(existsSync(path.join(repo, 'rootward'))).toBe(false);
    expect(existsSync(path.join(repo, 'made'))).toBe(false);
    expect(readdirSync(path.join(repo, 'there'))).toEqual([]);
    writeFileSync(path.join(t.dir, 'afile'), 'x');
    const init = trib(t.dir, ['init', 'afile']);
    expect([init.code, init.stderr.trim()]).toEqual([2, `trib init: ${path.join(t.dir, 'afile')} is not a directory`]);
    expect(ok(repo, ['log', '-n', '0', '--json']).stdout.trim()).toBe('[]');
    // An annotation's value may span lines; the log shows it quoted on one line, not as lines of its own.
    ok(repo, ['commit', '-m', 'notes', '--meta', 'note=line one\ncommit 0000']);
    const log = ok(repo, ['log', '-n', '1']).stdout;
    expect(log).toContain('Annotation: note="line one\\ncommit 0000"\n');
    expect(log.split('\n').filter((l) => l.startsWith('commit '))).toHaveLength(1);
  });

  // Node's recursive mkdir never returns under /proc; the calls are async so that a hang fails at the test's timeout.
  (existsSync('/proc/self') ? it : it.skip)('a folder, store or checkout target under a folder that takes no entries fails in one line', async () => {
    const where = await tribAsync(t.dir, ['init', '/proc/trib-nope/work']);
    expect([where.code, where.stderr.trim()]).toEqual([2, 'trib init: cannot create /proc/trib-nope/work: its parent takes no new folders']);
    const store = await tribAsync(t.dir, ['init', 'procstore', '--store', 'file:///proc/trib-nope']);
    expect([store.code, store.stderr.trim()]).toEqual([2, expect.stringMatching(/^trib init: cannot create store file:\/\/\/proc\/trib-nope: /)]);
    writeFileSync(path.join(repo, 'a.csv'), 'a\n');
    ok(repo, ['commit', '-m', 'one']);
    const to = await tribAsync(repo, ['checkout', 'HEAD', '--to', '/proc/trib-nope/files']);
    expect([to.code, to.stderr.trim()]).toEqual([2, 'trib checkout: cannot create /proc/trib-nope/files: its parent takes no new folders']);
  }, 30_000);

  it('a hub or agent home has no working files: commands on them refuse, the others work', async () => {
    const home = path.join(t.dir, 'agent-home');
    const bare = await Repository.init(home, { bare: true });
    try {
      const file = await bare.objects.put(Buffer.from('h\n1\n'));
      const tree = await bare.objects.put(encodeCheckedTreePage([{ name: 'a.csv', kind: 'file', executable: false, chunked: false, id: file, size: 4 }]));
      const commit = await bare.writeCommit({ tree, parents: [], author: 'agent', time: new Date().toISOString(), message: 'batch', annotations: {} });
      await bare.refs.update(branchRef('main'), undefined, { commit });
    } finally {
      await bare.close();
    }
    const message = `has no working files (the home of a hub or an agent); read a version with trib checkout REF --to DIR`;
    for (const args of [['status'], ['diff'], ['commit', '-m', 'oops'], ['switch', 'main', '--force'], ['merge', 'main']]) {
      const r = trib(home, args);
      expect([args, r.code, r.stderr.trim()]).toEqual([args, 2, `trib ${args[0]}: ${home} ${message}`]);
    }
    expect(JSON.parse(ok(home, ['log', '--json']).stdout)).toHaveLength(1);
    ok(home, ['checkout', 'main', '--to', path.join(t.dir, 'agent-files')]);
    expect(readFileSync(path.join(t.dir, 'agent-files', 'a.csv'), 'utf8')).toBe('h\n1\n');
  });

  it("gc refuses a broker's store, whose topic logs name commits no ref does", () => {
    const ops = path.join(t.dir, 'ops');
    ok(t.dir, ['init', ops]);
    writeFileSync(path.join(ops, 'a.txt'), 'a\n');
    const commit = lastLine(ok(ops, ['commit', '-m', 'published']).stdout);
    // What a broker's append leaves in its store (libs/sync TopicLog), here beside a working copy's refs.
    const entry = path.join(ops, '.trib', 'store', 'topic-log', 'datasets', 'x', 'SEQ', '000000000001');
    mkdirSync(path.dirname(entry), { recursive: true });
    writeFileSync(entry, JSON.stringify({ seq: 1, commit, parent: null, time: new Date().toISOString() }) + '\n');
    for (const args of [['gc'], ['gc', '--dry-run'], ['gc', '--grace', '0']]) {
      const r = trib(ops, args);
      expect([args, r.code, r.stderr.trim()]).toEqual([args, 2, expect.stringMatching(/^trib gc: file:.* is a broker's store \(it holds topic logs\): gc would delete the commits subscribers replay$/)]);
    }
    ok(ops, ['verify', '--read-data']);
  });

  it('a ref to a commit that is gone is reported as damage, not as a branch with no commits', () => {
    writeFileSync(path.join(repo, 'a.csv'), 'id\n1\n');
    const id = lastLine(ok(repo, ['commit', '-m', 'one']).stdout);
    for (const f of readdirSync(path.join(repo, '.trib/store/packs'))) rmSync(path.join(repo, '.trib/store/packs', f), { force: true });
    const r = trib(repo, ['log']);
    expect([r.code, r.stderr.trim()]).toEqual([1, `trib log: ref HEAD points at ${id}, which is not stored (run trib verify)`]);
  });

  it('a damaged store config is reported as damage in one line, not as an internal error', () => {
    const config = path.join(repo, '.trib/store/config');
    chmodSync(config, 0o644);
    writeFileSync(config, 'garbage\n');
    const r = trib(repo, ['log']);
    expect([r.code, r.stderr.trim()]).toEqual([1, `trib log: the config of ${pathToFileURL(path.join(repo, '.trib/store')).href} is damaged: not a JSON object`]);
  });

  it('a store without its config is refused in one line naming the store, even with packs in it', () => {
    writeFileSync(path.join(repo, 'a.csv'), 'id\n1\n');
    ok(repo, ['commit', '-m', 'one']);
    const config = path.join(repo, '.trib/store/config');
    expect(existsSync(config)).toBe(true);
    rmSync(config);
    const r = trib(repo, ['log']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/file:\/\/\S+\/\.trib\/store is not a trib store \(no config\)/);
  });

  it('a tree entry named .., .trib or containing a slash is rejected at checkout, and nothing is written', async () => {
    const payload = Buffer.from('pwned\n');
    const id = sha256(payload);
    const cases: [string, string][] = [
      ['dotdot', '..'],
      ['dottrib', '.trib'],
      ['slash', 'a/b'],
      ['backslash', 'a\\b'],
    ];
    for (const [branch, name] of cases) {
      const tree = Buffer.concat([Buffer.from(`tree 1\nf ${payload.length} ${id} `), Buffer.from(name), Buffer.from([0])]);
      await plantTree(repo, branch, [payload], tree);
      const out = path.join(t.dir, `out-${branch}`);
      const r = trib(repo, ['checkout', branch, '--to', out]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/unsafe path|invalid|name/i);
      expect(readdirSync(t.dir).filter((f) => !f.startsWith('out-'))).toEqual(['ds']);
      expect(existsSync(out) ? readdirSync(out) : []).toEqual([]);
      expect(readdirSync(repo).filter((f) => f !== '.trib')).toEqual([]);
    }
  });

  it('never writes through a symlink in the working tree, even with --force', async () => {
    writeFileSync(path.join(repo, 'keep.txt'), 'k\n');
    ok(repo, ['commit', '-m', 'base']);
    ok(repo, ['branch', 'with-data']);
    ok(repo, ['switch', 'with-data']);
    mkdirSync(path.join(repo, 'data'));
    writeFileSync(path.join(repo, 'data/x.csv'), 'a\n1\n');
    ok(repo, ['commit', '-m', 'data dir']);
    ok(repo, ['switch', 'main']);
    const outside = path.join(t.dir, 'outside');
    mkdirSync(outside);
    symlinkSync(outside, path.join(repo, 'data'));
    expect(trib(repo, ['switch', 'with-data']).code).toBe(2);
    const forced = trib(repo, ['switch', 'with-data', '--force']);
    expect(forced.code).toBe(2);
    expect(forced.stderr).toMatch(/symlink/);
    expect(readdirSync(outside)).toEqual([]);
  });

  it('verify finds a flipped byte, names the object and a path, and checkout refuses the bad bytes', () => {
    writeFileSync(path.join(repo, 'good.bin'), randomBytes(300_000));
    writeFileSync(path.join(repo, 'small.csv'), 'a,b\n1,2\n');
    ok(repo, ['commit', '-m', 'one']);
    ok(repo, ['verify', '--read-data']);
    const [pack] = packFiles(repo);
    const fd = openSync(pack, 'r+');
    const size = fstatSync(fd).size;
    // Inverted, not overwritten: a fixed value would leave the byte as it was in one run of 256.
    const at = Math.floor(size / 3);
    const byte = Buffer.alloc(1);
    readSync(fd, byte, 0, 1, at);
    byte[0] ^= 0xff;
    writeSync(fd, byte, 0, 1, at);
    closeSync(fd);
    const v = trib(repo, ['verify', '--read-data']);
    expect(v.code).toBe(1);
    const [damagedId, damagedPath] = lastLine(v.stdout).split(' ');
    expect(damagedId).toMatch(/^[0-9a-f]{64}$/);
    expect(damagedPath).toBe('good.bin');
    const out = path.join(t.dir, 'co');
    const co = trib(repo, ['checkout', 'HEAD', '--to', out]);
    expect(co.code).toBe(1);
    expect(existsSync(path.join(out, 'good.bin'))).toBe(false);
    expect(readdirSync(out).filter((f) => f.startsWith('.trib-tmp'))).toEqual([]);
  });

  it('a switch or merge that fails on a damaged chunk undoes what it moved before it reports the error', async () => {
    writeFileSync(path.join(repo, 'keep.csv'), 'a\n1\n');
    mainAndB(repo);
    const main = filesOf(repo);
    const mainHead = JSON.parse(ok(repo, ['show', 'main', '--json']).stdout).id;
    await damageLastChunk(repo, 'b', ['f1.bin', 'f2.bin', 'new/n.bin']);
    for (const args of [['switch', 'b'], ['merge', 'b']]) {
      const r = trib(repo, args);
      expect([args, r.code, r.stderr.trim().split('\n').length]).toEqual([args, 1, 1]);
      expect(r.stderr).toMatch(/does not match its id|do not hash to/);
      // Looked at before any other command, which would settle a move left recorded.
      expect(existsSync(path.join(repo, '.trib', 'MOVING'))).toBe(false);
      expect(filesOf(repo)).toEqual(main);
      expect(JSON.parse(ok(repo, ['status', '--json']).stdout)).toMatchObject({ branch: 'main', head: mainHead, clean: true });
    }
  });

  it('a switch whose undo fails as well reports the first error and leaves the move recorded for the next command', async () => {
    writeFileSync(path.join(repo, 'keep.csv'), 'a\n1\n');
    mainAndB(repo);
    const failed = await damageLastChunk(repo, 'b', ['f1.bin', 'f2.bin', 'new/n.bin']);
    // f3.bin is removed before anything is written: putting it back reads a damaged chunk too.
    const undone = await damageLastChunk(repo, 'main', ['f3.bin']);
    const r = trib(repo, ['switch', 'b']);
    expect([r.code, r.stderr.trim().split('\n').length]).toEqual([1, 1]);
    expect(r.stderr).toContain(failed);
    expect(r.stderr).not.toContain(undone);
    expect(existsSync(path.join(repo, '.trib', 'MOVING'))).toBe(true);
  });

  it('a truncated pack is reported by verify', () => {
    writeFileSync(path.join(repo, 'f.bin'), randomBytes(200_000));
    ok(repo, ['commit', '-m', 'one']);
    const [pack] = packFiles(repo);
    const bytes = readFileSync(pack);
    require('node:fs').chmodSync(pack, 0o644);
    writeFileSync(pack, bytes.subarray(0, bytes.length - 1000));
    expect(trib(repo, ['verify']).code).toBe(1);
  });

  it('verify without --read-data finds a pack of chunks gone while its index stays', () => {
    // Past the 64 MiB pack target: the first pack holds chunks only, which verify does not read without --read-data.
    writeFileSync(path.join(repo, 'big.bin'), randomBytes(80 << 20));
    ok(repo, ['commit', '-m', 'big']);
    expect(trib(repo, ['verify']).code).toBe(0);
    const packs = packFiles(repo);
    const chunksOnly = packs.reduce((a, b) => (statSync(a).size > statSync(b).size ? a : b));
    rmSync(chunksOnly);
    const r = trib(repo, ['verify', '--json']);
    expect(r.code).toBe(1);
    const damage = JSON.parse(r.stdout).damaged as { role: string; path: string; problem: string }[];
    expect(damage.length).toBeGreaterThan(100);
    expect(new Set(damage.map((d) => `${d.role} ${d.path}: ${d.problem}`))).toEqual(new Set(['chunk big.bin: missing: its pack file is gone, though its index is there']));
    // Its index gone too, the chunks are simply not stored: still damage for a checkout (exit 1), not a name unknown.
    rmSync(chunksOnly.replace(/\.pack$/, '.idx'));
    const out = trib(repo, ['checkout', 'main', '--to', path.join(t.dir, 'out')]);
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/^trib checkout: object [0-9a-f]{64} not found in file:\/\/\S+, though tree [0-9a-f]{64} names it: the repository is damaged \(trib verify lists what else is\)\n$/);
    expect(trib(repo, ['verify']).code).toBe(1);
  });

  it('log, diff and show reaching an object no pack holds report damage (exit 1), not a name unknown (exit 2)', () => {
    writeFileSync(path.join(repo, 'a.csv'), 'a\n1\n');
    ok(repo, ['commit', '-m', 'one']);
    const [firstPack] = packFiles(repo);
    writeFileSync(path.join(repo, 'a.csv'), 'a\n1\n2\n');
    ok(repo, ['commit', '-m', 'two']);
    // The first commit's pack and its index are gone: its commit, tree and file are simply not stored.
    rmSync(firstPack);
    rmSync(firstPack.replace(/\.pack$/, '.idx'));
    for (const args of [['log'], ['diff', 'HEAD~1', 'HEAD'], ['show', 'HEAD~1'], ['log', '--json']]) {
      const r = trib(repo, args);
      expect([args.join(' '), r.code]).toEqual([args.join(' '), 1]);
      const message = /object [0-9a-f]{64} not found in file:\/\/\S+, though the repository refers to it: it is damaged \(trib verify lists what else is\)$/;
      if (args.includes('--json')) expect(JSON.parse(r.stdout).error).toEqual({ code: 'INTEGRITY', message: expect.stringMatching(message), exitCode: 1 });
      else expect(r.stderr.trim()).toMatch(message);
    }
    // A revision that is not there at all is still a name unknown.
    expect(trib(repo, ['show', 'nope']).code).toBe(2);
  });

  it('a pack gone while its index stays is damage (exit 1, naming the pack and the store), not a missing key', () => {
    writeFileSync(path.join(repo, 'a.csv'), 'a\n1\n');
    ok(repo, ['commit', '-m', 'one']);
    const [firstPack] = packFiles(repo);
    writeFileSync(path.join(repo, 'b.bin'), randomBytes(300_000));
    ok(repo, ['commit', '-m', 'two']);
    const secondPack = packFiles(repo).find((p) => p !== firstPack)!;
    const store = pathToFileURL(path.join(repo, '.trib/store')).href;
    const damaged = (args: string[], pack: string) => {
      const r = trib(repo, args);
      const name = path.basename(pack);
      expect([args, r.code]).toEqual([args, 1]);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toContain(`pack packs/${name} is missing from ${store}`);
      expect(r.stderr).toContain(`packs/${name.replace(/\.pack$/, '.idx')}`);
    };
    rmSync(firstPack);
    expect(existsSync(firstPack.replace(/\.pack$/, '.idx'))).toBe(true);
    for (const args of [['log'], ['show', 'main~1'], ['diff', 'main~1', 'main'], ['checkout', 'main', '--to', path.join(t.dir, 'x')]]) {
      damaged(args, firstPack);
    }
    expect(trib(repo, ['verify']).code).toBe(1);
    // What is truly not there stays a missing name (exit 2).
    expect(trib(repo, ['show', 'nope']).code).toBe(2);
    expect(trib(repo, ['show', '0'.repeat(64)]).code).toBe(2);
    // HEAD's own commit in the missing pack: the pack is named, not "not stored".
    rmSync(secondPack);
    damaged(['log'], secondPack);
  });

  it('a path too long to read fails status and commit in one line naming it, and nothing is committed', () => {
    writeFileSync(path.join(repo, 'keep'), 'k\n');
    const base = lastLine(ok(repo, ['commit', '-m', 'base']).stdout);
    // Folders of 100 characters down to between 3,950 and 4,050 characters of full path: a short name there can
    // be read, a name of 200 characters cannot, as `git add -A` cannot stat it either.
    const folders = Array.from({ length: Math.floor((4050 - repo.length) / 101) }, (_, i) => `${i}`.padEnd(100, 'n'));
    const deep = folders.join('/');
    const long = 'y'.repeat(200);
    try {
      inDeepFolder(repo, folders, `fs.writeFileSync('data.csv', 'h\\n1\\n'); fs.writeFileSync('${long}', 'long');`);
      for (const args of [['status'], ['commit', '-m', 'long']]) {
        const r = trib(repo, args);
        expect([args, r.code, r.stderr.trim()]).toEqual([args, 2, `trib ${args[0]}: cannot read "${deep}/${long}": ENAMETOOLONG: name too long`]);
      }
      // A folder whose own path is too long: not its subtree silently dropped either.
      inDeepFolder(repo, folders, `fs.unlinkSync('${long}'); fs.mkdirSync('${long}'); fs.writeFileSync('${long}/x.csv', 'x');`);
      const r = trib(repo, ['commit', '-m', 'long folder']);
      expect([r.code, r.stderr.trim()]).toEqual([2, `trib commit: cannot read "${deep}/${long}": ENAMETOOLONG: name too long`]);
      expect(JSON.parse(ok(repo, ['log', '--json']).stdout).map((c: { id: string }) => c.id)).toEqual([base]);

      inDeepFolder(repo, folders, `fs.rmSync('${long}', { recursive: true });`);
      const committed = JSON.parse(ok(repo, ['commit', '-m', 'deep', '--json']).stdout);
      expect(committed).toMatchObject({ files: 2 });
    } finally {
      // Node's own rmSync cannot reach that deep either.
      spawnSync('rm', ['-rf', path.join(repo, folders[0])]);
    }
  });

  it('a path nested deeper than a tree may hold fails status and commit in one line naming it, shortened', () => {
    writeFileSync(path.join(repo, 'keep'), 'k\n');
    ok(repo, ['commit', '-m', 'base']);
    inDeepFolder(repo, Array(300).fill('d'), `fs.writeFileSync('x.txt', 'x\\n');`);
    // 'd/' 300 times then x.txt: 605 characters, shown as its first and last 98 around "...".
    const shown = `${'d/'.repeat(49)}...${'/d'.repeat(46)}/x.txt`;
    for (const args of [['status'], ['commit', '-m', 'deep']]) {
      const r = trib(repo, args);
      expect([args, r.code, r.stderr]).toEqual([args, 2, `trib ${args[0]}: unsafe path: "${shown}" has 301 parts, more than the 256 a path may have\n`]);
    }
  });

  (UNPRIVILEGED ? it : it.skip)('an unreadable file or folder fails status and commit in one line naming it (skipped without a runner held to file modes)', () => {
    writeFileSync(path.join(repo, 'keep'), 'k\n');
    const base = lastLine(ok(repo, ['commit', '-m', 'base']).stdout);
    writeFileSync(path.join(repo, 'secret.csv'), 's\n');
    mkdirSync(path.join(repo, 'locked'));
    writeFileSync(path.join(repo, 'locked', 'x.csv'), 'x\n');
    try {
      chmodSync(path.join(repo, 'secret.csv'), 0);
      chmodSync(path.join(repo, 'locked'), 0);
      for (const args of [['status'], ['commit', '-m', 'unreadable']]) {
        const r = trib(repo, args, { runner: UNPRIVILEGED });
        expect([args, r.code, r.stderr.trim()]).toEqual([args, 2, `trib ${args[0]}: cannot read "locked": EACCES: permission denied`]);
      }
      chmodSync(path.join(repo, 'locked'), 0o755);
      const r = trib(repo, ['commit', '-m', 'unreadable'], { runner: UNPRIVILEGED });
      expect([r.code, r.stderr.trim()]).toEqual([2, 'trib commit: cannot read "secret.csv": EACCES: permission denied']);
      expect(JSON.parse(ok(repo, ['log', '--json']).stdout).map((c: { id: string }) => c.id)).toEqual([base]);
    } finally {
      chmodSync(path.join(repo, 'secret.csv'), 0o644);
      chmodSync(path.join(repo, 'locked'), 0o755);
    }
  });
  (UNPRIVILEGED ? it : it.skip)('a checkout target the user may not write fails in one line naming it, exit 2 (skipped without a runner held to file modes)', () => {
    mkdirSync(path.join(repo, 'sub'));
    writeFileSync(path.join(repo, 'sub', 'b.csv'), 'b\n');
    ok(repo, ['commit', '-m', 'one']);
    const locked = path.join(t.dir, 'locked');
    const ro = path.join(t.dir, 'ro');
    const deep = path.join(t.dir, 'deep');
    for (const d of [locked, ro, path.join(deep, 'sub')]) mkdirSync(d, { recursive: true });
    writeFileSync(path.join(ro, 'old.txt'), 'x');
    try {
      chmodSync(deep, 0o777);
      chmodSync(locked, 0);
      for (const d of [ro, path.join(deep, 'sub')]) chmodSync(d, 0o555);
      const refused: [string[], string][] = [
        [['--to', path.join(locked, 'x')], `cannot check out into ${path.join(locked, 'x')}: permission denied`],
        [['--to', path.join(ro, 'x')], `cannot check out into ${path.join(ro, 'x')}: permission denied`],
        [['--to', ro, '--force'], `cannot check out into ${ro}: permission denied`],
        [['--to', deep, '--force'], `cannot check out into ${deep}: permission denied on ${path.join(deep, 'sub')}`],
      ];
      for (const [args, message] of refused) {
        const r = trib(repo, ['checkout', 'HEAD', ...args], { runner: UNPRIVILEGED });
        expect({ args, code: r.code, stderr: r.stderr.trim() }).toEqual({ args, code: 2, stderr: `trib checkout: ${message}` });
      }
    } finally {
      for (const d of [locked, ro, path.join(deep, 'sub')]) chmodSync(d, 0o755);
    }
  });

  it('a checkout target that is a symlink to nothing, or beneath one, fails in one line naming the link', () => {
    writeFileSync(path.join(repo, 'a.csv'), 'a\n');
    ok(repo, ['commit', '-m', 'one']);
    const nowhere = path.join(t.dir, 'nowhere', 'x');
    const link = path.join(t.dir, 'dangling');
    symlinkSync(nowhere, link);
    for (const to of [link, path.join(link, 'deeper')]) {
      const r = trib(repo, ['checkout', 'HEAD', '--to', to]);
      const what = to === link ? 'it' : link;
      expect([r.code, r.stderr.trim()]).toEqual([2, `trib checkout: cannot check out into ${to}: ${what} is a symlink to ${nowhere}, which does not exist`]);
    }
    expect(existsSync(path.join(t.dir, 'nowhere'))).toBe(false);
  });
});

describe('trib CLI: kill -9 at any moment leaves the repository readable', () => {
  let t: ReturnType<typeof tempDir>;
  let repo: string;
  beforeEach(() => {
    t = tempDir();
    repo = path.join(t.dir, 'ds');
    ok(t.dir, ['init', repo]);
    for (let i = 0; i < 4; i++) writeFileSync(path.join(repo, `f${i}.bin`), randomBytes(700_000));
    writeFileSync(path.join(repo, 'rows.csv'), 'a\n1\n');
  });
  afterEach(() => t.cleanup());

  const crash = (args: string[], point: string) => {
    const r = trib(repo, args, { env: { TRIB_CRASH_AT: point } });
    expect(r.code).toBe(128); // killed by the signal, not a normal exit
  };

  // Ctrl-C, or SIGTERM from a supervisor or `kill`: each exits with its own code, after the same clean-ups.
  const stopSignals = [
    ['SIGINT', 130, 'trib: interrupted'],
    ['SIGTERM', 143, 'trib: terminated'],
  ] as const;

  it.each(stopSignals)('a commit stopped by %s midway leaves neither its half-written pack nor its lock', (signal, code, said) => {
    const r = trib(repo, ['commit', '-m', 'first'], { env: { TRIB_CRASH_AT: 'commit.chunk:9', TRIB_CRASH_SIGNAL: signal } });
    expect([r.code, r.stderr.trim()]).toEqual([code, said]);
    expect(readdirSync(path.join(repo, '.trib', 'store', 'packs')).filter((f) => f.startsWith('.tmp-'))).toEqual([]);
    expect(existsSync(path.join(repo, '.trib', 'lock'))).toBe(false);
    expect(lastLine(ok(repo, ['commit', '-m', 'first again']).stdout)).toMatch(/^[0-9a-f]{64}$/);
    ok(repo, ['verify', '--read-data']);
  });

  it.each(stopSignals)('a --json commit stopped by %s prints the error object on stdout, with the same exit code', (signal, code, said) => {
    const r = trib(repo, ['commit', '-m', 'first', '--json'], { env: { TRIB_CRASH_AT: 'commit.chunk:9', TRIB_CRASH_SIGNAL: signal } });
    expect([r.code, r.stderr.trim()]).toEqual([code, said]);
    const word = said.replace('trib: ', '');
    expect(JSON.parse(r.stdout)).toEqual({ error: { code: word.toUpperCase(), message: word, exitCode: code } });
    expect(existsSync(path.join(repo, '.trib', 'lock'))).toBe(false);
  });

  it.each(['commit.chunk:1', 'commit.chunk:9', 'commit.before-head:1', 'commit.before-index:1'])('commit killed at %s', (point) => {
    const first = lastLine(ok(repo, ['commit', '-m', 'first']).stdout);
    writeFileSync(path.join(repo, 'f1.bin'), randomBytes(700_000));
    writeFileSync(path.join(repo, 'rows.csv'), 'a\n1\n2\n');
    crash(['commit', '-m', 'second'], point);
    ok(repo, ['verify', '--read-data']);
    const log = JSON.parse(ok(repo, ['log', '--json']).stdout);
    expect(log[log.length - 1].id).toBe(first);
    const again = ok(repo, ['commit', '-m', 'second again']);
    if (point === 'commit.before-index:1') {
      expect(again.stderr).toMatch(/nothing to commit/);
    } else {
      expect(lastLine(again.stdout)).toMatch(/^[0-9a-f]{64}$/);
    }
    expect(JSON.parse(ok(repo, ['status', '--json']).stdout).clean).toBe(true);
    ok(repo, ['verify', '--read-data']);
  });

  it('checkout killed before a rename leaves no half-written file in place', () => {
    ok(repo, ['commit', '-m', 'first']);
    const out = path.join(t.dir, 'co');
    crash(['checkout', 'HEAD', '--to', out], 'checkout.before-rename:3');
    const files = readdirSync(out).filter((f) => !f.startsWith('.trib-tmp'));
    for (const f of files) expect(readFileSync(path.join(out, f)).equals(readFileSync(path.join(repo, f)))).toBe(true);
    expect(files.length).toBe(2);
    ok(repo, ['verify', '--read-data']);
  });

  it.each(stopSignals)('a checkout stopped by %s midway removes its temp files before it exits', (signal, code, said) => {
    ok(repo, ['commit', '-m', 'first']);
    const out = path.join(t.dir, 'co');
    const r = trib(repo, ['checkout', 'HEAD', '--to', out], { env: { TRIB_CRASH_AT: 'checkout.before-rename:1', TRIB_CRASH_SIGNAL: signal } });
    expect([r.code, r.stderr.trim()]).toEqual([code, said]);
    const left = readdirSync(out);
    expect(left.filter((f) => f.startsWith('.trib-tmp'))).toEqual([]);
    for (const f of left) expect(readFileSync(path.join(out, f)).equals(readFileSync(path.join(repo, f)))).toBe(true);
  });

  it("a checkout into a folder a killed one left neither counts nor keeps trib's temp files, and keeps the user's", () => {
    ok(repo, ['commit', '-m', 'first']);
    const out = path.join(t.dir, 'co');
    crash(['checkout', 'HEAD', '--to', out], 'checkout.before-rename:1');
    const debris = readdirSync(out);
    expect(debris.length).toBeGreaterThan(0);
    for (const f of debris) expect(f).toMatch(/^\.trib-tmp-[0-9a-f]{12}$/);
    const again = JSON.parse(ok(repo, ['checkout', 'HEAD', '--to', out, '--json']).stdout);
    expect(again.extra).toEqual([]);
    const tracked = readdirSync(repo).filter((f) => f !== '.trib').sort();
    expect(readdirSync(out).sort()).toEqual(tracked);

    const used = path.join(t.dir, 'used');
    mkdirSync(path.join(used, 'sub'), { recursive: true });
    for (const f of ['.trib-tmp-0123456789ab', 'sub/.trib-tmp-ba9876543210', '.trib-tmp-notes.txt']) writeFileSync(path.join(used, f), 'x');
    const refused = trib(repo, ['checkout', 'HEAD', '--to', used]);
    expect([refused.code, refused.stderr.trim()]).toEqual([2, `trib checkout: ${used} is not empty (use --force)`]);
    const forced = JSON.parse(ok(repo, ['checkout', 'HEAD', '--to', used, '--force', '--json']).stdout);
    expect(forced.extra).toEqual(['.trib-tmp-notes.txt']);
    expect(readdirSync(used).sort()).toEqual(['.trib-tmp-notes.txt', ...tracked, 'sub'].sort());
    expect(readdirSync(path.join(used, 'sub'))).toEqual([]);
  });

  it.each(['checkout.before-rename:1', 'checkout.before-rename:3', 'move.before-end:1'])(
    'switch killed at %s: the next command finds the working tree whole, at HEAD',
    (point) => {
      mainAndB(repo, 300_000);
      const main = new Map(readdirSync(repo).filter((f) => f !== '.trib').map((f) => [f, readFileSync(path.join(repo, f))]));

      crash(['switch', 'b'], point);

      // Killed before HEAD moved, the move is undone; after, it is done. Either way status is clean.
      const headMoved = point === 'move.before-end:1';
      const status = JSON.parse(ok(repo, ['status', '--json']).stdout);
      expect(status).toMatchObject({ branch: headMoved ? 'b' : 'main', clean: true });
      const tmp = (dir: string): string[] => readdirSync(dir).filter((f) => f.startsWith('.trib-tmp'));
      expect([...tmp(repo), ...(existsSync(path.join(repo, 'new')) ? tmp(path.join(repo, 'new')) : [])]).toEqual([]);
      if (!headMoved) {
        expect(readdirSync(repo).filter((f) => f !== '.trib').sort()).toEqual([...main.keys()].sort());
        for (const [f, bytes] of main) expect(readFileSync(path.join(repo, f)).equals(bytes)).toBe(true);
        ok(repo, ['switch', 'b']);
      }
      expect(existsSync(path.join(repo, 'f3.bin'))).toBe(false);
      expect(JSON.parse(ok(repo, ['status', '--json']).stdout)).toMatchObject({ branch: 'b', clean: true });
      ok(repo, ['verify', '--read-data']);
    },
  );

  it('a switch killed midway, after which something else moved HEAD, is undone all the same', async () => {
    ok(repo, ['commit', '-m', 'first']);
    const before = readFileSync(path.join(repo, 'f1.bin'));
    ok(repo, ['branch', 'b']);
    ok(repo, ['branch', 'c']);
    ok(repo, ['switch', 'c']);
    writeFileSync(path.join(repo, 'f2.bin'), randomBytes(1000));
    ok(repo, ['commit', '-m', 'c']);
    ok(repo, ['switch', 'b']);
    writeFileSync(path.join(repo, 'f1.bin'), randomBytes(1000));
    writeFileSync(path.join(repo, 'only-b.txt'), 'b\n');
    ok(repo, ['commit', '-m', 'b']);
    ok(repo, ['switch', 'main']);
    crash(['switch', 'b'], 'checkout.before-rename:2');
    const r = await Repository.open(repo);
    try {
      await r.setHead({ symbolic: branchRef('c') });
    } finally {
      await r.close();
    }
    // The working files are main's again: no local change, and c (HEAD) has moved on from them, which a commit here
    // would undo (`trib switch c` takes it).
    const status = JSON.parse(ok(repo, ['status', '--json']).stdout);
    const mainCommit = JSON.parse(ok(repo, ['show', 'main', '--json']).stdout).id;
    expect(status).toMatchObject({ branch: 'c', base: mainCommit, baseBranch: 'main', behind: true, clean: true, changes: [] });
    expect(status.behindReason).toMatch(/^HEAD is on branch c, but this working copy's files are branch main's, at [0-9a-f]{12} /);
    expect(readFileSync(path.join(repo, 'f1.bin')).equals(before)).toBe(true);
    expect(existsSync(path.join(repo, 'only-b.txt'))).toBe(false);
  });

  it('a file edited after a switch was killed keeps the edit when the next command undoes the switch', () => {
    ok(repo, ['commit', '-m', 'first']);
    const main = new Map(readdirSync(repo).filter((f) => f !== '.trib').map((f) => [f, readFileSync(path.join(repo, f))]));
    ok(repo, ['branch', 'b']);
    ok(repo, ['switch', 'b']);
    for (let i = 0; i < 4; i++) writeFileSync(path.join(repo, `f${i}.bin`), randomBytes(1000));
    writeFileSync(path.join(repo, 'only-b.txt'), 'b\n');
    ok(repo, ['commit', '-m', 'b']);
    ok(repo, ['switch', 'main']);
    crash(['switch', 'b'], 'checkout.before-rename:3');
    // The two paths the move wrote before the kill are edited and removed by hand before the next command runs.
    const differs = (f: string) => !existsSync(path.join(repo, f)) || !readFileSync(path.join(repo, f)).equals(main.get(f)!);
    const moved = ['f0.bin', 'f1.bin', 'f2.bin', 'f3.bin'].filter(differs);
    expect(moved).toHaveLength(existsSync(path.join(repo, 'only-b.txt')) ? 1 : 2);
    const [edited, removed] = [moved[0], moved[1] ?? 'only-b.txt'];
    writeFileSync(path.join(repo, edited), 'my edit\n');
    rmSync(path.join(repo, removed));
    const status = JSON.parse(ok(repo, ['status', '--json']).stdout);
    expect(status).toMatchObject({ branch: 'main', clean: false });
    const expected = [[edited, 'modified'], ...(removed === 'only-b.txt' ? [] : [[removed, 'removed']])];
    expect(status.changes.map((c: { path: string; status: string }) => [c.path, c.status])).toEqual(expected);
    expect(readFileSync(path.join(repo, edited), 'utf8')).toBe('my edit\n');
    for (const f of [...main.keys()].filter((f) => f !== edited && f !== removed)) {
      expect(readFileSync(path.join(repo, f)).equals(main.get(f)!)).toBe(true);
    }
    expect(existsSync(path.join(repo, 'only-b.txt'))).toBe(false);
  });

  it('a switch killed midway, after which a folder stands where it was writing a file, is undone and the folder kept', () => {
    ok(repo, ['commit', '-m', 'first']);
    ok(repo, ['branch', 'b']);
    ok(repo, ['switch', 'b']);
    writeFileSync(path.join(repo, 'model'), 'v1\n');
    ok(repo, ['commit', '-m', 'b']);
    ok(repo, ['switch', 'main']);
    crash(['switch', 'b'], 'checkout.before-rename:1');
    mkdirSync(path.join(repo, 'model'));
    writeFileSync(path.join(repo, 'model', 'mine.txt'), 'mine\n');
    expect(JSON.parse(ok(repo, ['status', '--json']).stdout)).toMatchObject({ branch: 'main', changes: [{ path: 'model/mine.txt', status: 'added' }] });
    expect(existsSync(path.join(repo, '.trib', 'MOVING'))).toBe(false);
    rmSync(path.join(repo, 'model', 'mine.txt'));
    ok(repo, ['switch', 'b']);
    expect(readFileSync(path.join(repo, 'model'), 'utf8')).toBe('v1\n');
  });

  it('switch --force onto the current branch killed midway is finished by the next command, leaving no temp file', () => {
    ok(repo, ['commit', '-m', 'first']);
    const committed = new Map(readdirSync(repo).filter((f) => f !== '.trib').map((f) => [f, readFileSync(path.join(repo, f))]));
    for (const f of committed.keys()) writeFileSync(path.join(repo, f), `local ${f}\n`);
    crash(['switch', 'main', '--force'], 'checkout.before-rename:3');
    expect(JSON.parse(ok(repo, ['status', '--json']).stdout)).toMatchObject({ branch: 'main', clean: true });
    expect(readdirSync(repo).filter((f) => f !== '.trib').sort()).toEqual([...committed.keys()].sort());
    for (const [f, bytes] of committed) expect(readFileSync(path.join(repo, f)).equals(bytes)).toBe(true);
  });

  it('a folder of the user where a move finished forwards would write a file is refused, never deleted', () => {
    ok(repo, ['commit', '-m', 'first']);
    const committed = readFileSync(path.join(repo, 'f3.bin'));
    // The forced switch onto HEAD's own tree has f3.bin alone to write, and is killed before it is in place.
    rmSync(path.join(repo, 'f3.bin'));
    crash(['switch', 'main', '--force'], 'checkout.before-rename:1');
    mkdirSync(path.join(repo, 'f3.bin'));
    writeFileSync(path.join(repo, 'f3.bin', 'mine.txt'), 'mine\n');
    const r = trib(repo, ['status']);
    expect([r.code, r.stderr.trim()]).toEqual([
      2,
      'trib status: cannot settle the switch or merge that was cut short: it would overwrite f3.bin/mine.txt, which is not tracked; move it away and run the command again',
    ]);
    expect(readFileSync(path.join(repo, 'f3.bin', 'mine.txt'), 'utf8')).toBe('mine\n');
    rmSync(path.join(repo, 'f3.bin'), { recursive: true });
    expect(JSON.parse(ok(repo, ['status', '--json']).stdout)).toMatchObject({ branch: 'main', clean: true });
    expect(readFileSync(path.join(repo, 'f3.bin')).equals(committed)).toBe(true);
  });

  it('a file of the user where an undone move would make a folder is refused, never deleted', () => {
    mkdirSync(path.join(repo, 'sub'));
    writeFileSync(path.join(repo, 'sub', 's.bin'), randomBytes(1000));
    ok(repo, ['commit', '-m', 'first']);
    ok(repo, ['branch', 'b']);
    ok(repo, ['switch', 'b']);
    rmSync(path.join(repo, 'sub'), { recursive: true });
    writeFileSync(path.join(repo, 'f1.bin'), randomBytes(1000));
    ok(repo, ['commit', '-m', 'b']);
    ok(repo, ['switch', 'main']);
    // Killed with sub/ removed and f1.bin not yet written: the next command puts sub/s.bin back.
    crash(['switch', 'b'], 'checkout.before-rename:1');
    expect(existsSync(path.join(repo, 'sub'))).toBe(false);
    writeFileSync(path.join(repo, 'sub'), 'my notes\n');
    const r = trib(repo, ['switch', 'b']);
    expect([r.code, r.stderr.trim()]).toEqual([
      2,
      'trib switch: cannot settle the switch or merge that was cut short: it would overwrite sub, which is not tracked; move it away and run the command again',
    ]);
    expect(readFileSync(path.join(repo, 'sub'), 'utf8')).toBe('my notes\n');
    expect(existsSync(path.join(repo, '.trib', 'MOVING'))).toBe(true);
    rmSync(path.join(repo, 'sub'));
    expect(JSON.parse(ok(repo, ['status', '--json']).stdout)).toMatchObject({ branch: 'main', clean: true });
    expect(existsSync(path.join(repo, 'sub', 's.bin'))).toBe(true);
  });

  /** main and b, each one commit past `first`, main checked out: what the merge tests merge. Returns main's head. */
  const branchesToMerge = (): string => {
    ok(repo, ['commit', '-m', 'first']);
    ok(repo, ['branch', 'b']);
    writeFileSync(path.join(repo, 'main.txt'), 'm\n');
    const mainHead = lastLine(ok(repo, ['commit', '-m', 'main']).stdout);
    ok(repo, ['switch', 'b']);
    writeFileSync(path.join(repo, 'b.txt'), 'b\n');
    ok(repo, ['commit', '-m', 'b']);
    ok(repo, ['switch', 'main']);
    return mainHead;
  };

  it('gc keeps the trees of a merge cut short, which the next command needs to undo it', () => {
    const mainHead = branchesToMerge();
    crash(['merge', 'b'], 'checkout.before-rename:1');
    // Nothing names the merged tree but the record of the cut-short move; with no grace, gc keeps it for that.
    ok(repo, ['gc', '--grace', '0']);
    expect(JSON.parse(ok(repo, ['status', '--json']).stdout)).toMatchObject({ branch: 'main', head: mainHead, clean: true });
    expect(existsSync(path.join(repo, 'b.txt'))).toBe(false);
    expect(JSON.parse(ok(repo, ['merge', 'b', '--json']).stdout).result).toBe('merge');
    expect(readFileSync(path.join(repo, 'b.txt'), 'utf8')).toBe('b\n');
  });

  it('merge killed before it touches the working tree leaves HEAD and files as they were', () => {
    const mainHead = branchesToMerge();
    crash(['merge', 'b'], 'merge.before-worktree:1');
    expect(JSON.parse(ok(repo, ['show', 'HEAD', '--json']).stdout).id).toBe(mainHead);
    expect(existsSync(path.join(repo, 'b.txt'))).toBe(false);
    ok(repo, ['verify', '--read-data']);
    expect(JSON.parse(ok(repo, ['merge', 'b', '--json']).stdout).result).toBe('merge');
  });

  it.each(['gc.before-delete:1', 'gc.between-idx-and-pack:1'])('gc killed at %s keeps every live object', (point) => {
    ok(repo, ['commit', '-m', 'first']);
    ok(repo, ['branch', 'doomed']);
    ok(repo, ['switch', 'doomed']);
    writeFileSync(path.join(repo, 'f0.bin'), randomBytes(500_000));
    ok(repo, ['commit', '-m', 'doomed']);
    ok(repo, ['switch', 'main']);
    ok(repo, ['branch', '-D', 'doomed']);
    crash(['gc', '--grace', '0'], point);
    ok(repo, ['verify', '--read-data']);
    const r = JSON.parse(ok(repo, ['gc', '--grace', '0', '--json']).stdout);
    expect(r.dryRun).toBe(false);
    ok(repo, ['verify', '--read-data']);
    ok(repo, ['checkout', 'HEAD', '--to', path.join(t.dir, 'after-gc')]);
  });
});
