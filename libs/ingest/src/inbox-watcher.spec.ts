import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { InboxWatcher } from './inbox-watcher';

describe('InboxWatcher', () => {
  let inbox: string;
  beforeEach(async () => {
    inbox = await fs.mkdtemp(path.join(tmpdir(), 'trib-inbox-'));
  });
  afterEach(() => fs.rm(inbox, { recursive: true, force: true }));

  async function put(name: string, mtimeSec: number): Promise<void> {
    const p = path.join(inbox, name);
    await fs.writeFile(p, name);
    await fs.utimes(p, mtimeSec, mtimeSec);
  }

  it('lists landed files oldest first (mtime, then name) and ignores dotfiles, .tmp files and folders', async () => {
    await put('c.csv', 1000);
    await put('b.csv', 2000);
    await put('a.csv', 2000);
    await put('.writing.csv', 500);
    await put('d.csv.tmp', 500);
    await fs.mkdir(path.join(inbox, 'sub'));
    const w = new InboxWatcher(inbox, { settleMs: 0 });
    expect((await w.landed()).map((f) => f.name)).toEqual(['c.csv', 'a.csv', 'b.csv']);
  });

  it('tells once of what it will never take: a folder, a symlink, a name that is not UTF-8', async () => {
    await put('ok.csv', 1000);
    await fs.mkdir(path.join(inbox, 'sub'));
    await fs.symlink(path.join(inbox, 'ok.csv'), path.join(inbox, 'link.csv'));
    await fs.writeFile(Buffer.concat([Buffer.from(inbox + '/bad'), Buffer.from([0xff, 0xfe]), Buffer.from('.csv')]), 'x');
    const told: string[] = [];
    const w = new InboxWatcher(inbox, { settleMs: 0, onSkip: (name, why) => told.push(`${name}: ${why}`) });
    expect((await w.landed()).map((f) => f.name)).toEqual(['ok.csv']);
    await w.landed();
    expect(told.sort()).toEqual([
      'bad\ufffd\ufffd.csv: its name is not valid UTF-8; rename it',
      'link.csv: a symlink: batches are regular files',
      'sub: a folder: batches are files',
    ]);
  });

  it('refuses an inbox that is a file, or below one, as bad input naming it', async () => {
    const file = path.join(inbox, 'a-file');
    await fs.writeFile(file, 'x');
    for (const where of [file, path.join(file, 'below')]) {
      await expect(new InboxWatcher(where, { settleMs: 0 }).ensure()).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
        message: `inbox ${where} cannot be used: not a folder`,
      });
    }
    await new InboxWatcher(path.join(inbox, 'new', 'deep'), { settleMs: 0 }).ensure();
    expect((await fs.stat(path.join(inbox, 'new', 'deep'))).isDirectory()).toBe(true);
  });

  it('moves a batch to .done, never over an earlier one, and to .failed', async () => {
    const w = new InboxWatcher(inbox, { settleMs: 0 });
    await put('a.csv', 1000);
    let [a] = await w.landed();
    expect(await w.markDone(a)).toBe(path.join(inbox, '.done', 'a.csv'));
    await put('a.csv', 1000);
    [a] = await w.landed();
    expect(await w.markDone(a)).toBe(path.join(inbox, '.done', 'a.csv.1'));
    await put('b.csv', 1000);
    const [b] = await w.landed();
    await w.markFailed(b);
    expect(await w.landed()).toEqual([]);
    expect(await fs.readdir(path.join(inbox, '.failed'))).toEqual(['b.csv']);
    expect((await fs.readdir(path.join(inbox, '.done'))).sort()).toEqual(['a.csv', 'a.csv.1']);
  });

  it('takes a file once a later look finds it unmodified and its mtime settleMs old, holding later ones behind it', async () => {
    const w = new InboxWatcher(inbox, { settleMs: 60_000 });
    await put('old.csv', 1000);
    const growing = path.join(inbox, 'growing.csv');
    await fs.writeFile(growing, 'x\n1\n'); // mtime now: a writer may still be at it
    await put('newer.csv', Date.now() / 1000 + 1); // sorts after it
    // The first look takes nothing on its mtime alone: a file server's clock may lag this one's.
    expect(await w.landed()).toEqual([]);
    expect(w.settling.sort()).toEqual(['growing.csv', 'newer.csv', 'old.csv']);
    expect((await w.landed()).map((f) => f.name)).toEqual(['old.csv']);
    expect(w.settling.sort()).toEqual(['growing.csv', 'newer.csv']);
    await fs.appendFile(growing, '2\n');
    expect((await w.landed()).map((f) => f.name)).toEqual(['old.csv']);
    // An hour old by its mtime and unchanged since the look before, it has settled; newer.csv has not.
    const past = Date.now() / 1000 - 3600;
    await fs.utimes(growing, past, past);
    expect((await w.landed()).map((f) => f.name)).toEqual(['old.csv']);
    expect((await w.landed()).map((f) => f.name)).toEqual(['old.csv', 'growing.csv']);
    expect(w.settling).toEqual(['newer.csv']);
    expect((await new InboxWatcher(inbox, { settleMs: 0 }).landed()).map((f) => f.name)).toEqual(['old.csv', 'growing.csv', 'newer.csv']);
  });

  it('judges an mtime from a clock ahead or behind by looking: unchanged over settleMs of looks', async () => {
    const w = new InboxWatcher(inbox, { settleMs: 100 });
    const future = Date.now() / 1000 + 86_400;
    await put('ahead.csv', future);
    expect(await w.landed()).toEqual([]);
    await new Promise((r) => setTimeout(r, 150));
    await fs.appendFile(path.join(inbox, 'ahead.csv'), 'more');
    await fs.utimes(path.join(inbox, 'ahead.csv'), future, future);
    expect(await w.landed()).toEqual([]); // it grew: the wait starts again
    await new Promise((r) => setTimeout(r, 150));
    expect((await w.landed()).map((f) => f.name)).toEqual(['ahead.csv']);
    // Settled, it stays so while unchanged, even after a look that could not take it.
    expect((await w.landed()).map((f) => f.name)).toEqual(['ahead.csv']);
    expect(w.settling).toEqual([]);
    // A file whose mtime lags (a file server behind this clock) but that grows between looks is not taken.
    const lagging = path.join(inbox, 'lagging.csv');
    for (let i = 0; i < 3; i++) {
      await fs.appendFile(lagging, `${i}\n`);
      await fs.utimes(lagging, 1000 + i, 1000 + i);
      expect((await w.landed()).map((f) => f.name)).toEqual([]);
    }
  });

  it('tells of a file that keeps changing, once per stretch of stillChangingMs, while the files after it wait', async () => {
    const told: string[] = [];
    const w = new InboxWatcher(inbox, { settleMs: 60_000, stillChangingMs: 200, onStillChanging: (name) => told.push(name) });
    const endless = path.join(inbox, 'endless.log');
    await fs.writeFile(endless, 'line\n');
    await fs.utimes(endless, 1000, 1000);
    await put('after.csv', 2000);
    // Changed at every look, it never settles, however long the looking goes on.
    const start = Date.now();
    for (let i = 0; Date.now() - start < 500 || (told.length === 0 && Date.now() - start < 10_000); i++) {
      await fs.appendFile(endless, `line ${i}\n`);
      await fs.utimes(endless, 1000, 1000 + (i % 2));
      expect(await w.landed()).toEqual([]);
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(told.length).toBeGreaterThanOrEqual(1);
    expect(told.length).toBeLessThanOrEqual(Math.ceil((Date.now() - start) / 200));
    expect(new Set(told)).toEqual(new Set(['endless.log']));
    expect(w.settling).toEqual(['endless.log']); // after.csv has settled, and waits behind it
  });

  it('leaves an empty file until it holds data, telling once', async () => {
    const told: string[] = [];
    const w = new InboxWatcher(inbox, { settleMs: 0, onSkip: (name, why) => told.push(`${name}: ${why}`) });
    await fs.writeFile(path.join(inbox, 'soon.csv'), '');
    expect(await w.landed()).toEqual([]);
    expect(await w.landed()).toEqual([]);
    expect(told).toEqual(['soon.csv: empty: it is taken once it holds data']);
    expect(w.settling).toEqual(['soon.csv']); // waiting, as /health counts it
    await fs.writeFile(path.join(inbox, 'soon.csv'), 'x\n');
    expect((await w.landed()).map((f) => f.name)).toEqual(['soon.csv']);
    expect(w.settling).toEqual([]);
  });

  it('tells whether a listed file is still as listed, for the check just before it is claimed', async () => {
    const w = new InboxWatcher(inbox, { settleMs: 60_000 });
    await put('a.csv', 1000);
    await w.landed();
    const [a] = await w.landed();
    expect(await w.unchanged(a)).toBe(true);
    await fs.appendFile(a.path, 'more');
    expect(await w.unchanged(a)).toBe(false);
    await fs.rm(a.path);
    expect(await w.unchanged(a)).toBe(false);
  });

  it('calls back when a file lands', async () => {
    const w = new InboxWatcher(inbox, { settleMs: 0 });
    let handle: { close(): void } | undefined;
    await new Promise<void>((resolve) => {
      handle = w.watch(resolve);
      void fs.writeFile(path.join(inbox, 'x.csv'), 'x');
    });
    handle!.close();
  });
});
