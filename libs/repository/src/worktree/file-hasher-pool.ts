import { existsSync } from 'node:fs';
import { cpus } from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { ObjectId, UnavailableError } from '@tributary/core';
import { chunkFile, HashedChunk } from './file-chunking';

type WorkerMessage =
  | { type: 'batch'; job: number; buffer: ArrayBuffer; chunks: { id: string; offset: number; start: number; length: number }[] }
  | { type: 'done'; job: number; size: number }
  | { type: 'error'; job: number; message: string; code?: string };

interface Job {
  path: string;
  onBatch: (batch: HashedChunk[]) => Promise<void>;
  resolve: (size: number) => void;
  reject: (e: Error) => void;
}

/**
 * Batches a worker may hash ahead of the main thread. Two keep the worker busy while the main thread stores the
 * previous batch, and bound memory to a few batches per worker however large the file.
 */
const CREDITS = 2;

/**
 * Chunks and hashes files on worker threads, so hashing (CPU) overlaps with pack writes (I/O) on the main thread.
 * `hash` streams a file's chunks, in order, to `onBatch`, one call at a time; a worker runs at most a couple of
 * batches ahead of the `onBatch` calls that have resolved. Without a compiled worker script (unit tests run
 * TypeScript sources), files are hashed inline instead.
 */
export class FileHasherPool {
  private readonly idle: Worker[] = [];
  private readonly queue: Job[] = [];
  private readonly workers: Worker[] = [];
  private readonly inline: boolean;
  private readonly script: string;
  private spawned = 0;
  private jobs = 0;

  /** Workers start on first use, one per queued file up to `size`: a commit of small files starts none. */
  constructor(private readonly size = Math.max(1, Math.min(cpus().length, 4))) {
    this.script = path.join(__dirname, 'file-hash.worker.js');
    this.inline = !existsSync(this.script) || size === 0;
  }

  hash(absPath: string, onBatch: (batch: HashedChunk[]) => Promise<void>): Promise<number> {
    if (this.inline) return chunkFile(absPath, onBatch);
    return new Promise((resolve, reject) => {
      this.queue.push({ path: absPath, onBatch, resolve, reject });
      if (this.idle.length === 0 && this.spawned < this.size) this.spawn();
      this.pump();
    });
  }

  private spawn(): void {
    this.spawned++;
    const w = new Worker(this.script);
    w.unref();
    this.workers.push(w);
    this.idle.push(w);
  }

  private pump(): void {
    while (this.idle.length && this.queue.length) this.run(this.idle.pop()!, this.queue.shift()!);
    // Every worker died: finish what is queued on this thread rather than waiting forever.
    if (this.workers.length === 0 && this.spawned > 0) for (const job of this.queue.splice(0)) chunkFile(job.path, job.onBatch).then(job.resolve, job.reject);
  }

  private run(w: Worker, job: Job): void {
    const id = ++this.jobs;
    let failure: Error | undefined;
    // onBatch calls run one after another, in the order the batches arrive.
    let chain: Promise<void> = Promise.resolve();
    const release = () => {
      w.off('message', onMessage);
      w.off('error', onError);
      this.idle.push(w);
      this.pump();
    };
    const onMessage = (m: WorkerMessage) => {
      if (m.job !== id) return;
      if (m.type === 'batch') {
        const all = Buffer.from(m.buffer);
        const batch: HashedChunk[] = m.chunks.map((c) => ({ id: c.id as ObjectId, offset: c.offset, bytes: all.subarray(c.start, c.start + c.length) }));
        chain = chain.then(async () => {
          if (!failure) {
            try {
              await job.onBatch(batch);
            } catch (e) {
              failure = e as Error;
            }
          }
          // Nothing refers to the batch's bytes once onBatch has resolved (stores copy them): hand the buffer back.
          w.postMessage({ type: 'ack', job: id, buffer: m.buffer }, [m.buffer]);
        });
      } else if (m.type === 'done') {
        // The worker may take the next file now; this one is done once its last batch is stored.
        release();
        void chain.then(() => (failure ? job.reject(failure) : job.resolve(m.size)));
      } else {
        release();
        void chain.then(() => job.reject(failure ?? Object.assign(new Error(m.message), { code: m.code })));
      }
    };
    const onError = (e: Error) => {
      w.off('message', onMessage);
      w.off('error', onError);
      this.workers.splice(this.workers.indexOf(w), 1);
      this.pump();
      void chain.then(() => job.reject(new UnavailableError(`hashing worker failed: ${e.message}`)));
    };
    w.on('message', onMessage);
    w.on('error', onError);
    w.postMessage({ type: 'hash', job: id, path: job.path, credits: CREDITS });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
