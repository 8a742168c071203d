'use strict';
/**
 * The fan-out figure's outside reference: nats-server JetStream (file storage) delivering the same bytes to 10
 * consumers. The npm client `nats` is not installed here, so this speaks the NATS text protocol over raw sockets:
 * CONNECT, PUB with a reply subject (JetStream answers each stored message with an ack), SUB, MSG/HMSG, and
 * JetStream's JSON API subjects ($JS.API.STREAM.CREATE, $JS.API.CONSUMER.CREATE). Consumers are push consumers with
 * flow control (answered here), so a consumer that falls behind slows its own delivery rather than being cut off.
 */
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { freePort, have, stopProcess, waitForPort } = require('./common');

const CRLF = Buffer.from('\r\n');

/** One connection speaking the NATS text protocol. */
class NatsConnection {
  constructor(port) {
    this.port = port;
    this.subs = new Map();
    this.nextSid = 1;
    this.pending = Buffer.alloc(0);
    this.pongs = [];
    this.error = undefined;
  }

  async connect() {
    this.sock = net.connect({ host: '127.0.0.1', port: this.port, noDelay: true });
    this.sock.on('data', (b) => this.onData(b));
    this.sock.on('error', (e) => this.fail(e));
    await new Promise((resolve, reject) => {
      this.sock.once('connect', resolve);
      this.sock.once('error', reject);
    });
    this.sock.write(`CONNECT ${JSON.stringify({ verbose: false, pedantic: false, headers: true, no_responders: true, protocol: 1, lang: 'bench', version: '0' })}\r\n`);
    await this.ping();
    return this;
  }

  fail(e) {
    this.error ??= e;
    for (const p of this.pongs.splice(0)) p.reject(e);
    for (const s of this.subs.values()) s.onError?.(e);
  }

  /** Round trip to the server: everything written before it has been processed. */
  ping() {
    return new Promise((resolve, reject) => {
      if (this.error) return reject(this.error);
      this.pongs.push({ resolve, reject });
      this.sock.write('PING\r\n');
    });
  }

  /** Subscribes `subject`; `onMsg(payload, reply, headers)` for each message. Returns the sid. */
  subscribe(subject, onMsg, onError) {
    const sid = this.nextSid++;
    this.subs.set(sid, { onMsg, onError });
    this.sock.write(`SUB ${subject} ${sid}\r\n`);
    return sid;
  }

  /** Returns false when the socket's buffer is full (wait for `drained()`). */
  publish(subject, reply, payload) {
    const head = `PUB ${subject}${reply ? ` ${reply}` : ''} ${payload.length}\r\n`;
    this.sock.write(head);
    this.sock.write(payload);
    return this.sock.write(CRLF);
  }

  drained() {
    return this.sock.writableNeedDrain ? new Promise((r) => this.sock.once('drain', r)) : Promise.resolve();
  }

  /** A request/reply through a one-off inbox; resolves with the reply parsed as JSON. */
  async request(subject, body) {
    const inbox = `_INBOX.bench.${Math.random().toString(36).slice(2)}`;
    const reply = new Promise((resolve, reject) => {
      const sid = this.subscribe(inbox, (payload) => {
        this.sock.write(`UNSUB ${sid}\r\n`);
        this.subs.delete(sid);
        resolve(JSON.parse(payload.toString('utf8') || '{}'));
      }, reject);
    });
    this.publish(subject, inbox, Buffer.from(JSON.stringify(body)));
    const r = await reply;
    if (r.error) throw new Error(`${subject}: ${r.error.description || JSON.stringify(r.error)}`);
    return r;
  }

  close() {
    this.sock.destroy();
  }

