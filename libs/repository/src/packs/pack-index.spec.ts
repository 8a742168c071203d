import fc from 'fast-check';
import { IntegrityError, ObjectId, sha256 } from '@tributary/core';
import { encodeIndex, IndexEntry, RECORD_FULL } from './pack-format';
import { PackIndex } from './pack-index';

function entryFor(id: ObjectId, n: number): IndexEntry {
  return { id, offset: 49 + n * 1000, storedLength: n, type: RECORD_FULL, size: n, depth: 0 };
}

describe('PackIndex', () => {
  it('finds every indexed id and no other (property)', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.uint8Array({ minLength: 32, maxLength: 32 }), {
          selector: (b) => Buffer.from(b).toString('hex'),
          maxLength: 300,
        }),
        fc.array(fc.uint8Array({ minLength: 32, maxLength: 32 }), { maxLength: 20 }),
        (present, probes) => {
          const ids = present.map((b) => Buffer.from(b).toString('hex') as ObjectId);
          const entries = ids.map((id, n) => entryFor(id, n));
          const index = PackIndex.decode(encodeIndex(entries), 'k');
          expect(index.count).toBe(ids.length);
          for (const e of entries) expect(index.lookup(e.id)).toEqual(e);
          const set = new Set(ids);
          for (const p of probes) {
            const id = Buffer.from(p).toString('hex') as ObjectId;
            expect(index.has(id)).toBe(set.has(id));
          }
        },
      ),
    );
  });

  it('lists exactly the ids with a given prefix (property)', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 0, max: 5000 }), { maxLength: 200 }),
        fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), maxLength: 4 }),
        (seeds, prefix) => {
          const ids = seeds.map((n) => sha256(Buffer.from(String(n))));
          const index = PackIndex.decode(encodeIndex(ids.map((id, n) => entryFor(id, n))), 'k');
          expect(index.idsWithPrefix(prefix)).toEqual(ids.filter((id) => id.startsWith(prefix)).sort());
        },
      ),
    );
    const index = PackIndex.decode(encodeIndex([entryFor(sha256(Buffer.from('a')), 1)]), 'k');
    expect(index.idsWithPrefix('XYZ')).toEqual([]);
  });

  it('handles ids at both ends of the fan-out', () => {
    const low = ('00'.repeat(31) + '01') as ObjectId;
    const high = 'ff'.repeat(32) as ObjectId;
    const mid = sha256(Buffer.from('x'));
    const index = PackIndex.decode(encodeIndex([entryFor(high, 1), entryFor(low, 2), entryFor(mid, 3)]), 'k');
    expect(index.find(low)).toBe(0);
    expect(index.find(high)).toBe(2);
    expect(index.idAt(1)).toBe(mid);
    expect(index.has('00'.repeat(32) as ObjectId)).toBe(false);
    expect(index.has(('ff'.repeat(31) + 'fe') as ObjectId)).toBe(false);
    expect([...index.entries()].map((e) => e.id)).toEqual([low, mid, high]);
    expect(() => index.entryAt(3)).toThrow(RangeError);
  });

  it('refuses bytes whose checksum does not match', () => {
    const buf = encodeIndex([entryFor(sha256(Buffer.from('a')), 1)]);
    buf[20] ^= 1;
    expect(() => PackIndex.decode(buf, 'packs/pack-1.idx')).toThrow(IntegrityError);
  });
});
