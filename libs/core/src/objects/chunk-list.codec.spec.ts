import fc from 'fast-check';
import { IntegrityError } from '../errors/trib-error';
import { sha256 } from '../hashing/sha256';
import { ObjectId } from '../ids/ids';
import {
  CHUNK_LIST_MAX_CHILDREN,
  ChunkListBuilder,
  ChunkListNode,
  decodeChunkList,
  encodeChunkList,
  isChunkListBoundary,
  readUleb128,
  writeUleb128,
} from './chunk-list.codec';
import { ObjectSink } from './object-source';
import { ChunkRef, FileRef } from './object-types';

class MemorySink implements ObjectSink {
  readonly objects = new Map<ObjectId, Buffer>();
  puts = 0;
  async put(bytes: Buffer): Promise<ObjectId> {
    const id = sha256(bytes);
    this.objects.set(id, Buffer.from(bytes));
    this.puts++;
    return id;
  }
}

function fakeChunks(seed: string, count: number): ChunkRef[] {
  return Array.from({ length: count }, (_, i) => ({ id: sha256(Buffer.from(`${seed}/${i}`)), size: 16_385 + ((i * 7919) % 240_000) }));
}

async function build(refs: readonly ChunkRef[], sink = new MemorySink()): Promise<FileRef> {
  const b = new ChunkListBuilder(sink);
  for (const r of refs) await b.add(r);
  return b.finish();
}

/** Reference model: the whole tree built level by level from the grouping rule. */
function modelRoot(refs: readonly ChunkRef[]): FileRef {
  if (refs.length === 0) return { id: sha256(new Uint8Array(0)), chunked: false, size: 0 };
  let level: ChunkRef[] = [...refs];
  let k = 0;
  while (level.length > 1) {
    const next: ChunkRef[] = [];
    let group: ChunkRef[] = [];
    const close = () => {
      const bytes = encodeChunkList({ level: k, children: group });
      next.push({ id: sha256(bytes), size: group.reduce((s, c) => s + c.size, 0) });
      group = [];
    };
    for (const c of level) {
      group.push(c);
      if (group.length === CHUNK_LIST_MAX_CHILDREN || (group.length >= 2 && isChunkListBoundary(c.id))) close();
    }
    if (group.length > 0) close();
    level = next;
    k++;
  }
  return { id: level[0].id, chunked: k > 0, size: level[0].size };
}

const sampleNode: ChunkListNode = {
  level: 0,
  children: [
    { id: sha256(Buffer.from('a')), size: 70_000 },
    { id: sha256(Buffer.from('b')), size: 5 },
  ],
};

describe('LEB128', () => {
  it('round-trips safe integers and uses the minimal form', () => {
    fc.assert(
      fc.property(fc.maxSafeNat(), (n) => {
        const out: number[] = [];
        writeUleb128(out, n);
        expect(out[out.length - 1]).toBeLessThan(0x80);
        expect(out.length === 1 || out[out.length - 1] !== 0).toBe(true);
        expect(readUleb128(Buffer.from([9, ...out]), 1)).toEqual({ value: n, next: out.length + 1 });
      }),
    );
    const out: number[] = [];
    writeUleb128(out, 300);
    expect(out).toEqual([0xac, 0x02]);
  });

  it('rejects truncated, non-minimal and oversized values', () => {
    expect(() => readUleb128(Buffer.from([0x80]), 0)).toThrow(/truncated/);
    expect(() => readUleb128(Buffer.from([0x81, 0x00]), 0)).toThrow(/not minimal/);
    expect(() => readUleb128(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), 0)).toThrow(/out of range/);
    expect(() => writeUleb128([], -1)).toThrow();
    expect(() => writeUleb128([], 2 ** 53)).toThrow();
  });
});

