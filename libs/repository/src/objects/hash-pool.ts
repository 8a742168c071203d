import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cpus } from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { ObjectId, sha256, UnavailableError } from '@tributary/core';

/** `[offset, length]` of one object's bytes within a buffer. */
export type ByteSpan = readonly [offset: number, length: number];

export interface HashedSpans {
  /** The buffer that was hashed, usable again (the one passed in was moved to a worker and is now detached). */
  readonly buffer: ArrayBuffer;
  /** SHA-256 of each span, in order. */
  readonly ids: ObjectId[];
}

interface Pending {
  readonly resolve: (r: HashedSpans) => void;
  readonly reject: (e: Error) => void;
}

/**
 * SHA-256 on worker threads, for readers that verify every object they are sent or read: the hashing of one batch
 * overlaps with receiving the next, on another core. A buffer is moved to a worker, not copied, and comes back with
 * the ids; while a job runs, every view of that buffer reads as empty. Without a compiled worker script (specs run
 * TypeScript sources) or with `size` 0 it hashes on the calling thread and moves nothing.
 */
export class HashPool {
  /** Each worker with the jobs it has not answered yet, by job number. */
  private readonly workers = new Map<Worker, Map<number, Pending>>();
  private readonly script: string;
  private readonly inline: boolean;
  private jobs = 0;

  /** Workers start on first use, up to `size`; an idle worker does not keep the process alive. */
  constructor(
    private readonly size = Math.max(1, Math.min(cpus().length - 1, 4)),
    script = path.join(__dirname, 'hash.worker.js'),
  ) {
    this.script = script;
    this.inline = size === 0 || !existsSync(script);
  }

  /** True when `digest` moves buffers to worker threads (false: it hashes in place). */
  get movesBuffers(): boolean {
    return !this.inline;
  }

  /**
   * True when a job given now would start within `queued` jobs: a worker has fewer than that waiting, or the pool
   * has room for another worker. Always false for a pool that hashes in place.
   */
  hasRoom(queued = 2): boolean {
    if (this.inline) return false;
    if (this.workers.size < this.size) return true;
    for (const jobs of this.workers.values()) if (jobs.size < queued) return true;
    return false;
  }

  /** Workers started and not failed. */
  get running(): number {
    return this.workers.size;
  }

  /**
   * Starts the first worker now, if there is none, so that it is up by the first `digest`: a worker takes some
   * 20 ms to start on an idle machine and 70 ms on a busy one, which the first batch of a transfer would otherwise
   * wait for. For whoever is about to receive over gRPC (a subscribe, a broker) to call while it connects.
   */
  warm(): void {
    if (!this.inline && this.workers.size === 0) this.spawn();
  }

  /**
   * Hashes `spans` of `buffer`. With workers, `buffer` is detached until the promise settles and the result holds
   * it again; it must not be a slice of Node's shared Buffer pool. Rejects UnavailableError if the worker dies
   * (its buffer is then lost).
   */
  digest(buffer: ArrayBuffer, spans: readonly ByteSpan[]): Promise<HashedSpans> {
    if (this.inline) {
      const ids = spans.map(([offset, length]) => sha256(new Uint8Array(buffer, offset, length)));
      return Promise.resolve({ buffer, ids });
    }
    const job = ++this.jobs;
    const worker = this.pick();
    return new Promise((resolve, reject) => {
      this.workers.get(worker)!.set(job, { resolve, reject });
      worker.ref();
      worker.postMessage({ job, buffer, ranges: spans }, [buffer]);
    });
  }

  async close(): Promise<void> {
    const workers = [...this.workers.keys()];
    this.workers.clear();
    await Promise.all(workers.map((w) => w.terminate()));
  }

  /** The least busy worker, starting a new one while all are busy and the pool has room. */
  private pick(): Worker {
    let best: Worker | undefined;
    for (const [w, jobs] of this.workers) if (!best || jobs.size < this.workers.get(best)!.size) best = w;
    if (best && (this.workers.get(best)!.size === 0 || this.workers.size >= this.size)) return best;
    return this.spawn();
  }

  private spawn(): Worker {
    const w = new Worker(this.script);
    const jobs = new Map<number, Pending>();
    w.on('message', (m: { job: number; buffer: ArrayBuffer; ids: string[] }) => {
      const p = jobs.get(m.job);
      jobs.delete(m.job);
      if (jobs.size === 0) w.unref();
      p?.resolve({ buffer: m.buffer, ids: m.ids as ObjectId[] });
    });
    const fail = (e: Error) => {
      this.workers.delete(w);
      for (const p of jobs.values()) p.reject(new UnavailableError(`hashing worker failed: ${e.message}`));
      jobs.clear();
    };
    w.on('error', fail);
    w.on('exit', (code) => fail(new Error(`exited with code ${code}`)));
    // After the listeners: adding a 'message' listener refs the worker's port again.
    w.unref();
    this.workers.set(w, jobs);
    return w;
  }
}

/**
 * SHA-256 speed on one core, in bytes per second, from which the process's pool hashes on the calling thread. With
 * the CPU's SHA extensions (some 1.4 GB/s measured here) a job's copy and hand-over to a worker cost more than the
 * hashing they move: a 256 MiB checkout took 1.07 to 1.47 s hashing in place against 1.37 to 1.71 s pooled. Without
 * them (some 0.2 GB/s) the pool wins: 1.73 to 1.99 s pooled against 2.18 to 2.27 s in place.
 */
export const INLINE_HASH_BYTES_PER_SECOND = 700e6;

/** The process's pool size for a SHA-256 speed: none (hash in place) when hashing is that cheap, else the default. */
export function hashPoolSizeFor(bytesPerSecond: number): number | undefined {
  return bytesPerSecond >= INLINE_HASH_BYTES_PER_SECOND ? 0 : undefined;
}

/** SHA-256 speed on this core, bytes per second: the best of a few runs over 256 KiB (about a millisecond). */
export function measureSha256Speed(): number {
  const bytes = Buffer.alloc(256 << 10, 0x5a);
  let best = Infinity;
  for (let i = 0; i < 4; i++) {
    const start = process.hrtime.bigint();
    createHash('sha256').update(bytes).digest();
    best = Math.min(best, Number(process.hrtime.bigint() - start));
  }
  return (bytes.length * 1e9) / Math.max(best, 1);
}

let shared: HashPool | undefined;

/**
 * The process's HashPool, started on first use: with worker threads where hashing costs enough to be worth moving
 * off the calling thread, in place where the CPU hashes fast (hashPoolSizeFor).
 */
export function sharedHashPool(): HashPool {
  shared ??= new HashPool(hashPoolSizeFor(measureSha256Speed()));
  return shared;
}
