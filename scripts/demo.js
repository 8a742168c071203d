#!/usr/bin/env node
'use strict';
// `npm run demo`: the whole data flow on embedded defaults. A broker, a hub and three regional edge agents run as
// separate processes on local-disk stores under a fresh temp folder, with cursors in the Redis at REDIS_URL under a
// fresh prefix (the broker store's new id). Batches cut from the MIT-BIH sample land in each agent's inbox; the demo
// waits until the hub has merged every one, then prints commits per region, wire bytes against data bytes, and the
// time from an agent's commit to the hub's merge.
//
// `npm run demo -- --clouds` runs the same flow across three clouds, on local stand-ins it starts itself (see
// libs/emulators): the na-aws agent and the broker on S3 (s3rver behind the conditional-write proxy), na-gcp on GCS
// (a GCS JSON API stand-in, not Google's code), eu-azure and the hub on Azure Blob (Azurite). Each bucket is created
// by `trib init HOME --store URL`, the only command that creates one; the emulators stop at the end.
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { pathToFileURL } = require('node:url');
const { startAppProcess } = require('./app-process');
const { fmtBytes } = require('./bench/report');
const { percentile, stopProcess } = require('./bench/sync/common');

const ROOT = path.resolve(__dirname, '..');
const SAMPLE = path.join(ROOT, 'examples/mitbih');
const REGIONS = ['na-aws', 'na-gcp', 'eu-azure'];
const ROWS_PER_BATCH = Number(process.env.DEMO_ROWS_PER_BATCH || 400);
const BATCH_INTERVAL_MS = Number(process.env.DEMO_INTERVAL_MS || 150);
const TIMEOUT_MS = Number(process.env.DEMO_TIMEOUT_MS || 180_000);
const keep = process.argv.includes('--keep');
const clouds = process.argv.includes('--clouds');

/** With --clouds: where each process keeps its repository (bucket or container names are per run, in fresh emulators). */
const CLOUD_STORES = {
  broker: 's3://trib-broker/broker',
  hub: 'az://trib-hub/hub',
  'na-aws': 's3://trib-na-aws/heart',
  'na-gcp': 'gs://trib-na-gcp/heart',
  'eu-azure': 'az://trib-eu-azure/heart',
};

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-demo-'));
const children = [];
/** The broker store's id, which prefixes its cursors in Redis (`trib:<id>:`), once the broker said it. */
let cursorPrefix;
/** Set by Ctrl-C: the run is stopped, not failed. */
let interrupted = false;
const emulators = [];
/** The variables that point the SDKs at the emulators (empty without --clouds), for every app and `trib` call. */
let cloudEnv = {};
const say = (line) => process.stderr.write(`demo: ${line}\n`);

/** Starts apps/<name>/dist/main.js and resolves with it once it prints `listening on HOST:PORT`. */
function startApp(name, label, env) {
  const logFile = path.join(work, 'logs', `${label}.log`);
  return startAppProcess({ name, label, env: { ...cloudEnv, ...env }, logFile, onStart: (app) => children.push(app) });
}

/** Cuts each record's beats into batch files of ROWS_PER_BATCH rows, each with the CSV header. */
function makeBatches() {
  const records = fs.readdirSync(SAMPLE).filter((f) => f.endsWith('_all.csv')).sort();
  const perRegion = new Map(REGIONS.map((r) => [r, []]));
  records.forEach((file, i) => {
    const region = REGIONS[i % REGIONS.length];
    const [header, ...rows] = fs.readFileSync(path.join(SAMPLE, file), 'utf8').trimEnd().split('\n');
    for (let start = 0, part = 1; start < rows.length; start += ROWS_PER_BATCH, part++) {
      const name = `${file.replace('_all.csv', '')}-beats-${String(part).padStart(3, '0')}.csv`;
      perRegion.get(region).push({ name, bytes: Buffer.from([header, ...rows.slice(start, start + ROWS_PER_BATCH)].join('\n') + '\n') });
    }
  });
  return perRegion;
}

