import { existsSync } from 'node:fs';
import { cpus } from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { UnavailableError } from '@tributary/core';
import { chunkFile, HashedChunk } from './file-chunking';

type WorkerMessage =
  | { type: 'batch'; chunks: { id: string; offset: number; bytes: Uint8Array }[] }
  | { type: 'done'; size: number }
  | { type: 'error'; message: string; code?: string };

interface Job {
  path: string;
  onBatch: (batch: HashedChunk[]) => Promise<void>;
  resolve: (size: number) => void;
  reject: (e: Error) => void;
}

/**
 * Chunks and hashes files on worker threads, so hashing (CPU) overlaps with pack writes (I/O) on the main thread.
 * `hash` streams a file's chunks, in order, to `onBatch`; the next batch is produced only after `onBatch` resolves.
 * Without a compiled worker script (unit tests run TypeScript sources), files are hashed inline instead.
 */
export class FileHasherPool {
  private readonly idle: Worker[] = [];
  private readonly queue: Job[] = [];
  private readonly workers: Worker[] = [];
  private readonly inline: boolean;

  constructor(size = Math.max(1, Math.min(cpus().length, 4))) {
    const script = path.join(__dirname, 'file-hash.worker.js');
    this.inline = !existsSync(script) || size === 0;
    if (this.inline) return;
    for (let i = 0; i < size; i++) {
      const w = new Worker(script);
      w.unref();
      this.workers.push(w);
      this.idle.push(w);
    }
  }

  hash(absPath: string, onBatch: (batch: HashedChunk[]) => Promise<void>): Promise<number> {
    if (this.inline) return chunkFile(absPath, onBatch);
    return new Promise((resolve, reject) => {
      this.queue.push({ path: absPath, onBatch, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.idle.length && this.queue.length) this.run(this.idle.pop()!, this.queue.shift()!);
  }

  private run(w: Worker, job: Job): void {
    let failed = false;
    const finish = () => {
      w.off('message', onMessage);
      w.off('error', onError);
      this.idle.push(w);
      this.pump();
    };
    const onMessage = (m: WorkerMessage) => {
      if (m.type === 'batch') {
        if (failed) {
          w.postMessage({ type: 'ack' });
          return;
        }
        const batch = m.chunks.map((c) => ({ id: c.id as HashedChunk['id'], offset: c.offset, bytes: Buffer.from(c.bytes.buffer, c.bytes.byteOffset, c.bytes.byteLength) }));
        job.onBatch(batch).then(
          () => w.postMessage({ type: 'ack' }),
          (e) => {
            failed = true;
            job.reject(e);
            w.postMessage({ type: 'ack' });
          },
        );
      } else if (m.type === 'done') {
        finish();
        if (!failed) job.resolve(m.size);
      } else {
        finish();
        if (!failed) job.reject(Object.assign(new Error(m.message), { code: m.code }));
      }
    };
    const onError = (e: Error) => {
      finish();
      job.reject(new UnavailableError(`hashing worker failed: ${e.message}`));
    };
    w.on('message', onMessage);
    w.on('error', onError);
    w.postMessage({ type: 'hash', path: job.path });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
