#!/usr/bin/env node
'use strict';
/**
 * The sync figures of issue 3 ("Speed"), each printed beside its target (PASS/MISS) and a baseline measured in the
 * same run:
 *
 *   wire      publish wireBytes after 1% new rows in 20 files of 500 MiB   <= 1.1x appended + 4 KiB/file; rsync beside
 *   long      publish and subscribe through a 25 ms-each-way TCP proxy     >= half a plain TCP stream through it
 *   fanout    1 publisher, 10 subscribers verifying into memory            >= half raw grpc-js to 10 clients; NATS beside
 *   latency   agent commit -> hub merge, small batches, fsynced, loopback  p99 < 50 ms; where the time goes
 *   backlog   3000 waiting batches into one folder, agent -> hub            last quarter's rate >= 80% of the first; git beside
 *
 *   node scripts/bench/sync.js                         # everything at full size (a few minutes)
 *   BENCH_SCALE=0.05 node scripts/bench/sync.js        # a smoke run: every size times 0.05
 *   BENCH_ONLY=wire,latency node scripts/bench/sync.js
 *   BENCH_TMP=/mnt/fast  BENCH_KEEP=1                  # where the data goes; keep it afterwards
 *
 * Needs the compiled libraries and apps (`npx tsc -b`), redis-server (a private one is started on a free port),
 * and optionally rsync and nats-server for the baselines. run.js can call `runSyncBench({ report, scale, tmp })`.
 * A MISS is reported, not fatal.
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Report, fmtBytes } = require('./report');
const { startPrivateRedis, ROOT } = require('./sync/common');

// This process stands for the publishing and subscribing clients (trib, the agent, the hub): the same heap growth
// they set at start-up. The proxy and the plain TCP ends run under it too, so a baseline never gets less.
require('@tributary/config').configureHeapGrowth();

const FIGURES = [
  ['wire', () => require('./sync/wire-bytes')],
  ['long', () => require('./sync/long-links')],
  ['fanout', () => require('./sync/fan-out')],
  ['latency', () => require('./sync/latency')],
  ['backlog', () => require('./sync/backlog')],
];

/**
 * Runs the sync figures into `report` (a Report from ./report). `only` limits them to some names (see FIGURES);
 * `redisUrl` uses that Redis instead of starting a private one. Data goes under `tmp`, removed afterwards.
 */
async function runSyncBench({ report, scale = 1, tmp, only, redisUrl } = {}) {
  for (const f of ['libs/sync/dist/index.js', 'apps/broker/dist/main.js', 'apps/hub/dist/main.js', 'apps/edge-agent/dist/main.js']) {
    if (!fs.existsSync(path.join(ROOT, f))) throw new Error(`${f} is missing: run \`npx tsc -b\` first`);
  }
  const unknown = (only ?? []).filter((n) => !FIGURES.some(([name]) => name === n));
  if (unknown.length) throw new Error(`unknown sync figure(s) ${unknown.join(', ')}; known: ${FIGURES.map(([n]) => n).join(', ')}`);
  const base = fs.mkdtempSync(path.join(tmp ?? os.tmpdir(), 'trib-sync-bench-'));
  const redis = redisUrl ? undefined : await startPrivateRedis(path.join(base, 'redis'));
  const url = redisUrl ?? redis.url;
  report.line(`sync bench: scale ${scale}, in ${base}, Redis ${url}${redis ? ' (private)' : ''}`);
  try {
    for (const [name, load] of FIGURES) {
      if (only && !only.includes(name)) continue;
      try {
        await load()({ report, scale, tmp: base, redisUrl: url });
      } catch (e) {
        report.failed(name, e);
        if (process.env.BENCH_DEBUG) console.error(e);
      }
    }
  } finally {
    await redis?.stop();
    if (!process.env.BENCH_KEEP) fs.rmSync(base, { recursive: true, force: true });
  }
}

async function main() {
  const raw = process.env.BENCH_SCALE;
  const scale = raw === undefined || raw === '' ? 1 : Number(raw);
  if (!(scale > 0)) {
    console.error(`BENCH_SCALE must be a positive number, got ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  const only = process.env.BENCH_ONLY ? process.env.BENCH_ONLY.split(',').map((s) => s.trim()) : undefined;
  const report = new Report();
  report.line(`machine: ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, ${fmtBytes(os.totalmem())} RAM, Node ${process.version}, load ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  const started = Date.now();
  await runSyncBench({ report, scale, tmp: process.env.BENCH_TMP || os.tmpdir(), only });
  report.summary();
  report.line(`total ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

module.exports = { runSyncBench };

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
