import { randomBytes } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Storage } from '@google-cloud/storage';
import { adapterRound, ThroughputComparison, benchSource, checkLength, compareRounds, drain, timed } from '../cloud/throughput-source';
import { GcsStore, GcsStoreOptions } from '../gcs.store';

export interface GcsThroughputOptions {
  /** Bucket to use, created if missing (default `tributary-bench`). */
  readonly bucket?: string;
  /** Bytes per transfer (default 256 MiB). */
  readonly bytes?: number;
  /** Rounds; the best of each is kept (default 2). */
  readonly rounds?: number;
  /** Options for the adapter under test. */
  readonly store?: GcsStoreOptions;
}

/**
 * Plain `@google-cloud/storage` with its defaults (createWriteStream: one resumable request, CRC32C checked;
 * createReadStream: CRC32C checked) against GcsStore.putIfAbsent + getStream of the same bytes, on the endpoint of
 * STORAGE_EMULATOR_HOST or real GCS. For the bench; deletes what it wrote.
 */
export async function measureGcsThroughput(options: GcsThroughputOptions = {}): Promise<ThroughputComparison> {
  const bytes = options.bytes ?? 256 * 1024 * 1024;
  const rounds = options.rounds ?? 2;
  const bucketName = options.bucket ?? 'tributary-bench';
  const storage = new Storage({
    projectId: process.env.GOOGLE_CLOUD_PROJECT || (process.env.STORAGE_EMULATOR_HOST ? 'tributary-local' : undefined),
  });
  const bucket = storage.bucket(bucketName);
  const [exists] = await bucket.exists();
  if (!exists) await storage.createBucket(bucketName).catch((e: { code?: number }) => {
    if (e.code !== 409) throw e;
  });
  const run = randomBytes(4).toString('hex');
  const store = await GcsStore.open(`gs://${bucketName}/bench-${run}`, options.store);
  return compareRounds(
    'gcs',
    bytes,
    rounds,
    async (round) => {
      const file = bucket.file(`sdk-${run}-${round}`);
      const uploadMBps = await timed(bytes, () => pipeline(benchSource(bytes), file.createWriteStream()));
      const downloadMBps = await timed(bytes, async () => checkLength(bytes, await drain(file.createReadStream())));
      await file.delete();
      return { uploadMBps, downloadMBps };
    },
    adapterRound(store, bytes),
  );
}
