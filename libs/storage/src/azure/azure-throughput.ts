import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { BlobServiceClient } from '@azure/storage-blob';
import { AzureBlobStore, AzureBlobStoreOptions } from '../azure.store';
import { adapterRound, ThroughputComparison, benchSource, checkLength, compareRounds, drain, timed } from '../cloud/throughput-source';

export interface AzureThroughputOptions {
  /** Container to use, created if missing (default `tributary-bench`). */
  readonly container?: string;
  /** Bytes per transfer (default 256 MiB). */
  readonly bytes?: number;
  /** Rounds; the best of each is kept (default 2). */
  readonly rounds?: number;
  /** Options for the adapter under test. */
  readonly store?: AzureBlobStoreOptions;
}

/**
 * Plain `@azure/storage-blob` (uploadStream with its default 8 MiB blocks x 5, then one download stream) against
 * AzureBlobStore.putIfAbsent + getStream of the same bytes, on the account of AZURE_STORAGE_CONNECTION_STRING.
 * For the bench; deletes what it wrote.
 */
export async function measureAzureThroughput(options: AzureThroughputOptions = {}): Promise<ThroughputComparison> {
  const bytes = options.bytes ?? 256 * 1024 * 1024;
  const rounds = options.rounds ?? 2;
  const containerName = options.container ?? 'tributary-bench';
  const connectionString = process.env.AZURE_STORAGE_CONNECTION_STRING;
  if (!connectionString) throw new Error('measureAzureThroughput needs AZURE_STORAGE_CONNECTION_STRING');
  const container = BlobServiceClient.fromConnectionString(connectionString).getContainerClient(containerName);
  await container.createIfNotExists();
  const run = randomBytes(4).toString('hex');
  const store = await AzureBlobStore.open(`az://${containerName}/bench-${run}`, options.store);
  try {
    return await compareRounds(
      'azure',
      bytes,
      rounds,
      async (round) => {
        const blob = container.getBlockBlobClient(`sdk-${run}-${round}`);
        const uploadMBps = await timed(bytes, () => blob.uploadStream(benchSource(bytes)));
        const downloadMBps = await timed(bytes, async () => {
          const res = await blob.download();
          checkLength(bytes, await drain(res.readableStreamBody as Readable));
        });
        await blob.delete();
        return { uploadMBps, downloadMBps };
      },
      adapterRound(store, bytes),
    );
  } finally {
    await store.close();
  }
}
