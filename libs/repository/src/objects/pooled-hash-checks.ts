import { setImmediate as yieldToEvents } from 'node:timers/promises';
import { ObjectId, sha256 } from '@tributary/core';
import { HashPool } from './hash-pool';

export interface PooledHashLimits {
  /** Bytes of objects gathered into one job. */
  readonly jobBytes: number;
  /** Most bytes gathered and not yet answered; past it the calling thread hashes waiting jobs itself. */
  readonly maxBytes: number;
}

/** Jobs of about a MiB keep a pool's workers busy; 16 MiB out bounds the memory a reader adds. */
export const POOLED_HASH_LIMITS: PooledHashLimits = { jobBytes: 1 << 20, maxBytes: 16 << 20 };

interface Check {
  readonly id: ObjectId;
  readonly bytes: Uint8Array;
  readonly verdict: (matches: boolean) => void;
}

interface Job {
  readonly checks: Check[];
  bytes: number;
}

/**
 * Checks objects' bytes against their ids, on a HashPool's workers while they have room (HashPool.hasRoom) and on
 * the calling thread when it would otherwise wait: in `done`, or in `add` once `maxBytes` are out. A reader thus
 * hashes on every core, its own included, while it goes on reading and writing, and no thread idles while the
 * other has hashing queued. A job for a worker is a copy: the bytes a read returns may be shared with other readers
 * (SharedRangeReads), and the pool moves what it hashes. Each check's verdict is given to its callback once its
 * job is hashed; `done` waits for every verdict. A worker that fails makes `add` or `done` throw its error.
 */
export class PooledHashChecks {
  private job: Job = { checks: [], bytes: 0 };
  /** Full jobs no one hashes yet. */
  private readonly queue: Job[] = [];
  private queuedBytes = 0;
  private readonly out = new Set<Promise<void>>();
  private outBytes = 0;
  private failure: unknown;

  constructor(
    private readonly pool: HashPool,
    private readonly limits: PooledHashLimits = POOLED_HASH_LIMITS,
  ) {}

  async add(id: ObjectId, bytes: Uint8Array, verdict: (matches: boolean) => void): Promise<void> {
    this.job.checks.push({ id, bytes, verdict });
    this.job.bytes += bytes.length;
    if (this.job.bytes >= this.limits.jobBytes) this.closeJob();
    this.sendWhileRoom();
    while (this.queue.length > 0 && this.queuedBytes + this.outBytes > this.limits.maxBytes) this.hashHere(this.takeJob());
    if (this.failure) throw this.failure;
  }

  async done(): Promise<void> {
    this.closeJob();
    for (;;) {
      this.sendWhileRoom();
      if (this.queue.length === 0) break;
      this.hashHere(this.takeJob());
      // Lets a worker that finished meanwhile be given the next job before this thread takes it.
      await yieldToEvents();
    }
    await Promise.all(this.out);
    if (this.failure) throw this.failure;
  }

  private closeJob(): void {
    if (this.job.checks.length === 0) return;
    this.queue.push(this.job);
    this.queuedBytes += this.job.bytes;
    this.job = { checks: [], bytes: 0 };
  }

  private takeJob(): Job {
    const job = this.queue.shift()!;
    this.queuedBytes -= job.bytes;
    return job;
  }

  private hashHere(job: Job): void {
    for (const c of job.checks) c.verdict(sha256(c.bytes) === c.id);
  }

  private sendWhileRoom(): void {
    while (this.queue.length > 0 && !this.failure && this.pool.hasRoom()) this.send(this.takeJob());
  }

  private send(job: Job): void {
    const buffer = Buffer.allocUnsafeSlow(job.bytes);
    const spans: [number, number][] = [];
    let at = 0;
    for (const c of job.checks) {
      buffer.set(c.bytes, at);
      spans.push([at, c.bytes.length]);
      at += c.bytes.length;
    }
    const answered: Promise<void> = this.pool
      .digest(buffer.buffer, spans)
      .then(
        ({ ids }) => job.checks.forEach((c, k) => c.verdict(ids[k] === c.id)),
        (e: unknown) => void (this.failure ??= e),
      )
      .finally(() => {
        this.out.delete(answered);
        this.outBytes -= job.bytes;
        this.sendWhileRoom();
      });
    this.out.add(answered);
    this.outBytes += job.bytes;
  }
}