describe('chunk-list codec', () => {
  it('encodes the documented layout', () => {
    const bytes = encodeChunkList(sampleNode);
    expect(bytes.subarray(0, 8).toString('latin1')).toBe('list 1\n\x00');
    expect(bytes.subarray(8, 40).toString('hex')).toBe(sampleNode.children[0].id);
    expect([...bytes.subarray(40, 43)]).toEqual([0xf0, 0xa2, 0x04]);
    expect(bytes.length).toBe(8 + 32 + 3 + 32 + 1);
  });

  it('round-trips any valid node', () => {
    const ref = fc.record({
      id: fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex') as ObjectId),
      size: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
    });
    fc.assert(
      fc.property(fc.nat({ max: 32 }), fc.array(ref, { minLength: 1, maxLength: 256 }), (level, children) => {
        expect(decodeChunkList(encodeChunkList({ level, children }))).toEqual({ level, children });
      }),
      { numRuns: 50 },
    );
  });

  it('refuses to encode invalid nodes', () => {
    expect(() => encodeChunkList({ level: 0, children: [] })).toThrow(/children/);
    expect(() => encodeChunkList({ level: 33, children: sampleNode.children })).toThrow(/level/);
    expect(() => encodeChunkList({ level: 0, children: [{ id: 'xyz' as ObjectId, size: 1 }] })).toThrow(/id/);
    expect(() => encodeChunkList({ level: 0, children: [{ ...sampleNode.children[0], size: 0 }] })).toThrow(/size/);
    const many = fakeChunks('m', 257);
    expect(() => encodeChunkList({ level: 0, children: many })).toThrow(/children/);
  });

  it('rejects malformed bytes with IntegrityError', () => {
    const good = encodeChunkList(sampleNode);
    const cases: Buffer[] = [
      Buffer.from('tree 1\n\x00'),
      good.subarray(0, 8), // no children
      good.subarray(0, 30), // truncated id
      good.subarray(0, 41), // truncated size
      Buffer.concat([good, Buffer.from([1, 2, 3])]), // trailing garbage
      Buffer.concat([good.subarray(0, 7), Buffer.from([33]), good.subarray(8)]), // level too high
      Buffer.concat([good.subarray(0, 40), Buffer.from([0x80, 0x00]), good.subarray(43)]), // non-minimal size
      Buffer.concat([good.subarray(0, 40), Buffer.from([0x00]), good.subarray(43)]), // empty child
      Buffer.concat([encodeChunkList({ level: 0, children: fakeChunks('x', 256) }), good.subarray(8, 43)]), // 257
    ];
    for (const bytes of cases) {
      expect(() => decodeChunkList(bytes)).toThrow(IntegrityError);
    }
  });
});

describe('ChunkListBuilder', () => {
  it('writes no node for zero or one chunk', async () => {
    const sink = new MemorySink();
    expect(await build([], sink)).toEqual({ id: sha256(new Uint8Array(0)), chunked: false, size: 0 });
    const [one] = fakeChunks('one', 1);
    expect(await build([one], sink)).toEqual({ id: one.id, chunked: false, size: one.size });
    expect(sink.puts).toBe(0);
  });

  it('writes a single level-0 node for two chunks', async () => {
    const sink = new MemorySink();
    const refs = fakeChunks('two', 2);
    const file = await build(refs, sink);
    expect(file).toEqual({ id: sha256(encodeChunkList({ level: 0, children: refs })), chunked: true, size: refs[0].size + refs[1].size });
    expect(sink.puts).toBe(1);
  });

  it('matches the level-by-level reference model', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string(), fc.nat({ max: 3000 }), async (seed, count) => {
        const refs = fakeChunks(seed, count);
        expect(await build(refs)).toEqual(modelRoot(refs));
      }),
      { numRuns: 30 },
    );
  });

  it('stays within 256 children even when no child is a boundary', async () => {
    const sink = new MemorySink();
    const refs = fakeChunks('nb', 3000).filter((r) => !isChunkListBoundary(r.id)).slice(0, 600);
    const file = await build(refs, sink);
    const root = decodeChunkList(sink.objects.get(file.id)!);
    expect(root.level).toBe(1);
    expect(root.children.length).toBe(3);
    expect(decodeChunkList(sink.objects.get(root.children[0].id)!).children.length).toBe(256);
  });

  it('handles a file whose chunks are all identical', async () => {
    const [zero] = fakeChunks('zero', 1);
    const refs = Array.from({ length: 5000 }, () => zero);
    const file = await build(refs);
    expect(file).toEqual(modelRoot(refs));
    expect(file.size).toBe(5000 * zero.size);
  });

  it('rewrites only a few small nodes when a chunk in the middle of a 1 GiB file is replaced by two', async () => {
    const refs = fakeChunks('big', 16_384).map((r) => ({ ...r, size: 65_536 }));
    const before = new MemorySink();
    const original = await build(refs, before);
    expect(original.size).toBe(2 ** 30);
    for (const at of [3, 5_000, 8_192, 16_000]) {
      const edited = [...refs.slice(0, at), ...fakeChunks(`edit${at}`, 2), ...refs.slice(at + 1)];
      const after = new MemorySink();
      await build(edited, after);
      const fresh = [...after.objects].filter(([id]) => !before.objects.has(id));
      const freshBytes = fresh.reduce((s, [, b]) => s + b.length, 0);
      expect(fresh.length).toBeLessThanOrEqual(6);
      expect(freshBytes).toBeLessThanOrEqual(16 * 1024);
    }
  });
});
