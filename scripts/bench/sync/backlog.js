'use strict';
/**
 * Figure 5, backlog: an agent that finds thousands of batches waiting (it was down, or its link was) commits and
 * publishes them all into one day's folder, and the hub merges them, with the real apps on local-disk stores. Each
 * commit adds one entry to a folder that grows by one entry per batch, so any cost that grows with the folder (a
 * folder read whole, a page read once per entry beside it) shows as a rate that falls as the backlog drains.
 *
 * Figure: the hub's merge rate over the last quarter of the batches, against its rate over the first quarter
 * (target: at least 80%, that is no cost that grows with the folder). Beside it, git committing the same batches into
 * one folder of a repository one at a time (`git add` + `git commit`), over the same quarters.
 */
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { pathToFileURL } = require('node:url');
const { startAppProcess } = require('../../app-process');
const { sleep, stopProcess } = require('./common');

const TOPIC = 'datasets/bench/na-aws';
const TARGET = 0.8;

function batch(n) {
  return `record,sample,mlii\nbacklog-${n},${n},${(n * 2654435761) % 2048}\n`;
}

/** Rate (per second) of `times` (ms, ascending) over the items from index `from` to `to`. */
function rate(times, from, to) {
  return (to - from) / ((times[to] - times[from]) / 1000);
}

function quarters(times) {
  const n = times.length - 1;
  const q = Math.floor(n / 4);
  return { first: rate(times, 0, q), last: rate(times, n - q, n), all: rate(times, 0, n) };
}

/** When the hub logged each merge of the topic, in ms, oldest first. */
function mergeTimes(hubText) {
  const out = [];
  for (const m of hubText.matchAll(/^(\S+Z) .*merged \S+ seq \d+ -> [0-9a-f]{64}/gm)) out.push(Date.parse(m[1]));
  return out;
}

/** git committing `count` batches into one folder one at a time; the time after each commit, in ms. */
function gitBaseline(dir, count) {
  const git = (...args) => {
    const r = spawnSync('git', ['-C', dir, ...args], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  };
  fs.mkdirSync(path.join(dir, 'batches/2026-11-25'), { recursive: true });
  git('init', '-q');
  git('config', 'user.email', 'bench@example.org');
  git('config', 'user.name', 'Bench');
  const times = [Date.now()];
  for (let i = 0; i < count; i++) {
    const name = `batches/2026-11-25/batch-${String(i).padStart(6, '0')}.csv`;
    fs.writeFileSync(path.join(dir, name), batch(i));
    git('add', name);
    git('commit', '-q', '-m', `batch ${i}`);
    times.push(Date.now());
  }
  return times;
}

const fmt = (r) => `${r.all.toFixed(0)}/s (first quarter ${r.first.toFixed(0)}/s, last ${r.last.toFixed(0)}/s)`;

module.exports = async function backlog({ report, scale, tmp, redisUrl }) {
  const count = Math.max(40, Math.round(3000 * scale));
  report.section(
    `Backlog: ${count} batches waiting in an agent's inbox, committed into one day's folder and merged by the hub (real apps, local disk)`,
    'the hub merge rate over the last quarter against the first: a cost that grows with the folder shows as a falling rate',
  );
  const base = path.join(tmp, 'backlog');
  const inbox = path.join(base, 'inbox');
  const logDir = path.join(base, 'logs');
  for (const d of [inbox, logDir, path.join(base, 'agent'), path.join(base, 'hub')]) fs.mkdirSync(d, { recursive: true });
  for (let i = 0; i < count; i++) fs.writeFileSync(path.join(inbox, `batch-${String(i).padStart(6, '0')}.csv`), batch(i));
  const common = { REDIS_URL: redisUrl, TRIB_AUTHOR: 'Bench <bench@example.org>' };
  const start = (name, env) => startAppProcess({ name, label: name, env: { ...common, ...env }, logFile: path.join(logDir, `${name}.log`) });
  const apps = [];
  let hub;
  try {
    const broker = await start('broker', { TRIB_STORE: pathToFileURL(path.join(base, 'broker-store')).href, TRIB_LISTEN: '127.0.0.1:0' });
    apps.push(broker);
    const hubHome = path.join(base, 'hub');
    hub = await start('hub', {
      TRIB_BROKER: broker.address,
      TRIB_STORE: pathToFileURL(path.join(hubHome, '.trib/store')).href,
      TRIB_HOME: hubHome,
      TRIB_TOPICS: TOPIC,
      TRIB_LISTEN: '127.0.0.1:0',
    });
    apps.push(hub);
    const agentHome = path.join(base, 'agent');
    apps.push(
      await start('edge-agent', {
        TRIB_BROKER: broker.address,
        TRIB_STORE: pathToFileURL(path.join(agentHome, '.trib/store')).href,
        TRIB_HOME: agentHome,
        TRIB_REGION: 'na-aws',
        TRIB_DATASET: 'bench',
        TRIB_INBOX: inbox,
        // The batches were all in place before the agent started: nothing is still being written.
        TRIB_INBOX_SETTLE_MS: '0',
        TRIB_LISTEN: '127.0.0.1:0',
      }),
    );
    const deadline = Date.now() + Math.max(120_000, count * 200);
    while (mergeTimes(hub.text).length < count) {
      if (Date.now() > deadline) throw new Error(`only ${mergeTimes(hub.text).length} of ${count} batches merged in time; logs in ${logDir}`);
      for (const a of apps) if (a.proc.exitCode !== null) throw new Error(`${a.label} died:\n${a.text.slice(-2000)}`);
      await sleep(200);
    }
  } finally {
    for (const a of apps.reverse()) await stopProcess(a.proc);
  }
  const trib = quarters(mergeTimes(hub.text));
  const git = quarters(gitBaseline(path.join(base, 'git'), count));
  report.figure({
    name: `agent -> broker -> hub, ${count} waiting batches into one folder`,
    measured: `${fmt(trib)}: last quarter ${Math.round((100 * trib.last) / trib.first)}% of the first`,
    target: `last quarter >= ${TARGET * 100}% of the first`,
    pass: trib.last >= TARGET * trib.first,
    baseline: `git add + commit, one per batch, same folder: ${fmt(git)}, last quarter ${Math.round((100 * git.last) / git.first)}% of the first`,
  });
};
