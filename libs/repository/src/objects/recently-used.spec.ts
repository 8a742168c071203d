import { RecentlyUsed } from './recently-used';

const b = (n: number, fill = 0) => Buffer.alloc(n, fill);

describe('RecentlyUsed', () => {
  it('drops the least recently used past its byte budget, a get counting as a use', () => {
    const r = new RecentlyUsed<Buffer>(10, (v) => v.length);
    r.set('a', b(4));
    r.set('b', b(4));
    expect(r.get('a')).toEqual(b(4));
    r.set('c', b(4)); // 12 bytes: b, used least recently, goes
    expect([r.has('a'), r.has('b'), r.has('c')]).toEqual([true, false, true]);
  });

  it('replaces a key without counting its old bytes, and forgets a deleted one', () => {
    const r = new RecentlyUsed<Buffer>(10, (v) => v.length);
    r.set('a', b(6));
    r.set('a', b(6, 1));
    r.set('b', b(4)); // 10 bytes: both fit, as the old 'a' no longer counts
    expect([r.get('a'), r.has('b')]).toEqual([b(6, 1), true]);
    r.delete('a');
    r.set('c', b(6));
    expect([r.has('a'), r.has('b'), r.has('c')]).toEqual([false, true, true]);
  });
});
