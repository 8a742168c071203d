import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { SubscriberId, TopicName } from '@tributary/core';
import { PrivateRedis } from '../testing/private-redis';
import { CursorRepository, redisPrefixFor } from './cursor.repository';

const T = 'datasets/heart/na-aws' as TopicName;
const hub = 'hub' as SubscriberId;

describe('CursorRepository on the shared Redis (random prefix)', () => {
  let redis: Redis;
  let cursors: CursorRepository;
  beforeAll(() => {
    redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  });
  beforeEach(() => {
    cursors = new CursorRepository(redis, redisPrefixFor(randomBytes(8).toString('hex')));
  });
  afterEach(async () => {
    const keys = await redis.keys(`${cursors.prefix}*`);
    if (keys.length) await redis.del(...keys);
  });
  afterAll(async () => {
    await redis.quit();
  });

  it('starts at 0 and only moves forward', async () => {
    expect(await cursors.get(T, hub)).toBe(0);
    expect(await cursors.advance(T, hub, 3)).toBe(3);
    expect(await cursors.advance(T, hub, 2)).toBe(3);
    expect(await cursors.get(T, hub)).toBe(3);
    expect(await cursors.advance(T, hub, 5)).toBe(5);
    expect(await redis.get(`${cursors.prefix}cursor:${T}:hub`)).toBe('5');
  });

  it('ends at the maximum whatever order concurrent acks arrive in', async () => {
    const seqs = Array.from({ length: 200 }, (_, i) => i + 1).sort(() => Math.random() - 0.5);
    await Promise.all(seqs.map((s) => cursors.advance(T, hub, s)));
    expect(await cursors.get(T, hub)).toBe(200);
  });

  it('resets backwards only when told (--from)', async () => {
    await cursors.advance(T, hub, 9);
    await cursors.reset(T, hub, 1);
    expect(await cursors.get(T, hub)).toBe(1);
  });

  it('lists subscribers with their cursors, and keeps prefixes apart', async () => {
    await cursors.register(T, 'edge-2' as SubscriberId);
    await cursors.advance(T, hub, 4);
    expect(await cursors.list(T)).toEqual([
      { name: 'edge-2', cursor: 0 },
      { name: 'hub', cursor: 4 },
    ]);
    const other = new CursorRepository(redis, redisPrefixFor(randomBytes(8).toString('hex')));
    expect(await other.get(T, hub)).toBe(0);
    expect(await other.list(T)).toEqual([]);
  });

  it('refuses bad seqs and store ids', async () => {
    await expect(cursors.advance(T, hub, -1)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(() => redisPrefixFor('a:b')).toThrow(/bad store id/);
  });
});

describe('CursorRepository on a private redis-server (appendonly)', () => {
  let server: PrivateRedis;
  beforeAll(async () => {
    server = await PrivateRedis.start();
  });
  afterAll(async () => {
    await server?.dispose();
  });

  it('keeps acknowledged cursors across a kill -9 and restart', async () => {
    const prefix = redisPrefixFor(randomBytes(8).toString('hex'));
    const a = new Redis(server.url);
    await new CursorRepository(a, prefix).advance(T, hub, 7);
    await a.quit();
    await server.stop();
    await server.start();
    const b = new Redis(server.url);
    try {
      expect(await new CursorRepository(b, prefix).get(T, hub)).toBe(7);
    } finally {
      await b.quit();
    }
  });

  it('fails with UnavailableError while Redis is down', async () => {
    await server.stop();
    const c = new Redis(server.url, { maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
    c.on('error', () => undefined);
    const ended = new Promise((resolve) => c.once('end', resolve));
    try {
      await expect(new CursorRepository(c, 'trib:x:').get(T, hub)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    } finally {
      // Let the refused connection end on its own: disconnect() on a dying client arms a timer that outlives the test.
      await ended;
      await server.start();
    }
  });
});
