'use strict';
/**
 * Figure 2, long links: a publish and then a subscribe of incompressible data (1 GiB at scale 1, files of 32 MiB)
 * through the in-process delay proxy (25 ms each way, so 50 ms RTT), against a broker (startBroker, memory store,
 * raised windows) in a child process. Baseline, in the same run: a plain TCP stream of the same bytes through an
 * identical proxy to a plain TCP server in a child process, upload for the publish and download for the subscribe.
 * Target: each at least half of its TCP baseline. Both sides are timed from the first byte they send until the
 * peer has confirmed the end (the publish's `appended`, the TCP sink's one-byte ack), on a connection made before.
 * The same publish and subscribe on loopback without the proxy are printed too: what the CPU allows, so a MISS
 * can be told apart as the link's (windows, round trips) or the pipeline's (hashing, copies, storage). So is a
 * ceiling: raw grpc-js (1 MiB Buffers, no protobuf, no store) through an identical proxy, its receiver doing the
 * least a verifying receiver must (hash every 64 KiB, keep the bytes until the end, as the memory store does).
 * And what keeping that many new bytes costs this machine by itself (freshMemoryNote), which the receivers pay and
 * the TCP baseline does not. And the same files as two publishes at once on two channels beside one publish, each
 * to a fresh broker (publishesAtOnce): what spreading one publish over parallel streams would gain.
 */
const net = require('node:net');
const path = require('node:path');
const fs = require('node:fs');
const { startDelayProxy } = require('../delay-proxy');
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
const { RawClient, receiveAll, sendAll } = require('./raw-grpc');

const DELAY_MS = 25;
/** Publishes at once in the parallel-streams line. */
const PARALLEL_WAYS = 2;
const FILE_BYTES = 32 * MiB;

function hostPort(address) {
  const i = address.lastIndexOf(':');
  return { host: address.slice(0, i), port: Number(address.slice(i + 1)) };
}

/** Sends `bytes` to the TCP sink through `proxy`; resolves the ms from the first byte to the sink's ack. */
function tcpUpload(proxy, bytes) {
  const block = Buffer.alloc(MiB, 0x33);
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: proxy.host, port: proxy.port, noDelay: true }, () => {
      const t0 = performance.now();
      sock.once('data', () => {
        resolve(performance.now() - t0);
        sock.destroy();
      });
      let left = bytes;
      sock.write(`sink ${bytes}\n`);
      const pump = () => {
        while (left > 0) {
          const k = Math.min(left, block.length);
          left -= k;
          if (!sock.write(k === block.length ? block : block.subarray(0, k))) return void sock.once('drain', pump);
        }
      };
      pump();
    });
    sock.on('error', reject);
  });
}

/** Receives `bytes` from the TCP source through `proxy`; resolves the ms from the request to the last byte. */
function tcpDownload(proxy, bytes) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: proxy.host, port: proxy.port, noDelay: true }, () => {
      const t0 = performance.now();
      let got = 0;
      sock.on('data', (b) => (got += b.length));
      sock.on('end', () => {
        if (got !== bytes) reject(new Error(`TCP download got ${got} of ${bytes} bytes`));
        else resolve(performance.now() - t0);
        sock.destroy();
      });
      sock.write(`source ${bytes}\n`);
    });
    sock.on('error', reject);
  });
}

/**
 * Times raw grpc-js (see raw-grpc.js) moving `bytes` each way through a fresh delay proxy to a child server whose
 * Up hashes and keeps what it receives; the download's client does the same. Resolves { upMs, downMs }.
 */
async function rawGrpcThroughProxy(bytes, channelOptions) {
  const grpc = require('@grpc/grpc-js');
  const raw = await startChild('grpc-raw', { verify: true });
  const proxy = await startDelayProxy({ target: hostPort(raw.info.address), delayMs: DELAY_MS });
  const client = new RawClient(proxy.address, grpc.credentials.createInsecure(), channelOptions);
  try {
    await new Promise((resolve, reject) => client.waitForReady(Date.now() + 5000, (e) => (e ? reject(e) : resolve())));
    let t = performance.now();
    const sent = await sendAll(client, bytes);
    const upMs = performance.now() - t;
    t = performance.now();
    const got = await receiveAll(client, bytes, { verify: true });
    const downMs = performance.now() - t;
    if (sent !== bytes || got !== bytes) throw new Error(`raw grpc-js moved ${sent} and ${got} of ${bytes} bytes`);
    return { upMs, downMs };
  } finally {
    client.close();
    await proxy.close();
    await raw.stop();
  }
}

/**
 * The publish's files split over `ways` repositories under `base`, each holding every `ways`-th file of `dir` (hard
 * links), for publishes at once.
 */
