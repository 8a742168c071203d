import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { ObjectStore } from '../object-store.port';

/** Throughput of one transfer direction pair, in MB/s (10^6 bytes per second). */
export interface TransferRates {
  readonly uploadMBps: number;
  readonly downloadMBps: number;
}

/**
 * A plain SDK upload and download of `bytes`, beside the adapter's putIfAbsent and getStream of the same bytes,
 * measured in the same process against the same endpoint. Each figure is the best of `rounds`.
 */
export interface ThroughputComparison {
  readonly backend: string;
  readonly bytes: number;
  readonly rounds: number;
  readonly sdk: TransferRates;
  readonly adapter: TransferRates;
  /** adapter / sdk for each direction: the target is at least 0.8 for large packs. */
  readonly ratio: TransferRates;
}

const BLOCK = 1024 * 1024;

/** `bytes` of incompressible data as a stream, from one random MiB repeated: costs no CPU to produce. */
export function benchSource(bytes: number): Readable {
  const block = randomBytes(BLOCK);
  return Readable.from(
    (function* () {
      for (let sent = 0; sent < bytes; sent += BLOCK) yield block.subarray(0, Math.min(BLOCK, bytes - sent));
    })(),
    { objectMode: false },
  );
}

/** Reads a stream to its end, counting bytes; returns the count. */
export async function drain(stream: AsyncIterable<Uint8Array>): Promise<number> {
  let n = 0;
  for await (const chunk of stream) n += chunk.length;
  return n;
}

export function checkLength(expected: number, actual: number): void {
  if (actual !== expected) throw new Error(`read ${actual} bytes, expected ${expected}`);
}

/** Runs `fn` and returns the rate for `bytes` in MB/s. */
export async function timed(bytes: number, fn: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return bytes / 1e6 / seconds;
}

/** The adapter's side of a round: putIfAbsent then getStream of `bytes` under a fresh key, deleted afterwards. */
export function adapterRound(store: ObjectStore, bytes: number): (round: number) => Promise<TransferRates> {
  return async (round) => {
    const key = `adapter-${round}`;
    const uploadMBps = await timed(bytes, () => store.putIfAbsent(key, benchSource(bytes)));
    const downloadMBps = await timed(bytes, async () => checkLength(bytes, await drain(await store.getStream(key))));
    await store.delete(key);
    return { uploadMBps, downloadMBps };
  };
}

/** Best-of-`rounds` rates for the SDK and the adapter, alternating them so drift hits both alike. */
export async function compareRounds(
  backend: string,
  bytes: number,
  rounds: number,
  sdkRound: (round: number) => Promise<TransferRates>,
  adapterRound: (round: number) => Promise<TransferRates>,
): Promise<ThroughputComparison> {
  const best = { sdk: { uploadMBps: 0, downloadMBps: 0 }, adapter: { uploadMBps: 0, downloadMBps: 0 } };
  const keep = (into: { uploadMBps: number; downloadMBps: number }, r: TransferRates) => {
    into.uploadMBps = Math.max(into.uploadMBps, r.uploadMBps);
    into.downloadMBps = Math.max(into.downloadMBps, r.downloadMBps);
  };
  for (let round = 0; round < rounds; round++) {
    if (round % 2 === 0) {
      keep(best.sdk, await sdkRound(round));
      keep(best.adapter, await adapterRound(round));
    } else {
      keep(best.adapter, await adapterRound(round));
      keep(best.sdk, await sdkRound(round));
    }
  }
  const ratio = {
    uploadMBps: best.adapter.uploadMBps / best.sdk.uploadMBps,
    downloadMBps: best.adapter.downloadMBps / best.sdk.downloadMBps,
  };
  return { backend, bytes, rounds, ...best, ratio };
}
