import fc from 'fast-check';
import { Crc32c, crc32cUpdate } from './crc32c';

/** Byte-at-a-time reference, straight from the definition (reflected polynomial 0x82F63B78). */
function reference(data: Uint8Array): number {
  let c = 0xffffffff;
  for (const byte of data) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return ~c >>> 0;
}

describe('crc32c', () => {
  it('matches the published check value and GCS examples', () => {
    expect(crc32cUpdate(0, Buffer.from('123456789'))).toBe(0xe3069283);
    // The Node client documents 'data' -> 'rth90Q==' and 'some text\n' -> 'DkjKuA=='.
    const a = new Crc32c();
    a.update(Buffer.from('data'));
    expect(a.toString()).toBe('rth90Q==');
    const b = new Crc32c();
    b.update(Buffer.from('some '));
    b.update(Buffer.from('text\n'));
    expect(b.toString()).toBe('DkjKuA==');
    expect(b.validate('DkjKuA==')).toBe(true);
    expect(b.validate('rth90Q==')).toBe(false);
    expect(new Crc32c().toString()).toBe('AAAAAA==');
  });

  it('equals the bytewise definition for any bytes, however they are split', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(300), (data, cut) => {
        const at = Math.min(cut, data.length);
        const split = crc32cUpdate(crc32cUpdate(0, data.subarray(0, at)), data.subarray(at));
        expect(split).toBe(reference(data));
      }),
    );
  });
});
