import { existsSync, readFileSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import Redis from 'ioredis';
import { PrivateRedis } from '../libs/sync/src/testing/private-redis';
import { nodeAsync, ROOT, RunResult } from './support/trib';

/** `npm run demo` is the README's first command: these run it as a newcomer would and read what it prints. */

/** `node scripts/demo.js ARGS`, as `npm run demo -- ARGS` runs it. */
function runDemo(args: string[], env: NodeJS.ProcessEnv = {}): Promise<RunResult> {
  return nodeAsync([path.join(ROOT, 'scripts/demo.js'), ...args], { env: { CI: 'true', ...env } });
}

interface RegionRow {
  readonly commits: number;
  readonly hubCursor: number;
  readonly wireRatio: number;
}

/** The per-region table: `na-aws  23  23  95.0 KiB  110.8 KiB (1.17x)`. */
function regionRows(stdout: string): Record<string, RegionRow> {
  const rows: Record<string, RegionRow> = {};
  for (const m of stdout.matchAll(/^(na-aws|na-gcp|eu-azure)\s+(\d+)\s+(\d+)\s+.*\(([\d.]+)x\)$/gm)) {
    rows[m[1]] = { commits: Number(m[2]), hubCursor: Number(m[3]), wireRatio: Number(m[4]) };
  }
  return rows;
}

function expectWholeFlow(run: RunResult): void {
  expect({ code: run.code, stderr: run.code === 0 ? '' : run.stderr }).toEqual({ code: 0, stderr: '' });
  const landed = Number(/landed (\d+) batches/.exec(run.stderr)?.[1]);
  expect(landed).toBeGreaterThan(0);
  const rows = regionRows(run.stdout);
  expect(Object.keys(rows).sort()).toEqual(['eu-azure', 'na-aws', 'na-gcp']);
  for (const row of Object.values(rows)) {
    expect(row.commits).toBeGreaterThan(0);
    // The hub acknowledged every commit of the region: its cursor stands at the topic's last sequence number.
    expect(row.hubCursor).toBe(row.commits);
    // Only the batches and the small objects that name them travel (a batch is a few KiB, so trees and the
    // commit weigh in): measured 1.17x.
    expect(row.wireRatio).toBeLessThan(1.5);
  }
  expect(Object.values(rows).reduce((n, r) => n + r.commits, 0)).toBe(landed);
  expect(run.stdout).toMatch(/agent commit -> hub merge: p50 \d+ ms, p99 \d+ ms, max \d+ ms over \d+ merges/);
  expect(run.stdout).toContain('hub repository: trib verify --read-data passed');
}

describe('npm run demo', () => {
  it('runs the broker, the hub and three agents on local disk until the hub has merged every batch', async () => {
    const redis = await PrivateRedis.start();
    const client = new Redis(redis.url);
    try {
      const run = await runDemo([], { REDIS_URL: redis.url });
      expectWholeFlow(run);
      // It leaves nothing behind: not its folder, not its cursors in Redis.
      const work = /working in (\S+)/.exec(run.stderr)![1];
      expect(existsSync(work)).toBe(false);
      expect(await client.keys('trib:*')).toEqual([]);
    } finally {
      client.disconnect();
      await redis.dispose();
    }
  });

  it('with --clouds, runs the same flow across S3, GCS and Azure stand-ins it starts itself', async () => {
    const redis = await PrivateRedis.start();
    let work: string | undefined;
    try {
      const run = await runDemo(['--clouds', '--keep'], { REDIS_URL: redis.url });
      work = /kept (\S+?):/.exec(run.stderr)?.[1];
      expectWholeFlow(run);
      expect(run.stdout).toContain('stores: broker s3://trib-broker/broker, hub az://trib-hub/hub');
      // The broker stops after the hub, so the hub's last acknowledgement reaches it and it logs no failure.
      expect(readFileSync(path.join(work!, 'logs', 'hub.log'), 'utf8')).not.toMatch(/UNAVAILABLE|ended while stopping/);
    } finally {
      if (work) rmSync(work, { recursive: true, force: true });
      await redis.dispose();
    }
  });
});
