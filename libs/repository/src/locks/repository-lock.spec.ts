import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { poolRequestsDuring } from '@tributary/storage';
import { RepositoryLock } from './repository-lock';

describe('RepositoryLock', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(tmpdir(), 'lock-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('serialises holders, writes the owner pid into the lock, and leaves no draft behind', async () => {
    const lockPath = path.join(dir, 'lock');
    const order: string[] = [];
    const a = new RepositoryLock(lockPath);
    const b = new RepositoryLock(lockPath);
    await Promise.all([
      a.run(async () => {
        order.push('a-in');
        expect(readFileSync(lockPath, 'utf8').trim()).toBe(String(process.pid));
        await new Promise((r) => setTimeout(r, 60));
        order.push('a-out');
      }),
      new Promise((r) => setTimeout(r, 10)).then(() => b.run(async () => void order.push('b'))),
    ]);
    expect(order).toEqual(['a-in', 'a-out', 'b']);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('breaks a lock left by a dead process, and gives up on a live one with a clear error', async () => {
    const lockPath = path.join(dir, 'lock');
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
    writeFileSync(lockPath, `${dead}\n`);
    await new RepositoryLock(lockPath).run(async () => undefined);
    writeFileSync(lockPath, `${process.pid}\n`);
    await expect(new RepositoryLock(lockPath).acquire(100)).rejects.toThrow(/locked by process/);
  });

  it('takes and releases the lock without a round trip through the thread pool', async () => {
    const lock = new RepositoryLock(path.join(dir, 'lock'));
    const requests = await poolRequestsDuring(async () => {
      for (let i = 0; i < 10; i++) await lock.run(async () => undefined);
    });
    // Writing the draft, linking, and removing the draft and the lock took six a time through the pool.
    expect(requests).toEqual([]);
    expect(readdirSync(dir)).toEqual([]);
  });
});