  onData(chunk) {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    let buf = this.pending;
    let off = 0;
    for (;;) {
      const eol = buf.indexOf(CRLF, off);
      if (eol < 0) break;
      const line = buf.toString('latin1', off, eol);
      if (line.startsWith('MSG ') || line.startsWith('HMSG ')) {
        const parts = line.split(' ');
        const isH = parts[0] === 'HMSG';
        const total = Number(parts[parts.length - 1]);
        const hdrLen = isH ? Number(parts[parts.length - 2]) : 0;
        const reply = parts.length === (isH ? 6 : 5) ? parts[3] : undefined;
        const start = eol + 2;
        if (buf.length < start + total + 2) break;
        const sid = Number(parts[2]);
        const headers = isH ? buf.toString('latin1', start, start + hdrLen) : undefined;
        const payload = buf.subarray(start + hdrLen, start + total);
        off = start + total + 2;
        const sub = this.subs.get(sid);
        if (sub) sub.onMsg(payload, reply, headers);
        continue;
      }
      off = eol + 2;
      if (line === 'PING') this.sock.write('PONG\r\n');
      else if (line === 'PONG') this.pongs.shift()?.resolve();
      else if (line.startsWith('-ERR')) this.fail(new Error(`nats: ${line}`));
      // INFO and +OK need nothing.
    }
    this.pending = off >= buf.length ? Buffer.alloc(0) : buf.subarray(off);
  }
}

/** Starts a JetStream-enabled nats-server on a free port with its store under `dir`. */
async function startNatsServer(dir) {
  const port = await freePort();
  fs.mkdirSync(dir, { recursive: true });
  const proc = spawn('nats-server', ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', dir], { stdio: 'ignore' });
  await waitForPort(port);
  return { port, pid: proc.pid, stop: () => stopProcess(proc) };
}

/**
 * Publishes `bytes` as `msgBytes` messages into a file-backed stream (every message acked by JetStream), then
 * delivers the whole stream to `consumers` push consumers at once, each on its own connection. Resolves
 * { publishMs, deliverMs, delivered } or { unavailable: reason }.
 */
async function natsFanOut({ dir, bytes, consumers, msgBytes = 64 * 1024 }) {
  if (!have('nats-server')) return { unavailable: 'nats-server not installed' };
  const server = await startNatsServer(path.join(dir, 'nats-store'));
  const conns = [];
  try {
    const pub = await new NatsConnection(server.port).connect();
    conns.push(pub);
    await pub.request('$JS.API.STREAM.CREATE.BENCH', {
      name: 'BENCH',
      subjects: ['bench.fan'],
      storage: 'file',
      retention: 'limits',
      max_msg_size: 4 * msgBytes,
      num_replicas: 1,
    });
    const count = Math.ceil(bytes / msgBytes);
    const payload = Buffer.alloc(msgBytes, 0x61);
    const window = 256;
    let acked = 0;
    let sent = 0;
    let wake;
    pub.subscribe('_INBOX.bench-acks.*', (p) => {
      if (p.includes('"error"')) pub.fail(new Error(`publish refused: ${p.toString('utf8')}`));
      acked++;
      wake?.();
    });
    const t0 = performance.now();
    while (acked < count) {
      if (pub.error) throw pub.error;
      while (sent < count && sent - acked < window) {
        const last = sent === count - 1 ? bytes - msgBytes * (count - 1) : msgBytes;
        if (!pub.publish('bench.fan', `_INBOX.bench-acks.${sent}`, last === msgBytes ? payload : payload.subarray(0, last))) await pub.drained();
        sent++;
      }
      await new Promise((r) => (wake = r));
    }
    const publishMs = performance.now() - t0;

    for (let i = 0; i < consumers; i++) conns.push(await new NatsConnection(server.port).connect());
    const t1 = performance.now();
    const done = conns.slice(1).map(
      (c, i) =>
        new Promise((resolve, reject) => {
          let got = 0;
          let msgs = 0;
          c.subscribe(
            `bench.deliver.${i}`,
            (p, reply, headers) => {
              if (headers) {
                // Flow control requests want an empty reply; idle heartbeats want nothing.
                if (reply && headers.includes('FlowControl')) c.publish(reply, undefined, Buffer.alloc(0));
                return;
              }
              got += p.length;
              if (++msgs === count) resolve(got);
            },
            reject,
          );
          c.ping()
            .then(() =>
              c.request('$JS.API.CONSUMER.CREATE.BENCH', {
                stream_name: 'BENCH',
                config: { deliver_subject: `bench.deliver.${i}`, deliver_policy: 'all', ack_policy: 'none', flow_control: true, idle_heartbeat: 1e9 },
              }),
            )
            .catch(reject);
        }),
    );
    const delivered = (await Promise.all(done)).reduce((a, b) => a + b, 0);
    return { publishMs, deliverMs: performance.now() - t1, delivered };
  } finally {
    for (const c of conns) c.close();
    await server.stop();
  }
}

module.exports = { natsFanOut, NatsConnection, startNatsServer };
