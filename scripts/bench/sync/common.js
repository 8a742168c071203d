'use strict';
/** Helpers shared by the sync bench's figures: child servers, a private Redis, free ports, percentiles. */
const { fork, spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { fmtBytes, fmtSecs } = require('../report');

const ROOT = path.resolve(__dirname, '../../..');
const KiB = 1024;
const MiB = 1024 * KiB;

/** Forks child.js as `kind` with `opts`; resolves { info, stop() } once it reports ready. */
function startChild(kind, opts = {}) {
  const child = fork(path.join(__dirname, 'child.js'), [kind, JSON.stringify(opts)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`${kind} child exited with ${code} before it was ready`)));
    child.once('message', (m) => {
      child.removeAllListeners('exit');
      if (!m || !m.ready) return reject(new Error(`${kind} child sent ${JSON.stringify(m)}`));
      resolve({
        info: m.ready,
        pid: child.pid,
        stop: () =>
          new Promise((r) => {
            if (child.exitCode !== null || child.signalCode !== null) return r();
            const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
            child.once('exit', () => {
              clearTimeout(timer);
              r();
            });
            child.send('stop');
          }),
      });
    });
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Resolves once `host:port` accepts a TCP connection (or rejects after `timeoutMs`). */
async function waitForPort(port, timeoutMs = 10_000, host = '127.0.0.1') {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise((r) => {
      const s = net.connect({ host, port }, () => {
        s.destroy();
        r(true);
      });
      s.on('error', () => r(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${host}:${port} after ${timeoutMs} ms`);
    await sleep(20);
  }
}

/**
 * A private redis-server on a free port, without persistence (cursors here need no durability; the shared Redis
 * stays untouched). Resolves { url, stop() }. Killed by pid.
 */
async function startPrivateRedis(dir) {
  const port = await freePort();
  fs.mkdirSync(dir, { recursive: true });
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  await waitForPort(port);
  return { url: `redis://127.0.0.1:${port}`, pid: proc.pid, stop: () => stopProcess(proc) };
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. */
function stopProcess(proc, graceMs = 5000) {
  return new Promise((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
    const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
    proc.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    proc.kill('SIGTERM');
  });
}

function have(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).status === 0;
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

function percentile(values, p) {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

/** Units of the CPU times in /proc/PID/stat (USER_HZ, 100 on Linux). */
const CLOCK_TICKS = 100;

/**
 * The sum of two CPU-time fields of /proc/`pid`/stat in ms; undefined where there is no /proc. `first` counts from
 * the field after the command name (the state is 0): utime is 11 and stime 12, cutime 13 and cstime 14.
 */
function procCpuMs(pid, first) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[first]) + Number(fields[first + 1])) * 1000) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

/**
 * CPU time (user + system, ms) used so far by the process `pid` (all its threads), from /proc; undefined where there
 * is no /proc. For where-the-time-goes lines: the figures here are CPU-bound on a 2-core machine.
 */
function processCpuMs(pid) {
  return procCpuMs(pid, 11);
}

/**
 * CPU time (user + system, ms) of this process's children that have exited and been waited for, from /proc;
 * undefined where there is no /proc. Its growth over a span is what the commands run to completion in it used.
 */
function reapedChildrenCpuMs() {
  return procCpuMs('self', 13);
}

/**
 * CPU ms used from now until `end()` by the process `pid` (`server`, undefined without /proc) and by this one
 * (`clients`: the bench's own process, with every client and proxy it runs).
 */
function cpuWindow(pid) {
  const server0 = processCpuMs(pid);
  const clients0 = process.cpuUsage();
  return {
    end() {
      const server1 = processCpuMs(pid);
      const clients = process.cpuUsage(clients0);
      return {
        server: server0 === undefined || server1 === undefined ? undefined : server1 - server0,
        clients: (clients.user + clients.system) / 1000,
      };
    },
  };
}

/** MB/s (10^6 bytes per second). */
function mbps(bytes, ms) {
  return bytes / 1e6 / (ms / 1000);
}

function fmtMBps(x) {
  return `${x >= 100 ? x.toFixed(0) : x.toFixed(1)} MB/s`;
}

function fmtMs(ms) {
  return ms >= 100 ? `${ms.toFixed(0)} ms` : `${ms.toFixed(1)} ms`;
}

/**
 * Milliseconds a raw SHA-256 loop takes over `bytes` (a new digest per 64 KiB chunk, as a receiver verifying chunks
 * does), on one core: the floor of any pipeline that must hash those bytes on one thread.
 */
function hashLoopMs(bytes) {
  const crypto = require('node:crypto');
  const block = crypto.randomBytes(16 * MiB);
  const t = performance.now();
  for (let done = 0; done < bytes; ) {
    for (let at = 0; at < block.length && done < bytes; at += 64 * KiB, done += 64 * KiB) {
      crypto.createHash('sha256').update(block.subarray(at, at + 64 * KiB)).digest();
    }
  }
  return performance.now() - t;
}

/**
 * What keeping `bytes` of new memory costs on this machine, measured in a fresh process: `firstMs` to write them
 * once into 1 MiB Buffers that are all kept, as a memory store keeps what a receiver stores, and `againMs` to write
 * the same Buffers a second time. The difference is the kernel (and, on a VM, the host) handing over fresh pages.
 */
function freshMemoryMs(bytes) {
  const script = `
    const n = Math.ceil(${bytes} / ${MiB}), kept = [];
    let t = performance.now();
    for (let i = 0; i < n; i++) { const b = Buffer.allocUnsafe(${MiB}); b.fill(i & 255); kept.push(b); }
    const firstMs = performance.now() - t;
    t = performance.now();
    for (const b of kept) b.fill(7);
    console.log(JSON.stringify({ firstMs, againMs: performance.now() - t }));`;
  const out = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  if (out.status !== 0) throw new Error(`fresh-memory probe failed: ${out.stderr}`);
  return JSON.parse(out.stdout);
}

/**
 * The report line of freshMemoryMs(`bytes`), measured now: `keepers` keep every byte they receive and pay the first
 * write, `baseline` (the figure's baseline) keeps nothing and does not.
 */
function freshMemoryNote(bytes, keepers, baseline) {
  const fresh = freshMemoryMs(bytes);
  return (
    `keeping ${fmtBytes(bytes)} of new memory (1 MiB Buffers, a fresh process, same run): ` +
    `${fmtSecs(fresh.firstMs)} to write it once, ${fmtSecs(fresh.againMs)} to write it again; ` +
    `${keepers} keep every byte in their memory stores and pay the first, ${baseline} keep nothing`
  );
}

/** The compiled libraries (run `npx tsc -b` first). */
function libs() {
  return {
    core: require('@tributary/core'),
    storage: require('@tributary/storage'),
    repository: require('@tributary/repository'),
    sync: require('@tributary/sync'),
  };
}

/**
 * What SyncClient.subscribe needs of a Repository (`objects`, `refs`, `readCommit`) on a MemoryStore of its own:
 * a subscriber that measures the broker, not a disk. Not a `mem://` URL, whose stores live as long as the process;
 * this one is freed with the object.
 */
async function memorySubscriber(name) {
  const { core, storage, repository } = libs();
  const store = new storage.MemoryStore(name);
  const objects = await repository.ObjectDatabase.open(store);
  return {
    store,
    objects,
    refs: new repository.RefStore(store),
    readCommit: async (id) => core.decodeCommit(await objects.get(id), id),
    close: async () => undefined,
  };
}

/** Commits the working tree of `repo` (every file under its workdir); returns the commit id. */
async function commitAll(repo, message) {
  const { repository } = libs();
  const out = await repository.commitWorktree(repo, { message, author: 'Bench <bench@example.org>', now: new Date() });
  if (!out.commit) throw new Error('nothing to commit');
  return out;
}

/** Writes `bytes` of incompressible, never-repeating bytes to `file` (AES-CTR keystream of `seed`). */
function randomFile(file, bytes, seed) {
  const { byteStream } = require('../datasets');
  const next = byteStream(seed);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const fd = fs.openSync(file, 'w');
  try {
    for (let left = bytes; left > 0; left -= 8 * MiB) fs.writeSync(fd, next(Math.min(left, 8 * MiB)));
  } finally {
    fs.closeSync(fd);
  }
}

module.exports = {
  hashLoopMs,
  freshMemoryMs,
  freshMemoryNote,
  ROOT,
  KiB,
  MiB,
  startChild,
  freePort,
  waitForPort,
  startPrivateRedis,
  stopProcess,
  have,
  sleep,
  percentile,
  mbps,
  cpuWindow,
  processCpuMs,
  reapedChildrenCpuMs,
  fmtMBps,
  fmtMs,
  libs,
  memorySubscriber,
  commitAll,
  randomFile,
};
