import { parentPort } from 'node:worker_threads';
import { chunkFile } from './file-chunking';

// Worker side of FileHasherPool: one file at a time; after each batch it waits for the main thread's ack, so at most
// one batch per worker is ever in flight.
let ack: (() => void) | undefined;

parentPort!.on('message', async (msg: { type: 'hash'; path: string } | { type: 'ack' }) => {
  if (msg.type === 'ack') {
    ack?.();
    return;
  }
  try {
    const size = await chunkFile(msg.path, async (batch) => {
      const acked = new Promise<void>((r) => (ack = r));
      parentPort!.postMessage({ type: 'batch', chunks: batch });
      await acked;
    });
    parentPort!.postMessage({ type: 'done', size });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    parentPort!.postMessage({ type: 'error', message: err.message, code: err.code });
  }
});
