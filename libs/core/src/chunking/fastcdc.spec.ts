import fc from 'fast-check';
import { Chunker, ChunkerParams, DEFAULT_CHUNKER_PARAMS, findCutPoint } from './fastcdc';

const { minSize, maxSize } = DEFAULT_CHUNKER_PARAMS;

/** Deterministic bytes: xorshift32 noise, with runs of repeated CSV-like text to exercise low-entropy input. */
function sampleBytes(seed: number, size: number): Buffer {
  const out = Buffer.alloc(size);
  let x = seed >>> 0 || 1;
  const next = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
  let pos = 0;
  while (pos < size) {
    const run = Math.min(size - pos, 4096 + (next() % 200_000));
    if (next() % 3 === 0) {
      const line = Buffer.from(`${next() % 1000},sensor-${next() % 7},${(next() % 100_000) / 100}\n`);
      for (let i = 0; i < run; i++) out[pos + i] = line[i % line.length];
    } else {
      for (let i = 0; i < run; i++) out[pos + i] = next() & 0xff;
    }
    pos += run;
  }
  return out;
}

/** End offsets of every chunk of `data`, by findCutPoint over the whole buffer. */
function cutsOf(data: Uint8Array): number[] {
  const cuts: number[] = [];
  for (let pos = 0; pos < data.length; ) {
    pos += findCutPoint(data, pos, data.length, true);
    cuts.push(pos);
  }
  return cuts;
}

function chunkBySplits(data: Buffer, splits: number[]): Buffer[] {
  const c = new Chunker();
  const out: Buffer[] = [];
  let prev = 0;
  for (const s of [...splits].sort((a, b) => a - b)) {
    out.push(...c.push(data.subarray(prev, s)));
    prev = s;
  }
  out.push(...c.push(data.subarray(prev)));
  out.push(...c.finish());
  return out;
}

function endsOf(chunks: Buffer[]): number[] {
  let pos = 0;
  return chunks.map((c) => (pos += c.length));
}

describe('findCutPoint', () => {
  const data = sampleBytes(7, 2 * maxSize);

  it('never cuts before minSize nor after maxSize', () => {
    const cuts = cutsOf(data);
    let prev = 0;
    for (const c of cuts.slice(0, -1)) {
      expect(c - prev).toBeGreaterThan(minSize);
      expect(c - prev).toBeLessThanOrEqual(maxSize);
      prev = c;
    }
  });

  it('asks for more data until a cut is certain, and ends the chunk at the end when final', () => {
    const first = findCutPoint(data, 0, data.length, false);
    expect(first).toBeGreaterThan(0);
    expect(findCutPoint(data, 0, first - 1, false)).toBe(-1);
    expect(findCutPoint(data, 0, first - 1, true)).toBe(first - 1);
    expect(findCutPoint(data, 0, first, false)).toBe(first);
    expect(findCutPoint(data, 0, minSize, false)).toBe(-1);
    expect(findCutPoint(data, 5, 5, true)).toBe(0);
  });

  it('forces a cut at maxSize on input without cut points', () => {
    const zeros = Buffer.alloc(maxSize + 10);
    expect(findCutPoint(zeros, 0, zeros.length, false)).toBe(maxSize);
    expect(findCutPoint(zeros, 0, maxSize, false)).toBe(maxSize);
    expect(findCutPoint(zeros, 0, maxSize - 1, false)).toBe(-1);
  });

  it('depends only on the bytes from start', () => {
    const shifted = Buffer.concat([Buffer.from('prefix'), data]);
    expect(findCutPoint(shifted, 6, shifted.length, true)).toBe(findCutPoint(data, 0, data.length, true));
  });

  it('rejects bad ranges and bad parameters', () => {
    expect(() => findCutPoint(data, 10, 5, true)).toThrow(/bad chunking range/);
    expect(() => findCutPoint(data, 0, data.length + 1, true)).toThrow(/bad chunking range/);
    const bad: ChunkerParams = { ...DEFAULT_CHUNKER_PARAMS, avgSize: 60_000 };
    expect(() => findCutPoint(data, 0, data.length, true, bad)).toThrow(/invalid chunker parameters/);
    expect(() => new Chunker({ ...DEFAULT_CHUNKER_PARAMS, minSize: maxSize })).toThrow(/invalid chunker parameters/);
  });

  it('honours custom parameters', () => {
    const small: ChunkerParams = { minSize: 256, avgSize: 1024, normalSize: 900, maxSize: 4096, normalization: 1 };
    const lengths: number[] = [];
    for (let pos = 0; pos < data.length; ) {
      const n = findCutPoint(data, pos, data.length, true, small);
      lengths.push(n);
      pos += n;
    }
    expect(lengths.slice(0, -1).every((n) => n > small.minSize && n <= small.maxSize)).toBe(true);
    expect(lengths.length).toBeGreaterThan(data.length / small.maxSize);
  });
});

