'use strict';
/**
 * The adapter figure of the cloud bench: one large pack through the storage adapter (putIfAbsent, then getStream
 * read to the end) beside the plain SDK of plain-sdk.js moving the same bytes, best of `rounds` each. Rounds
 * alternate which side goes first, so drift on a noisy machine hits both alike. Deletes what it wrote.
 *
 *   measureAdapterThroughput({ sdk, storeUrl, bytes, rounds }) -> { sdkUp, sdkDown, up, down } in MB/s (10^6 B/s)
 *
 * `sdk` is an openPlainSdk(...) object on the bucket that `storeUrl` (a storage URL, opened with the compiled
 * adapter and the endpoints of process.env) points into.
 */
const { randomBytes } = require('node:crypto');
const path = require('node:path');
const { Readable } = require('node:stream');

const ROOT = path.resolve(__dirname, '../..');
const BLOCK = 1 << 20;
/** Where the plain SDK's copies go in the bucket. */
const SDK_PREFIX = 'adapter-bench-sdk/';

/** `bytes` of incompressible data as a stream: one random MiB repeated, which costs no CPU to produce. */
function benchSource(bytes) {
  const block = randomBytes(BLOCK);
  return Readable.from(
    (function* () {
      for (let sent = 0; sent < bytes; sent += BLOCK) yield block.subarray(0, Math.min(BLOCK, bytes - sent));
    })(),
    { objectMode: false },
  );
}

/** Reads `stream` to its end and fails unless it held `bytes` bytes. */
async function drain(stream, bytes) {
  let n = 0;
  for await (const chunk of stream) n += chunk.length;
  if (n !== bytes) throw new Error(`read ${n} bytes, expected ${bytes}`);
}

/** The rate of moving `bytes` with `fn`, in MB/s. */
async function rate(bytes, fn) {
  const start = process.hrtime.bigint();
  await fn();
  return bytes / 1e6 / (Number(process.hrtime.bigint() - start) / 1e9);
}

async function measureAdapterThroughput({ sdk, storeUrl, bytes, rounds }) {
  const { openStore } = require(path.join(ROOT, 'libs/storage/dist'));
  const store = await openStore(storeUrl, { create: true });
  const best = { sdkUp: 0, sdkDown: 0, up: 0, down: 0 };
  const keep = (k, v) => (best[k] = Math.max(best[k], v));
  const sdkRound = async (round) => {
    const key = `${SDK_PREFIX}${round}`;
    keep('sdkUp', await rate(bytes, () => sdk.uploadStream(benchSource(bytes), key)));
    keep('sdkDown', await rate(bytes, async () => drain(await sdk.downloadStream(key), bytes)));
  };
  const adapterRound = async (round) => {
    const key = `adapter-${round}`;
    keep('up', await rate(bytes, () => store.putIfAbsent(key, benchSource(bytes))));
    keep('down', await rate(bytes, async () => drain(await store.getStream(key), bytes)));
    await store.delete(key);
  };
  try {
    for (let round = 0; round < rounds; round++) {
      const sides = round % 2 === 0 ? [sdkRound, adapterRound] : [adapterRound, sdkRound];
      for (const side of sides) await side(round);
    }
    await sdk.remove(SDK_PREFIX);
  } finally {
    await store.close();
  }
  return best;
}

module.exports = { measureAdapterThroughput };
