import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { ObjectInfo, ObjectStore } from '../object-store.port';

export interface StoreUnderTest {
  readonly store: ObjectStore;
  cleanup(): Promise<void>;
}

/**
 * The behaviour every ObjectStore adapter must show, as one jest suite. An adapter's spec calls this with a
 * factory that returns a fresh, empty store for each test. Errors are checked by their `code`, so the suite holds
 * for any adapter that maps its failures into the project's categories.
 */
export function describeObjectStoreContract(name: string, factory: () => Promise<StoreUnderTest>): void {
  describe(`ObjectStore contract: ${name}`, () => {
    let store: ObjectStore;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      ({ store, cleanup } = await factory());
    });
    afterEach(async () => {
      await store.close();
      await cleanup();
    });

    describe('immutable objects', () => {
      it('round-trips a Buffer and reports its size', async () => {
        const data = Buffer.from('hello, tributary\n');
        await store.putIfAbsent('objects/ab/cdef', data);
        expect(await store.get('objects/ab/cdef')).toEqual(data);
        const info = await store.head('objects/ab/cdef');
        expect(info).toMatchObject({ key: 'objects/ab/cdef', size: data.length });
        expectDate(info!.modified);
      });

      it('round-trips an empty object', async () => {
        await store.putIfAbsent('empty', Buffer.alloc(0));
        expect(await store.get('empty')).toEqual(Buffer.alloc(0));
        expect((await store.head('empty'))?.size).toBe(0);
        expect(await readStream(await store.getStream('empty'))).toEqual(Buffer.alloc(0));
      });

      it('copies the input, so changing the caller buffer later does not change the object', async () => {
        const data = Buffer.from('original');
        await store.putIfAbsent('copy', data);
        data.fill(0x58);
        expect((await store.get('copy')).toString()).toBe('original');
      });

      it('round-trips a Readable made of many small chunks, including strings', async () => {
        const parts = ['alpha,', Buffer.from('beta,'), 'gamma'];
        await store.putIfAbsent('small-stream', Readable.from(parts));
        expect((await store.get('small-stream')).toString()).toBe('alpha,beta,gamma');
      });

      it('round-trips a stream larger than 8 MiB, whole and by range', async () => {
        const size = 8 * 1024 * 1024 + 12_345;
        await store.putIfAbsent('packs/big.pack', patternStream(size, 64 * 1024));
        expect((await store.head('packs/big.pack'))?.size).toBe(size);
        const read = await hashStream(await store.getStream('packs/big.pack'));
        expect(read).toEqual({ size, sha256: patternHash(size) });
        const offset = 8 * 1024 * 1024 - 100;
        expectBytes(await store.getRange('packs/big.pack', { offset, length: 5000 }), pattern(offset, 5000));
        const tail = await readStream(await store.getStream('packs/big.pack', { offset, length: 1_000_000 }));
        expectBytes(tail, pattern(offset, size - offset));
      });

      it('round-trips Buffers over 1 MiB (local disk writes those through the thread pool)', async () => {
        const size = 3 * 1024 * 1024 + 7;
        await store.putIfAbsent('packs/buffer.pack', pattern(0, size));
        expectBytes(await store.get('packs/buffer.pack'), pattern(0, size));
        const range = { offset: 1_000_000, length: 200_000 };
        expectBytes(await store.getRange('packs/buffer.pack', range), pattern(range.offset, range.length));
        const version = await store.compareAndSwap('refs/big', undefined, pattern(5, size));
        const read = await store.readVersioned('refs/big');
        expect(read?.version).toBe(version);
        // Not toEqual: jest compares a Buffer element by element, some 15 s for these 3 MiB.
        expectBytes(read!.data, pattern(5, size));
      });

      it('keeps the first content when putIfAbsent runs twice', async () => {
        await store.putIfAbsent('k', Buffer.from('first'));
        await expect(store.putIfAbsent('k', Buffer.from('second'))).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
        await expect(store.putIfAbsent('k', Readable.from([Buffer.from('third')]))).rejects.toMatchObject({
          code: 'ALREADY_EXISTS',
        });
        expect((await store.get('k')).toString()).toBe('first');
      });

      it('stores nothing when the input stream fails midway', async () => {
        const failing = new Readable({
          read() {
            this.push(Buffer.alloc(256 * 1024, 1));
            this.destroy(new Error('source broke'));
          },
        });
        await expect(store.putIfAbsent('broken', failing)).rejects.toThrow('source broke');
        expect(await store.head('broken')).toBeUndefined();
        await expect(store.get('broken')).rejects.toMatchObject({ code: 'NOT_FOUND' });
        expect(await listKeys(store, '')).toEqual([]);
        await store.putIfAbsent('broken', Buffer.from('retry works'));
        expect((await store.get('broken')).toString()).toBe('retry works');
      });

      it('rejects, and stores nothing, for a stream destroyed before the put got to read it', async () => {
        // Both streams have emitted their last event before the put sees them.
        const failed = new Readable({ read() {} });
        failed.on('error', () => undefined);
        failed.destroy(new Error('aborted early'));
        await new Promise((r) => failed.once('close', r));
        await expect(store.putIfAbsent('packs/early.pack', failed)).rejects.toThrow('aborted early');
        const closed = new Readable({ read() {} });
        closed.destroy();
        await new Promise((r) => closed.once('close', r));
        await expect(store.putIfAbsent('packs/closed.pack', closed)).rejects.toThrow(/premature close/i);
        expect(await listKeys(store, '')).toEqual([]);
      }, 15_000);

      it('reads ranges: middle, clipped at the end, at and past the end, zero length', async () => {
        const data = Buffer.from('0123456789');
        await store.putIfAbsent('r', data);
        expect((await store.getRange('r', { offset: 3, length: 4 })).toString()).toBe('3456');
        expect((await store.getRange('r', { offset: 7, length: 100 })).toString()).toBe('789');
        expect((await store.getRange('r', { offset: 0, length: 10 })).toString()).toBe('0123456789');
        expect((await store.getRange('r', { offset: 10, length: 5 })).length).toBe(0);
        expect((await store.getRange('r', { offset: 50, length: 5 })).length).toBe(0);
        expect((await store.getRange('r', { offset: 4, length: 0 })).length).toBe(0);
        expect((await readStream(await store.getStream('r', { offset: 2, length: 3 }))).toString()).toBe('234');
        expect((await readStream(await store.getStream('r', { offset: 8, length: 9 }))).toString()).toBe('89');
        expect((await readStream(await store.getStream('r', { offset: 5, length: 0 }))).length).toBe(0);
        expect((await readStream(await store.getStream('r'))).toString()).toBe('0123456789');
      });

      it('rejects malformed ranges', async () => {
        await store.putIfAbsent('r', Buffer.from('0123456789'));
        for (const range of [
          { offset: -1, length: 2 },
          { offset: 0, length: -1 },
          { offset: 1.5, length: 2 },
          { offset: 0, length: Number.NaN },
        ]) {
          await expect(store.getRange('r', range)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
          await expect(store.getStream('r', range)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
        }
      });

      it('reports an absent key: NotFound from reads, undefined from head', async () => {
        expect(await store.head('nope/x')).toBeUndefined();
        await expect(store.get('nope/x')).rejects.toMatchObject({ code: 'NOT_FOUND' });
        await expect(store.getRange('nope/x', { offset: 0, length: 1 })).rejects.toMatchObject({ code: 'NOT_FOUND' });
        await expect(store.getRange('nope/x', { offset: 0, length: 0 })).rejects.toMatchObject({ code: 'NOT_FOUND' });
        await expect(store.getStream('nope/x')).rejects.toMatchObject({ code: 'NOT_FOUND' });
      });

      it('deletes idempotently, after which the key can be written again', async () => {
        await store.putIfAbsent('d/x', Buffer.from('1'));
        await store.delete('d/x');
        expect(await store.head('d/x')).toBeUndefined();
        await expect(store.get('d/x')).rejects.toMatchObject({ code: 'NOT_FOUND' });
        await store.delete('d/x');
        await store.delete('never/was');
        await store.putIfAbsent('d/x', Buffer.from('2'));
        expect((await store.get('d/x')).toString()).toBe('2');
      });
    });

    describe('list', () => {
      const keys = ['a/b/c', 'a/b/d', 'a/e', 'ab', 'b/x', 'a.txt'];

      beforeEach(async () => {
        for (const key of keys) await store.putIfAbsent(key, Buffer.from(`body of ${key}`));
      });

      it('lists every key with its size under the empty prefix', async () => {
        const all: ObjectInfo[] = [];
        for await (const info of store.list('')) all.push(info);
        expect(all.map((i) => i.key).sort()).toEqual([...keys].sort());
        for (const info of all) {
          expect(info.size).toBe(`body of ${info.key}`.length);
          expectDate(info.modified);
        }
      });

      it('filters by prefix, both at and inside a path segment', async () => {
        expect(await listKeys(store, 'a/')).toEqual(['a/b/c', 'a/b/d', 'a/e']);
        expect(await listKeys(store, 'a/b/')).toEqual(['a/b/c', 'a/b/d']);
        expect(await listKeys(store, 'a')).toEqual(['a.txt', 'a/b/c', 'a/b/d', 'a/e', 'ab']);
        expect(await listKeys(store, 'a/b/c')).toEqual(['a/b/c']);
        expect(await listKeys(store, 'b')).toEqual(['b/x']);
        expect(await listKeys(store, 'zzz')).toEqual([]);
        expect(await listKeys(store, 'zzz/')).toEqual([]);
      });

      it('shows no temporary or lock files, during and after writes', async () => {
        const v = await store.compareAndSwap('a/ref', undefined, Buffer.from('1'));
        let version = await store.compareAndSwap('a/ref', v, Buffer.from('2'));
        await expect(store.putIfAbsent('ab', Buffer.from('dup'))).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
        const seenDuringWrites = new Set<string>();
        await Promise.all([
          ...Array.from({ length: 4 }, (_, i) => store.putIfAbsent(`a/new${i}`, patternStream(300_000, 10_000))),
          (async () => {
            // A store may hold a lock for the length of a swap (local disk does): listings run meanwhile.
            for (let n = 3; n < 24; n++) version = await store.compareAndSwap('a/ref', version, Buffer.from(String(n)));
          })(),
          (async () => {
            for (let round = 0; round < 5; round++) {
              for (const key of await listKeys(store, 'a/')) seenDuringWrites.add(key);
            }
          })(),
        ]);
        const valid = new Set([...keys, 'a/ref', 'a/new0', 'a/new1', 'a/new2', 'a/new3']);
        for (const key of seenDuringWrites) expect(valid.has(key)).toBe(true);
        expect(await listKeys(store, '')).toEqual([...valid].sort());
      });

      it('can be stopped early', async () => {
        let seen = 0;
        for await (const info of store.list('')) {
          expect(keys).toContain(info.key);
          if (++seen === 2) break;
        }
        expect(seen).toBe(2);
        expect((await listKeys(store, '')).length).toBe(keys.length);
      });
    });

    describe('mutable values', () => {
      it('reads undefined for an absent value', async () => {
        expect(await store.readVersioned('refs/heads/main')).toBeUndefined();
      });

      it('creates a value when the expected version is undefined, only once', async () => {
        const v1 = await store.compareAndSwap('refs/heads/main', undefined, Buffer.from('c1'));
        expect(typeof v1).toBe('string');
        expect(await store.readVersioned('refs/heads/main')).toEqual({ data: Buffer.from('c1'), version: v1 });
        await expect(store.compareAndSwap('refs/heads/main', undefined, Buffer.from('c2'))).rejects.toMatchObject({
          code: 'CONFLICT',
        });
        expect((await store.readVersioned('refs/heads/main'))?.data.toString()).toBe('c1');
      });

      it('updates with the right version and refuses a wrong one', async () => {
        const v1 = await store.compareAndSwap('refs/heads/main', undefined, Buffer.from('c1'));
        const v2 = await store.compareAndSwap('refs/heads/main', v1, Buffer.from('c2'));
        expect(v2).not.toBe(v1);
        expect(await store.readVersioned('refs/heads/main')).toEqual({ data: Buffer.from('c2'), version: v2 });
        await expect(store.compareAndSwap('refs/heads/main', v1, Buffer.from('c3'))).rejects.toMatchObject({
          code: 'CONFLICT',
        });
        await expect(
          store.compareAndSwap('refs/heads/main', 'no-such-version', Buffer.from('c3')),
        ).rejects.toMatchObject({ code: 'CONFLICT' });
        expect(await store.readVersioned('refs/heads/main')).toEqual({ data: Buffer.from('c2'), version: v2 });
        expect((await store.get('refs/heads/main')).toString()).toBe('c2');
      });

      it('refuses to update an absent value from a version', async () => {
        const v1 = await store.compareAndSwap('refs/heads/a', undefined, Buffer.from('x'));
        await expect(store.compareAndSwap('refs/heads/b', v1, Buffer.from('y'))).rejects.toMatchObject({
          code: 'CONFLICT',
        });
        expect(await store.readVersioned('refs/heads/b')).toBeUndefined();
      });

      it('copies the value, so changing the caller buffer later does not change it', async () => {
        const data = Buffer.from('c1');
        const v1 = await store.compareAndSwap('refs/heads/main', undefined, data);
        data.fill(0x58);
        expect(await store.readVersioned('refs/heads/main')).toEqual({ data: Buffer.from('c1'), version: v1 });
      });

      it('deletes a value only at the expected version', async () => {
        const v1 = await store.compareAndSwap('refs/tags/t', undefined, Buffer.from('c1'));
        const v2 = await store.compareAndSwap('refs/tags/t', v1, Buffer.from('c2'));
        await expect(store.deleteVersioned('refs/tags/t', v1)).rejects.toMatchObject({ code: 'CONFLICT' });
        expect((await store.readVersioned('refs/tags/t'))?.version).toBe(v2);
        await store.deleteVersioned('refs/tags/t', v2);
        expect(await store.readVersioned('refs/tags/t')).toBeUndefined();
        await expect(store.deleteVersioned('refs/tags/t', v2)).rejects.toMatchObject({ code: 'CONFLICT' });
        await store.compareAndSwap('refs/tags/t', undefined, Buffer.from('again'));
        expect((await store.readVersioned('refs/tags/t'))?.data.toString()).toBe('again');
      });
    });

    describe('keys', () => {
      const badKeys = ['../x', '/abs', 'a//b', 'a/./b', 'a/../b', '', 'a/', '.', '..'];
      badKeys.push('a\\b', 'a b', 'é', 'a\0b', 'x~y');

      it.each(badKeys)('rejects %j in every method', async (key) => {
        const expectInvalid = (p: Promise<unknown>) => expect(p).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
        await expectInvalid(store.putIfAbsent(key, Buffer.from('x')));
        await expectInvalid(store.putIfAbsent(key, Readable.from([Buffer.from('x')])));
        await expectInvalid(store.get(key));
        await expectInvalid(store.getRange(key, { offset: 0, length: 1 }));
        await expectInvalid(store.getStream(key));
        await expectInvalid(store.head(key));
        await expectInvalid(store.delete(key));
        await expectInvalid(store.readVersioned(key));
        await expectInvalid(store.compareAndSwap(key, undefined, Buffer.from('x')));
        await expectInvalid(store.deleteVersioned(key, 'v'));
        expect(await listKeys(store, '')).toEqual([]);
      });

      it('rejects bad list prefixes', async () => {
        for (const prefix of ['../', '/', '/abs', 'a//', 'a/../b/', 'x~']) {
          await expect(listKeys(store, prefix)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
        }
      });

      it('accepts every key character', async () => {
        const key = 'AZaz09/._-/x.y-z_0';
        await store.putIfAbsent(key, Buffer.from('ok'));
        expect((await store.get(key)).toString()).toBe('ok');
        expect(await listKeys(store, 'AZaz09/')).toEqual([key]);
      });
    });

    describe('races', () => {
      it('lets exactly one of 8 concurrent putIfAbsent calls win, keeping its bytes', async () => {
        const bodies = Array.from({ length: 8 }, (_, i) => Buffer.alloc(100_000 + i, `writer-${i};`));
        const results = await Promise.allSettled(
          bodies.map((body, i) => store.putIfAbsent('race/obj', i % 2 ? Readable.from([body]) : body)),
        );
        const winners = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
        expect(winners).toHaveLength(1);
        for (const r of results) {
          if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'ALREADY_EXISTS' });
        }
        expectBytes(await store.get('race/obj'), bodies[winners[0]]);
        expect(await listKeys(store, '')).toEqual(['race/obj']);
      });

      it('lets exactly one of 8 concurrent compare-and-swaps from the same version win', async () => {
        const base = await store.compareAndSwap('refs/heads/main', undefined, Buffer.from('base'));
        await expectOneSwapWins(store, 'refs/heads/main', base, (i) => Buffer.from(`next-${i}`));
      });

      it('lets exactly one of 8 concurrent creates of an absent value win', async () => {
        await expectOneSwapWins(store, 'refs/tags/v1', undefined, (i) => Buffer.from(`tag-${i}`));
      });
    });
  });
}

