import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { SubscriberId, TopicName } from '@tributary/core';
import { PrivateRedis } from '../testing/private-redis';
import { conflictNote, CursorRepository, MAX_CONFLICT_NOTE, MAX_CONFLICTS, MAX_SETTLED, readCursor, redisPrefixFor } from './cursor.repository';

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
    expect((await cursors.list(T)).subscribers).toEqual([
      { name: 'edge-2', cursor: 0, conflicts: [] },
      { name: 'hub', cursor: 4, conflicts: [] },
    ]);
    // The first by name, and how many there are in all.
    expect(await cursors.list(T, 1)).toEqual({ subscribers: [{ name: 'edge-2', cursor: 0, conflicts: [] }], total: 2 });
    const other = new CursorRepository(redis, redisPrefixFor(randomBytes(8).toString('hex')));
    expect(await other.get(T, hub)).toBe(0);
    expect((await other.list(T)).subscribers).toEqual([]);
  });

  it('records an ack\'s conflict note with the cursor, per subscriber, and clears it on a clean ack of that seq', async () => {
    expect(await cursors.advance(T, hub, 3, 'conflicts/na-aws/3: beats.csv (modify/modify)')).toBe(3);
    await cursors.advance(T, hub, 4);
    // A late ack carries its note even though the cursor does not move.
    expect(await cursors.advance(T, hub, 2, 'conflicts/na-aws/2')).toBe(4);
    await cursors.advance(T, 'other' as SubscriberId, 5);
    expect(await redis.hgetall(`${cursors.prefix}conflicts:${T}:hub`)).toEqual({ '2': 'conflicts/na-aws/2', '3': 'conflicts/na-aws/3: beats.csv (modify/modify)' });
    expect((await cursors.list(T)).subscribers).toEqual([
      {
        name: 'hub',
        cursor: 4,
        conflicts: [
          { seq: 2, note: 'conflicts/na-aws/2' },
          { seq: 3, note: 'conflicts/na-aws/3: beats.csv (modify/modify)' },
        ],
      },
      { name: 'other', cursor: 5, conflicts: [] },
    ]);
    await cursors.advance(T, hub, 2);
    expect((await cursors.list(T)).subscribers[0].conflicts).toEqual([{ seq: 3, note: 'conflicts/na-aws/3: beats.csv (modify/modify)' }]);
    // An explicit reset moves the cursor, not the notes.
    await cursors.reset(T, hub, 0);
    expect((await cursors.list(T)).subscribers[0]).toEqual({ name: 'hub', cursor: 0, conflicts: [{ seq: 3, note: 'conflicts/na-aws/3: beats.csv (modify/modify)' }] });
  });

  it("clears the settled seqs' notes in the ack's step, the ack's own note still recorded", async () => {
    for (const s of [2, 3, 5]) await cursors.advance(T, hub, s, `conflicts/na-aws/${s}`);
    await cursors.advance(T, 'other' as SubscriberId, 3, 'conflicts/na-aws/3');
    // Seq 4 never had a note: clearing it changes nothing.
    expect(await cursors.advance(T, hub, 6, 'conflicts/na-aws/6', [2, 4, 5])).toBe(6);
    expect((await cursors.list(T)).subscribers.map((s) => [s.name, s.cursor, s.conflicts.map((c) => c.note)])).toEqual([
      ['hub', 6, ['conflicts/na-aws/3', 'conflicts/na-aws/6']],
      ['other', 3, ['conflicts/na-aws/3']],
    ]);
    // A late clean ack settles too, without moving the cursor.
    expect(await cursors.advance(T, hub, 1, undefined, [3])).toBe(6);
    expect((await cursors.list(T)).subscribers[0].conflicts).toEqual([{ seq: 6, note: 'conflicts/na-aws/6' }]);
  });

  it('refuses settled seqs that are not seqs from 1, or too many, and then clears nothing', async () => {
    await cursors.advance(T, hub, 2, 'conflicts/na-aws/2');
    const tooMany = Array.from({ length: MAX_SETTLED + 1 }, (_, i) => i + 1);
    for (const settled of [[0], [2, -1], [1.5], [Number.MAX_SAFE_INTEGER + 1], tooMany]) {
      await expect(cursors.advance(T, hub, 3, undefined, settled)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    }
    expect((await cursors.list(T)).subscribers).toEqual([{ name: 'hub', cursor: 2, conflicts: [{ seq: 2, note: 'conflicts/na-aws/2' }] }]);
    expect(await cursors.advance(T, hub, 3, undefined, tooMany.slice(1))).toBe(3);
    expect((await cursors.list(T)).subscribers[0].conflicts).toEqual([]);
  });

  it('keeps the conflicts of the highest seqs only, whatever order the acks arrive in', async () => {
    const seqs = Array.from({ length: MAX_CONFLICTS + 30 }, (_, i) => i + 1).sort(() => Math.random() - 0.5);
    for (const s of seqs) await cursors.advance(T, hub, s, `conflicts/na-aws/${s}`);
    const kept = (await cursors.list(T)).subscribers[0].conflicts;
    expect(kept.map((c) => c.seq)).toEqual(Array.from({ length: MAX_CONFLICTS }, (_, i) => i + 31));
    expect(kept[0].note).toBe('conflicts/na-aws/31');
    expect(await cursors.get(T, hub)).toBe(MAX_CONFLICTS + 30);
  });

  it('stores a note as one line of bounded length', () => {
    expect(conflictNote(undefined)).toBe('');
    expect(conflictNote('  a\r\nb\tc \n')).toBe('a b c');
    // No control character reaches a terminal through `trib topics` or the broker's log.
    expect(conflictNote('line1\nline2\u0000\u001b[31mred\u009b')).toBe('line1 line2 [31mred');
    const long = conflictNote('x'.repeat(5000));
    expect(long).toHaveLength(MAX_CONFLICT_NOTE);
    expect(long.endsWith('…')).toBe(true);
  });

  it('reads a stored value that is not a seq as 0 in get, list and the ack alike, and the ack overwrites it', async () => {
    const key = cursors.cursorKey(T, hub);
    for (const junk of ['junk', '', '-3', '1.5', '1e3', ' 7', '0x10', '9'.repeat(16)]) {
      await redis.set(key, junk);
      expect(await cursors.get(T, hub)).toBe(0);
      expect(await cursors.read(T, hub)).toEqual({ seq: 0, stored: junk, readable: false });
      await cursors.register(T, hub);
      expect((await cursors.list(T)).subscribers[0]).toMatchObject({ name: 'hub', cursor: 0 });
      // Read as 0 by the Lua script too: the ack moves the cursor from there rather than fail or keep the junk.
      expect(await cursors.advance(T, hub, 2)).toBe(2);
      expect(await redis.get(key)).toBe('2');
    }
    await redis.set(key, '007');
    expect(await cursors.read(T, hub)).toEqual({ seq: 7, stored: '007', readable: true });
    expect(await cursors.advance(T, hub, 3)).toBe(7);
  });

  it('reads a key of another type as 0 in get, list and the ack alike, and the ack overwrites it', async () => {
    const key = cursors.cursorKey(T, hub);
    const kinds: [string, () => Promise<unknown>][] = [
      ['list', () => redis.rpush(key, '5')],
      ['hash', () => redis.hset(key, 'seq', '5')],
      ['set', () => redis.sadd(key, '5')],
      ['zset', () => redis.zadd(key, 5, '5')],
      ['stream', () => redis.xadd(key, '*', 'seq', '5')],
    ];
    for (const [type, write] of kinds) {
      await redis.del(key);
      await write();
      expect(await cursors.get(T, hub)).toBe(0);
      expect(await cursors.read(T, hub)).toEqual({ seq: 0, stored: null, readable: false, type });
      await cursors.register(T, hub);
      expect((await cursors.list(T)).subscribers[0]).toMatchObject({ name: 'hub', cursor: 0 });
      expect(await cursors.advance(T, hub, 2)).toBe(2);
      expect(await redis.get(key)).toBe('2');
    }
  });

  it('reads a subscribers or conflicts key of another type as empty, and the next write replaces it', async () => {
    const set = cursors.subscribersKey(T);
    const notes = cursors.conflictsKey(T, hub);
    const writes: [string, () => Promise<unknown>][] = [
      ['ack', () => cursors.advance(T, hub, 2, 'conflicts/na-aws/2')],
      ['register', () => cursors.register(T, hub)],
      ['reset', () => cursors.reset(T, hub, 2)],
    ];
    for (const [name, write] of writes) {
      await redis.del(set, notes, cursors.cursorKey(T, hub));
      await redis.set(set, 'not a set');
      await redis.rpush(notes, 'not a hash');
      expect(await cursors.list(T)).toEqual({ subscribers: [], total: 0 });
      await write();
      expect([name, await redis.type(set)]).toEqual([name, 'set']);
      expect((await cursors.list(T)).subscribers).toEqual([
        { name: 'hub', cursor: name === 'register' ? 0 : 2, conflicts: name === 'ack' ? [{ seq: 2, note: 'conflicts/na-aws/2' }] : [] },
      ]);
    }
    // A conflicts key of another type beside a good set reads as no notes, and the next ack replaces it.
    await redis.del(notes);
    await redis.set(notes, 'not a hash');
    expect((await cursors.list(T)).subscribers[0].conflicts).toEqual([]);
    await cursors.advance(T, hub, 3, 'conflicts/na-aws/3');
    expect((await cursors.list(T)).subscribers[0].conflicts).toEqual([{ seq: 3, note: 'conflicts/na-aws/3' }]);
  });

  it('repairs a cursor only while it still holds the value it read', async () => {
    const key = cursors.cursorKey(T, hub);
    await redis.set(key, 'junk');
    expect(await cursors.repair(T, hub, readCursor('other'), 0)).toBe(false);
    expect(await redis.get(key)).toBe('junk');
    expect(await cursors.repair(T, hub, readCursor('junk'), 0)).toBe(true);
    expect(await redis.get(key)).toBe('0');
  });

  it('repairs a key of another type only while it is still of that type', async () => {
    const key = cursors.cursorKey(T, hub);
    await redis.rpush(key, '5');
    const found = await cursors.read(T, hub);
    // An ack meanwhile made it a string: that is the cursor now, and stays.
    await cursors.advance(T, hub, 3);
    expect(await cursors.repair(T, hub, found, 0)).toBe(false);
    expect(await redis.get(key)).toBe('3');
    await redis.del(key);
    await redis.hset(key, 'seq', '5');
    expect(await cursors.repair(T, hub, found, 0)).toBe(false);
    expect(await redis.type(key)).toBe('hash');
    await redis.del(key);
    await redis.rpush(key, '5');
    expect(await cursors.repair(T, hub, found, 0)).toBe(true);
    expect(await redis.get(key)).toBe('0');
  });

  it('has one rule for a stored cursor', () => {
    expect(readCursor(null)).toEqual({ seq: 0, stored: null, readable: true });
    expect(readCursor('12')).toEqual({ seq: 12, stored: '12', readable: true });
    expect(readCursor('9'.repeat(15))).toEqual({ seq: 999_999_999_999_999, stored: '9'.repeat(15), readable: true });
    for (const junk of ['junk', '', '+1', '-1', '1.0', '1e3', '0x1', ' 1', '1\n', '9'.repeat(16)]) expect(readCursor(junk)).toEqual({ seq: 0, stored: junk, readable: false });
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

  it('keeps acknowledged cursors and conflict notes across a kill -9 and restart', async () => {
    const prefix = redisPrefixFor(randomBytes(8).toString('hex'));
    const a = new Redis(server.url);
    await new CursorRepository(a, prefix).advance(T, hub, 6, 'conflicts/na-aws/6: beats.csv (modify/modify)');
    await new CursorRepository(a, prefix).advance(T, hub, 7);
    await a.quit();
    await server.stop();
    await server.start();
    const b = new Redis(server.url);
    try {
      expect((await new CursorRepository(b, prefix).list(T)).subscribers).toEqual([
        { name: 'hub', cursor: 7, conflicts: [{ seq: 6, note: 'conflicts/na-aws/6: beats.csv (modify/modify)' }] },
      ]);
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

  it('says the connection was lost, not which ioredis option gave up, when retries run out', async () => {
    await server.stop();
    const c = new Redis(server.url, { maxRetriesPerRequest: 1, retryStrategy: () => 20 });
    c.on('error', () => undefined);
    try {
      const failure = await new CursorRepository(c, 'trib:x:').get(T, hub).catch((e: unknown) => e as Error);
      expect(failure).toMatchObject({ code: 'UNAVAILABLE', message: expect.stringMatching(/^redis unavailable: the connection was lost/) });
      expect((failure as Error).message).not.toMatch(/maxRetriesPerRequest/);
    } finally {
      c.disconnect();
      await server.start();
    }
  });
});
