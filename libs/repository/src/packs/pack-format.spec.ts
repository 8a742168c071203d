import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { IntegrityError, InvalidArgumentError, ObjectId, sha256 } from '@tributary/core';
import {
  checkIndexBytes,
  checkPackHeader,
  decodeDeltaPayload,
  decodeRecordHeader,
  encodeDeltaPayload,
  encodeIndex,
  encodePackHeader,
  encodeRecordHeader,
  IDX_ENTRY_BYTES,
  IDX_HEADER_BYTES,
  IndexEntry,
  parsePackKey,
  RECORD_DELTA,
  RECORD_FULL,
  readIndexEntry,
} from './pack-format';

const id = (n: number) => sha256(Buffer.from(`object ${n}`));

function entry(n: number, offset = 49 + n * 100): IndexEntry {
  return { id: id(n), offset, storedLength: 10 + n, type: RECORD_FULL, size: 10 + n, depth: 0 };
}

/** Rewrites the trailing checksum so a test can corrupt the body and still pass the checksum check. */
function reseal(buf: Buffer): Buffer {
  const body = buf.length - 32;
  createHash('sha256').update(buf.subarray(0, body)).digest().copy(buf, body);
  return buf;
}

describe('pack header', () => {
  it('is TRIBPACK then version 1, and is checked on read', () => {
    expect(encodePackHeader().toString('hex')).toBe(Buffer.from('TRIBPACK').toString('hex') + '00000001');
    expect(() => checkPackHeader(encodePackHeader(), 'packs/x.pack')).not.toThrow();
    const v2 = encodePackHeader();
    v2.writeUInt32BE(2, 8);
    expect(() => checkPackHeader(v2, 'packs/x.pack')).toThrow(/unsupported pack version 2/);
    expect(() => checkPackHeader(Buffer.from('NOTAPACK0000'), 'packs/x.pack')).toThrow(IntegrityError);
  });
});

describe('record header', () => {
  it('round-trips type, id and payload length', () => {
    const h = encodeRecordHeader(RECORD_DELTA, id(1), 1234567);
    expect(h.length).toBe(37);
    expect(decodeRecordHeader(Buffer.concat([Buffer.alloc(3), h]), 3)).toEqual({
      type: RECORD_DELTA,
      id: id(1),
      payloadLength: 1234567,
    });
  });

  it('rejects a bad id, type or length when encoding, and a bad type when decoding', () => {
    expect(() => encodeRecordHeader(RECORD_FULL, 'abc' as ObjectId, 1)).toThrow(InvalidArgumentError);
    expect(() => encodeRecordHeader(3 as never, id(1), 1)).toThrow(InvalidArgumentError);
    expect(() => encodeRecordHeader(RECORD_FULL, id(1), 2 ** 32)).toThrow(InvalidArgumentError);
    const h = encodeRecordHeader(RECORD_FULL, id(1), 5);
    h[0] = 9;
    expect(() => decodeRecordHeader(h)).toThrow(IntegrityError);
    expect(() => decodeRecordHeader(h.subarray(0, 36))).toThrow(/truncated/);
  });
});

describe('delta payload', () => {
  it('is the base id followed by the delta bytes', () => {
    const parts = encodeDeltaPayload(id(7), Buffer.from('delta'));
    const payload = Buffer.concat(parts);
    expect(payload.subarray(0, 32).toString('hex')).toBe(id(7));
    expect(decodeDeltaPayload(payload)).toEqual({ baseId: id(7), delta: Buffer.from('delta') });
    expect(() => decodeDeltaPayload(Buffer.alloc(31))).toThrow(IntegrityError);
  });
});

