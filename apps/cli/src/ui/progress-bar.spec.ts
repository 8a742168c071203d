import { formatBytes, ProgressBar } from './progress-bar';

/** A terminal-like stream that records what is written. */
function fakeTerminal(isTTY: boolean): { stream: NodeJS.WriteStream; written: string[] } {
  const written: string[] = [];
  const stream = { isTTY, write: (s: string) => (written.push(s), true) } as unknown as NodeJS.WriteStream;
  return { stream, written };
}

describe('ProgressBar', () => {
  const savedCi = process.env.CI;
  beforeEach(() => delete process.env.CI);
  afterEach(() => {
    if (savedCi === undefined) delete process.env.CI;
    else process.env.CI = savedCi;
  });

  it('draws a bar with the share done, and clears its line when done', () => {
    const t = fakeTerminal(true);
    const bar = new ProgressBar('checkout', t.stream);
    bar.update(512, 1024);
    expect(t.written).toEqual([`\rcheckout [${'#'.repeat(15)}${'.'.repeat(15)}]  50% 512 B/1.0 KiB\x1b[K`]);
    bar.done();
    expect(t.written[1]).toBe('\r\x1b[K');
  });

  it('counts the files of a scan that has nothing to hash yet, and adds them after the bar once it has', () => {
    const t = fakeTerminal(true);
    const bar = new ProgressBar('status', t.stream);
    bar.update(0, 0, 4096);
    expect(t.written).toEqual(['\rstatus: 4096 files scanned\x1b[K']);
    jest.spyOn(Date, 'now').mockReturnValue(Date.now() + 1000);
    bar.update(512, 1024, 5120);
    expect(t.written[1]).toBe(`\rstatus [${'#'.repeat(15)}${'.'.repeat(15)}]  50% 512 B/1.0 KiB, 5120 files\x1b[K`);
    jest.restoreAllMocks();
  });

  it('counts the bytes of work whose total is unknown, such as a transfer', () => {
    const t = fakeTerminal(true);
    const bar = new ProgressBar('publish', t.stream);
    bar.count(3 * 1024 * 1024, 'sent');
    expect(t.written).toEqual(['\rpublish 3.0 MiB sent\x1b[K']);
    bar.done();
    expect(t.written[1]).toBe('\r\x1b[K');
  });

  it('stays silent when stderr is not a terminal, or under CI', () => {
    const pipe = fakeTerminal(false);
    const bar = new ProgressBar('subscribe', pipe.stream);
    bar.count(1, 'received');
    bar.update(1, 2);
    bar.done();
    expect(pipe.written).toEqual([]);
    process.env.CI = '1';
    const ci = fakeTerminal(true);
    new ProgressBar('subscribe', ci.stream).count(1, 'received');
    expect(ci.written).toEqual([]);
  });

  it('formats sizes in binary units', () => {
    expect([formatBytes(0), formatBytes(1023), formatBytes(1536), formatBytes(5 * 1024 ** 3)]).toEqual(['0 B', '1023 B', '1.5 KiB', '5.0 GiB']);
  });
});
