import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { ObjectId, sha256, UnavailableError } from '@tributary/core';
import { HashPool } from './hash-pool';
import { PooledHashChecks } from './pooled-hash-checks';

// Specs run TypeScript sources; the worker is the compiled script (`tsc -b` runs before jest in `npm test`).
const WORKER = path.resolve(__dirname, '../../dist/objects/hash.worker.js');

/** 40 objects of 20 to 40 KB, every seventh with an id its bytes do not hash to. */
function objects(): { bytes: Buffer; id: ObjectId; matches: boolean }[] {
  return Array.from({ length: 40 }, (_, i) => {
    const bytes = randomBytes(20_000 + i * 500);
    const matches = i % 7 !== 3;
    return { bytes, id: matches ? sha256(bytes) : sha256(Buffer.from(`other ${i}`)), matches };
  });
}

async function check(checks: PooledHashChecks, list: ReturnType<typeof objects>): Promise<boolean[]> {
  const verdicts: boolean[] = [];
  for (let i = 0; i < list.length; i++) await checks.add(list[i].id, list[i].bytes, (ok) => (verdicts[i] = ok));
  await checks.done();
  return verdicts;
}

describe('PooledHashChecks', () => {
  let pool: HashPool;
  beforeAll(() => {
    pool = new HashPool(2, WORKER);
  });
  afterAll(() => pool.close());

  it('gives each object its verdict, sending jobs of about jobBytes to the workers while they have room', async () => {
    const limits = { jobBytes: 100_000, maxBytes: 250_000 };
    const digest = jest.spyOn(pool, 'digest');
    try {
      const list = objects();
      expect(await check(new PooledHashChecks(pool, limits), list)).toEqual(list.map((o) => o.matches));
      expect(digest).toHaveBeenCalled();
      // A job closes once it holds jobBytes, so it holds less than that plus one object.
      for (const [buffer] of digest.mock.calls) expect(buffer.byteLength).toBeLessThan(limits.jobBytes + 40_000);
    } finally {
      digest.mockRestore();
    }
  });

  it('hashes on the calling thread what no worker has room for, and leaves the bytes as they were', async () => {
    const room = jest.spyOn(pool, 'hasRoom').mockReturnValue(false);
    const digest = jest.spyOn(pool, 'digest');
    try {
      const list = objects();
      const copies = list.map((o) => Buffer.from(o.bytes));
      expect(await check(new PooledHashChecks(pool, { jobBytes: 100_000, maxBytes: 250_000 }), list)).toEqual(list.map((o) => o.matches));
      expect(digest).not.toHaveBeenCalled();
      list.forEach((o, i) => expect(o.bytes.equals(copies[i])).toBe(true));
    } finally {
      room.mockRestore();
      digest.mockRestore();
    }
  });

  it("throws a worker's failure from done", async () => {
    const digest = jest.spyOn(pool, 'digest').mockRejectedValue(new UnavailableError('hashing worker failed: gone'));
    try {
      const checks = new PooledHashChecks(pool);
      await checks.add(sha256(Buffer.from('a')), Buffer.from('a'), () => undefined);
      await expect(checks.done()).rejects.toThrow('hashing worker failed: gone');
    } finally {
      digest.mockRestore();
    }
  });
});
