'use strict';
/**
 * Running commands for the bench: wall time measured here, peak RSS of the child from GNU time (`%M`) when
 * /usr/bin/time exists, else by polling the child's VmHWM in /proc (which can miss the last few milliseconds).
 */
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const GNU_TIME = ['/usr/bin/time', '/bin/time'].find((p) => {
  try {
    return spawnSync(p, ['-f', '%M', 'true'], { encoding: 'utf8' }).status === 0;
  } catch {
    return false;
  }
});

/** How peak RSS is measured, for the report. */
const RSS_METHOD = GNU_TIME ? `${GNU_TIME} -f %M` : 'polling /proc/<pid>/status VmHWM every 10 ms';

/**
 * Runs `cmd args` and resolves { ms, cpuMs (user + system, NaN without GNU time), rssBytes, stdout, stderr, code }. Rejects when the exit code is not one of
 * `okCodes` (default [0]), with the command's stderr in the message.
 */
function run(cmd, args, opts = {}) {
  const okCodes = opts.okCodes ?? [0];
  const timeFile = GNU_TIME ? path.join(os.tmpdir(), `trib-bench-time-${process.pid}-${Math.random().toString(36).slice(2)}`) : undefined;
  const argv = GNU_TIME ? [GNU_TIME, '-f', '%M %U %S', '-o', timeFile, cmd, ...args] : [cmd, ...args];
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(argv[0], argv.slice(1), { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const out = [];
    const err = [];
    child.stdout.on('data', (b) => out.push(b));
    child.stderr.on('data', (b) => err.push(b));
    let polledKiB = 0;
    const poll = GNU_TIME
      ? undefined
      : setInterval(() => {
          try {
            const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'));
            if (m) polledKiB = Math.max(polledKiB, Number(m[1]));
          } catch {
            // The child has exited.
          }
        }, 10);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      if (poll) clearInterval(poll);
      let rssKiB = polledKiB;
      let cpuMs = NaN;
      if (timeFile) {
        try {
          const lines = fs.readFileSync(timeFile, 'utf8').trim().split('\n');
          const [rss, user, sys] = lines[lines.length - 1].split(' ').map(Number);
          rssKiB = rss;
          cpuMs = (user + sys) * 1000;
          fs.rmSync(timeFile, { force: true });
        } catch {
          rssKiB = NaN;
        }
      }
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      // GNU time reports a signal or a non-zero exit on its own stderr line, which is not the child's.
      const childStderr = stderr.replace(/^Command (exited with non-zero status|terminated by signal) .*\n?/m, '');
      if (!okCodes.includes(code)) {
        reject(new Error(`${cmd} ${args.join(' ')} exited ${code ?? signal}:\n${childStderr.slice(-2000)}`));
        return;
      }
      resolve({ ms, cpuMs, rssBytes: rssKiB * 1024, stdout, stderr: childStderr, code });
    });
  });
}

/** Runs a command synchronously, unmeasured (setup); throws with its stderr on failure. */
function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, encoding: 'utf8', maxBuffer: 1 << 30 });
  if (r.status !== 0 && !(opts.okCodes ?? [0]).includes(r.status)) {
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.status ?? r.signal}:\n${(r.stderr || '').slice(-2000)}`);
  }
  return r.stdout;
}

/** Flushes dirty pages so one measurement does not pay for the previous one's writes. */
function syncDisk() {
  spawnSync('sync');
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Wall time of an in-process function, in ms. */
function timeFn(fn) {
  const t = process.hrtime.bigint();
  const value = fn();
  return { ms: Number(process.hrtime.bigint() - t) / 1e6, value };
}

module.exports = { run, sh, syncDisk, median, timeFn, RSS_METHOD };
