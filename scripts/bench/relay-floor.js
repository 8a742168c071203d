#!/usr/bin/env node
'use strict';
/**
 * The relay floor of the cloud bench: the least a publish or a subscribe through a broker can cost on this stack,
 * measured in the same run as trib's figures. It is the plain SDK transfer with one grpc-js hop in front of it and
 * one SHA-256 pass over the bytes (trib's receivers verify every object), and nothing else: raw Buffers as messages
 * (no protobuf), each hashed on the thread pool, no chunking, no packs, no negotiation, no topic log.
 *
 *   up    a client process streams the files, 1 MiB messages, to the relay process, which hashes them and uploads
 *         each with the plain SDK as it arrives (what a publish to a broker on that store must do at least)
 *   down  the relay downloads each with the plain SDK and streams it in 1 MiB messages to a client process, which
 *         hashes it and writes it to disk, fsynced (what a subscribe from a broker on that store must do at least)
 *
 * Both ends use the broker's transport settings (libs/sync: HTTP/2 windows, message limits). Each figure is the
 * wall time of the client process, start-up included, as trib's figures are.
 *
 *   node relay-floor.js serve BACKEND BUCKET          the relay: prints `relay listening on HOST:PORT`; SDK env as
 *                                                     the emulator gives it (libs/emulators)
 *   node relay-floor.js up ADDRESS PREFIX FILE...     uploads each FILE as PREFIX + its base name
 *   node relay-floor.js down ADDRESS PREFIX DIR NAME...  downloads PREFIX + NAME into DIR/NAME
 *
 * startRelay(backend, bucket, env) runs the relay for the bench; relayUp / relayDown run one client to completion.
 */
const { spawn } = require('node:child_process');
const { webcrypto: crypto } = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { PassThrough } = require('node:stream');

const ROOT = path.resolve(__dirname, '../..');
const MESSAGE_BYTES = 1 << 20;
/** Messages hashed at once off the main thread, as trib's receivers keep a few batches in flight. */
const HASHES_IN_FLIGHT = 8;

/**
 * SHA-256 of each message on the thread pool (WebCrypto), so hashing overlaps with receiving as in trib's
 * receivers, which hash on a worker thread. `add` waits only while HASHES_IN_FLIGHT are running.
 */
class PooledHashes {
  constructor() {
    this.running = [];
    this.count = 0;
  }

  async add(message) {
    if (this.running.length >= HASHES_IN_FLIGHT) await this.running.shift();
    this.running.push(crypto.subtle.digest('SHA-256', message));
    this.count++;
  }

  async done() {
    await Promise.all(this.running);
    return this.count;
  }
}

function transport() {
  const grpc = require('@grpc/grpc-js');
  const { CHANNEL_OPTIONS, SERVER_OPTIONS, raiseServerWindows } = require(path.join(ROOT, 'libs/sync/dist/wire/grpc-options.js'));
  const { rawMethod } = require('./sync/raw-grpc');
  const service = { Up: rawMethod('Relay', 'Up', true, false), Down: rawMethod('Relay', 'Down', false, true) };
  return { grpc, service, CHANNEL_OPTIONS, SERVER_OPTIONS, raiseServerWindows };
}

