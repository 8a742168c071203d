'use strict';
/**
 * Figure 4, latency: from an agent's commit to the hub's merge, for small batches on loopback, with the real apps
 * (broker, hub and three edge agents as separate processes on local-disk stores, every durable step fsynced as the
 * apps do it). Each process runs with trace.js preloaded, so the bench can say where the time goes.
 *
 * Three loads, one after the other on the same processes:
 *  - isolated: one region, one batch at a time (the next lands once the last is merged): the floor;
 *  - paced: three regions each landing a batch every 150 ms, a third of the interval apart, as independent
 *    hospitals would: the figure (p99 < 50 ms);
 *  - burst: the same rate, but the three regions land at the same instant, as `npm run demo` lands them: the worst
 *    phase for the same load, printed beside the figure (info), so the figure's arrival pattern is not the only one.
 *
 * Latency of a batch = end of the hub's merge (durable, main moved) - start of the agent's commit (the commit's own
 * timestamp is taken inside it). It is split into consecutive segments from the traced events (see SEGMENTS), and
 * the fsyncs and store round trips of each process are counted per phase.
 */
const fs = require('node:fs');
const path = require('node:path');
const { pathToFileURL } = require('node:url');
const { startAppProcess } = require('../../app-process');
const { fmtBytes } = require('../report');
const { ROOT, fmtMs, percentile, sleep, stopProcess } = require('./common');

const REGIONS = ['na-aws', 'na-gcp', 'eu-azure'];
const TRACE = path.join(__dirname, 'trace.js');
const ROWS_PER_BATCH = 60;
const PACED_INTERVAL_MS = 150;
const TARGET_P99_MS = 50;

/** Consecutive segments of one batch's path; each is `to - from` of two traced instants. */
const SEGMENTS = [
  ['agent commit (commitBatch, durable)', 'commitStart', 'commitEnd'],
  ['agent: durable -> its publish sends it', 'commitEnd', 'sendStart'],
  ['publish transfer to the broker', 'sendStart', 'brokerReceived'],
  ['broker stage + durable log append', 'brokerReceived', 'appended'],
  ['broker: appended -> sends entry to hub', 'appended', 'brokerSendStart'],
  ['transfer to the hub + hub flush', 'brokerSendStart', 'hubReceived'],
  ['hub: received -> merge starts', 'hubReceived', 'mergeStart'],
  ['hub merge (durable)', 'mergeStart', 'mergeEnd'],
];

/** Starts apps/<name>/dist/main.js with trace.js preloaded; resolves once it logs `listening on HOST:PORT`. */
function startApp(name, role, env, logDir) {
  return startAppProcess({ name, label: role, env: { ...env, TRIB_TRACE_ROLE: role }, logFile: path.join(logDir, `${role}.log`), preload: [TRACE] });
}

/** Deterministic CSV batch of ROWS_PER_BATCH rows, with its header. */
function batchBytes(region, n) {
  let s = 'record,sample,mlii,v5,label\n';
  let x = (n + 1) * 2654435761 + region.length * 97;
  for (let i = 0; i < ROWS_PER_BATCH; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    s += `${region}-${n},${n * ROWS_PER_BATCH + i},${(x % 2048) - 1024},${((x >>> 11) % 2048) - 1024},${'NLRVA'[(x >>> 7) % 5]}\n`;
  }
  return Buffer.from(s);
}

/** Writes under a dot-name, then renames: the agent takes only files under their final name. */
function land(inbox, name, bytes) {
  const tmp = path.join(inbox, `.${name}.tmp`);
  fs.writeFileSync(tmp, bytes);
  fs.renameSync(tmp, path.join(inbox, name));
}

function mergedCount(hub) {
  return (hub.text.match(/merged \S+ seq \d+ -> [0-9a-f]{64}/g) || []).length;
}

