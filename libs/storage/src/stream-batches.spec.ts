import { PassThrough, Readable } from 'node:stream';
import { chunksOf, forEachBatch } from './stream-batches';

const parts = (sizes: number[]) => sizes.map((n, i) => Buffer.alloc(n, i + 1));

describe('forEachBatch', () => {
  it('hands over the very buffers the stream pushed, in batches of at least minBytes (the last smaller)', async () => {
    const pushed = parts([3, 3, 3, 3, 3, 2]);
    const batches: Buffer[][] = [];
    await forEachBatch(Readable.from(pushed), 6, async (batch, bytes) => {
      expect(bytes).toBe(batch.reduce((n, b) => n + b.length, 0));
      batches.push(batch);
    });
    expect(batches.map((b) => b.length)).toEqual([2, 2, 2]);
    expect(batches.flat().every((b, i) => b === pushed[i])).toBe(true);
  });

  it('rejects with the wrapped source error, and a failing take destroys the source', async () => {
    const failing = new PassThrough();
    failing.write(Buffer.alloc(4));
    setImmediate(() => failing.destroy(new Error('source broke')));
    const wrap = (e: unknown) => new Error(`wrapped: ${(e as Error).message}`);
    await expect(forEachBatch(failing, 100, async () => undefined, wrap)).rejects.toThrow('wrapped: source broke');
    const source = Readable.from(parts([4, 4, 4]));
    const take = async () => Promise.reject(new Error('take broke'));
    await expect(forEachBatch(source, 4, take)).rejects.toThrow('take broke');
    expect(source.destroyed).toBe(true);
  });
});

describe('chunksOf', () => {
  it('yields each pushed buffer as it is, even when several wait (read() would join them)', async () => {
    const source = new PassThrough();
    const pushed = parts([4, 4, 4]);
    for (const p of pushed) source.write(p);
    source.end();
    const got: Buffer[] = [];
    for await (const chunk of chunksOf(source)) got.push(chunk);
    expect(got.length).toBe(3);
    expect(got.every((b, i) => b.equals(pushed[i]))).toBe(true);
  });

  it('fails the first pull for a source that failed before it, and destroys a source it breaks off from', async () => {
    const failed = new PassThrough();
    failed.on('error', () => undefined);
    failed.destroy(new Error('early'));
    await new Promise((r) => setImmediate(r));
    await expect(chunksOf(failed).next()).rejects.toThrow('early');
    const source = Readable.from(parts([4, 4, 4]));
    for await (const chunk of chunksOf(source)) {
      expect(chunk.length).toBe(4);
      break;
    }
    expect(source.destroyed).toBe(true);
  });
});
