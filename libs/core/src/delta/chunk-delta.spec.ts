import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { IntegrityError } from '../errors/trib-error';
import { applyChunkDelta, encodeChunkDelta } from './chunk-delta';

describe('chunk delta', () => {
  it('stores an appended chunk as its new bytes plus a few header bytes', () => {
    const base = randomBytes(60_000);
    const appended = randomBytes(3_000);
    const target = Buffer.concat([base, appended]);
    const delta = encodeChunkDelta(base, target)!;
    expect(delta.length).toBe(3 + 1 + appended.length); // prefix 60000 (3 bytes), suffix 0 (1 byte)
    expect(delta.subarray(4).equals(appended)).toBe(true);
    expect(applyChunkDelta(base, delta).equals(target)).toBe(true);
  });

  it('handles edits in the middle and truncation', () => {
    const base = randomBytes(100_000);
    const edited = Buffer.from(base);
    edited.write('a hundred bytes or so of new text in the middle of the chunk', 50_000);
    const shorter = base.subarray(0, 90_000);
    for (const target of [edited, shorter, Buffer.from(base)]) {
      const delta = encodeChunkDelta(base, target)!;
      expect(delta.length).toBeLessThan(100);
      expect(applyChunkDelta(base, delta).equals(target)).toBe(true);
    }
  });

  it('declines when the delta would not save half of the target', () => {
    expect(encodeChunkDelta(randomBytes(1000), randomBytes(1000))).toBeUndefined();
    const base = randomBytes(1000);
    expect(encodeChunkDelta(base, Buffer.concat([base.subarray(0, 400), randomBytes(600)]))).toBeUndefined();
    expect(encodeChunkDelta(base, Buffer.concat([base.subarray(0, 600), randomBytes(400)]))).toBeDefined();
    expect(encodeChunkDelta(base, Buffer.alloc(0))).toBeUndefined();
  });

  it('property: applying an encoded delta gives the target back', () => {
    const bytes = fc.uint8Array({ maxLength: 9000 });
    fc.assert(
      fc.property(bytes, bytes, bytes, bytes, fc.boolean(), (prefix, middle, inserted, suffix, alike) => {
        const base = Buffer.concat([prefix, middle, suffix]);
        const target = alike ? Buffer.concat([prefix, inserted, suffix]) : Buffer.from(inserted);
        const delta = encodeChunkDelta(base, target);
        if (delta) {
          expect(delta.length * 2).toBeLessThanOrEqual(target.length);
          expect(applyChunkDelta(base, delta).equals(target)).toBe(true);
        } else {
          expect(alike && inserted.length * 2 < target.length - 20).toBe(false);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('rejects malformed deltas and deltas that do not fit the base', () => {
    const base = randomBytes(100);
    const cases = [
      Buffer.alloc(0),
      Buffer.from([0x80]),
      Buffer.from([5]),
      Buffer.from([0x85, 0x00, 0]), // non-minimal prefix
      Buffer.from([60, 41]), // 101 bytes of a 100-byte base
      Buffer.from([101, 0]), // prefix 101
    ];
    for (const delta of cases) expect(() => applyChunkDelta(base, delta)).toThrow(IntegrityError);
    expect(applyChunkDelta(base, Buffer.from([60, 40, 7])).equals(Buffer.concat([base.subarray(0, 60), Buffer.of(7), base.subarray(60)]))).toBe(true);
  });
});

describe('encodeChunkDelta maxFraction', () => {
  it('refuses a delta over half the target by default, and keeps it when storage asks for any saving', () => {
    const base = Buffer.alloc(20_000, 7);
    const target = Buffer.concat([base, Buffer.alloc(30_000, 9)]);
    expect(encodeChunkDelta(base, target)).toBeUndefined();
    const d = encodeChunkDelta(base, target, { maxFraction: 1 })!;
    expect(d.length).toBeLessThan(target.length);
    expect(applyChunkDelta(base, d).equals(target)).toBe(true);
  });
});