describe('Chunker', () => {
  it('gives nothing for empty input', () => {
    const c = new Chunker();
    expect(c.push(new Uint8Array(0))).toEqual([]);
    expect(c.finish()).toEqual([]);
  });

  it('refuses use after finish', () => {
    const c = new Chunker();
    c.finish();
    expect(() => c.push(Buffer.from('x'))).toThrow(/finished/);
  });

  it('does not keep a view of a pushed block for its pending bytes', () => {
    const data = sampleBytes(3, 100_000);
    const expected = chunkBySplits(Buffer.from(data), []).map((b) => Buffer.from(b));
    const c = new Chunker();
    const block = Buffer.from(data);
    const out = c.push(block);
    block.fill(0); // the caller reuses its read buffer after taking the completed chunks
    out.push(...c.finish());
    expect(out[out.length - 1].equals(expected[expected.length - 1])).toBe(true);
  });

  it('gives the same chunks when fed a few bytes at a time (the rolling hash resumes across pushes)', () => {
    const data = sampleBytes(99, 3 * maxSize);
    const splits: number[] = [];
    for (let i = 7; i < data.length; i += 7) splits.push(i);
    expect(endsOf(chunkBySplits(data, splits))).toEqual(cutsOf(data));
  });

  it('property: chunks concatenate to the input and match findCutPoint, however the input is split', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 31 }),
        fc.integer({ min: 0, max: 3 * maxSize }),
        fc.array(fc.nat(), { maxLength: 40 }),
        (seed, size, rawSplits) => {
          const data = sampleBytes(seed, size);
          const splits = rawSplits.map((s) => (size === 0 ? 0 : s % size));
          const chunks = chunkBySplits(data, splits);
          expect(Buffer.concat(chunks).equals(data)).toBe(true);
          expect(chunks.every((c) => c.length > 0 && c.length <= maxSize)).toBe(true);
          expect(endsOf(chunks)).toEqual(cutsOf(data));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('property: an edit moves no boundary before it, nor any boundary well after it', () => {
    const margin = 4 * maxSize;
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 31 }),
        fc.integer({ min: 2 * maxSize, max: 4 * maxSize }),
        fc.nat({ max: 100 }),
        fc.uint8Array({ maxLength: 100 }),
        (seed, editAt, removed, inserted) => {
          const data = sampleBytes(seed, 4 * maxSize + 2 * margin);
          const edited = Buffer.concat([data.subarray(0, editAt), inserted, data.subarray(editAt + removed)]);
          const shift = inserted.length - removed;
          const before = cutsOf(data);
          const after = cutsOf(edited);
          expect(after.filter((c) => c <= editAt)).toEqual(before.filter((c) => c <= editAt));
          const farOld = before.filter((c) => c >= editAt + removed + margin).map((c) => c + shift);
          const farNew = after.filter((c) => c >= editAt + inserted.length + margin);
          expect(farNew).toEqual(farOld);
          expect(farNew.length).toBeGreaterThan(0);
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe('average chunk size', () => {
  it('is close to the nominal 64 KiB on random bytes (deterministic seed)', () => {
    let x = 0x9e3779b9;
    const data = Buffer.alloc(32 * 1024 * 1024);
    for (let i = 0; i < data.length; i += 4) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      data.writeUInt32LE(x >>> 0, i);
    }
    const c = new Chunker();
    const sizes = [...c.push(data), ...c.finish()].map((b) => b.length);
    const avg = sizes.reduce((s, n) => s + n, 0) / sizes.length;
    expect(avg).toBeGreaterThan(60 * 1024);
    expect(avg).toBeLessThan(68 * 1024);
  });
});
