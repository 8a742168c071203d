'use strict';
/**
 * Figure 3, fan-out: one publisher publishes incompressible files (256 MiB at scale 1) to a broker (startBroker,
 * memory store) in a child process; then 10 subscribers, each verifying every object into its own in-memory
 * store, catch up at the same time. Total delivery = the bytes the 10 received / the time until the last is done.
 * Baseline in the same run: a raw grpc-js server-streaming method (no protobuf, no storage) sending the same bytes
 * to 10 clients at once from a child process, with the same channel options and server windows. Target: at least
 * half of it. Beside it: nats-server JetStream (file storage) delivering the same bytes to 10 consumers, and what
 * keeping the delivered bytes costs this machine by itself (freshMemoryNote), which the raw clients do not pay.
 */
const fs = require('node:fs');
const path = require('node:path');
const { fmtBytes, fmtSecs } = require('../report');
const {
  MiB,
  commitAll,
  cpuWindow,
  fmtMBps,
  freshMemoryNote,
  hashLoopMs,
  libs,
  mbps,
  memorySubscriber,
  randomFile,
  startChild,
} = require('./common');
const { natsFanOut } = require('./nats');
const { RawClient, receiveAll } = require('./raw-grpc');

const SUBSCRIBERS = 10;
const FILE_BYTES = 16 * MiB;

module.exports = async function fanOut(ctx) {
  const { report, scale, tmp, redisUrl } = ctx;
  const { sync, repository } = libs();
  const grpc = require('@grpc/grpc-js');
  const total = Math.max(MiB, Math.round(256 * MiB * scale));
  report.section(
    `Fan-out: 1 publisher, ${SUBSCRIBERS} subscribers on loopback, ${fmtBytes(total)} of incompressible files`,
    'broker: startBroker (memory store) in a child process; each subscriber verifies every object into its own memory store',
  );
  const base = path.join(tmp, 'fanout');
  const dir = path.join(base, 'publisher');
  for (let i = 0, left = total; left > 0; i++, left -= FILE_BYTES) randomFile(path.join(dir, 'blobs', `part-${String(i).padStart(4, '0')}.bin`), Math.min(left, FILE_BYTES), `fan-${i}`);
  const repo = await repository.Repository.init(dir);
  const broker = await startChild('broker', { redisUrl });
  const clients = [];
  try {
    await commitAll(repo, 'blobs');
    const publisher = new sync.SyncClient(broker.info.address);
    clients.push(publisher);
    let t = performance.now();
    const pub = await publisher.publish(repo, 'bench/fanout');
    const pubMs = performance.now() - t;

    const subs = [];
    for (let i = 0; i < SUBSCRIBERS; i++) {
      const c = new sync.SyncClient(broker.info.address);
      clients.push(c);
      await c.listTopics();
      subs.push({ client: c, repo: await memorySubscriber(`fan-${i}`) });
    }
    const cpu = cpuWindow(broker.pid);
    t = performance.now();
    const results = await Promise.all(subs.map((s, i) => s.client.subscribe(s.repo, 'bench/fanout', `fan-${i}`)));
    const subMs = performance.now() - t;
    const subCpu = cpu.end();
    const delivered = results.reduce((n, r) => n + r.wireBytes, 0);
    for (const r of results) if (r.wireBytes !== pub.wireBytes) throw new Error(`a subscriber received ${r.wireBytes} bytes of ${pub.wireBytes}`);
    subs.length = 0;

    const raw = await startChild('grpc-raw');
    let rawMs;
    let rawCpu;
    try {
      const rawClients = [];
      for (let i = 0; i < SUBSCRIBERS; i++) rawClients.push(new RawClient(raw.info.address, grpc.credentials.createInsecure(), sync.CHANNEL_OPTIONS));
      await Promise.all(rawClients.map((c) => new Promise((r, j) => c.waitForReady(Date.now() + 5000, (e) => (e ? j(e) : r())))));
      const rawWindow = cpuWindow(raw.pid);
      t = performance.now();
      const got = await Promise.all(rawClients.map((c) => receiveAll(c, pub.wireBytes)));
      rawMs = performance.now() - t;
      rawCpu = rawWindow.end();
      for (const g of got) if (g !== pub.wireBytes) throw new Error(`raw grpc client got ${g} of ${pub.wireBytes} bytes`);
      for (const c of rawClients) c.close();
    } finally {
      await raw.stop();
    }

    const nats = await natsFanOut({ dir: base, bytes: pub.wireBytes, consumers: SUBSCRIBERS });
    const natsText = nats.unavailable
      ? `nats: ${nats.unavailable}`
      : `nats-server JetStream ${fmtMBps(mbps(nats.delivered, nats.deliverMs))} to ${SUBSCRIBERS} consumers (64 KiB messages, publish ${fmtMBps(mbps(pub.wireBytes, nats.publishMs))})`;

    const rate = mbps(delivered, subMs);
    const rawRate = mbps(SUBSCRIBERS * pub.wireBytes, rawMs);
    report.note(
      `publish ${fmtBytes(pub.wireBytes)} in ${fmtSecs(pubMs)} (${fmtMBps(mbps(pub.wireBytes, pubMs))}); ${SUBSCRIBERS} subscribers took ${fmtSecs(subMs)}, ` +
        `raw grpc-js ${fmtSecs(rawMs)}${nats.unavailable ? '' : `, NATS ${fmtSecs(nats.deliverMs)}`}`,
    );
    // The subscribers share this process's one thread, and each must hash every byte it receives.
    const hashMs = hashLoopMs(delivered);
    report.note(
      `raw SHA-256 loop over the ${fmtBytes(delivered)} delivered (one core, same run): ${fmtSecs(hashMs)}; ` +
        `with the raw grpc-js time that is ${fmtSecs(hashMs + rawMs)} = at most ${(rawMs / (hashMs + rawMs)).toFixed(2)}x raw grpc-js ` +
        `for verifying subscribers on one thread unless hashing overlaps receiving perfectly`,
    );
    report.note(freshMemoryNote(delivered, `the ${SUBSCRIBERS} subscribers`, 'the raw grpc-js clients'));
    if (subCpu.server !== undefined && rawCpu.server !== undefined) {
      const perGiB = (ms) => `${(ms / 1000 / (delivered / (1024 * MiB))).toFixed(2)} s/GiB`;
      report.note(
        `CPU while delivering (both processes, all threads; 2 cores): broker ${perGiB(subCpu.server)}, ` +
          `the ${SUBSCRIBERS} subscribers ${perGiB(subCpu.clients)}; raw grpc-js server ${perGiB(rawCpu.server)}, ` +
          `clients ${perGiB(rawCpu.clients)}`,
      );
    }
    report.figure({
      name: `fan-out to ${SUBSCRIBERS} verifying subscribers (total delivered)`,
      measured: `${fmtMBps(rate)} = ${(rate / rawRate).toFixed(2)}x raw grpc-js`,
      target: `>= 0.5x raw grpc-js = ${fmtMBps(rawRate / 2)}`,
      pass: rate >= rawRate / 2,
      baseline: `raw grpc-js server-streaming ${fmtMBps(rawRate)}; ${natsText}`,
    });
  } finally {
    for (const c of clients) c.close();
    await repo.close();
    await broker.stop();
    fs.rmSync(base, { recursive: true, force: true });
  }
};
