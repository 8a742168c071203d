import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { IdFilter } from './id-filter';

describe('IdFilter', () => {
  it('never reports an added id as absent, wherever it lies in a buffer', () => {
    const someIds = fc.array(fc.uint8Array({ minLength: 32, maxLength: 32 }), { minLength: 1, maxLength: 300 });
    fc.assert(
      fc.property(someIds, fc.nat(40), (ids, pad) => {
        const filter = new IdFilter(ids.length);
        const buf = Buffer.alloc(pad + 32 * ids.length);
        ids.forEach((id, i) => buf.set(id, pad + 32 * i));
        for (let i = 0; i < ids.length; i++) filter.add(buf, pad + 32 * i);
        expect(filter.count).toBe(ids.length);
        for (const id of ids) expect(filter.mightHave(id)).toBe(true);
      }),
    );
  });

  it('reports about 1% of absent ids as maybe present when filled to its size', () => {
    const n = 20_000;
    const filter = new IdFilter(n);
    for (let i = 0; i < n; i++) filter.add(randomBytes(32));
    expect(filter.hasRoomFor(0)).toBe(true);
    let maybe = 0;
    for (let i = 0; i < 100_000; i++) if (filter.mightHave(randomBytes(32))) maybe++;
    // 10 bits and 7 probes per id: 0.8% expected, at most a few tenths of a point either way by chance.
    expect(maybe / 100_000).toBeLessThan(0.02);
    expect(maybe).toBeGreaterThan(0);
  });

  it('says how many more ids fit the size it was made for', () => {
    const filter = new IdFilter(0);
    const room = Math.floor((1 << 16) / 10);
    expect(filter.hasRoomFor(room)).toBe(true);
    expect(filter.hasRoomFor(room + 1)).toBe(false);
    for (let i = 0; i < room - 10; i++) filter.add(randomBytes(32));
    expect(filter.hasRoomFor(10)).toBe(true);
    expect(filter.hasRoomFor(11)).toBe(false);
  });
});
