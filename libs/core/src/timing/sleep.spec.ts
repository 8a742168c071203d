import { sleep } from './sleep';

describe('sleep', () => {
  // Timers that are never advanced: a sleep that waits for its timer never resolves.
  beforeEach(() => jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] }));
  afterEach(() => jest.useRealTimers());

  const settled = async (p: Promise<void>) => {
    let done = false;
    void p.then(() => (done = true));
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    return done;
  };

  it('resolves after its time', async () => {
    const p = sleep(1000);
    expect(await settled(p)).toBe(false);
    jest.advanceTimersByTime(1000);
    expect(await settled(p)).toBe(true);
  });

  it('resolves as soon as the signal aborts, and at once on one already aborted', async () => {
    const abort = new AbortController();
    const p = sleep(3_600_000, abort.signal);
    expect(await settled(p)).toBe(false);
    abort.abort();
    expect(await settled(p)).toBe(true);
    expect(await settled(sleep(3_600_000, abort.signal))).toBe(true);
  });
});
