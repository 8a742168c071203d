import fc from 'fast-check';
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

  it('keeps exactly what a list in use order keeps, over any run of sets, gets and deletes', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), key: fc.integer({ min: 0, max: 30 }), weight: fc.integer({ min: 1, max: 4 }) }),
      fc.record({ kind: fc.constant('get' as const), key: fc.integer({ min: 0, max: 30 }) }),
      fc.record({ kind: fc.constant('delete' as const), key: fc.integer({ min: 0, max: 30 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 400 }), (ops) => {
        const r = new RecentlyUsed<number>(12, (w) => w);
        // The model: [key, weight] oldest use first.
        const model: [string, number][] = [];
        const weightOf = () => model.reduce((n, [, w]) => n + w, 0);
        for (const o of ops) {
          const key = `k${o.key}`;
          const at = model.findIndex(([k]) => k === key);
          if (o.kind === 'set') {
            r.set(key, o.weight);
            if (at >= 0) model.splice(at, 1);
            model.push([key, o.weight]);
            while (weightOf() > 12) model.shift();
          } else if (o.kind === 'get') {
            expect(r.get(key)).toBe(at >= 0 ? model[at][1] : undefined);
            if (at >= 0) model.push(...model.splice(at, 1));
          } else {
            r.delete(key);
            if (at >= 0) model.splice(at, 1);
          }
        }
        for (let k = 0; k <= 30; k++) expect(r.has(`k${k}`)).toBe(model.some(([m]) => m === `k${k}`));
      }),
      { numRuns: 300 },
    );
  });
});
