import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { HashPool, hashPoolSizeFor, measureSha256Speed } from './hash-pool';
import { sha256 } from '@tributary/core';

// Specs run TypeScript sources; the worker is the compiled script (`tsc -b` runs before jest in `npm test`).
const WORKER = path.resolve(__dirname, '../../dist/objects/hash.worker.js');

describe('HashPool', () => {
  it('has its compiled worker script', () => {
    expect(existsSync(WORKER)).toBe(true);
  });

  it("is the process's pool in place where SHA-256 is cheap (SHA extensions), with workers where it is not", () => {
    expect(hashPoolSizeFor(1.4e9)).toBe(0);
    expect(hashPoolSizeFor(0.2e9)).toBeUndefined();
    expect(new HashPool(hashPoolSizeFor(1.4e9), WORKER).movesBuffers).toBe(false);
    expect(new HashPool(hashPoolSizeFor(0.2e9), WORKER).movesBuffers).toBe(true);
    // Whatever this machine's CPU: a speed, in bytes per second, that can only be a measurement.
    const speed = measureSha256Speed();
    expect(speed).toBeGreaterThan(10e6);
    expect(speed).toBeLessThan(100e9);
  });

  it('hashes spans of a buffer on a worker, which has the buffer meanwhile and hands it back intact', async () => {
    const pool = new HashPool(1, WORKER);
    try {
      expect(pool.movesBuffers).toBe(true);
      const bytes = randomBytes(300_000);
      const buffer = new ArrayBuffer(bytes.length);
      Buffer.from(buffer).set(bytes);
      const spans = [[0, 100_000], [100_000, 150_000], [250_000, 50_000], [7, 0]] as const;
      const job = pool.digest(buffer, spans);
      expect(buffer.byteLength).toBe(0);
      const { buffer: back, ids } = await job;
      expect(ids).toEqual(spans.map(([o, n]) => sha256(bytes.subarray(o, o + n))));
      expect(Buffer.from(back).equals(bytes)).toBe(true);
    } finally {
      await pool.close();
    }
  });

  it('answers concurrent jobs, over two workers, each with its own ids', async () => {
    const pool = new HashPool(2, WORKER);
    try {
      const inputs = Array.from({ length: 6 }, (_, i) => randomBytes(50_000 + i));
      const results = await Promise.all(
        inputs.map((b) => {
          const copy = new ArrayBuffer(b.length);
          Buffer.from(copy).set(b);
          return pool.digest(copy, [[0, b.length]]);
        }),
      );
      expect(results.map((r) => r.ids[0])).toEqual(inputs.map((b) => sha256(b)));
    } finally {
      await pool.close();
    }
  });

  it('warm starts one worker ahead of the first job, which then runs on it', async () => {
    const pool = new HashPool(2, WORKER);
    try {
      expect(pool.running).toBe(0);
      pool.warm();
      pool.warm();
      expect(pool.running).toBe(1);
      const bytes = randomBytes(1000);
      const { ids } = await pool.digest(bytes.buffer.slice(0) as ArrayBuffer, [[0, 1000]]);
      expect(ids).toEqual([sha256(bytes)]);
      expect(pool.running).toBe(1);
    } finally {
      await pool.close();
    }
    const inline = new HashPool(0, WORKER);
    inline.warm();
    expect(inline.running).toBe(0);
  });

  it('lets the process exit with a warmed worker that never got a job', () => {
    const script = [
      `const { HashPool } = require(${JSON.stringify(path.resolve(__dirname, '../../dist/objects/hash-pool.js'))});`,
      `const pool = new HashPool(1, ${JSON.stringify(WORKER)});`,
      'pool.warm();',
      'if (pool.running !== 1) process.exit(3);',
    ].join('\n');
    const r = spawnSync(process.execPath, ['-e', script], { timeout: 30_000 });
    expect({ status: r.status, signal: r.signal }).toEqual({ status: 0, signal: null });
  });

  it('has room while a worker has fewer jobs than asked, or another worker may start', async () => {
    const pool = new HashPool(1, WORKER);
    try {
      expect(pool.hasRoom(1)).toBe(true);
      const jobs = [0, 1].map(() => pool.digest(randomBytes(1 << 20).buffer.slice(0) as ArrayBuffer, [[0, 1 << 20]]));
      expect(pool.hasRoom(2)).toBe(false);
      expect(pool.hasRoom(3)).toBe(true);
      await Promise.all(jobs);
      expect(pool.hasRoom(1)).toBe(true);
    } finally {
      await pool.close();
    }
    expect(new HashPool(0, WORKER).hasRoom()).toBe(false);
  });

  it('hashes in place, moving nothing, without workers', async () => {
    const pool = new HashPool(0, WORKER);
    expect(pool.movesBuffers).toBe(false);
    const bytes = randomBytes(1000);
    const { buffer, ids } = await pool.digest(bytes.buffer.slice(0) as ArrayBuffer, [[10, 20]]);
    expect(buffer.byteLength).toBe(bytes.buffer.byteLength);
    expect(ids).toEqual([sha256(bytes.subarray(10, 30))]);
  });
});
