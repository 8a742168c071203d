import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { CommitId } from '@tributary/core';
import { Repository, verifyRepository } from '@tributary/repository';
import { SyncClient } from '../libs/sync/src/client/sync.client';
import { commitFiles, newRepo, rows, startTestBroker, tempDir, TempDir, treeOf } from '../libs/sync/src/testing/sync-harness';
import { ok, trib } from './support/trib';

/**
 * A broker's store has topic logs and no refs: verify walks from the commits the logs name. Runs the CLI from
 * dist (npx tsc -b first).
 */
describe('trib verify on a broker store', () => {
  let t: TempDir;
  let storeDir: string;
  let chain: CommitId[];
  let firstFile: string;

  beforeAll(async () => {
    t = tempDir();
    storeDir = path.join(t.dir, 'broker-store');
    const broker = await startTestBroker(storeDir);
    const client = new SyncClient(broker.address);
    const pub = await newRepo(path.join(t.dir, 'pub'));
    try {
      chain = [await commitFiles(pub, { 'day-1.csv': rows(4000, 1) })];
      chain.push(await commitFiles(pub, { 'day-2.csv': rows(4000, 2) }));
      chain.push(await commitFiles(pub, { 'day-3.csv': rows(4000, 3) }));
      await client.publish(pub, 'datasets/ecg/a', chain[2]);
      await client.publish(pub, 'datasets/ecg/a/early', chain[0]);
      firstFile = (await treeOf(pub, chain[0]))['day-1.csv'].id;
    } finally {
      client.close();
      await pub.close();
      await broker.close();
    }
  });
  afterAll(() => t?.cleanup());

  /** A repository whose store is a copy of the broker's store. */
  async function onCopy(name: string): Promise<{ dir: string; copy: string }> {
    const copy = path.join(t.dir, `${name}-store`);
    await fs.cp(storeDir, copy, { recursive: true });
    const dir = path.join(t.dir, name);
    ok(t.dir, ['init', dir, '--store', pathToFileURL(copy).href]);
    return { dir, copy };
  }

  it('checks every object the topic logs reach', async () => {
    const { dir } = await onCopy('whole');
    const repo = await Repository.open(dir);
    try {
      const r = await verifyRepository(repo, { readData: true });
      expect(r.damage).toEqual([]);
      // Three commits, each a root tree and a file: the first file reachable only as the head's ancestor.
      expect(r.objects).toBeGreaterThanOrEqual(9);
    } finally {
      await repo.close();
    }
    expect(ok(dir, ['verify', '--read-data']).stderr).toMatch(/verify: \d+ objects OK, all bytes hashed/);
  });

  it('reports a damaged pack: the file of the oldest entry, which only the heads reach through parents', async () => {
    const { dir, copy } = await onCopy('damaged');
    let repo = await Repository.open(dir);
    const at = repo.objects.placeOf(firstFile as never)!;
    await repo.close();
    expect(at).toBeDefined();
    const packFile = path.join(copy, 'packs', `${at.pack}.pack`);
    const bytes = await fs.readFile(packFile);
    bytes[at.offset + 5] ^= 0xff;
    await fs.chmod(packFile, 0o644);
    await fs.writeFile(packFile, bytes);

    repo = await Repository.open(dir);
    try {
      const r = await verifyRepository(repo, { readData: true });
      expect(r.damage).toEqual([expect.objectContaining({ id: firstFile, role: 'chunk', path: 'day-1.csv' })]);
    } finally {
      await repo.close();
    }
    const cli = trib(dir, ['verify', '--read-data']);
    expect(cli.code).toBe(1);
    expect(cli.stdout).toContain(`${firstFile} day-1.csv`);
    expect(cli.stderr).toMatch(/verify: 1 damaged object\(s\) of \d+/);

    // A broker serving that store: its subscriber hears where the bad bytes came from, and stores none of them.
    const broker = await startTestBroker(copy);
    const client = new SyncClient(broker.address);
    const sub = await newRepo(path.join(t.dir, 'damaged-sub'));
    try {
      const fetched = client.subscribe(sub, 'datasets/ecg/a', 'sub');
      await expect(fetched).rejects.toMatchObject({
        code: 'INTEGRITY',
        message: expect.stringMatching(
          new RegExp(`^entry 1 of datasets/ecg/a from broker ${broker.address}: object ${firstFile} does not match its id \\(as the broker sent it: trib verify --read-data on the broker's store finds damage there\\)$`),
        ),
      });
      expect(sub.objects.has(firstFile as never)).toBe(false);
    } finally {
      client.close();
      await sub.close();
      await broker.close();
    }
  });
});
