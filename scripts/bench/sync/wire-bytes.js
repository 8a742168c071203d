'use strict';
/**
 * Figure 1, wire bytes: 20 CSV files (500 MiB in all at scale 1) are committed and published; then 1% new rows are
 * appended to each, committed and published again. The second publish's wireBytes must be at most 1.1 x the
 * appended bytes + 4 KiB per changed file. Beside it: `rsync --no-whole-file --stats` (bytes sent + received) for
 * the same change, and what a subscriber holding the previous version receives (info).
 */
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { MiB, appendRows, csvFilesDataset } = require('../datasets');
const { fmtBytes, fmtRatio, fmtSecs } = require('../report');
const { commitAll, have, libs, memorySubscriber, startChild } = require('./common');

const TABLES = 20;
const PER_FILE_ALLOWANCE = 4096;

/** rsync if it is here, else one attempt to install it. */
function ensureRsync() {
  if (have('rsync')) return true;
  spawnSync('sh', ['-c', 'apt-get install -y rsync >/dev/null 2>&1 || (apt-get update >/dev/null 2>&1 && apt-get install -y rsync >/dev/null 2>&1)']);
  return have('rsync');
}

/** Bytes rsync's sender reported sent and received (`--stats` prints them with thousands separators). */
function rsyncStats(src, dst) {
  const r = spawnSync('rsync', ['-a', '--no-whole-file', '--stats', '--exclude=/.trib', `${src}/`, `${dst}/`], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`rsync exited ${r.status}: ${r.stderr.slice(-500)}`);
  const num = (label) => {
    const m = new RegExp(`${label}:\\s*([\\d,.]+)`).exec(r.stdout);
    if (!m) throw new Error(`rsync --stats printed no "${label}":\n${r.stdout}`);
    return Number(m[1].replace(/[,.]/g, ''));
  };
  return { sent: num('Total bytes sent'), received: num('Total bytes received') };
}

module.exports = async function wireBytes(ctx) {
  const { report, scale, tmp, redisUrl } = ctx;
  const { sync } = libs();
  const total = Math.round(500 * MiB * scale);
  const each = Math.floor(total / TABLES);
  report.section(`Wire bytes: 1% new rows appended to ${TABLES} CSV files of ${fmtBytes(each)} (${fmtBytes(total)} in all), published`);
  const base = path.join(tmp, 'wire');
  const dir = path.join(base, 'data');
  const mirror = path.join(base, 'rsync-mirror');
  const tables = csvFilesDataset(dir, TABLES, each);
  const rsyncOk = ensureRsync();
  if (rsyncOk) {
    const cp = spawnSync('cp', ['-a', `${dir}/.`, mirror], { encoding: 'utf8' });
    if (cp.status !== 0) throw new Error(`cp -a failed: ${cp.stderr}`);
  }

  const broker = await startChild('broker', { storeDir: path.join(base, 'broker-store'), redisUrl });
  const client = new sync.SyncClient(broker.info.address);
  const { repository } = libs();
  let repo;
  let sub;
  try {
    repo = await repository.Repository.init(dir);
    let t = performance.now();
    const first = await commitAll(repo, 'tables');
    const firstPub = await client.publish(repo, 'bench/wire');
    sub = await memorySubscriber('wire-subscriber');
    const firstSub = await client.subscribe(sub, 'bench/wire', 'bench-sub');
    report.note(
      `setup: first commit, publish and subscribe ${fmtSecs(performance.now() - t)}; first publish ${fmtBytes(firstPub.wireBytes)} of ${fmtBytes(firstPub.datasetBytes)}, ` +
        `first subscribe ${fmtBytes(firstSub.wireBytes)} (stored ${fmtBytes(first.storedBytes)})`,
    );

    const appended = appendRows(tables, 0.01, 4242);
    t = performance.now();
    const second = await commitAll(repo, 'append 1%');
    const commitMs = performance.now() - t;
    t = performance.now();
    const pub = await client.publish(repo, 'bench/wire');
    const pubMs = performance.now() - t;
    t = performance.now();
    const got = await client.subscribe(sub, 'bench/wire', 'bench-sub');
    const subMs = performance.now() - t;
    if (pub.commits !== 1 || got.commits !== 1) throw new Error(`expected one new commit each way, got publish ${pub.commits}, subscribe ${got.commits}`);
    const bound = 1.1 * appended + PER_FILE_ALLOWANCE * TABLES;

    let rsyncText = 'rsync unavailable';
    if (rsyncOk) {
      const r = rsyncStats(dir, mirror);
      rsyncText = `rsync --no-whole-file ${fmtBytes(r.sent + r.received)} (sent ${fmtBytes(r.sent)} + received ${fmtBytes(r.received)}) = ${fmtRatio((r.sent + r.received) / appended)} appended`;
    }
    report.note(
      `appended ${fmtBytes(appended)}; commit ${fmtSecs(commitMs)} (stored ${fmtBytes(second.storedBytes)}); publish ${fmtSecs(pubMs)}, ` +
        `subscribe ${fmtSecs(subMs)} (${fmtBytes(got.wireBytes)} = ${fmtRatio(got.wireBytes / appended)} appended)`,
    );
    report.figure({
      name: `publish wireBytes after 1% appended to ${TABLES} files`,
      measured: `${fmtBytes(pub.wireBytes)} = ${fmtRatio(pub.wireBytes / appended)} appended (${fmtBytes(appended)})`,
      target: `<= 1.1x appended + 4 KiB/file = ${fmtBytes(bound)}`,
      pass: pub.wireBytes <= bound,
      baseline: rsyncText,
    });
    return { appended, wireBytes: pub.wireBytes, subscribeWireBytes: got.wireBytes };
  } finally {
    client.close();
    if (repo) await repo.close();
    if (sub) await sub.close();
    await broker.stop();
    fs.rmSync(base, { recursive: true, force: true });
  }
};