describe('index', () => {
  it('sorts entries by id and round-trips every field', () => {
    const entries: IndexEntry[] = [
      entry(1),
      { id: id(2), offset: 2 ** 40, storedLength: 40, type: RECORD_DELTA, size: 2 ** 32 - 1, depth: 8 },
      entry(3),
    ];
    const buf = encodeIndex(entries);
    expect(buf.length).toBe(IDX_HEADER_BYTES + 3 * IDX_ENTRY_BYTES + 32);
    expect(checkIndexBytes(buf, 'packs/p.idx')).toBe(3);
    const decoded = [0, 1, 2].map((i) => readIndexEntry(buf, i));
    expect(decoded).toEqual([...entries].sort((a, b) => a.id.localeCompare(b.id)));
  });

  it('round-trips any set of entries (property)', () => {
    const arbEntry = fc.record({
      seed: fc.integer(),
      offset: fc.integer({ min: 49, max: Number.MAX_SAFE_INTEGER }),
      storedLength: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
      size: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
      depth: fc.integer({ min: 0, max: 255 }),
    });
    fc.assert(
      fc.property(fc.uniqueArray(arbEntry, { selector: (e) => e.seed, maxLength: 40 }), (raw) => {
        const entries: IndexEntry[] = raw.map((r) => ({
          id: sha256(Buffer.from(String(r.seed))),
          offset: r.offset,
          storedLength: r.storedLength,
          type: r.depth === 0 ? RECORD_FULL : RECORD_DELTA,
          size: r.size,
          depth: r.depth,
        }));
        const buf = encodeIndex(entries);
        const count = checkIndexBytes(buf, 'k');
        const back = Array.from({ length: count }, (_, i) => readIndexEntry(buf, i));
        expect(back).toEqual([...entries].sort((a, b) => (a.id < b.id ? -1 : 1)));
      }),
    );
  });

  it('rejects duplicate ids and inconsistent type/depth when encoding', () => {
    expect(() => encodeIndex([entry(1), entry(1, 500)])).toThrow(/appears twice/);
    expect(() => encodeIndex([{ ...entry(1), depth: 1 }])).toThrow(InvalidArgumentError);
    expect(() => encodeIndex([{ ...entry(1), type: RECORD_DELTA, depth: 0 }])).toThrow(InvalidArgumentError);
    expect(() => encodeIndex([{ ...entry(1), offset: 3 }])).toThrow(/bad pack offset/);
  });

  it('detects a flipped byte through the checksum, naming the key', () => {
    const buf = encodeIndex([entry(1), entry(2)]);
    for (const at of [0, 9, IDX_HEADER_BYTES + 5, buf.length - 1]) {
      const bad = Buffer.from(buf);
      bad[at] ^= 0x10;
      expect(() => checkIndexBytes(bad, 'packs/pack-x.idx')).toThrow(IntegrityError);
      expect(() => checkIndexBytes(bad, 'packs/pack-x.idx')).toThrow(/packs\/pack-x\.idx/);
    }
    expect(() => checkIndexBytes(buf.subarray(0, buf.length - 1), 'k')).toThrow(IntegrityError);
  });

  it('detects unsorted entries and bad fields even under a valid checksum', () => {
    const buf = encodeIndex([entry(1), entry(2)]);
    const swapped = Buffer.from(buf);
    buf.copy(swapped, IDX_HEADER_BYTES, IDX_HEADER_BYTES + IDX_ENTRY_BYTES, IDX_HEADER_BYTES + 2 * IDX_ENTRY_BYTES);
    buf.copy(swapped, IDX_HEADER_BYTES + IDX_ENTRY_BYTES, IDX_HEADER_BYTES, IDX_HEADER_BYTES + IDX_ENTRY_BYTES);
    expect(() => checkIndexBytes(reseal(swapped), 'k')).toThrow(/out of order/);
    const badType = Buffer.from(buf);
    badType[IDX_HEADER_BYTES + 44] = 7;
    expect(() => checkIndexBytes(reseal(badType), 'k')).toThrow(/bad record type/);
  });

  it('encodes an empty index', () => {
    const buf = encodeIndex([]);
    expect(checkIndexBytes(buf, 'k')).toBe(0);
  });
});

describe('pack keys', () => {
  it('parses only pack and idx keys with a well-formed name', () => {
    const name = `pack-${'ab'.repeat(16)}`;
    expect(parsePackKey(`packs/${name}.pack`)).toEqual({ name, kind: 'pack' });
    expect(parsePackKey(`packs/${name}.idx`)).toEqual({ name, kind: 'idx' });
    expect(parsePackKey(`packs/${name}.tmp`)).toBeUndefined();
    expect(parsePackKey('packs/pack-1234.pack')).toBeUndefined();
    expect(parsePackKey(`refs/${name}.pack`)).toBeUndefined();
  });
});