async function splitRepositories(base, dir, ways) {
  const { repository } = libs();
  const files = fs.readdirSync(path.join(dir, 'blobs')).sort();
  const repos = [];
  for (let w = 0; w < ways; w++) {
    const home = path.join(base, `parallel-${w}`);
    fs.mkdirSync(path.join(home, 'blobs'), { recursive: true });
    for (const f of files.filter((_, i) => i % ways === w)) {
      fs.linkSync(path.join(dir, 'blobs', f), path.join(home, 'blobs', f));
    }
    const repo = await repository.Repository.init(home);
    await commitAll(repo, 'blobs');
    repos.push(repo);
  }
  return repos;
}

/**
 * Publishes `repos` at once, each on a channel of its own, through a fresh delay proxy to a fresh broker (a child
 * process): with more than one, what spreading one publish over parallel streams would give. Resolves the payload
 * bytes sent and the ms from the first start to the last `appended`.
 */
async function publishesAtOnce(repos, redisUrl) {
  const { sync } = libs();
  const broker = await startChild('broker', { redisUrl });
  const proxy = await startDelayProxy({ target: hostPort(broker.info.address), delayMs: DELAY_MS });
  const clients = repos.map(() => new sync.SyncClient(proxy.address));
  try {
    await Promise.all(clients.map((c) => c.listTopics()));
    const t = performance.now();
    const sent = await Promise.all(clients.map((c, w) => c.publish(repos[w], `bench/parallel-${w}`)));
    return { bytes: sent.reduce((n, p) => n + p.wireBytes, 0), ms: performance.now() - t };
  } finally {
    clients.forEach((c) => c.close());
    await proxy.close();
    await broker.stop();
  }
}

