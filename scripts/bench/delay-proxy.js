'use strict';
/**
 * An in-process TCP proxy that holds every byte for `delayMs` in each direction before passing it on: a long link
 * (RTT = 2 x delayMs plus loopback) on one machine, for the sync bench's long-link figure.
 *
 * Each accepted connection opens one to `target`; data read on either side is queued with its arrival time and
 * written to the other side once `delayMs` has passed, in order. The proxy terminates TCP on each side, so what
 * limits a stream through it is the application's own window (HTTP/2's flow control), as on a real long link;
 * what it holds (queued plus not yet taken by the destination socket) is bounded by `maxInFlight` bytes per
 * direction (the source is paused past it, resumed below half), so memory stays bounded whatever the peers do. Half-close and errors propagate.
 *
 *   const proxy = await startDelayProxy({ target: { host: '127.0.0.1', port: 7070 }, delayMs: 25 });
 *   // connect to 127.0.0.1:proxy.port ... then: await proxy.close();
 */
const net = require('node:net');

const DEFAULT_MAX_IN_FLIGHT = 256 * 1024 * 1024;

/** One direction of one connection: a FIFO of (due time, bytes), drained by a single timer. */
class DelayedPipe {
  constructor(from, to, delayMs, maxInFlight, stats) {
    this.from = from;
    this.to = to;
    this.delayMs = delayMs;
    this.maxInFlight = maxInFlight;
    this.stats = stats;
    this.queue = [];
    this.head = 0;
    this.queued = 0;
    this.timer = undefined;
    this.ended = false;
    this.paused = false;
    from.on('data', (buf) => this.push(buf));
    from.on('end', () => {
      this.ended = true;
      this.schedule();
    });
    to.on('drain', () => this.maybeResume());
  }

  push(buf) {
    this.queue.push({ due: performance.now() + this.delayMs, buf });
    this.queued += buf.length;
    this.stats.bytes += buf.length;
    if (!this.paused && this.queued + this.to.writableLength >= this.maxInFlight) {
      this.paused = true;
      this.from.pause();
    }
    this.schedule();
  }

  schedule() {
    if (this.timer) return;
    if (this.head >= this.queue.length) {
      if (this.ended && !this.to.destroyed) this.to.end();
      return;
    }
    const wait = Math.max(0, this.queue[this.head].due - performance.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flushDue();
    }, wait);
  }

  flushDue() {
    const now = performance.now();
    while (this.head < this.queue.length && this.queue[this.head].due <= now + 0.5) {
      const { buf } = this.queue[this.head];
      this.queue[this.head++] = undefined;
      this.queued -= buf.length;
      if (!this.to.destroyed) this.to.write(buf);
    }
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    this.maybeResume();
    this.schedule();
  }

  maybeResume() {
    if (this.paused && this.queued + this.to.writableLength < this.maxInFlight / 2) {
      this.paused = false;
      this.from.resume();
    }
  }

  destroy() {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.queue = [];
    this.head = 0;
  }
}

/**
 * Starts the proxy on `listen` (default 127.0.0.1, a free port). Resolves { host, port, address, stats, close() };
 * `stats.bytes` counts the bytes carried in both directions, `stats.connections` the connections accepted.
 */
function startDelayProxy({ target, delayMs, host = '127.0.0.1', port = 0, maxInFlight = DEFAULT_MAX_IN_FLIGHT }) {
  const stats = { bytes: 0, connections: 0 };
  const open = new Set();
  const server = net.createServer({ noDelay: true }, (client) => {
    stats.connections++;
    const upstream = net.connect({ host: target.host, port: target.port, noDelay: true });
    const pipes = [new DelayedPipe(client, upstream, delayMs, maxInFlight, stats), new DelayedPipe(upstream, client, delayMs, maxInFlight, stats)];
    const pair = { client, upstream, pipes };
    open.add(pair);
    const teardown = () => {
      if (!open.delete(pair)) return;
      for (const p of pipes) p.destroy();
      client.destroy();
      upstream.destroy();
    };
    // A peer that resets ends the whole connection; a clean close on both sides too.
    client.on('error', teardown);
    upstream.on('error', teardown);
    let closed = 0;
    const onClose = () => {
      if (++closed === 2) teardown();
    };
    client.on('close', onClose);
    upstream.on('close', onClose);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const real = server.address().port;
      resolve({
        host,
        port: real,
        address: `${host}:${real}`,
        stats,
        close() {
          for (const pair of [...open]) {
            for (const p of pair.pipes) p.destroy();
            pair.client.destroy();
            pair.upstream.destroy();
          }
          open.clear();
          return new Promise((r) => server.close(() => r()));
        },
      });
    });
  });
}

module.exports = { startDelayProxy };
