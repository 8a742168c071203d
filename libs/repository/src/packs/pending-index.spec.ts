import fc from 'fast-check';
import { InvalidArgumentError, ObjectId } from '@tributary/core';
import { encodeIndex, IndexEntry, RECORD_DELTA, RECORD_FULL } from './pack-format';
import { PackIndex } from './pack-index';
import { PendingIndex } from './pending-index';

const idArb = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex') as ObjectId);

const entryArb = (id: ObjectId) =>
  fc.record({
    offset: fc.integer({ min: 49, max: 2 ** 40 }),
    storedLength: fc.nat({ max: 0xffffffff }),
    size: fc.nat({ max: 0xffffffff }),
    depth: fc.nat({ max: 255 }),
  }).map(({ offset, storedLength, size, depth }): IndexEntry => ({
    id,
    offset,
    storedLength,
    size,
    type: depth === 0 ? RECORD_FULL : RECORD_DELTA,
    depth,
  }));

/** Ids that share their first `shared` bytes, so the 32-bit sort key ties. */
function idsSharing(prefixHex: string, n: number): ObjectId[] {
  return Array.from({ length: n }, (_, i) => (prefixHex + i.toString(16).padStart(8, '0')).padEnd(64, 'e') as ObjectId);
}

describe('PendingIndex', () => {
  it('encodes exactly the bytes of encodeIndex, whatever the order of adding (property)', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(idArb, { maxLength: 200 }).chain((ids) => fc.tuple(...ids.map(entryArb))),
        (entries) => {
          const p = new PendingIndex();
          for (const e of entries) p.add(e);
          expect(p.count).toBe(entries.length);
          expect(p.encode().equals(encodeIndex(entries))).toBe(true);
          for (const e of entries) expect(p.get(e.id)).toEqual(e);
          expect([...p.ids()]).toEqual(entries.map((e) => e.id));
        },
      ),
      { numRuns: 50 },
    );
  });

  it('sorts ids whose first 32 bits tie byte by byte', () => {
    const ids = [...idsSharing('abcdef01', 40), ...idsSharing('00000000', 3), ...idsSharing('abcdef00', 2)].reverse();
    const entries = ids.map((id, n): IndexEntry => ({ id, offset: 49 + n, storedLength: n, type: RECORD_FULL, size: n, depth: 0 }));
    const p = new PendingIndex();
    for (const e of entries) p.add(e);
    const decoded = PackIndex.decode(p.encode(), 'k');
    expect([...decoded.entries()].map((e) => e.id)).toEqual([...ids].sort());
    expect(p.encode().equals(encodeIndex(entries))).toBe(true);
  });

  it('finds every one of many entries across table growth and blocks, and nothing else', () => {
    const p = new PendingIndex();
    const ids: ObjectId[] = [];
    for (let i = 0; i < 40_000; i++) {
      const id = Buffer.alloc(32, i % 251).fill(i & 0xff, 4, 8).toString('hex').slice(0, 56) + i.toString(16).padStart(8, '0');
      ids.push(id as ObjectId);
      p.add({ id: id as ObjectId, offset: 49 + i, storedLength: 1, type: RECORD_FULL, size: 1, depth: 0 });
    }
    for (let i = 0; i < ids.length; i += 97) expect(p.get(ids[i])?.offset).toBe(49 + i);
    expect(p.has(('f'.repeat(56) + '00000000') as ObjectId)).toBe(false);
    expect(p.has('not an id' as ObjectId)).toBe(false);
    expect(PackIndex.decode(p.encode(), 'k').count).toBe(40_000);
  });

  it('refuses what encodeIndex refuses: a duplicate id, a bad offset, type or depth', () => {
    const id = 'a'.repeat(64) as ObjectId;
    const ok: IndexEntry = { id, offset: 49, storedLength: 1, type: RECORD_FULL, size: 1, depth: 0 };
    const p = new PendingIndex();
    p.add(ok);
    expect(() => p.add(ok)).toThrow(InvalidArgumentError);
    const other = 'b'.repeat(64) as ObjectId;
    expect(() => p.add({ ...ok, id: other, offset: 3 })).toThrow(InvalidArgumentError);
    expect(() => p.add({ ...ok, id: other, depth: 1 })).toThrow(InvalidArgumentError);
    expect(() => p.add({ ...ok, id: other, type: RECORD_DELTA })).toThrow(InvalidArgumentError);
    expect(() => p.add({ ...ok, id: other, size: 2 ** 32 })).toThrow(InvalidArgumentError);
    expect(() => p.add({ ...ok, id: 'xyz' as ObjectId })).toThrow(InvalidArgumentError);
    expect(p.count).toBe(1);
  });
});
