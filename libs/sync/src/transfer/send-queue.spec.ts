import { SendQueue } from './send-queue';

/** A read that resolves when the test says so. */
function deferred(): { promise: Promise<Buffer[]>; resolve(b: Buffer[]): void; reject(e: Error): void } {
  let resolve!: (b: Buffer[]) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<Buffer[]>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('SendQueue', () => {
  it('sends in the order queued even when later reads finish first', async () => {
    const q = new SendQueue(100);
    const sent: string[] = [];
    const reads = [deferred(), deferred(), deferred()];
    for (let i = 0; i < reads.length; i++) {
      await q.push({ bytes: 10, ready: reads[i].promise, send: async ([b]) => void sent.push(b.toString()) });
    }
    reads[2].resolve([Buffer.from('c')]);
    reads[1].resolve([Buffer.from('b')]);
    reads[0].resolve([Buffer.from('a')]);
    await q.drain();
    expect(sent).toEqual(['a', 'b', 'c']);
  });

  it('lets reads run ahead only up to its bound: push sends from the head first', async () => {
    const q = new SendQueue(25);
    const sent: number[] = [];
    let maxQueued = 0;
    let queued = 0;
    for (let i = 0; i < 10; i++) {
      queued += 10;
      await q.push({
        bytes: 10,
        ready: Promise.resolve([Buffer.alloc(10)]),
        send: async () => {
          queued -= 10;
          sent.push(i);
        },
      });
      maxQueued = Math.max(maxQueued, queued);
    }
    // After each push at most 25 bytes stay queued: two items of 10.
    expect(maxQueued).toBe(20);
    expect(sent).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    await q.drain();
    expect(sent).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('surfaces a failed read at its turn and sends nothing after it', async () => {
    const q = new SendQueue(1000);
    const sent: string[] = [];
    const bad = deferred();
    await q.push({ bytes: 1, ready: Promise.resolve([Buffer.from('a')]), send: async ([b]) => void sent.push(b.toString()) });
    await q.push({ bytes: 1, ready: bad.promise, send: async ([b]) => void sent.push(b.toString()) });
    await q.push({ bytes: 1, ready: Promise.resolve([Buffer.from('c')]), send: async ([b]) => void sent.push(b.toString()) });
    bad.reject(new Error('disk gone'));
    await expect(q.drain()).rejects.toThrow('disk gone');
    expect(sent).toEqual(['a']);
  });
});
