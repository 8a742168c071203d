/**
 * A broker on a cloud store (S3 on s3rver) removes at start-up the pack a broker killed mid-publish left without its
 * index, once it is older than the grace period, and nothing a topic log names. `trib gc` refuses a broker's store,
 * so nothing else ever would. The pack's age is set where s3rver keeps it: its file's mtime. Runs the apps and the
 * CLI from dist (npx tsc -b first).
 */
import { utimesSync } from 'node:fs';
import * as path from 'node:path';
import { S3Store } from '../libs/storage/src/s3.store';
import { AppProcess, startApp } from './support/app-process';
import { S3Emulator, startS3Emulator } from './support/s3rver-harness';
import { okAsync as ok, repoWithRandomBatches, tempDir, tribAsync as trib } from './support/trib';

const BUCKET = 'broker-store';
const URL = `s3://${BUCKET}/heart`;

describe('broker on S3: packs a killed broker left without their index', () => {
  let s3: S3Emulator;
  let store: S3Store;
  let t: ReturnType<typeof tempDir>;
  let broker: AppProcess | undefined;
  beforeAll(async () => {
    s3 = await startS3Emulator({ buckets: [BUCKET] });
    store = await S3Store.open(URL, { env: s3.env });
    t = tempDir();
  });
  afterAll(async () => {
    await broker?.kill();
    await store?.close();
    await s3?.stop();
    t?.cleanup();
  });

  async function packFiles(): Promise<string[]> {
    const keys: string[] = [];
    for await (const info of store.list('packs/')) keys.push(info.key);
    return keys.sort();
  }
  /** Sets the modification time s3rver reports for `key` of the store. */
  function age(key: string, when: Date): void {
    utimesSync(path.join(s3.directory, BUCKET, 'heart', `${key}._S3rver_object`), when, when);
  }
  async function startBroker(env: NodeJS.ProcessEnv = {}): Promise<AppProcess> {
    broker = await startApp('broker', { ...s3.env, TRIB_STORE: URL, TRIB_LISTEN: '127.0.0.1:0', ...env });
    return broker;
  }

  it('are removed at the next start once past the grace period; every pack a topic names stays readable', async () => {
    const { dir: edge, heads } = repoWithRandomBatches(t.dir, 'edge', 3, 300_000);
    const published = await startBroker();
    await ok(edge, ['publish', 'datasets/heart/na-aws', 'HEAD~2'], 0, { env: { TRIB_BROKER: published.address } });
    // A publisher killed mid-transfer: the live broker drops what it staged, and leaves no pack behind.
    const cut = await trib(edge, ['publish', 'datasets/heart/na-aws', 'HEAD~1'], { env: { TRIB_BROKER: published.address, TRIB_CRASH_AT: 'sync.send.object:2' } });
    expect(cut.code).not.toBe(0);
    await published.kill();
    const referenced = await packFiles();
    expect(referenced.filter((k) => k.endsWith('.pack')).length).toBe(referenced.filter((k) => k.endsWith('.idx')).length);

    // Killed once its pack was stored, before its index: the publisher sees the call fail.
    const killed = await startBroker({ TRIB_CRASH_AT: 'pack.before-index:1' });
    expect((await trib(edge, ['publish', 'datasets/heart/na-aws', 'HEAD~1'], { env: { TRIB_BROKER: killed.address } })).code).toBe(3);
    expect(await killed.kill()).not.toBe(0);
    const orphans = (await packFiles()).filter((k) => !referenced.includes(k));
    expect(orphans).toEqual([expect.stringMatching(/^packs\/pack-[0-9a-f]{32}\.pack$/)]);
    const orphanBytes = (await store.head(orphans[0]))!.size;

    // Younger than the grace period it may be a live broker's between its pack and its index: kept.
    await (await startBroker()).kill();
    expect(await packFiles()).toEqual([...referenced, ...orphans].sort());

    // Every pack two hours old: only the one without an index goes.
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    for (const key of await packFiles()) age(key, twoHoursAgo);
    // On S3 it waits for an index that may be on its way (ORPHAN_RECHECK_MS) before it deletes: shortened here.
    const restarted = await startBroker({ TRIB_ORPHAN_RECHECK_MS: '200' });
    await restarted.waitFor(new RegExp(`removed 1 unfinished pack file\\(s\\), ${orphanBytes} bytes`), 5000);
    expect(await packFiles()).toEqual(referenced);

    const env = { TRIB_BROKER: restarted.address };
    expect(JSON.parse((await ok(edge, ['publish', 'datasets/heart/na-aws', '--json'], 0, { env })).stdout)).toMatchObject({ seqTo: 3, head: heads[2] });
    const lab = path.join(t.dir, 'lab');
    await ok(t.dir, ['init', lab]);
    const sub = JSON.parse((await ok(lab, ['subscribe', 'datasets/heart/na-aws', '--as', 'lab', '--json'], 0, { env })).stdout);
    expect(sub).toMatchObject({ commits: 3, seqFrom: 1, seqTo: 3, head: heads[2] });
    await ok(lab, ['verify', '--read-data']);
  });
});
