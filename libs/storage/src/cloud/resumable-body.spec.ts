import { PassThrough, Readable } from 'node:stream';
import { readAll } from './cloud-body';
import { DownloadAnswer, resumableBody } from './resumable-body';

const BYTES = Buffer.from(Array.from({ length: 100 }, (_, i) => i));

/** An answer for `BYTES[from, from + announced)` that sends `sends` of them and then `then`s. */
function answer(from: number, announced: number, sends: number, then: 'end' | 'error' | 'stall' = 'end'): DownloadAnswer {
  const body = new PassThrough();
  body.write(BYTES.subarray(from, from + sends));
  if (then === 'end') body.end();
  if (then === 'error') setImmediate(() => body.destroy(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })));
  return { body, bytes: announced };
}

/** The adapter's part: a transport error, named by what was read. A body that broke off without one is the body's own. */
const fail = (e: unknown, what: string) => new Error(`transport: cannot ${what}: ${(e as Error).message}`);
const of = { url: 'mem://b', key: 'packs/a.pack', fail };

describe('resumableBody', () => {
  it('passes a whole answer through, and fails one that ends at another length than announced when it cannot resume', async () => {
    expect(await readAll(resumableBody(answer(0, 100, 100), { ...of, rest: undefined }))).toEqual(BYTES);
    expect(await readAll(resumableBody({ body: Readable.from([BYTES]), bytes: undefined }, { ...of, rest: undefined }))).toEqual(BYTES);
    await expect(readAll(resumableBody(answer(0, 100, 40), { ...of, rest: undefined }))).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      message: 'cannot read packs/a.pack in mem://b: the body ended after 40 of 100 bytes',
    });
  });

  it('asks for the rest from the byte reached each time the body breaks off, and joins the pieces in order', async () => {
    const asked: [number, number][] = [];
    const pieces = [answer(0, 100, 30, 'error'), answer(30, 70, 20, 'end'), answer(50, 50, 50)];
    const rest = async (done: number, length: number) => (asked.push([done, length]), pieces.shift()!);
    const body = resumableBody(pieces.shift()!, { ...of, rest });
    expect(await readAll(body)).toEqual(BYTES);
    expect(asked).toEqual([[30, 70], [50, 50]]);
  });

  it('gives up after the resumes it may make, with the last break', async () => {
    let asked = 0;
    const rest = async (done: number, length: number) => (asked++, answer(done, length, 10, 'error'));
    await expect(readAll(resumableBody(answer(0, 100, 10, 'error'), { ...of, rest, resumes: 2 }))).rejects.toThrow(
      'transport: cannot read packs/a.pack in mem://b (resumed 2 times): socket hang up',
    );
    expect(asked).toBe(2);
  });

  it('takes a stall past idleMs for a break (an SDK whose stream never says its connection closed)', async () => {
    const stalled = answer(0, 100, 60, 'stall');
    await expect(readAll(resumableBody(stalled, { ...of, rest: undefined, idleMs: 100 }))).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      message: 'cannot read packs/a.pack in mem://b: no bytes came for 100 ms',
    });
    expect(stalled.body.destroyed).toBe(true);
    const rest = async (done: number, length: number) => answer(done, length, length);
    expect(await readAll(resumableBody(answer(0, 100, 60, 'stall'), { ...of, rest, idleMs: 100 }))).toEqual(BYTES);
  });

  it('never splices in a rest of another length, nor goes on after the rest was refused', async () => {
    const whole = async () => answer(0, 100, 100);
    await expect(readAll(resumableBody(answer(0, 100, 30, 'error'), { ...of, rest: whole }))).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      message: 'cannot read packs/a.pack in mem://b (resumed once): asked again for the last 70 bytes, it answered 100 bytes',
    });
    const changed = new Error('changed while it was read');
    const refused = async () => Promise.reject(changed);
    await expect(readAll(resumableBody(answer(0, 100, 30, 'error'), { ...of, rest: refused }))).rejects.toBe(changed);
  });

  it('maps an error the body raises before anyone reads, instead of crashing the process', async () => {
    const body = new PassThrough();
    const relayed = resumableBody({ body, bytes: 100 }, { ...of, rest: undefined });
    body.destroy(new Error('boom'));
    await new Promise((resolve) => setImmediate(resolve));
    await expect(readAll(relayed)).rejects.toThrow('transport: cannot read packs/a.pack in mem://b: boom');
  });

  it('destroys the body when the reader stops early', async () => {
    const first = answer(0, 100, 50, 'stall');
    const body = resumableBody(first, { ...of, rest: undefined, idleMs: 60_000 });
    for await (const chunk of body) {
      expect((chunk as Buffer).length).toBe(50);
      break;
    }
    expect(first.body.destroyed).toBe(true);
  });
});
