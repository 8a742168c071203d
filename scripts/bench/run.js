#!/usr/bin/env node
'use strict';
/**
 * `npm run bench`: measures every speed and memory figure of the engine (issue 2, "Speed and memory") beside its
 * target and a baseline measured in the same run (cp + sync, git, a raw hash loop), each as the median of
 * BENCH_RUNS runs (default 5). Datasets are generated in a temp dir from fixed seeds.
 *
 *   BENCH_RUNS=1 BENCH_SCALE=0.1 npm run bench      # a quick smoke run (a tenth of every size and count)
 *   BENCH_ONLY=appends,diff npm run bench           # some scenarios only (names below)
 *   BENCH_TMP=/mnt/fast npm run bench               # where the datasets go (default: the OS temp dir)
 *   BENCH_KEEP=1                                    # keep the temp dir
 *
 * A MISS is reported, not fatal: the exit code is 0 unless the bench itself could not run.
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { Report, fmtBytes } = require('./report');
const { RSS_METHOD } = require('./measure');
const { removeTree, ROOT } = require('./tools');
const firstCommit = require('./scenarios/first-commit');
const unchangedTree = require('./scenarios/unchanged-tree');
const appends = require('./scenarios/appends');
const { largeEdit, largeMemory } = require('./scenarios/large-file');
const { treeDiff, flatFolder } = require('./scenarios/diff');
const { sharedInsert } = require('./scenarios/shared-insert');
const { manyPacks } = require('./scenarios/many-packs');

const SCENARIOS = [
  ['first-commit', firstCommit],
  ['unchanged', unchangedTree],
  ['appends', appends],
  ['large-edit', largeEdit],
  ['large-rss', largeMemory],
  ['diff', treeDiff],
  ['flat', flatFolder],
  ['shared-insert', sharedInsert],
  ['many-packs', manyPacks],
];

function positive(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const v = Number(raw);
  if (!(v > 0)) {
    console.error(`${name} must be a positive number, got ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return v;
}

function ensureBuilt() {
  if (fs.existsSync(path.join(ROOT, 'apps/cli/dist/main.js')) && fs.existsSync(path.join(ROOT, 'libs/core/dist/index.js'))) return;
  console.error('building (tsc -b) ...');
  const r = spawnSync('npx', ['tsc', '-b'], { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error('build failed; run `npx tsc -b` and try again');
    process.exit(1);
  }
}

async function main() {
  const runs = Math.round(positive('BENCH_RUNS', 5));
  const scale = positive('BENCH_SCALE', 1);
  const only = process.env.BENCH_ONLY ? process.env.BENCH_ONLY.split(',').map((s) => s.trim()) : undefined;
  const unknown = (only ?? []).filter((n) => !SCENARIOS.some(([name]) => name === n));
  if (unknown.length) {
    console.error(`unknown scenario(s) ${unknown.join(', ')}; known: ${SCENARIOS.map(([n]) => n).join(', ')}`);
    process.exit(2);
  }
  ensureBuilt();
  const base = process.env.BENCH_TMP || os.tmpdir();
  const tmp = fs.mkdtempSync(path.join(base, 'trib-bench-'));
  const report = new Report();
  const git = spawnSync('git', ['--version'], { encoding: 'utf8' }).stdout.trim();
  report.line(`trib bench: ${runs} run(s) per figure (median), scale ${scale}, in ${tmp}`);
  report.line(
    `machine: ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, ${fmtBytes(os.totalmem())} RAM, Node ${process.version}, ${git}; peak RSS by ${RSS_METHOD}`,
  );
  const started = Date.now();
  const cleanup = () => {
    if (!process.env.BENCH_KEEP) removeTree(tmp);
  };
  process.on('SIGINT', () => {
    cleanup();
    process.exit(130);
  });
  for (const [name, scenario] of SCENARIOS) {
    if (only && !only.includes(name)) continue;
    try {
      await scenario({ report, runs, scale, tmp });
    } catch (e) {
      report.failed(name, e);
    }
  }
  cleanup();
  report.summary();
  report.line(`total ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
