import { readdirSync } from 'node:fs';
import * as path from 'node:path';
import { CommitId } from '@tributary/core';
import { Repository, verifyRepository } from '@tributary/repository';
import { SyncClient } from '../libs/sync/src/client/sync.client';
import { commitFiles, newRepo, startTestBroker, tempDir, TempDir } from '../libs/sync/src/testing/sync-harness';
import { okAsync } from './support/trib';

const TOPIC = 'datasets/heart/eu-azure';

/** Pack files (with an index) in a store. */
async function packCount(broker: Awaited<ReturnType<typeof startTestBroker>>): Promise<number> {
  let n = 0;
  for await (const info of broker.store.list('packs/')) if (info.key.endsWith('.idx')) n++;
  return n;
}

describe('sync: a broker merges the small packs publishes leave behind', () => {
  let t: TempDir;

  beforeEach(() => (t = tempDir()));
  afterEach(() => t.cleanup());

  it('keeps its pack count low over many publishes, and a subscriber starting from scratch gets every commit', async () => {
    const broker = await startTestBroker(path.join(t.dir, 'broker-store'));
    const client = new SyncClient(broker.address);
    const edge = await newRepo(path.join(t.dir, 'edge'));
    let hub: Repository | undefined;
    try {
      const commits: CommitId[] = [];
      for (let i = 0; i < 40; i++) {
        commits.push(await commitFiles(edge, { [`batches/b${i}.csv`]: `id,v\n${i},${'y'.repeat(300 + i)}\n` }));
        const r = await client.publish(edge, TOPIC);
        expect(r.seqTo).toBe(i + 1);
      }
      await broker.context.packs.close();
      // One pack per publish without merging; 16 mergeable packs trigger a merge.
      expect(await packCount(broker)).toBeLessThan(20);

      hub = await newRepo(path.join(t.dir, 'hub'));
      const got = await client.subscribe(hub, TOPIC, 'hub');
      expect(got).toMatchObject({ commits: 40, seqTo: 40, head: commits[39] });
      expect((await verifyRepository(hub, { readData: true })).damage).toEqual([]);
    } finally {
      client.close();
      await edge.close();
      await hub?.close();
      await broker.close();
    }
  });

  it('a `trib subscribe` catching up on many entries merges the pack each entry leaves, and says so once, at the end', async () => {
    const broker = await startTestBroker(path.join(t.dir, 'broker-store'));
    const client = new SyncClient(broker.address);
    const edge = await newRepo(path.join(t.dir, 'edge'));
    try {
      const entries = 40;
      for (let i = 0; i < entries; i++) {
        await commitFiles(edge, { [`batches/b${i}.csv`]: `id,v\n${i},${'z'.repeat(300 + i)}\n` });
        await client.publish(edge, TOPIC);
      }
      const lab = path.join(t.dir, 'lab');
      await okAsync(t.dir, ['init', lab]);
      const r = await okAsync(lab, ['subscribe', TOPIC, '--as', 'lab', '--broker', broker.address]);
      const packs = readdirSync(path.join(lab, '.trib', 'store', 'packs')).filter((n) => n.endsWith('.idx'));
      // Merges as the entries come (more than one for 40 of them), summed up in the last line.
      const lines = r.stderr.trim().split('\n');
      expect(lines.filter((l) => /small packs/.test(l))).toEqual([lines[lines.length - 1]]);
      const said = /^merged (\d+) small packs the entries left; (\d+) packs now$/.exec(lines[lines.length - 1]);
      expect(Number(said?.[1])).toBeGreaterThan(16);
      expect(Number(said?.[2])).toBe(packs.length);
      // One pack per entry without merging.
      expect(packs.length).toBeLessThan(20);
      const log = JSON.parse((await okAsync(lab, ['log', `topics/${TOPIC}`, '--json'])).stdout);
      expect(log).toHaveLength(entries);
      await okAsync(lab, ['verify', '--read-data']);
    } finally {
      client.close();
      await edge.close();
      await broker.close();
    }
  });
});
