import * as path from 'node:path';
import { startTestBroker } from '../libs/sync/src/testing/sync-harness';
import { nodeAsync, repoWithRandomBatches, ROOT, tempDir } from './support/trib';

/** The compiled module the CLI loads; the untuned run stubs its export before the CLI starts. */
const HEAP_GROWTH = path.join(ROOT, 'libs', 'config', 'dist', 'heap-growth.js');

/** Runs `trib publish` with V8's GC trace on; resolves the number of full collections it ran. */
async function fullCollectionsOfPublish(cwd: string, topic: string, broker: string, tuned: boolean): Promise<number> {
  // With -e, argv[1] is the first argument after --: 'trib' stands where the script's path would.
  const start = `${tuned ? '' : `require(${JSON.stringify(HEAP_GROWTH)}).configureHeapGrowth = () => undefined;`} require(${JSON.stringify(path.join(ROOT, 'bin', 'trib'))});`;
  const args = ['--trace-gc', '-e', start, '--', 'trib', 'publish', topic, '--broker', broker];
  const { code, stdout, stderr } = await nodeAsync(args, { cwd, env: { CI: '1' } });
  if (code !== 0) throw new Error(`publish exited ${code}: ${stderr}`);
  // V8 reports a flag it does not know on stderr and goes on: that must not pass unnoticed.
  if (/unrecognized flag/.test(stderr)) throw new Error(`V8 refused the flag: ${stderr}`);
  return (stdout.match(/Mark-Compact/g) ?? []).length;
}

describe('configureHeapGrowth, as `trib` runs it', () => {
  const t = tempDir('trib-heap-');
  // One broker per publish: a broker that already holds the objects would be sent none.
  const brokers: Awaited<ReturnType<typeof startTestBroker>>[] = [];
  const ROUNDS = 2;
  beforeAll(async () => {
    for (let round = 0; round < ROUNDS; round++) {
      for (const name of ['untuned', 'tuned']) brokers.push(await startTestBroker(path.join(t.dir, `${name}-${round}`)));
    }
  });
  afterAll(async () => {
    for (const b of brokers) await b.close();
    t.cleanup();
  });

  it('takes effect: publishes of 256 MiB run far fewer full collections than with V8 left to choose', async () => {
    const { dir } = repoWithRandomBatches(t.dir, 'edge', 4, 64 * 1024 * 1024);
    // Counts from one publish each vary by a few collections (measured here over 9 pairs: 18 to 22 without, 9 to
    // 13 with), enough for one pair to come near the bound; the totals of alternating rounds vary far less.
    let untuned = 0;
    let tuned = 0;
    for (let round = 0; round < ROUNDS; round++) {
      untuned += await fullCollectionsOfPublish(dir, 'bench/heap', brokers[2 * round].address, false);
      tuned += await fullCollectionsOfPublish(dir, 'bench/heap', brokers[2 * round + 1].address, true);
    }
    // A V8 that ignored the flag would show no difference.
    expect(untuned).toBeGreaterThan(10 * ROUNDS);
    expect(tuned).toBeLessThan(untuned * 0.7);
  });
});