async function waitMerged(hub, n, timeoutMs, apps) {
  const deadline = Date.now() + timeoutMs;
  while (mergedCount(hub) < n) {
    if (Date.now() > deadline) throw new Error(`only ${mergedCount(hub)} of ${n} batches merged after ${timeoutMs} ms; logs in ${path.dirname(hub.logFile)}`);
    for (const a of apps) if (a.proc.exitCode !== null) throw new Error(`${a.label} died:\n${a.text.slice(-2000)}`);
    await sleep(2);
  }
}

function readTrace(file) {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

/** One timeline per regional commit: the instants SEGMENTS refers to, from every process's events. */
function timelines(events) {
  const byCommit = (role, name) => {
    const m = new Map();
    for (const e of events) if (e.n === name && e.c && (typeof role === 'function' ? role(e.r) : e.r === role) && !m.has(e.c)) m.set(e.c, e);
    return m;
  };
  const isAgent = (r) => r.startsWith('agent-');
  const commits = events.filter((e) => e.n === 'agent.commit' && e.c && !e.dup);
  const agentSend = byCommit(isAgent, 'send');
  const brokerRecv = byCommit('broker', 'receive');
  const append = byCommit('broker', 'broker.log-append');
  const brokerSend = byCommit('broker', 'send');
  const hubRecv = byCommit('hub', 'receive');
  const merge = byCommit('hub', 'hub.merge');
  const out = [];
  for (const c of commits) {
    const t = {
      commit: c.c,
      region: c.r.slice('agent-'.length),
      file: c.file,
      commitStart: c.s,
      commitEnd: c.e,
      sendStart: agentSend.get(c.c)?.s,
      brokerReceived: brokerRecv.get(c.c)?.e,
      appended: append.get(c.c)?.e,
      brokerSendStart: brokerSend.get(c.c)?.s,
      hubReceived: hubRecv.get(c.c)?.e,
      mergeStart: merge.get(c.c)?.s,
      mergeEnd: merge.get(c.c)?.e,
    };
    if (SEGMENTS.every(([, a, b]) => t[a] !== undefined && t[b] !== undefined)) out.push(t);
  }
  return out;
}

function stats(values) {
  return { p50: percentile(values, 50), p99: percentile(values, 99), max: Math.max(...values), mean: values.reduce((a, b) => a + b, 0) / values.length };
}

/** Per process and phase: fsyncs, store round trips and their time, per regional commit. */
function costTable(events, commits) {
  const rows = new Map();
  for (const e of events) {
    const isFsync = e.n === 'fsync';
    const isStore = e.n.startsWith('store.');
    if (!isFsync && !isStore) continue;
    const key = `${e.r.startsWith('agent-') ? 'agent' : e.r}|${e.ph || '(other)'}`;
    let r = rows.get(key);
    if (!r) rows.set(key, (r = { fsync: 0, fsyncMs: 0, store: 0, storeMs: 0 }));
    if (isFsync) {
      r.fsync++;
      r.fsyncMs += e.e - e.s;
    } else if (!e.ph || !e.ph.startsWith('store.')) {
      r.store++;
      r.storeMs += e.e - e.s;
    }
  }
  return [...rows]
    .map(([k, r]) => ({ key: k, ...r, perCommit: { fsync: r.fsync / commits, store: r.store / commits } }))
    .filter((r) => r.fsync + r.store >= commits * 0.2)
    .sort((a, b) => a.key.localeCompare(b.key));
}

function windowOf(events, from, to) {
  return events.filter((e) => e.s >= from && e.s <= to);
}

function reportLoad(report, label, tl, events, appsText) {
  const e2e = tl.map((t) => t.mergeEnd - t.commitStart);
  const s = stats(e2e);
  report.note(`${label}: ${tl.length} batches, agent commit -> hub merge p50 ${fmtMs(s.p50)}, p99 ${fmtMs(s.p99)}, max ${fmtMs(s.max)}, mean ${fmtMs(s.mean)}`);
  report.note(`  ${'segment'.padEnd(42)} ${'p50'.padStart(8)} ${'p99'.padStart(8)} ${'max'.padStart(8)} ${'mean'.padStart(8)}  share of mean`);
  for (const [name, a, b] of SEGMENTS) {
    const st = stats(tl.map((t) => t[b] - t[a]));
    report.note(`  ${name.padEnd(42)} ${fmtMs(st.p50).padStart(8)} ${fmtMs(st.p99).padStart(8)} ${fmtMs(st.max).padStart(8)} ${fmtMs(st.mean).padStart(8)}  ${((100 * st.mean) / s.mean).toFixed(0).padStart(3)}%`);
  }
  if (appsText) report.note(`  ${appsText}`);
  return s;
}

/**
 * What a durable small write costs on this filesystem, in each app's pack directory (where most of its files are
 * created), with the apps idle: the apps do a few per batch (temp file, write, fsync, rename, fsync of the
 * directory). On ext4 a create took 20 us in one directory and 500 us of kernel time in another on one host, which
 * moves this figure from run to run. The probe's names (`.tmp-...~`) are ones the stores never list.
 */
function probeDurableWrites(dirs, n = 100) {
  return dirs.map(([label, dir]) => {
    const dirFd = fs.openSync(dir, 'r');
    const creates = [];
    const writes = [];
    try {
      for (let i = 0; i < n; i++) {
        const temp = path.join(dir, `.tmp-fs-probe-${i}~`);
        const t0 = performance.now();
        const fd = fs.openSync(temp, 'wx');
        creates.push(performance.now() - t0);
        fs.writeSync(fd, Buffer.alloc(200, 0x61));
        fs.fsyncSync(fd);
        fs.closeSync(fd);
        fs.renameSync(temp, path.join(dir, `.tmp-fs-probe-done-${i}~`));
        fs.fsyncSync(dirFd);
        writes.push(performance.now() - t0);
      }
    } finally {
      fs.closeSync(dirFd);
      for (let i = 0; i < n; i++) {
        fs.rmSync(path.join(dir, `.tmp-fs-probe-${i}~`), { force: true });
        fs.rmSync(path.join(dir, `.tmp-fs-probe-done-${i}~`), { force: true });
      }
    }
    return { label, create: percentile(creates, 50), write: percentile(writes, 50), writeP99: percentile(writes, 99) };
  });
}

function fmtProbe(p) {
  return `${p.label} ${p.write.toFixed(2)} / ${p.writeP99.toFixed(2)} ms, ${(p.create * 1000).toFixed(0)} us`;
}

module.exports = async function latency(ctx) {
  const { report, scale, tmp, redisUrl } = ctx;
  const isolatedN = Math.max(5, Math.round(30 * Math.min(1, scale * 4)));
  const pacedN = Math.max(5, Math.round(40 * Math.min(1, scale * 4)));
  report.section(
    `Latency: agent commit -> hub merge, small batches (${ROWS_PER_BATCH} rows, about ${fmtBytes(batchBytes('na-aws', 0).length)}), real apps on loopback, local-disk stores, fsynced`,
    `isolated: 1 region, ${isolatedN} batches one at a time; ` +
      `paced: ${REGIONS.length} regions x ${pacedN} batches, one per region every ${PACED_INTERVAL_MS} ms, ` +
      `regions ${Math.round(PACED_INTERVAL_MS / REGIONS.length)} ms apart; ` +
      'burst: the same, all regions at the same instant (as npm run demo lands them)',
  );
  const base = path.join(tmp, 'latency');
  const traceDir = path.join(base, 'trace');
  const logDir = path.join(base, 'logs');
  for (const d of [traceDir, logDir, 'broker-store', 'hub', ...REGIONS.map((r) => `inbox/${r}`), ...REGIONS.map((r) => `agents/${r}`)]) {
    fs.mkdirSync(path.isAbsolute(d) ? d : path.join(base, d), { recursive: true });
  }
  const traceFile = (role) => path.join(traceDir, `${role}.jsonl`);
  const common = { REDIS_URL: redisUrl, TRIB_AUTHOR: 'Bench <bench@example.org>' };
  const apps = [];
  try {
    const broker = await startApp('broker', 'broker', { ...common, TRIB_STORE: pathToFileURL(path.join(base, 'broker-store')).href, TRIB_LISTEN: '127.0.0.1:0', TRIB_TRACE_FILE: traceFile('broker') }, logDir);
    apps.push(broker);
    const hubHome = path.join(base, 'hub');
    const hub = await startApp(
      'hub',
      'hub',
      {
        ...common,
        TRIB_BROKER: broker.address,
        TRIB_STORE: pathToFileURL(path.join(hubHome, '.trib/store')).href,
        TRIB_HOME: hubHome,
        TRIB_TOPICS: REGIONS.map((r) => `datasets/bench/${r}`).join(','),
        TRIB_TRACE_FILE: traceFile('hub'),
      },
      logDir,
    );
    apps.push(hub);
    for (const region of REGIONS) {
      const home = path.join(base, 'agents', region);
      apps.push(
        await startApp(
          'edge-agent',
          `agent-${region}`,
          {
            ...common,
            TRIB_BROKER: broker.address,
            TRIB_STORE: pathToFileURL(path.join(home, '.trib/store')).href,
            TRIB_HOME: home,
            TRIB_REGION: region,
            TRIB_DATASET: 'bench',
            TRIB_INBOX: path.join(base, 'inbox', region),
            // land() writes each batch elsewhere and renames it in, so no settle time is needed (README).
            TRIB_INBOX_SETTLE_MS: '0',
            TRIB_TRACE_FILE: traceFile(`agent-${region}`),
          },
          logDir,
        ),
      );
    }
    // One batch per region first, untimed: topics get created and the hub's subscriptions find them.
    let expected = 0;
    for (const region of REGIONS) land(path.join(base, 'inbox', region), `warmup-${region}.csv`, batchBytes(region, 999));
    expected += REGIONS.length;
    await waitMerged(hub, expected, 60_000, apps);
    await sleep(300);
    const probed = probeDurableWrites([
      ['broker', path.join(base, 'broker-store', 'packs')],
      ['hub', path.join(hubHome, '.trib', 'store', 'packs')],
      ...REGIONS.map((r) => [r, path.join(base, 'agents', r, '.trib', 'store', 'packs')]),
    ]);
    report.note(
      "filesystem, same run, in each app's pack directory: a durable small write (create, write, fsync, rename, " +
        `fsync dir) p50 / p99, and the create alone p50: ${probed.map(fmtProbe).join('; ')}`,
    );

    const landed = new Map();
    const isolatedFrom = performance.timeOrigin + performance.now();
    for (let i = 0; i < isolatedN; i++) {
      const name = `iso-${String(i).padStart(4, '0')}.csv`;
      landed.set(`${REGIONS[0]}/${name}`, performance.timeOrigin + performance.now());
      land(path.join(base, 'inbox', REGIONS[0]), name, batchBytes(REGIONS[0], i));
      await waitMerged(hub, ++expected, 30_000, apps);
      await sleep(20);
    }
    const isolatedTo = performance.timeOrigin + performance.now();
    await sleep(300);

    // Each region lands pacedN batches every PACED_INTERVAL_MS, the k-th region `offsetMs(k)` after the first. Each
    // load lands batches of its own (`seed`): an agent takes a batch it already committed as a redelivery.
    const landPaced = async (prefix, seed, offsetMs) => {
      const from = performance.timeOrigin + performance.now();
      await Promise.all(
        REGIONS.map(async (region, k) => {
          await sleep(offsetMs(k));
          for (let i = 0; i < pacedN; i++) {
            const name = `${prefix}-${String(i).padStart(4, '0')}.csv`;
            landed.set(`${region}/${name}`, performance.timeOrigin + performance.now());
            land(path.join(base, 'inbox', region), name, batchBytes(region, seed + i));
            await sleep(PACED_INTERVAL_MS);
          }
        }),
      );
      expected += REGIONS.length * pacedN;
      await waitMerged(hub, expected, 120_000, apps);
      return { from, to: performance.timeOrigin + performance.now() };
    };
    const pacedWindow = await landPaced('paced', 1000, (k) => (k * PACED_INTERVAL_MS) / REGIONS.length);
    await sleep(300);
    const burstWindow = await landPaced('burst', 2000, () => 0);
    const hubLatencies = (hub.text.match(/\((\d+) ms after the regional commit\)/g) || []).map((m) => Number(/\d+/.exec(m)[0]));

    for (const a of apps.splice(0).reverse()) await stopProcess(a.proc);
    const events = fs.readdirSync(traceDir).flatMap((f) => readTrace(path.join(traceDir, f)));
    const all = timelines(events);
    const iso = all.filter((t) => t.commitStart >= isolatedFrom && t.commitStart <= isolatedTo);
    const within = (w) => all.filter((t) => t.commitStart >= w.from && t.commitStart <= w.to);
    const paced = within(pacedWindow);
    const burst = within(burstWindow);
    const perLoad = REGIONS.length * pacedN;
    if (iso.length < isolatedN * 0.9 || paced.length < perLoad * 0.9 || burst.length < perLoad * 0.9) {
      throw new Error(
        `traced only ${iso.length}/${isolatedN} isolated, ${paced.length}/${perLoad} paced and ` +
          `${burst.length}/${perLoad} burst batches; traces in ${traceDir}`,
      );
    }
    const pickup = paced.map((t) => t.commitStart - (landed.get(`${t.region}/${t.file}`) ?? t.commitStart));
    const pickupIso = iso.map((t) => t.commitStart - (landed.get(`${t.region}/${t.file}`) ?? t.commitStart));

    const isoStats = reportLoad(report, 'isolated', iso, events);
    const pacedStats = reportLoad(report, 'paced', paced, events);
    const burstStats = reportLoad(report, 'burst', burst, events);
    report.note(
      `before the commit (not in the figure): file landed -> agent starts its commit p50 ${fmtMs(percentile(pickupIso, 50))} isolated, ` +
        `p50 ${fmtMs(percentile(pickup, 50))} / p99 ${fmtMs(percentile(pickup, 99))} paced`,
    );
    report.note(`the hub's own log (regional commit's timestamp -> merge, whole run): p50 ${percentile(hubLatencies, 50)} ms, p99 ${percentile(hubLatencies, 99)} ms`);
    detail(report, events, paced, pacedWindow.from, pacedWindow.to);

    report.figure({
      name: 'agent commit -> hub merge p99 (paced, 3 regions)',
      measured: `p99 ${fmtMs(pacedStats.p99)}, p50 ${fmtMs(pacedStats.p50)}`,
      target: `p99 < ${TARGET_P99_MS} ms`,
      pass: pacedStats.p99 < TARGET_P99_MS,
      baseline: `isolated, one at a time: p99 ${fmtMs(isoStats.p99)}, p50 ${fmtMs(isoStats.p50)}`,
    });
    report.figure({
      name: 'agent commit -> hub merge p99 (burst, 3 regions at once)',
      measured: `p99 ${fmtMs(burstStats.p99)}, p50 ${fmtMs(burstStats.p50)}`,
      target: `(info; the figure above is p99 < ${TARGET_P99_MS} ms)`,
      baseline: `paced, regions apart: p99 ${fmtMs(pacedStats.p99)}, p50 ${fmtMs(pacedStats.p50)}`,
    });
    if (process.env.BENCH_KEEP) report.note(`traces kept in ${traceDir}`);
  } finally {
    for (const a of apps.reverse()) await stopProcess(a.proc);
  }
};

/** Where the time inside the segments goes: fsync and store costs per phase, waits, round trips. */
function detail(report, events, paced, from, to) {
  const ev = windowOf(events, from, to + 5000);
  const n = paced.length;
  report.note(`costs per batch during the paced load (fsyncs and store round trips by process and phase; ms are summed time):`);
  for (const r of costTable(ev, n)) {
    report.note(
      `  ${r.key.replace('|', ': ').padEnd(44)} ${r.perCommit.fsync.toFixed(1).padStart(5)} fsync (${(r.fsyncMs / n).toFixed(1)} ms)  ${r.perCommit.store.toFixed(1).padStart(5)} store ops (${(r.storeMs / n).toFixed(1)} ms)`,
    );
  }
  const byName = (role, name) => ev.filter((e) => (typeof role === 'function' ? role(e.r) : e.r === role) && e.n === name);
  const isAgent = (r) => r.startsWith('agent-');
  const dur = (es) => stats(es.map((e) => e.e - e.s));
  const line = (label, es) => {
    if (es.length === 0) return;
    const st = dur(es);
    report.note(`  ${label.padEnd(44)} x${(es.length / n).toFixed(2)}/batch  p50 ${fmtMs(st.p50)}  p99 ${fmtMs(st.p99)}  max ${fmtMs(st.max)}`);
  };
  report.note('spans (per batch count, duration):');
  line('agent: scan inbox', byName(isAgent, 'agent.scan'));
  line('agent: move batch to .done (2 dir fsyncs)', byName(isAgent, 'agent.markDone'));
  line('agent: SyncClient.publish (whole call)', byName(isAgent, 'publish'));
  const pubs = byName(isAgent, 'publish');
  if (pubs.length) report.note(`  ${'  commits per publish call'.padEnd(44)} mean ${(pubs.reduce((a, p) => a + (p.commits || 0), 0) / pubs.length).toFixed(2)}`);
  line('broker: db.reload (publish start, stage commit)', byName('broker', 'db.reload'));
  line('broker: stage commit (pack flush + reload)', byName('broker', 'broker.stage-commit'));
  line('broker: staged pack made durable', byName('broker', 'broker.stage-persist'));
  line('broker: staged pack loaded (lists packs)', byName('broker', 'broker.stage-load'));
  line('broker: topic log append (durable entry)', byName('broker', 'broker.log-append'));
  line('broker: index + hint after the ack', byName('broker', 'broker.log-settle'));
  line('broker: topic log head', byName('broker', 'log.head'));
  line('broker: cursor advance (Redis)', byName('broker', 'broker.cursor-advance'));
  const waits = byName('broker', 'notifier.wait');
  if (waits.length) {
    const timedOut = waits.filter((w) => w.timeout && w.e - w.s >= w.timeout - 1).length;
    report.note(`  ${'broker: follow waits (notification or poll)'.padEnd(44)} ${waits.length} waits, ${timedOut} ended by the poll timer`);
  }
  line('hub: db.flush (objects received)', byName('hub', 'db.flush'));
  line('hub: refs.update (topic ref, main)', byName('hub', 'refs.update'));
  line('hub: merge', byName('hub', 'hub.merge'));
  // Replies the agent waited for inside its publishes, and the hub inside its deliveries: round trips.
  const agentWaits = byName(isAgent, 'msg.recv').filter((e) => e.ph === 'publish' || e.ph === 'send');
  line('agent: waits for a broker reply in publish', agentWaits);
  const hubWaits = byName('hub', 'msg.recv');
  line('hub: message waits (incl. idle between entries)', hubWaits.filter((e) => e.e - e.s < 1000));
}

module.exports.timelines = timelines;

// `node scripts/bench/sync/latency.js TRACE.jsonl...`: the breakdown of any traced run (see trace.js).
if (require.main === module) {
  const files = process.argv.slice(2);
  if (files.length === 0) {
    console.error('usage: node scripts/bench/sync/latency.js TRACE.jsonl...');
    process.exit(2);
  }
  const { Report } = require('../report');
  const report = new Report();
  const events = files.flatMap(readTrace);
  const tl = timelines(events);
  if (tl.length === 0) {
    console.error('no complete agent commit -> hub merge timeline in the trace (were all five processes traced?)');
    process.exit(1);
  }
  reportLoad(report, 'traced run', tl, events);
  detail(report, events, tl, Math.min(...tl.map((t) => t.commitStart)), Math.max(...tl.map((t) => t.mergeEnd)));
}
