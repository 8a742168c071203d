#!/usr/bin/env node
'use strict';
/**
 * Servers the sync bench runs in a child process, so that they do not share a thread with the clients it measures.
 * Started by `startChild(kind, opts)` (see common.js) with fork(); reports `{ ready: { ... } }` over IPC and stops
 * on the `stop` message or when the parent goes away.
 *
 *   broker    startBroker from @tributary/sync on a LocalStore (opts.storeDir) or a MemoryStore; raised windows
 *   tcp       a plain TCP server: a connection sends the line `sink N\n` then N bytes and gets one byte back once
 *             all have arrived, or `source N\n` and receives N bytes (the baselines of the long-link figure)
 *   grpc-raw  the raw grpc-js service of raw-grpc.js (1 MiB messages without protobuf), with the broker's server
 *             options and windows: Stream sends N bytes (the fan-out baseline); Up receives, hashing and keeping
 *             the bytes when opts.verify is set (the long-link figure's ceiling)
 */
const net = require('node:net');

// Every server here runs with the heap growth the apps and the CLI set at start-up, baselines included.
require('@tributary/config').configureHeapGrowth();

const MiB = 1024 * 1024;
const opts = JSON.parse(process.argv[3] || '{}');

async function broker() {
  const { startBroker } = require('@tributary/sync');
  const { LocalStore, MemoryStore } = require('@tributary/storage');
  const store = opts.storeDir ? await LocalStore.open(opts.storeDir, { create: true }) : new MemoryStore(`bench-broker-${process.pid}`);
  const running = await startBroker({
    store,
    redisUrl: opts.redisUrl,
    listen: '127.0.0.1:0',
    pollMs: opts.pollMs,
    log: (level, msg) => {
      if (level !== 'info') process.stderr.write(`[broker ${level}] ${msg}\n`);
    },
  });
  return { info: { address: running.address, store: store.url }, close: () => running.close() };
}

function tcp() {
  const block = Buffer.alloc(MiB, 0x5a);
  const server = net.createServer({ noDelay: true }, (sock) => {
    let header = Buffer.alloc(0);
    let mode;
    let left = 0;
    const onData = (buf) => {
      if (!mode) {
        header = Buffer.concat([header, buf]);
        const nl = header.indexOf(0x0a);
        if (nl < 0) return;
        const [cmd, n] = header.subarray(0, nl).toString('latin1').split(' ');
        mode = cmd;
        left = Number(n);
        buf = header.subarray(nl + 1);
        if (mode === 'source') {
          sock.off('data', onData);
          sock.resume();
          const pump = () => {
            while (left > 0) {
              const k = Math.min(left, block.length);
              left -= k;
              if (!sock.write(k === block.length ? block : block.subarray(0, k))) return void sock.once('drain', pump);
            }
            sock.end();
          };
          return pump();
        }
      }
      left -= buf.length;
      if (left <= 0) {
        sock.off('data', onData);
        sock.end(Buffer.from([1]));
      }
    };
    sock.on('data', onData);
    sock.on('error', () => undefined);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ info: { address: `127.0.0.1:${server.address().port}` }, close: () => new Promise((r) => server.close(() => r())) }),
    ),
  );
}

async function grpcRaw() {
  const grpc = require('@grpc/grpc-js');
  const { SERVER_OPTIONS, raiseServerWindows } = require('@tributary/sync');
  const { RAW_SERVICE, upHandler } = require('./raw-grpc');
  const block = Buffer.alloc(MiB, 0xa5);
  const server = new grpc.Server(SERVER_OPTIONS);
  server.addService(RAW_SERVICE, {
    Stream(call) {
      let left = Number(call.request.readBigUInt64BE(0));
      const pump = () => {
        while (left > 0) {
          const k = Math.min(left, block.length);
          left -= k;
          if (!call.write(k === block.length ? block : block.subarray(0, k))) return void call.once('drain', pump);
        }
        call.end();
      };
      call.on('error', () => undefined);
      pump();
    },
    Up: upHandler({ verify: Boolean(opts.verify) }),
  });
  const port = await new Promise((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  raiseServerWindows(server);
  return { info: { address: `127.0.0.1:${port}` }, close: () => new Promise((r) => server.tryShutdown(() => r())) };
}

const KINDS = { broker, tcp, 'grpc-raw': grpcRaw };

async function main() {
  const kind = process.argv[2];
  if (!KINDS[kind]) throw new Error(`unknown child kind ${kind}; known: ${Object.keys(KINDS).join(', ')}`);
  const running = await KINDS[kind]();
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await Promise.race([running.close(), new Promise((r) => setTimeout(r, 3000))]);
    process.exit(0);
  };
  process.on('message', (m) => {
    if (m === 'stop') void stop();
  });
  process.on('disconnect', () => void stop());
  process.send({ ready: running.info });
}

main().catch((e) => {
  process.stderr.write(`child ${process.argv[2]}: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
