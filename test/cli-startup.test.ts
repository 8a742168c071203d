import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { startTestBroker, tempDir } from '../libs/sync/src/testing/sync-harness';
import { TRIB } from './support/trib';

/**
 * Every module `trib` loads is start-up time on every command. The CLI reaches a broker over gRPC and never talks
 * to Redis itself, so the Redis client (about 20 ms to load here) must stay out of it, though the sync library it
 * imports holds the broker's code too.
 */
describe('what trib loads', () => {
  const t = tempDir('trib-startup-');
  let broker: Awaited<ReturnType<typeof startTestBroker>>;
  beforeAll(async () => {
    broker = await startTestBroker(path.join(t.dir, 'broker'));
  });
  afterAll(async () => {
    await broker?.close();
    t.cleanup();
  });

  it('talks to a broker without loading a Redis client', async () => {
    // With -e, argv[1] is the first argument after --: 'trib' stands where the script's path would.
    const start =
      `process.on('exit', () => process.stderr.write('loaded ioredis: ' + ` +
      `Object.keys(require.cache).some((f) => f.includes('/node_modules/ioredis/')) + '\\n')); ` +
      `require(${JSON.stringify(TRIB)});`;
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      ['-e', start, '--', 'trib', 'topics', '--broker', broker.address, '--json'],
      { cwd: t.dir, env: { ...process.env, CI: '1' } },
    );
    expect(JSON.parse(stdout)).toEqual([]);
    expect(stderr).toContain('loaded ioredis: false');
  });
});
