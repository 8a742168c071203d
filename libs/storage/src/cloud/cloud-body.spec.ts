import { PassThrough, Readable } from 'node:stream';
import { openUploadBody, readAll } from './cloud-body';

function chunks(sizes: number[], failAfter?: Error): Readable {
  return Readable.from(
    (async function* () {
      let fill = 0;
      for (const size of sizes) yield Buffer.alloc(size, fill++);
      if (failAfter) throw failAfter;
    })(),
    { objectMode: false },
  );
}

describe('openUploadBody', () => {
  it('returns a body under the limit whole, and bytes as they are', async () => {
    const small = await openUploadBody(chunks([3, 4]), 10);
    expect(small.whole).toEqual(Buffer.concat([Buffer.alloc(3, 0), Buffer.alloc(4, 1)]));
    expect(small.stream).toBeUndefined();
    const bytes = Buffer.from('abc');
    expect((await openUploadBody(bytes, 1)).whole).toBe(bytes);
    expect((await openUploadBody(Readable.from(['a', 'b']), 10)).whole?.toString()).toBe('ab');
  });

  it('streams a body over the limit: what it read first, then the rest, in order', async () => {
    const body = await openUploadBody(chunks([6, 6, 6]), 10);
    expect(body.whole).toBeUndefined();
    const all = await readAll(body.stream!);
    expect(all).toEqual(Buffer.concat([Buffer.alloc(6, 0), Buffer.alloc(6, 1), Buffer.alloc(6, 2)]));
    expect(body.sourceError()).toBeUndefined();
  });

  it('passes on the source\'s buffers unjoined, even several written before it is read', async () => {
    const source = new PassThrough();
    const pushed = [Buffer.alloc(6, 1), Buffer.alloc(6, 2), Buffer.alloc(6, 3), Buffer.alloc(6, 4)];
    for (const p of pushed) source.write(p);
    source.end();
    const body = await openUploadBody(source, 10);
    const out: Buffer[] = [];
    body.stream!.on('data', (b: Buffer) => out.push(b));
    await new Promise((resolve) => body.stream!.on('end', resolve));
    expect(out.map((b) => b.length)).toEqual([6, 6, 6, 6]);
    expect(Buffer.concat(out)).toEqual(Buffer.concat(pushed));
  });

  it('does not record the source ending because the body was discarded as its failure', async () => {
    const source = new PassThrough();
    source.write(Buffer.alloc(12, 1));
    const body = await openUploadBody(source, 10);
    // The upload reads on, waiting for more, when it is given up for a failure of its own.
    const reading = readAll(body.stream!).catch(() => undefined);
    await new Promise((resolve) => setImmediate(resolve));
    body.discard();
    await reading;
    expect(body.sourceError()).toBeUndefined();
  });

  it('throws the caller’s own error while peeking, and records it after', async () => {
    const early = new Error('early');
    await expect(openUploadBody(chunks([2], early), 10)).rejects.toBe(early);
    const late = new Error('late');
    const body = await openUploadBody(chunks([6, 6], late), 10);
    await expect(readAll(body.stream!)).rejects.toBe(late);
    expect(body.sourceError()).toEqual({ error: late });
  });
});
