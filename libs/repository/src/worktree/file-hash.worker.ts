import { parentPort } from 'node:worker_threads';
import { chunkFile, DEFAULT_BATCH_BYTES } from './file-chunking';

// Worker side of FileHasherPool: one file at a time. A batch is transferred, not copied; the worker runs ahead of
// the main thread by at most `credits` un-acknowledged batches, so hashing goes on while the main thread writes,
// and memory stays bounded. Acks carry the job number, so a late ack for a finished file is ignored, and hand the
// batch's buffer back: a few buffers serve a whole commit, instead of a fresh 4 MiB per batch for the collector.
let job = 0;
let credits = 0;
let wake: (() => void) | undefined;
const spare: ArrayBuffer[] = [];
const MAX_SPARE = 4;

type Request = { type: 'hash'; job: number; path: string; credits: number } | { type: 'ack'; job: number; buffer?: ArrayBuffer };

function allocate(minBytes: number): Buffer {
  while (spare.length) {
    const b = spare.pop()!;
    if (b.byteLength >= minBytes) return Buffer.from(b);
  }
  return Buffer.allocUnsafeSlow(Math.max(minBytes, DEFAULT_BATCH_BYTES));
}

parentPort!.on('message', async (msg: Request) => {
  if (msg.type === 'ack') {
    if (msg.buffer && msg.buffer.byteLength >= DEFAULT_BATCH_BYTES && spare.length < MAX_SPARE) spare.push(msg.buffer);
    if (msg.job !== job) return;
    credits++;
    const w = wake;
    wake = undefined;
    w?.();
    return;
  }
  job = msg.job;
  credits = msg.credits;
  const mine = msg.job;
  try {
    const size = await chunkFile(
      msg.path,
      async (batch) => {
        while (credits <= 0) await new Promise<void>((r) => (wake = r));
        credits--;
        const buffer = batch[0].bytes.buffer as ArrayBuffer;
        const chunks = batch.map((c) => ({ id: c.id, offset: c.offset, start: c.bytes.byteOffset, length: c.bytes.byteLength }));
        parentPort!.postMessage({ type: 'batch', job: mine, buffer, chunks }, [buffer]);
      },
      { allocate },
    );
    parentPort!.postMessage({ type: 'done', job: mine, size });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    parentPort!.postMessage({ type: 'error', job: mine, message: err.message, code: err.code });
  }
});
