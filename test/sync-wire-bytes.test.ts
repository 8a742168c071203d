import * as path from 'node:path';
import { Repository } from '@tributary/repository';
import { SyncClient } from '../libs/sync/src/client/sync.client';
import { appendAndCommit, commitFiles, newRepo, rows, startTestBroker, tempDir, TempDir, treeOf } from '../libs/sync/src/testing/sync-harness';

const TOPIC = 'datasets/heart/na-gcp';
const FILES = 20;
const FILE_BYTES = 1 << 20;
const APPEND_BYTES = Math.floor(FILE_BYTES / 100);

describe('sync: bytes on the wire', () => {
  let t: TempDir;
  let broker: Awaited<ReturnType<typeof startTestBroker>>;
  let client: SyncClient;
  let edge: Repository;
  let hub: Repository;

  beforeAll(async () => {
    t = tempDir();
    broker = await startTestBroker(path.join(t.dir, 'broker-store'));
    client = new SyncClient(broker.address);
    edge = await newRepo(path.join(t.dir, 'edge'));
    hub = await newRepo(path.join(t.dir, 'hub'));
  });
  afterAll(async () => {
    client?.close();
    await edge?.close();
    await hub?.close();
    await broker?.close();
    t?.cleanup();
  });

  it('sends about the appended bytes when 1% is appended to every file (publish and subscribe)', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < FILES; i++) files[`ward-${i}/ecg.csv`] = rows(FILE_BYTES, i + 1);
    await commitFiles(edge, files);
    const first = await client.publish(edge, TOPIC);
    expect(first.wireBytes).toBeGreaterThanOrEqual(FILES * FILE_BYTES);
    expect((await client.subscribe(hub, TOPIC, 'hub')).commits).toBe(1);

    const appended: Record<string, string> = {};
    let appendedBytes = 0;
    for (let i = 0; i < FILES; i++) {
      appended[`ward-${i}/ecg.csv`] = rows(APPEND_BYTES, 1000 + i);
      appendedBytes += APPEND_BYTES;
    }
    const head = await appendAndCommit(edge, appended);
    const budget = 1.1 * appendedBytes + 4096 * FILES;

    const pub = await client.publish(edge, TOPIC);
    expect(pub).toMatchObject({ commits: 1, seqTo: 2, head, datasetBytes: FILES * FILE_BYTES + appendedBytes });
    expect(pub.wireBytes).toBeGreaterThanOrEqual(appendedBytes);
    expect(pub.wireBytes).toBeLessThanOrEqual(budget);

    const sub = await client.subscribe(hub, TOPIC, 'hub');
    expect(sub).toMatchObject({ commits: 1, seqTo: 2, head });
    expect(sub.wireBytes).toBeGreaterThanOrEqual(appendedBytes);
    expect(sub.wireBytes).toBeLessThanOrEqual(budget);
    expect(await treeOf(hub, head)).toEqual(await treeOf(edge, head));
  });
});
