import { mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ObjectId } from '@tributary/core';
import { StatCache, StatStamp } from './stat-cache';

const id = (c: string) => c.repeat(64) as ObjectId;
/** A stamp well in the past, so the entry is not racily clean against a cache saved now. */
const stamp = (n: number): StatStamp => ({ size: BigInt(n), mtimeNs: 1_600_000_000_000_000_000n + BigInt(n), ctimeNs: 1_600_000_000_500_000_000n, ino: 1000n + BigInt(n) });
const entry = (c: string, size: number) => ({ kind: 'file' as const, executable: c === 'e', size, id: id(c), chunked: c === 'c' });

describe('StatCache', () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'stat-cache-'));
    file = path.join(dir, 'index');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('round-trips entries through save and load, and vouches only for an identical stamp', async () => {
    const c = new StatCache(file);
    c.set('a.csv', stamp(10), entry('a', 10));
    c.set('dir/é ü\nname', stamp(20), entry('e', 20));
    c.set('big.bin', { ...stamp(30), ino: 2n ** 63n + 5n }, entry('c', 30));
    c.set('link', stamp(4), { kind: 'symlink', executable: false, size: 4, id: id('d'), chunked: false });
    await c.save();
    const back = await StatCache.load(file);
    expect(back.size).toBe(4);
    expect(back.lookup('a.csv', stamp(10))).toEqual({ ...entry('a', 10), mtimeNs: stamp(10).mtimeNs, ctimeNs: stamp(10).ctimeNs, ino: stamp(10).ino });
    expect(back.get('dir/é ü\nname')).toMatchObject({ executable: true, chunked: false, size: 20 });
    expect(back.lookup('big.bin', { ...stamp(30), ino: 2n ** 63n + 5n })).toMatchObject({ chunked: true, id: id('c') });
    expect(back.get('link')).toMatchObject({ kind: 'symlink', id: id('d') });
    expect(back.lookup('a.csv', { ...stamp(10), size: 11n })).toBeUndefined();
    expect(back.lookup('a.csv', { ...stamp(10), mtimeNs: stamp(10).mtimeNs + 1n })).toBeUndefined();
    expect(back.lookup('a.csv', { ...stamp(10), ctimeNs: 1n })).toBeUndefined();
    expect(back.lookup('a.csv', { ...stamp(10), ino: 1n })).toBeUndefined();
    expect(back.lookup('missing', stamp(10))).toBeUndefined();
  });

  it('writes the file only when an entry changed: a status of an unchanged tree writes nothing', async () => {
    const c = new StatCache(file);
    c.set('a.csv', stamp(10), entry('a', 10));
    await c.save();
    const written = statSync(file, { bigint: true });
    const back = await StatCache.load(file);
    back.beginSweep();
    back.keep('a.csv');
    back.sweep();
    await back.save();
    expect(statSync(file, { bigint: true }).ino).toBe(written.ino); // not replaced by a rename
    back.delete('a.csv');
    await back.save();
    expect(statSync(file, { bigint: true }).ino).not.toBe(written.ino);
    expect((await StatCache.load(file)).size).toBe(0);
  });

  it('never trusts a racily clean entry: mtime not older than the saved cache', async () => {
    const c = new StatCache(file);
    const future: StatStamp = { ...stamp(1), mtimeNs: BigInt(Date.now() + 60_000) * 1_000_000n };
    c.set('fresh', future, entry('a', 1));
    c.set('old', stamp(2), entry('b', 2));
    await c.save();
    const back = await StatCache.load(file);
    expect(back.lookup('fresh', future)).toBeUndefined();
    expect(back.get('fresh')).toBeDefined();
    expect(back.lookup('old', stamp(2))).toBeDefined();
  });

  it('loads a damaged or unknown file as empty: damage costs a rehash, never a wrong id', async () => {
    const c = new StatCache(file);
    for (let i = 0; i < 50; i++) c.set(`f${i}`, stamp(i), entry('a', i));
    await c.save();
    const bytes = readFileSync(file);
    bytes[100] ^= 1;
    writeFileSync(file, bytes);
    expect((await StatCache.load(file)).size).toBe(0);
    writeFileSync(file, bytes.subarray(0, bytes.length - 10));
    expect((await StatCache.load(file)).size).toBe(0);
    writeFileSync(file, 'something else\n');
    expect((await StatCache.load(file)).size).toBe(0);
    expect((await StatCache.load(path.join(dir, 'absent'))).size).toBe(0);
  });

  it('reads the version 1 JSON-lines file, skipping damaged lines', async () => {
    const s = stamp(7);
    writeFileSync(
      file,
      [
        'trib-index 1',
        JSON.stringify(['a.csv', 'file', 1, 7, s.mtimeNs.toString(), s.ctimeNs.toString(), s.ino.toString(), id('a'), 0]),
        '["broken',
        JSON.stringify(['b', 'file', 0, 1, '1', '1', '1', 'not-an-id', 0]),
        '',
      ].join('\n'),
    );
    utimesSync(file, new Date(), new Date());
    const back = await StatCache.load(file);
    expect(back.size).toBe(1);
    expect(back.lookup('a.csv', s)).toMatchObject({ executable: true, size: 7, id: id('a') });
  });

  it('a sweep drops the entries neither kept nor set since it began', async () => {
    const c = new StatCache(file);
    for (const p of ['a', 'b', 'c', 'd']) c.set(p, stamp(1), entry('a', 1));
    c.beginSweep();
    c.keep('a');
    c.set('c', stamp(2), entry('b', 2));
    c.set('new', stamp(3), entry('c', 3));
    c.keep('never-there');
    c.sweep();
    await c.save();
    const back = await StatCache.load(file);
    expect([...['a', 'b', 'c', 'd', 'new'].filter((p) => back.get(p))]).toEqual(['a', 'c', 'new']);
    expect(back.get('c')?.size).toBe(2);
  });

  it('holds a hundred thousand entries across record blocks', async () => {
    const c = new StatCache(file);
    for (let i = 0; i < 100_000; i++) c.set(`rows/r${i}`, stamp(i), entry(i % 2 ? 'a' : 'b', i));
    c.delete('rows/r5');
    await c.save();
    const back = await StatCache.load(file);
    expect(back.size).toBe(99_999);
    expect(back.get('rows/r5')).toBeUndefined();
    expect(back.lookup('rows/r99999', stamp(99_999))).toMatchObject({ size: 99_999, id: id('a') });
    expect(back.lookup('rows/r16384', stamp(16_384))).toMatchObject({ size: 16_384, id: id('b') });
  });
});