/** Writes under a dot-name, then renames: the agent only takes files that appear under their final name. */
function land(inbox, batch) {
  const tmp = path.join(inbox, `.${batch.name}.tmp`);
  fs.writeFileSync(tmp, batch.bytes);
  fs.renameSync(tmp, path.join(inbox, batch.name));
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Runs `trib ARGS` without blocking: with --clouds, the S3 conditional proxy is served by this very process. */
function tribRun(args, opts = {}) {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [path.join(ROOT, 'bin/trib'), ...args], { ...opts, env: { ...process.env, ...cloudEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d) => (stdout += d));
    proc.stderr.on('data', (d) => (stderr += d));
    proc.once('error', reject);
    proc.once('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** Starts the three emulators (compiled @tributary/emulators) and sets cloudEnv to their combined client variables. */
async function startClouds() {
  let lib;
  try {
    lib = require(path.join(ROOT, 'libs/emulators/dist'));
  } catch (e) {
    throw new Error(`libs/emulators is not built (${e.message}); run \`npx tsc -b\` first`);
  }
  const started = await Promise.allSettled([lib.startS3Emulator(), lib.startFakeGcs(), lib.startAzurite()]);
  for (const r of started) if (r.status === 'fulfilled') emulators.push(r.value);
  const failed = started.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
  const [s3, gcs, azure] = started.map((r) => r.value);
  cloudEnv = { ...s3.env, ...gcs.env, ...azure.env };
  say(`emulators up: S3 ${s3.endpoint} (s3rver behind the conditional proxy), GCS ${gcs.endpoint} (stand-in), Azure ${azure.blobEndpoint} (Azurite)`);
}

/** `trib init HOME --store URL`: creates the bucket or container and the store's identity. */
async function initCloudHome(home, url) {
  const r = await tribRun(['init', home, '--store', url]);
  if (r.status !== 0) throw new Error(`trib init ${home} --store ${url} exited ${r.status}: ${r.stderr.trim()}`);
}

/** TRIB_STORE (and TRIB_HOME) of one process: a cloud URL whose home `trib init` made, or the home's local store. */
async function storeOf(role, home) {
  if (!clouds) return pathToFileURL(path.join(home, '.trib/store')).href;
  await initCloudHome(home, CLOUD_STORES[role]);
  return CLOUD_STORES[role];
}

async function main() {
  for (const d of ['logs', 'broker-store', 'hub', ...REGIONS.map((r) => `inbox/${r}`), ...REGIONS.map((r) => `agents/${r}`)]) {
    fs.mkdirSync(path.join(work, d), { recursive: true });
  }
  say(`working in ${work}`);
  if (clouds) await startClouds();
  const brokerStore = clouds ? await storeOf('broker', path.join(work, 'broker-home')) : pathToFileURL(path.join(work, 'broker-store')).href;
  const broker = await startApp('broker', 'broker', { TRIB_STORE: brokerStore, TRIB_LISTEN: '127.0.0.1:0' });
  say(`broker listening on ${broker.address}${clouds ? `, store ${brokerStore}` : ''}`);
  cursorPrefix = (/cursor prefix ([A-Za-z0-9_-]+)/.exec(broker.text) || [])[1];
  const topics = REGIONS.map((r) => `datasets/heart/${r}`);
  const hubHome = path.join(work, 'hub');
  const hub = await startApp('hub', 'hub', {
    TRIB_BROKER: broker.address,
    TRIB_STORE: await storeOf('hub', hubHome),
    TRIB_HOME: hubHome,
    TRIB_TOPICS: topics.join(','),
  });
  const agents = {};
  for (const region of REGIONS) {
    const home = path.join(work, 'agents', region);
    agents[region] = await startApp('edge-agent', `agent-${region}`, {
      TRIB_BROKER: broker.address,
      TRIB_STORE: await storeOf(region, home),
      TRIB_HOME: home,
      TRIB_REGION: region,
      TRIB_DATASET: 'heart',
      TRIB_INBOX: path.join(work, 'inbox', region),
    });
  }
  say(`hub and three agents are up${clouds ? ` (hub on ${CLOUD_STORES.hub}, agents on ${REGIONS.map((r) => CLOUD_STORES[r]).join(', ')})` : ''}; landing batches`);

  const batches = makeBatches();
  let total = 0;
  let dataBytes = 0;
  await Promise.all(
    REGIONS.map(async (region) => {
      for (const b of batches.get(region)) {
        land(path.join(work, 'inbox', region), b);
        total++;
        dataBytes += b.bytes.length;
        await sleep(BATCH_INTERVAL_MS);
      }
    }),
  );
  say(`landed ${total} batches (${fmtBytes(dataBytes)}); waiting for the hub to merge them all`);

  const mergedLines = () =>
    hub.text.match(/merged \S+ seq \d+ -> [0-9a-f]{64} \(\d+ ms after the regional commit\)/g) || [];
  const deadline = Date.now() + TIMEOUT_MS;
  while (mergedLines().length < total) {
    if (Date.now() > deadline) throw new Error(`only ${mergedLines().length} of ${total} batches merged after ${TIMEOUT_MS} ms; logs in ${work}/logs`);
    for (const c of children) if (c.proc.exitCode !== null) throw new Error(`${c.label} died; see ${c.logFile}`);
    await sleep(100);
  }

  // A region's first batch also starts its agent's connection, creates its topic and wakes the hub's wait for it:
  // shown apart, so the steady state is not hidden behind three one-off starts.
  const merges = mergedLines().map((l) => ({ first: / seq 1 -> /.test(l), ms: Number(/\((\d+) ms after/.exec(l)[1]) }));
  const latencies = merges.filter((m) => !m.first).map((m) => m.ms).sort((a, b) => a - b);
  const firstLatencies = merges.filter((m) => m.first).map((m) => m.ms);
  const wire = {};
  for (const region of REGIONS) {
    wire[region] = (agents[region].text.match(/wire (\d+) bytes/g) || []).reduce((s, m) => s + Number(/\d+/.exec(m)[0]), 0);
  }
  const topicsJson = JSON.parse((await tribRun(['topics', '--broker', broker.address, '--json'])).stdout);
  const verify = await tribRun(['verify', '--read-data'], { cwd: hubHome });

  const perRegion = REGIONS.map((region) => {
    const t = topicsJson.find((x) => x.topic === `datasets/heart/${region}`);
    const regionData = batches.get(region).reduce((s, b) => s + b.bytes.length, 0);
    return { region, commits: t ? t.seq : 0, hubCursor: t ? (t.subscribers.find((s) => s.name === 'hub') || {}).cursor : 0, dataBytes: regionData, wireBytes: wire[region] };
  });
  const wireTotal = perRegion.reduce((s, r) => s + r.wireBytes, 0);
  console.log('');
  console.log('region     commits  hub cursor  data        on the wire (agent -> broker)');
  for (const r of perRegion) {
    console.log(`${r.region.padEnd(10)} ${String(r.commits).padStart(7)}  ${String(r.hubCursor).padStart(10)}  ${fmtBytes(r.dataBytes).padEnd(10)}  ${fmtBytes(r.wireBytes)} (${(r.wireBytes / r.dataBytes).toFixed(2)}x)`);
  }
  console.log(`total      ${String(total).padStart(7)}              ${fmtBytes(dataBytes).padEnd(10)}  ${fmtBytes(wireTotal)} (${(wireTotal / dataBytes).toFixed(2)}x)`);
  console.log('');
  const p = (q) => percentile(latencies, q);
  // With DEMO_ROWS_PER_BATCH large enough, every region lands one batch and there is no steady state to show.
  if (latencies.length > 0) {
    console.log(
      `agent commit -> hub merge: p50 ${p(50)} ms, p99 ${p(99)} ms, max ${latencies[latencies.length - 1]} ms ` +
        `over ${latencies.length} merges, the ${REGIONS.length} regions landing a batch at the same instant ` +
        `every ${BATCH_INTERVAL_MS} ms`,
    );
  }
  console.log(`  each region's first batch (connects, creates its topic): ${firstLatencies.join(', ')} ms`);
  console.log(
    'Every batch is new data, so all of it travels; the wire also carries each commit\'s tree and commit objects and ' +
      'the framing, which is the part above 1x. Latency is from the commit\'s timestamp to the hub\'s merge' +
      (clouds ? '; on the emulators every store call is an HTTP round trip, so it is slower than on local disk.' : '.'),
  );
  if (clouds) console.log(`stores: broker ${CLOUD_STORES.broker}, hub ${CLOUD_STORES.hub}, ${REGIONS.map((r) => `${r} ${CLOUD_STORES[r]}`).join(', ')}`);
  console.log(`hub repository: ${verify.status === 0 ? 'trib verify --read-data passed' : `VERIFY FAILED: ${verify.stderr.trim()}`}`);
  if (verify.status !== 0) process.exitCode = 1;
}

/** SIGTERM to each of `apps` at once; resolves when all have exited (SIGKILL after 5 s). */
function stopProcesses(apps) {
  return Promise.all(apps.map((c) => stopProcess(c.proc)));
}

let stopped;
/** Stops every process, once (Ctrl-C and the end of main may both ask). */
function shutdown() {
  stopped ??= stopAll();
  return stopped;
}

async function stopAll() {
  // The broker goes after the agents and the hub: as the hub stops it acknowledges what it merged, to the broker.
  const isBroker = (c) => c.name === 'broker';
  await stopProcesses(children.filter((c) => !isBroker(c)));
  await stopProcesses(children.filter(isBroker));
  // The emulators go last: the apps flush to them as they stop.
  await Promise.all(emulators.splice(0).map((e) => e.stop().catch((err) => say(`stopping an emulator: ${err.message}`))));
  // A failed run keeps its folder: the logs it points to are the way to find out why.
  if (keep || (process.exitCode && !interrupted)) {
    say(`kept ${work}: logs/ holds each process's log; read the hub's data with trib checkout main --to DIR in ${path.join(work, 'hub')}`);
  } else {
    fs.rmSync(work, { recursive: true, force: true });
    await forgetCursors();
  }
}

/** Deletes this run's cursors from Redis: its broker store is gone with the folder, and nothing else reads them. */
async function forgetCursors() {
  if (!cursorPrefix) return;
  const Redis = require('ioredis');
  const redis = new Redis(process.env.REDIS_URL || 'redis://127.0.0.1:6379', { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `trib:${cursorPrefix}:*`, 'COUNT', 500);
      if (keys.length) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } catch (e) {
    say(`could not remove this run's cursors from Redis (prefix trib:${cursorPrefix}:): ${e.message}`);
  } finally {
    redis.disconnect();
  }
}

process.on('SIGINT', () => {
  interrupted = true;
  say('interrupted: stopping every process');
  process.exitCode = 130;
  void shutdown().then(() => process.exit(130));
});

main()
  .catch((e) => {
    if (!interrupted) say(`failed: ${e.message}`);
    process.exitCode = process.exitCode || 1;
  })
  .finally(() => shutdown());