module.exports = async function longLinks(ctx) {
  const { report, scale, tmp, redisUrl } = ctx;
  const { sync, repository } = libs();
  const total = Math.max(MiB, Math.round(1024 * MiB * scale));
  report.section(
    `Long links: publish and subscribe ${fmtBytes(total)} of incompressible files through a TCP proxy delaying each direction ${DELAY_MS} ms`,
    'broker: startBroker (memory store, raised windows) in a child process; subscriber verifies into memory; baseline: plain TCP through an identical proxy',
  );
  const base = path.join(tmp, 'long');
  const dir = path.join(base, 'publisher');
  for (let i = 0, left = total; left > 0; i++, left -= FILE_BYTES) randomFile(path.join(dir, 'blobs', `part-${String(i).padStart(4, '0')}.bin`), Math.min(left, FILE_BYTES), `long-${i}`);
  const repo = await repository.Repository.init(dir);
  const broker = await startChild('broker', { redisUrl });
  const tcp = await startChild('tcp');
  const brokerProxy = await startDelayProxy({ target: hostPort(broker.info.address), delayMs: DELAY_MS });
  const tcpProxy = await startDelayProxy({ target: hostPort(tcp.info.address), delayMs: DELAY_MS });
  const client = new sync.SyncClient(brokerProxy.address);
  let sub;
  try {
    let t = performance.now();
    await commitAll(repo, 'blobs');
    report.note(`setup: commit ${fmtSecs(performance.now() - t)}`);
    // The agent and the hub hold a channel open; so does this client, connected before the clock starts.
    t = performance.now();
    await client.listTopics();
    report.note(`first call through the proxy (connect + one unary call): ${fmtSecs(performance.now() - t)}`);

    let cpu = cpuWindow(broker.pid);
    t = performance.now();
    const pub = await client.publish(repo, 'bench/long');
    const pubMs = performance.now() - t;
    const pubCpu = cpu.end();
    sub = await memorySubscriber('long-subscriber');
    cpu = cpuWindow(broker.pid);
    t = performance.now();
    const got = await client.subscribe(sub, 'bench/long', 'long-sub');
    const subMs = performance.now() - t;
    const subCpu = cpu.end();
    if (got.wireBytes !== pub.wireBytes) throw new Error(`subscriber received ${got.wireBytes} bytes, the publish sent ${pub.wireBytes}`);

    // The same publish and subscribe on loopback, to a fresh broker, without the proxy: what the CPU allows.
    const direct = await startChild('broker', { redisUrl });
    const directClient = new sync.SyncClient(direct.info.address);
    let loopPubMs;
    let loopSubMs;
    try {
      await directClient.listTopics();
      t = performance.now();
      await directClient.publish(repo, 'bench/long');
      loopPubMs = performance.now() - t;
      sub = await memorySubscriber('long-subscriber-loopback');
      t = performance.now();
      await directClient.subscribe(sub, 'bench/long', 'long-sub');
      loopSubMs = performance.now() - t;
      sub = undefined;
    } finally {
      directClient.close();
      await direct.stop();
    }

    // Both to a fresh broker, one after the other: a fresh process pays for its new memory, which the first
    // publish above paid on a machine with more of it at hand.
    const split = await splitRepositories(base, dir, PARALLEL_WAYS);
    const single = await publishesAtOnce([repo], redisUrl);
    const parallel = await publishesAtOnce(split, redisUrl);
    for (const r of split) await r.close();

    cpu = cpuWindow(tcp.pid);
    const upMs = await tcpUpload(tcpProxy, pub.wireBytes);
    const upCpu = cpu.end();
    cpu = cpuWindow(tcp.pid);
    const downMs = await tcpDownload(tcpProxy, pub.wireBytes);
    const downCpu = cpu.end();
    const ceiling = await rawGrpcThroughProxy(pub.wireBytes, sync.CHANNEL_OPTIONS);
    const up = mbps(pub.wireBytes, upMs);
    const down = mbps(pub.wireBytes, downMs);
    const pubRate = mbps(pub.wireBytes, pubMs);
    const subRate = mbps(got.wireBytes, subMs);
    report.note(`publish ${fmtBytes(pub.wireBytes)} in ${fmtSecs(pubMs)}, subscribe in ${fmtSecs(subMs)}; plain TCP up ${fmtSecs(upMs)}, down ${fmtSecs(downMs)}`);
    report.note(
      `the same without the proxy (loopback, fresh broker): publish ${fmtMBps(mbps(pub.wireBytes, loopPubMs))}, subscribe ${fmtMBps(mbps(pub.wireBytes, loopSubMs))} ` +
        `(the proxy keeps ${((100 * loopPubMs) / pubMs).toFixed(0)}% and ${((100 * loopSubMs) / subMs).toFixed(0)}% of them)`,
    );
    report.note(
      `one publish spread over parallel streams, through an identical proxy to a fresh broker each time: ` +
        `the same files as ${PARALLEL_WAYS} publishes at once, each on its own channel, ` +
        `${fmtMBps(mbps(parallel.bytes, parallel.ms))} in all; ` +
        `as one publish ${fmtMBps(mbps(single.bytes, single.ms))}`,
    );
    report.note(
      `ceiling, same run: raw grpc-js through an identical proxy, the receiver hashing every 64 KiB and keeping the bytes: ` +
        `up ${fmtMBps(mbps(pub.wireBytes, ceiling.upMs))} = ${(upMs / ceiling.upMs).toFixed(2)}x plain TCP, ` +
        `down ${fmtMBps(mbps(pub.wireBytes, ceiling.downMs))} = ${(downMs / ceiling.downMs).toFixed(2)}x plain TCP`,
    );
    if (pubCpu.server !== undefined && upCpu.server !== undefined) {
      const s = (ms) => `${(ms / 1000).toFixed(2)} s`;
      report.note(
        `CPU (all threads; 2 cores): publish: broker ${s(pubCpu.server)}, publisher + proxy ${s(pubCpu.clients)}; ` +
          `subscribe: broker ${s(subCpu.server)}, subscriber + proxy ${s(subCpu.clients)}; ` +
          `plain TCP up: sink ${s(upCpu.server)}, sender + proxy ${s(upCpu.clients)}; ` +
          `down: source ${s(downCpu.server)}, receiver + proxy ${s(downCpu.clients)}`,
      );
    }
    const hashMs = hashLoopMs(pub.wireBytes);
    report.note(
      `raw SHA-256 loop over the same bytes (one core, same run): ${fmtMBps(mbps(pub.wireBytes, hashMs))}; the receiver hashes every byte, ` +
        `the sender reads, frames and sends it, on 2 cores shared with the proxy`,
    );
    report.note(freshMemoryNote(pub.wireBytes, 'the broker (publish) and the subscriber', 'the TCP sink and source'));
    report.figure({
      name: `publish through ${DELAY_MS} ms + ${DELAY_MS} ms proxy`,
      measured: `${fmtMBps(pubRate)} = ${(pubRate / up).toFixed(2)}x plain TCP`,
      target: `>= 0.5x plain TCP = ${fmtMBps(up / 2)}`,
      pass: pubRate >= up / 2,
      baseline: `plain TCP upload ${fmtMBps(up)}`,
    });
    report.figure({
      name: `subscribe through ${DELAY_MS} ms + ${DELAY_MS} ms proxy`,
      measured: `${fmtMBps(subRate)} = ${(subRate / down).toFixed(2)}x plain TCP`,
      target: `>= 0.5x plain TCP = ${fmtMBps(down / 2)}`,
      pass: subRate >= down / 2,
      baseline: `plain TCP download ${fmtMBps(down)}`,
    });
  } finally {
    client.close();
    await repo.close();
    await brokerProxy.close();
    await tcpProxy.close();
    await broker.stop();
    await tcp.stop();
    fs.rmSync(base, { recursive: true, force: true });
  }
};
