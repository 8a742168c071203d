import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { promises as fs, statSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { LocalStore, fsError } from './local.store';
import { poolRequestsDuring } from './testing/pool-requests';
import { describeObjectStoreContract, listKeys } from './testing/store-contract';

const REPO = path.resolve(__dirname, '../../..');

// The cross-process tests start Node children that compile the adapter; allow for a loaded machine.
jest.setTimeout(30_000);

async function tempDir(): Promise<string> {
  return fs.mkdtemp(path.join(tmpdir(), 'trib-local-store-'));
}

describeObjectStoreContract('LocalStore', async () => {
  const root = await tempDir();
  return { store: new LocalStore(root), cleanup: () => fs.rm(root, { recursive: true, force: true }) };
});

describe('LocalStore', () => {
  let root: string;
  let store: LocalStore;

  beforeEach(async () => {
    root = await tempDir();
    store = new LocalStore(path.join(root, 'store'));
    await fs.mkdir(store.root);
  });
  afterEach(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  it('names its root as a file URL and maps keys to nested files', async () => {
    expect(store.url).toBe(`file://${store.root}`);
    await store.putIfAbsent('packs/ab/x.pack', Buffer.from('bytes'));
    expect(await fs.readFile(path.join(store.root, 'packs', 'ab', 'x.pack'), 'utf8')).toBe('bytes');
  });

  it('write-protects immutable objects and leaves no temp file behind', async () => {
    await store.putIfAbsent('o/x', Buffer.from('1'));
    expect((await fs.stat(path.join(store.root, 'o', 'x'))).mode & 0o777).toBe(0o444);
    expect(await fs.readdir(path.join(store.root, 'o'))).toEqual(['x']);
  });

  it('writes a stream of many pieces byte for byte, and stores nothing when it fails after several batches', async () => {
    const pieces = Array.from({ length: 80 }, (_, i) => Buffer.alloc(64 * 1024 + i, i));
    await store.putIfAbsent('packs/pieces.pack', Readable.from(pieces));
    expect((await store.get('packs/pieces.pack')).equals(Buffer.concat(pieces))).toBe(true);

    let sent = 0;
    const failing = new Readable({
      read() {
        // 3 MiB in 64 KiB pieces (three write batches), then the source fails.
        if (sent++ < 48) this.push(Buffer.alloc(64 * 1024, 7));
        else this.destroy(new Error('source broke late'));
      },
    });
    await expect(store.putIfAbsent('packs/late.pack', failing)).rejects.toThrow('source broke late');
    expect(await store.head('packs/late.pack')).toBeUndefined();
    expect(await fs.readdir(path.join(store.root, 'packs'))).toEqual(['pieces.pack']);
  });

  it('refuses a relative root', () => {
    expect(() => new LocalStore('relative/dir')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });

  it('never writes outside its root for an escaping key', async () => {
    await expect(store.putIfAbsent('../escape', Buffer.from('x'))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(await fs.readdir(root)).toEqual(['store']);
  });

  it('reports a missing root as NotFound naming the URL, and does not recreate it', async () => {
    const gone = new LocalStore(path.join(root, 'missing'));
    await expect(gone.putIfAbsent('a/b', Buffer.from('x'))).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: expect.stringContaining(gone.url),
    });
    await expect(gone.compareAndSwap('refs/x', undefined, Buffer.from('x'))).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    expect(await listKeys(gone, '')).toEqual([]);
    await expect(fs.stat(gone.root)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('opens an existing root, creates one only when asked, and rejects a file as root', async () => {
    await expect(LocalStore.open(store.root)).resolves.toBeInstanceOf(LocalStore);
    const fresh = path.join(root, 'new', 'deep');
    await expect(LocalStore.open(fresh)).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: expect.stringContaining(fresh),
    });
    const created = await LocalStore.open(fresh, { create: true });
    expect((await fs.stat(fresh)).isDirectory()).toBe(true);
    await created.putIfAbsent('k', Buffer.from('v'));
    await fs.writeFile(path.join(root, 'plain'), 'x');
    await expect(LocalStore.open(path.join(root, 'plain'))).rejects.toMatchObject({ code: 'FAILED_PRECONDITION' });
  });

  it('fails a write whose key collides with a file or directory, and reads such a key as absent', async () => {
    await store.putIfAbsent('a', Buffer.from('file'));
    await expect(store.putIfAbsent('a/b', Buffer.from('x'))).rejects.toMatchObject({ code: 'FAILED_PRECONDITION' });
    await expect(store.get('a/b')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await store.head('a/b')).toBeUndefined();
    expect(await store.readVersioned('a/b')).toBeUndefined();
    await store.delete('a/b');

    await store.putIfAbsent('d/x', Buffer.from('x'));
    await expect(store.putIfAbsent('d', Buffer.from('x'))).rejects.toMatchObject({ code: 'FAILED_PRECONDITION' });
    await expect(store.get('d')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(store.getRange('d', { offset: 0, length: 1 })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await store.head('d')).toBeUndefined();
    await expect(store.compareAndSwap('d', undefined, Buffer.from('x'))).rejects.toMatchObject({
      code: 'FAILED_PRECONDITION',
    });
    expect(await store.readVersioned('d/x')).toBeDefined();
  });

  it('swaps a key in where a deleted nested key left its empty folder, as a ref `a` after `a/b` is deleted', async () => {
    const nested = await store.compareAndSwap('refs/a/b', undefined, Buffer.from('x'));
    await store.deleteVersioned('refs/a/b', nested);
    expect(statSync(path.join(store.root, 'refs', 'a')).isDirectory()).toBe(true);
    const version = await store.compareAndSwap('refs/a', undefined, Buffer.from('y'));
    expect(await store.readVersioned('refs/a')).toEqual({ data: Buffer.from('y'), version });

    // Deeper: `x/y/z` deleted leaves x/ holding an empty y/; a file anywhere below still refuses.
    await store.deleteVersioned('refs/x/y/z', await store.compareAndSwap('refs/x/y/z', undefined, Buffer.from('x')));
    await store.compareAndSwap('refs/x', undefined, Buffer.from('y'));
    const deep = await store.compareAndSwap('refs/p/q/r', undefined, Buffer.from('x'));
    await store.compareAndSwap('refs/p/s', undefined, Buffer.from('x'));
    await store.deleteVersioned('refs/p/q/r', deep);
    await expect(store.compareAndSwap('refs/p', undefined, Buffer.from('y'))).rejects.toMatchObject({ code: 'FAILED_PRECONDITION' });
    expect(await store.readVersioned('refs/p/s')).toBeDefined();
  });

  it('lists neither foreign names, temporary files, locks nor symlinks', async () => {
    await store.putIfAbsent('k/real', Buffer.from('x'));
    await fs.writeFile(path.join(store.root, 'k', 'has space'), 'x');
    await fs.writeFile(path.join(store.root, 'k', '.tmp-0123~'), 'x');
    // A per-key lock and the draft it is linked from, as a writer in the middle of a compare-and-swap leaves them.
    await fs.writeFile(path.join(store.root, 'k', 'real~lock'), 'x');
    await fs.writeFile(path.join(store.root, 'k', 'real~lock~0123'), 'x');
    await fs.symlink('/etc', path.join(store.root, 'k', 'link'));
    expect(await listKeys(store, '')).toEqual(['k/real']);
    expect(await listKeys(store, 'k/real')).toEqual(['k/real']);
  });

  it('lists and deletes keys without a round trip through the thread pool per key', async () => {
    for (let i = 0; i < 50; i++) await store.putIfAbsent(`packs/p${i}`, Buffer.from(`pack ${i}`));
    let listed: string[] = [];
    const requests = await poolRequestsDuring(async () => {
      listed = await listKeys(store, 'packs/');
      for (const key of listed.slice(0, 25)) await store.delete(key);
    });
    expect(listed).toHaveLength(50);
    expect(await listKeys(store, 'packs/')).toHaveLength(25);
    // Reading the directory is a few requests; a stat and an unlink each through the pool were 75 more.
    expect(requests.length).toBeLessThan(10);
  });

  it('uses the SHA-256 of a value as its version', async () => {
    const version = await store.compareAndSwap('refs/heads/main', undefined, Buffer.from('abc'));
    expect(version).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  describe('per-key locks', () => {
    const lockFile = () => path.join(store.root, 'refs', 'heads', 'main~lock');

    async function writeLock(body: string, ageMs = 0): Promise<void> {
      await fs.mkdir(path.dirname(lockFile()), { recursive: true });
      await fs.writeFile(lockFile(), body);
      if (ageMs) {
        const then = new Date(Date.now() - ageMs);
        await fs.utimes(lockFile(), then, then);
      }
    }

    it('waits for a live lock holder, then re-reads the version under the lock', async () => {
      const v1 = await store.compareAndSwap('refs/heads/main', undefined, Buffer.from('c1'));
      await writeLock(JSON.stringify({ pid: process.pid, host: hostname(), time: Date.now(), token: 'held' }));
      let settled = false;
      const pending = store.compareAndSwap('refs/heads/main', v1, Buffer.from('mine')).finally(() => {
        settled = true;
      });
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(settled).toBe(false);
      // The holder's own update, then its release.
      await fs.writeFile(path.join(store.root, 'refs', 'heads', 'main'), 'theirs');
      await fs.unlink(lockFile());
      await expect(pending).rejects.toMatchObject({ code: 'CONFLICT' });
      expect((await store.readVersioned('refs/heads/main'))?.data.toString()).toBe('theirs');
    });

    it('breaks a lock older than the stale limit even if its process is alive', async () => {
      const v1 = await store.compareAndSwap('refs/heads/main', undefined, Buffer.from('c1'));
      await writeLock(JSON.stringify({ pid: process.pid, host: hostname(), time: Date.now() - 60_000, token: 'old' }));
      await store.compareAndSwap('refs/heads/main', v1, Buffer.from('c2'));
      expect((await store.readVersioned('refs/heads/main'))?.data.toString()).toBe('c2');
      await expect(fs.stat(lockFile())).rejects.toMatchObject({ code: 'ENOENT' });
    });

    it('breaks an old lock whose content is unreadable, by its file time', async () => {
      await writeLock('', 60_000);
      await store.compareAndSwap('refs/heads/main', undefined, Buffer.from('c1'));
      expect((await store.readVersioned('refs/heads/main'))?.data.toString()).toBe('c1');
    });

    it('honours a shorter stale limit from the options', async () => {
      const quick = new LocalStore(store.root, { staleLockMs: 50 });
      await writeLock(JSON.stringify({ pid: process.pid, host: hostname(), time: Date.now(), token: 'held' }));
      await quick.compareAndSwap('refs/heads/main', undefined, Buffer.from('c1'));
      expect((await quick.readVersioned('refs/heads/main'))?.data.toString()).toBe('c1');
    });
  });

  describe('across processes', () => {
    let compiled: string;

    beforeAll(async () => {
      compiled = await compileLibs();
    });
    afterAll(async () => {
      await fs.rm(compiled, { recursive: true, force: true });
    });

    it('survives a writer killed in the middle of a large put', async () => {
      const worker = startWorker(compiled, { op: 'hang-put', root: store.root, key: 'packs/big.pack' });
      await worker.waitFor('writing');
      await worker.kill();
      expect((await fs.readdir(path.join(store.root, 'packs'))).some((n) => n.startsWith('.tmp-'))).toBe(true);
      expect(await store.head('packs/big.pack')).toBeUndefined();
      expect(await listKeys(store, '')).toEqual([]);
      await store.putIfAbsent('packs/big.pack', Buffer.from('complete'));
      expect((await store.get('packs/big.pack')).toString()).toBe('complete');
    });

    it('sweeps the temp file a writer killed mid-put left, once it is old enough, and nothing else', async () => {
      const worker = startWorker(compiled, { op: 'hang-put', root: store.root, key: 'packs/big.pack' });
      await worker.waitFor('writing');
      await worker.kill();
      await store.putIfAbsent('packs/kept.pack', Buffer.from('kept'));
      await fs.writeFile(path.join(store.root, 'packs', 'kept.pack~lock'), 'x');
      const [temp] = (await fs.readdir(path.join(store.root, 'packs'))).filter((n) => n.startsWith('.tmp-'));
      const size = (await fs.stat(path.join(store.root, 'packs', temp))).size;
      expect(size).toBeGreaterThan(0);
      // Young: a live writer may be filling it.
      expect(await store.sweepLeftovers('packs/', 60_000)).toEqual({ files: 0, bytes: 0 });
      const anHourAgo = new Date(Date.now() - 3600_000);
      await fs.utimes(path.join(store.root, 'packs', temp), anHourAgo, anHourAgo);
      expect(await store.sweepLeftovers('packs/', 60_000, { dryRun: true })).toEqual({ files: 1, bytes: size });
      expect(await store.sweepLeftovers('packs/', 60_000)).toEqual({ files: 1, bytes: size });
      expect((await fs.readdir(path.join(store.root, 'packs'))).sort()).toEqual(['kept.pack', 'kept.pack~lock']);
      expect(await store.sweepLeftovers('nothing/', 0)).toEqual({ files: 0, bytes: 0 });
      await expect(store.sweepLeftovers('packs', 0)).rejects.toThrow(/folder prefix/);
    });

    it('breaks the lock of a writer killed while holding it, keeping the old value', async () => {
      const v1 = await store.compareAndSwap('refs/heads/main', undefined, Buffer.from('c1'));
      const worker = startWorker(compiled, {
        op: 'hang-cas',
        root: store.root,
        key: 'refs/heads/main',
        expected: v1,
        data: 'lost',
      });
      await worker.waitFor('holding');
      await worker.kill();
      const lock = JSON.parse(await fs.readFile(path.join(store.root, 'refs', 'heads', 'main~lock'), 'utf8'));
      expect(lock.pid).toBe(worker.child.pid);
      expect(await store.readVersioned('refs/heads/main')).toEqual({ data: Buffer.from('c1'), version: v1 });
      await store.compareAndSwap('refs/heads/main', v1, Buffer.from('c2'));
      expect((await store.readVersioned('refs/heads/main'))?.data.toString()).toBe('c2');
      expect(await listKeys(store, '')).toEqual(['refs/heads/main']);
    });

    it('lets exactly one of several processes win a compare-and-swap race', async () => {
      const v1 = await store.compareAndSwap('refs/heads/main', undefined, Buffer.from('base'));
      const workers = Array.from({ length: 6 }, (_, i) =>
        startWorker(compiled, { op: 'cas', root: store.root, key: 'refs/heads/main', expected: v1, data: `proc-${i}` }),
      );
      const results = await race(workers);
      const winners = results.flatMap((r, i) => (r.ok ? [i] : []));
      expect(winners).toHaveLength(1);
      expect(results.filter((r) => !r.ok).map((r) => r.code)).toEqual(Array(5).fill('CONFLICT'));
      expect(await store.readVersioned('refs/heads/main')).toEqual({
        data: Buffer.from(`proc-${winners[0]}`),
        version: results[winners[0]].version,
      });
    });

    it('lets exactly one of several processes create an object', async () => {
      const workers = Array.from({ length: 6 }, (_, i) =>
        startWorker(compiled, { op: 'put', root: store.root, key: 'objects/x', data: `proc-${i}`, repeat: 50_000 }),
      );
      const results = await race(workers);
      const winners = results.flatMap((r, i) => (r.ok ? [i] : []));
      expect(winners).toHaveLength(1);
      expect(results.filter((r) => !r.ok).map((r) => r.code)).toEqual(Array(5).fill('ALREADY_EXISTS'));
      expect((await store.get('objects/x')).toString()).toBe(`proc-${winners[0]}`.repeat(50_000));
      expect(await listKeys(store, '')).toEqual(['objects/x']);
    });
  });
});

describe('fsError', () => {
  it.each([
    ['ENOENT', 'NOT_FOUND'],
    ['EACCES', 'PERMISSION_DENIED'],
    ['EPERM', 'PERMISSION_DENIED'],
    ['EROFS', 'PERMISSION_DENIED'],
    ['ENOSPC', 'RESOURCE_EXHAUSTED'],
    ['EDQUOT', 'RESOURCE_EXHAUSTED'],
    ['EMFILE', 'RESOURCE_EXHAUSTED'],
    ['ENOTDIR', 'FAILED_PRECONDITION'],
    ['EIO', 'UNAVAILABLE'],
    [undefined, 'UNAVAILABLE'],
  ])('maps %s to %s with a one-line message', (code, category) => {
    const raw = Object.assign(new Error(`${code ? `${code}: ` : ''}something failed, write`), { code });
    const mapped = fsError(raw, 'write packs/x in file:///repo', { key: 'packs/x' });
    expect(mapped).toMatchObject({ code: category, details: { key: 'packs/x', errno: code } });
    expect(mapped.message).toBe('cannot write packs/x in file:///repo: something failed, write');
    expect(mapped.cause).toBe(raw);
  });
});

interface WorkerResult {
  readonly ok: boolean;
  readonly code?: string;
  readonly version?: string;
}

interface Worker {
  readonly child: ChildProcess;
  waitFor(line: string): Promise<void>;
  go(): void;
  result(): Promise<WorkerResult>;
  kill(): Promise<void>;
}

/** Starts all workers, releases them together once every one is ready, and collects their results. */
async function race(workers: Worker[]): Promise<WorkerResult[]> {
  try {
    await Promise.all(workers.map((w) => w.waitFor('ready')));
    for (const w of workers) w.go();
    return await Promise.all(workers.map((w) => w.result()));
  } finally {
    await Promise.all(workers.map((w) => w.kill()));
  }
}

/**
 * Compiles the storage and core sources to plain JavaScript in a temp dir, once, so child processes can run the
 * real adapter: ts-node is not a dependency, so this uses the `typescript` package's transpileModule.
 */
async function compileLibs(): Promise<string> {
  const out = await fs.mkdtemp(path.join(tmpdir(), 'trib-compiled-'));
  const args = JSON.stringify({ repo: REPO, out, libs: ['core', 'storage'] });
  const child = spawn(process.execPath, ['-e', COMPILE_SOURCE, args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const [code] = await once(child, 'close');
  if (code !== 0) throw new Error(`compiling the libs for child processes failed: ${stderr}`);
  return out;
}

/** Runs an operation of the compiled adapter in a child Node process; see WORKER_SOURCE. */
function startWorker(compiled: string, args: Record<string, string | number>): Worker {
  const child = spawn(process.execPath, ['-e', WORKER_SOURCE, JSON.stringify({ ...args, compiled })], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let waiters: Array<() => void> = [];
  const notify = () => {
    const pending = waiters;
    waiters = [];
    for (const w of pending) w();
  };
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  createInterface({ input: child.stdout! }).on('line', (line) => {
    lines.push(line);
    notify();
  });
  // 'close' comes after the last stdout line, unlike 'exit'.
  let closed = false;
  const done = once(child, 'close').then(() => {
    closed = true;
    notify();
  });
  return {
    child,
    waitFor: (line) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (lines.includes(line)) resolve();
          else if (closed) reject(new Error(`worker ended before printing "${line}": ${stderr}`));
          else waiters.push(check);
        };
        check();
      }),
    go: () => child.stdin!.write('go\n'),
    result: async () => {
      await done;
      const last = lines.filter((l) => l.startsWith('{')).pop();
      if (!last) throw new Error(`worker gave no result: ${stderr}`);
      return JSON.parse(last) as WorkerResult;
    },
    kill: async () => {
      if (!closed) child.kill('SIGKILL');
      await done;
    },
  };
}

const COMPILE_SOURCE = String.raw`
const fs = require('node:fs');
const path = require('node:path');
const { repo, out, libs } = JSON.parse(process.argv[1]);
const ts = require(require.resolve('typescript', { paths: [repo] }));
const isSource = (name) => name.endsWith('.ts') && !name.endsWith('.spec.ts');
const walk = (dir) => fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
  e.isDirectory() ? walk(path.join(dir, e.name)) : isSource(e.name) ? [path.join(dir, e.name)] : []);
for (const lib of libs) {
  for (const file of walk(path.join(repo, 'libs', lib, 'src'))) {
    const { outputText } = ts.transpileModule(fs.readFileSync(file, 'utf8'), {
      fileName: file,
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    });
    const target = path.join(out, path.relative(repo, file)).replace(/\.ts$/, '.js');
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, outputText);
  }
}
`;

/**
 * A child process running one store operation of the compiled LocalStore. It prints "ready" and waits for a line
 * on stdin before racing ops, prints a JSON result, and for the hang-* ops stops forever midway (to be killed).
 */
const WORKER_SOURCE = String.raw`
const fs = require('node:fs');
const path = require('node:path');
const Module = require('node:module');
const { Readable } = require('node:stream');
const args = JSON.parse(process.argv[1]);
const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  const lib = /^@tributary\/([a-z-]+)$/.exec(request);
  const target = lib ? path.join(args.compiled, 'libs', lib[1], 'src', 'index.js') : request;
  return resolveFilename.call(this, target, ...rest);
};
const { LocalStore } = require(path.join(args.compiled, 'libs/storage/src/local.store.js'));
const store = new LocalStore(args.root);
// A hang that keeps the process alive until it is killed: with nothing pending Node would exit by itself, and its
// exit clean-up (removeOnExit) remove the temp file a killed writer leaves.
const never = new Promise(() => setInterval(() => {}, 1 << 30));
const report = (p) => p.then(
  (version) => console.log(JSON.stringify({ ok: true, version })),
  (e) => console.log(JSON.stringify({ ok: false, code: e.code, message: e.message })),
);
const go = () => new Promise((resolve) => process.stdin.once('data', resolve));
(async () => {
  switch (args.op) {
    case 'cas':
      console.log('ready');
      await go();
      return report(store.compareAndSwap(args.key, args.expected, Buffer.from(args.data)));
    case 'put':
      console.log('ready');
      await go();
      return report(store.putIfAbsent(args.key, Readable.from([Buffer.from(args.data.repeat(args.repeat))])));
    case 'hang-put': {
      const body = Readable.from((async function* () {
        for (let i = 0; i < 4; i++) yield Buffer.alloc(1 << 20, i);
        console.log('writing');
        await never;
      })());
      return store.putIfAbsent(args.key, body);
    }
    case 'hang-cas':
      // The first fsync of a compare-and-swap is of the new value, written while the lock is held.
      fs.fsync = () => console.log('holding');
      return store.compareAndSwap(args.key, args.expected, Buffer.from(args.data));
  }
})().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
`;
