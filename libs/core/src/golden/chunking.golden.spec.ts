import { Chunker, findCutPoint, gearTable } from '../chunking/fastcdc';
import { applyChunkDelta, encodeChunkDelta } from '../delta/chunk-delta';
import { sha256 } from '../hashing/sha256';
import { ObjectId } from '../ids/ids';
import { encodeChunkList } from '../objects/chunk-list.codec';
import { fileRefFromChunks, writeFileContent } from '../objects/file-content';
import { ObjectSink } from '../objects/object-source';

/**
 * Golden vectors: fixed bytes -> fixed chunk boundaries and ids. If one of these fails, the on-disk format changed:
 * every stored chunk and file id would change with it. Never update the expected values to make a test pass.
 */

class MemorySink implements ObjectSink {
  readonly objects = new Map<ObjectId, Buffer>();
  async put(bytes: Buffer): Promise<ObjectId> {
    const id = sha256(bytes);
    this.objects.set(id, Buffer.from(bytes));
    return id;
  }
}

/** xorshift32 (13, 17, 5) from `seed`; each byte is the top byte of the next state. */
function xorshiftBytes(seed: number, size: number): Buffer {
  const out = Buffer.alloc(size);
  let x = seed >>> 0;
  for (let i = 0; i < size; i++) {
    x = (x ^ (x << 13)) >>> 0;
    x ^= x >>> 17;
    x = (x ^ (x << 5)) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** CSV-like rows `i,(i*7919)%1000,sensor-(i%13),((i*104729)%100000)/100`, cut at `size` bytes. */
function csvBytes(size: number): Buffer {
  const lines: string[] = [];
  for (let i = 0, n = 0; n < size; i++) {
    const line = `${i},${(i * 7919) % 1000},sensor-${i % 13},${((i * 104729) % 100_000) / 100}\n`;
    lines.push(line);
    n += line.length;
  }
  return Buffer.from(lines.join('')).subarray(0, size);
}

function chunkLengths(data: Buffer): number[] {
  const out: number[] = [];
  for (let pos = 0; pos < data.length; ) {
    const n = findCutPoint(data, pos, data.length, true);
    out.push(n);
    pos += n;
  }
  return out;
}

const MiB = 1 << 20;

const vectors = [
  {
    name: '1 MiB of xorshift32 bytes (seed 1)',
    data: () => xorshiftBytes(1, MiB),
    input: '1639fbbaeb99ef8b30fca78debe0b0df283bfeedf5a5c2beaae7a464d95beb60',
    lengths: [60965, 66185, 56267, 57451, 60646, 63839, 54324, 56521, 58173, 61031, 74206, 68014, 89681, 56118, 37275, 56905, 70975],
    file: '54aa63755ed5d50bd4f18ad1897799b4a818816b19702d30f94756ef68775428',
  },
  {
    name: '1 MiB of zeros (forced cuts at max size)',
    data: () => Buffer.alloc(MiB),
    input: '30e14955ebf1352266dc2ff8067e68104607e750abb9d3b36582b8af909fcb58',
    lengths: [262144, 262144, 262144, 262144],
    file: '5c2cdfde49f222cb21d0fbe336296d7ceda72b16136b34fd6d135239df427400',
  },
  {
    name: '1 MiB of CSV rows',
    data: () => csvBytes(MiB),
    input: '918bfb97458e493de4d3112f95bbc4f56411b801015b954a1107554f840411b2',
    lengths: [56006, 55645, 50021, 66939, 88367, 116545, 30275, 85632, 55967, 73657, 57914, 75191, 54927, 55660, 56438, 58854, 10538],
    file: '8cb893e8951493117bf1676d10422e55deb9ad08b7712893d3eb182e74bfd84e',
  },
];

describe('golden: chunking', () => {
  it('freezes the gear table', () => {
    const gear = gearTable();
    expect([...gear.subarray(0, 4)].map((x) => x.toString(16))).toEqual(['c5472be3', '111fdc2b', 'c8f6f0dd', 'bf49a686']);
    expect(sha256(new Uint8Array(gear.buffer))).toBe('9b0ead2c5fcc7b2595902b3e5eb73ea7d8a635ec7b673c5b935922e7bb4d6559');
  });

  for (const v of vectors) {
    it(`cuts ${v.name} at fixed boundaries and gives a fixed file id`, async () => {
      const data = v.data();
      expect(sha256(data)).toBe(v.input);
      expect(chunkLengths(data)).toEqual(v.lengths);
      const streamed = new Chunker();
      const chunks = [...streamed.push(data.subarray(0, 12345)), ...streamed.push(data.subarray(12345)), ...streamed.finish()];
      expect(chunks.map((c) => c.length)).toEqual(v.lengths);
      expect(await writeFileContent(new MemorySink(), [data])).toEqual({ id: v.file, chunked: true, size: MiB });
    });
  }
});

describe('golden: chunk lists', () => {
  it('encodes a small node to fixed bytes and id', () => {
    const node = encodeChunkList({
      level: 0,
      children: [
        { id: sha256(Buffer.from('a')), size: 70_000 },
        { id: sha256(Buffer.from('b')), size: 5 },
      ],
    });
    expect(node.toString('hex')).toBe(
      '6c69737420310a00' +
        'ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb' + 'f0a204' +
        '3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d' + '05',
    );
    expect(sha256(node)).toBe('c9a565a22ad1442132dd1856fd631cab1017106f7fdeca53860c6e6f40b22dab');
  });

  it('groups 100 chunks into a fixed two-level tree', async () => {
    const sink = new MemorySink();
    const refs = Array.from({ length: 100 }, (_, i) => ({ id: sha256(Buffer.from(`golden/${i}`)), size: 65_536 }));
    expect(await fileRefFromChunks(sink, refs)).toEqual({
      id: '2462aec589b3af61eea70e7f00a1879957f38468968d8e3af92997316ce4a608',
      chunked: true,
      size: 6_553_600,
    });
    expect(sink.objects.size).toBe(6);
  });

  it('gives an empty file the id of the empty chunk', async () => {
    const file = await writeFileContent(new MemorySink(), []);
    expect(file).toEqual({ id: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', chunked: false, size: 0 });
  });
});

describe('golden: chunk delta', () => {
  it('encodes an append as prefix length, suffix length and the new bytes', () => {
    const base = Buffer.from('id,value\n1,10\n2,20\n3,30\n4,40\n5,50\n6,60\n7,70\n8,80\n9,90\n');
    const target = Buffer.concat([base, Buffer.from('10,100\n')]);
    const delta = encodeChunkDelta(base, target)!;
    expect(delta.toString('hex')).toBe('3600' + Buffer.from('10,100\n').toString('hex'));
    expect(applyChunkDelta(base, delta).equals(target)).toBe(true);
  });
});