/**
 * Runs 8 compare-and-swaps of `key` from `expected` at once, the i-th writing `value(i)`. Exactly one may win: its
 * value is stored at the version it returned, every loser fails with CONFLICT, and `key` is the store's only key.
 */
async function expectOneSwapWins(
  store: ObjectStore,
  key: string,
  expected: string | undefined,
  value: (i: number) => Buffer,
): Promise<void> {
  const swaps = Array.from({ length: 8 }, (_, i) => store.compareAndSwap(key, expected, value(i)));
  const results = await Promise.allSettled(swaps);
  const winners = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
  expect(winners).toHaveLength(1);
  for (const r of results) {
    if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'CONFLICT' });
  }
  const won = results[winners[0]] as PromiseFulfilledResult<string>;
  expect(await store.readVersioned(key)).toEqual({ data: value(winners[0]), version: won.value });
  expect(await listKeys(store, '')).toEqual([key]);
}

/** Keys under `prefix`, sorted. */
export async function listKeys(store: ObjectStore, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const info of store.list(prefix)) keys.push(info.key);
  return keys.sort();
}

export async function readStream(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(Buffer.from(chunk));
  return Buffer.concat(parts);
}

async function hashStream(stream: Readable): Promise<{ size: number; sha256: string }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of stream) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { size, sha256: hash.digest('hex') };
}