async function serve(backend, bucket) {
  const { openPlainSdk } = require('./plain-sdk');
  const sdk = openPlainSdk(backend, process.env, bucket);
  const { grpc, service, SERVER_OPTIONS, raiseServerWindows } = transport();
  const server = new grpc.Server(SERVER_OPTIONS);
  server.addService(service, {
    Up(call, callback) {
      const key = String(call.metadata.get('key')[0]);
      const hashes = new PooledHashes();
      const body = new PassThrough({ highWaterMark: 8 * MESSAGE_BYTES });
      const uploaded = sdk.uploadStream(body, key);
      let hashing = Promise.resolve();
      call.on('data', (message) => {
        hashing = hashing.then(() => hashes.add(message));
        if (!body.write(message)) {
          call.pause();
          body.once('drain', () => call.resume());
        }
      });
      call.on('end', () => body.end());
      call.on('error', (e) => body.destroy(e));
      Promise.all([uploaded, hashing.then(() => hashes.done())]).then(
        ([, messages]) => callback(null, Buffer.from(String(messages))),
        (e) => callback({ code: grpc.status.INTERNAL, details: String(e) }),
      );
    },
    async Down(call) {
      try {
        const source = await sdk.downloadStream(String(call.request));
        let parts = [];
        let size = 0;
        const send = async (message) => {
          if (!call.write(message)) await new Promise((r) => call.once('drain', r));
        };
        for await (const chunk of source) {
          parts.push(chunk);
          size += chunk.length;
          if (size >= MESSAGE_BYTES) {
            await send(parts.length === 1 ? parts[0] : Buffer.concat(parts, size));
            parts = [];
            size = 0;
          }
        }
        if (size > 0) await send(Buffer.concat(parts, size));
        call.end();
      } catch (e) {
        call.destroy({ code: grpc.status.INTERNAL, details: String(e) });
      }
    },
  });
  const port = await new Promise((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  raiseServerWindows(server);
  console.log(`relay listening on 127.0.0.1:${port}`);
  const stop = () => server.tryShutdown(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

function client(address) {
  const { grpc, service, CHANNEL_OPTIONS } = transport();
  const Client = grpc.makeGenericClientConstructor(service, 'Relay');
  return { grpc, relay: new Client(address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS) };
}

async function up(address, prefix, files) {
  const { grpc, relay } = client(address);
  for (const file of files) {
    const metadata = new grpc.Metadata();
    metadata.set('key', prefix + path.basename(file));
    await new Promise((resolve, reject) => {
      const call = relay.Up(metadata, (e) => (e ? reject(e) : resolve()));
      const source = fs.createReadStream(file, { highWaterMark: MESSAGE_BYTES });
      source.on('data', (message) => {
        if (!call.write(message)) {
          source.pause();
          call.once('drain', () => source.resume());
        }
      });
      source.on('end', () => call.end());
      source.on('error', reject);
    });
  }
  relay.close();
}

async function down(address, prefix, dir, names) {
  const { relay } = client(address);
  for (const name of names) {
    const hashes = new PooledHashes();
    const out = fs.openSync(path.join(dir, name), 'w');
    try {
      const call = relay.Down(Buffer.from(prefix + name));
      // Written in order as it arrives; every byte is hashed, as trib's receiver verifies every object.
      for await (const message of call) {
        await hashes.add(message);
        await new Promise((resolve, reject) => fs.write(out, message, 0, message.length, null, (e) => (e ? reject(e) : resolve())));
      }
      await hashes.done();
      fs.fsyncSync(out);
    } finally {
      fs.closeSync(out);
    }
  }
  relay.close();
}

/** Starts the relay on `backend` (s3, gs, az) with the SDK environment `env`; resolves { address, pid, stop() }. */
function startRelay(backend, bucket, env) {
  const { stopProcess } = require('./sync/common');
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [__filename, 'serve', backend, bucket], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    const onData = (d) => {
      text += d.toString('utf8');
      const m = /relay listening on (\S+)/.exec(text);
      if (m) resolve({ address: m[1], pid: proc.pid, stop: () => stopProcess(proc) });
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    proc.once('exit', (code) => reject(new Error(`relay on ${backend} exited with ${code}: ${text.trim()}`)));
  });
}

/** Runs one relay client (`up` or `down` with its arguments) to completion; rejects with its stderr on failure. */
function runRelayClient(args) {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [__filename, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    proc.stderr.on('data', (d) => (stderr += d));
    proc.once('error', reject);
    proc.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`relay-floor ${args[0]} exited ${code}: ${stderr.trim()}`))));
  });
}

if (require.main === module) {
  const [command, ...args] = process.argv.slice(2);
  const run = {
    serve: () => serve(args[0], args[1]),
    up: () => up(args[0], args[1], args.slice(2)),
    down: () => down(args[0], args[1], args[2], args.slice(3)),
  }[command];
  if (!run) {
    console.error('usage: relay-floor.js serve BACKEND BUCKET | up ADDRESS PREFIX FILE... | down ADDRESS PREFIX DIR NAME...');
    process.exit(2);
  }
  run().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}

module.exports = { startRelay, runRelayClient };
