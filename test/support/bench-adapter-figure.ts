import { openStore } from '../../libs/storage/src/store-url';
import { listKeys } from '../../libs/storage/src/testing/store-contract';

// The bench's helpers are plain JavaScript (scripts/bench); they load the compiled libraries.
const { measureAdapterThroughput } = require('../../scripts/bench/adapter-throughput') as {
  measureAdapterThroughput(o: { sdk: unknown; storeUrl: string; bytes: number; rounds: number }): Promise<Record<'sdkUp' | 'sdkDown' | 'up' | 'down', number>>;
};
const { openPlainSdk } = require('../../scripts/bench/plain-sdk') as {
  openPlainSdk(name: string, env: NodeJS.ProcessEnv, bucket: string): unknown;
};

/**
 * Runs the cloud bench's adapter figure (scripts/bench/adapter-throughput.js) small, on the emulator whose
 * environment is set: the four rates it measured, and every key left in `bucket` afterwards.
 */
export async function runAdapterFigure(scheme: 's3' | 'gs' | 'az', bucket: string): Promise<{ rates: number[]; left: string[] }> {
  const sdk = openPlainSdk(scheme, process.env, bucket);
  const r = await measureAdapterThroughput({ sdk, storeUrl: `${scheme}://${bucket}/adapter`, bytes: 3 * 1024 * 1024, rounds: 1 });
  const store = await openStore(`${scheme}://${bucket}`);
  try {
    return { rates: [r.sdkUp, r.sdkDown, r.up, r.down], left: await listKeys(store, '') };
  } finally {
    await store.close();
  }
}
