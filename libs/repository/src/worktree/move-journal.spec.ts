import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { FailedPreconditionError, sha256, TreeId } from '@tributary/core';
import { beginMove, endMove, readMove } from './move-journal';

describe('move journal', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(tmpdir(), 'trib-move-journal-'));
  });
  afterEach(() => fs.rm(dir, { recursive: true, force: true }));

  const tree = (s: string) => sha256(Buffer.from(s)) as TreeId;

  it('holds a move from its start to its end, including one from no tree at all', async () => {
    expect(await readMove(dir)).toBeUndefined();
    await beginMove(dir, { from: tree('a'), to: tree('b') });
    expect(await readMove(dir)).toEqual({ from: tree('a'), to: tree('b') });
    await beginMove(dir, { to: tree('c') });
    expect(await readMove(dir)).toEqual({ from: undefined, to: tree('c') });
    await endMove(dir);
    await endMove(dir);
    expect(await readMove(dir)).toBeUndefined();
  });

  it('refuses a file that is not a journal, naming it, rather than guessing what to undo', async () => {
    for (const text of ['', '{"to": "abc"}', `{"from": 5, "to": "${tree('b')}"}`, 'not json']) {
      await fs.writeFile(path.join(dir, 'MOVING'), text);
      await expect(readMove(dir)).rejects.toThrow(FailedPreconditionError);
      await expect(readMove(dir)).rejects.toThrow(/MOVING is not a move journal; remove it/);
    }
  });
});
