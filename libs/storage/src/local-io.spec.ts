import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { makeDirectory } from './local-io';

describe('makeDirectory', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(tmpdir(), 'make-directory-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('creates missing parents and returns the first folder it made, or undefined for a folder already there', async () => {
    const deep = path.join(dir, 'a', 'b', 'c');
    await expect(makeDirectory(deep)).resolves.toBe(path.join(dir, 'a'));
    expect(statSync(deep).isDirectory()).toBe(true);
    await expect(makeDirectory(deep)).resolves.toBeUndefined();
    await expect(makeDirectory(path.join(dir, 'a', 'd'))).resolves.toBe(path.join(dir, 'a', 'd'));
    // As the path reads, not as its segments do: `missing/..` is not made on the way.
    await expect(makeDirectory(`${dir}/missing/../e`)).resolves.toBe(path.join(dir, 'e'));
    expect(existsSync(path.join(dir, 'missing'))).toBe(false);
  });

  it('refuses a file in the way, as the file or as a parent', async () => {
    writeFileSync(path.join(dir, 'f'), 'x');
    await expect(makeDirectory(path.join(dir, 'f'))).rejects.toMatchObject({ code: 'EEXIST' });
    await expect(makeDirectory(path.join(dir, 'f', 'g', 'h'))).rejects.toMatchObject({ code: 'ENOTDIR' });
  });

  // fs.mkdir(dir, { recursive: true }) never settles there on Node 20; the test's timeout would catch a return of it.
  (existsSync('/proc/self') ? it : it.skip)('fails, not loops, under a folder that takes no new entries (/proc)', async () => {
    await expect(makeDirectory('/proc/trib-nope/x')).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