/**
 * Deterministic bytes that depend on their position, so any range can be recomputed. The period is a prime a
 * little over 1 MiB, so a read misplaced by a power-of-two chunk size shows.
 */
export function pattern(offset: number, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  for (let done = 0; done < length; ) {
    const at = (offset + done) % PATTERN_PERIOD;
    done += PATTERN_BASE.copy(out, done, at, Math.min(PATTERN_PERIOD, at + length - done));
  }
  return out;
}

const PATTERN_PERIOD = 1_048_583;
const PATTERN_BASE = (() => {
  const buf = Buffer.allocUnsafe(PATTERN_PERIOD);
  for (let p = 0; p < PATTERN_PERIOD; p++) buf[p] = (Math.imul(p ^ (p >>> 11), 0x9e3779b1) >>> 24) & 0xff;
  return buf;
})();

/** Asserts a valid Date; `toBeInstanceOf(Date)` fails for Dates made by Node's fs, which come from another realm. */
function expectDate(value: unknown): void {
  expect(Object.prototype.toString.call(value)).toBe('[object Date]');
  expect(Number.isNaN((value as Date).getTime())).toBe(false);
}

/** Asserts equal bytes without jest's element-by-element diff, which is slow for large buffers. */
export function expectBytes(actual: Buffer, expected: Buffer): void {
  if (actual.equals(expected)) return;
  let at = 0;
  while (at < Math.min(actual.length, expected.length) && actual[at] === expected[at]) at++;
  throw new Error(`bytes differ: got ${actual.length} bytes, expected ${expected.length}, first difference at ${at}`);
}

/** A stream of `pattern(0, size)` in chunks of `chunkSize`, generated lazily. */
export function patternStream(size: number, chunkSize: number): Readable {
  return Readable.from(
    (function* () {
      for (let pos = 0; pos < size; pos += chunkSize) yield pattern(pos, Math.min(chunkSize, size - pos));
    })(),
    { objectMode: false },
  );
}

function patternHash(size: number): string {
  const hash = createHash('sha256');
  for (let pos = 0; pos < size; pos += 1 << 20) hash.update(pattern(pos, Math.min(1 << 20, size - pos)));
  return hash.digest('hex');
}
