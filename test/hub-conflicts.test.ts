/**
 * A conflict end to end, with the broker app, the hub app (TRIB_HUB_LAYOUT=shared) and the CLI as processes, on the
 * Redis at REDIS_URL: na-aws and eu-azure both add records to beats.csv, then na-aws rewrites one of its rows. In
 * the shared layout that rewrite conflicts with eu-azure's records in main, so the hub parks the commit on
 * conflicts/na-aws/2, logs it, and acknowledges it with a note: the hub's cursor advances, main is unchanged, other
 * regions keep merging, and `trib topics` (text and --json) shows the conflict under the hub. Then: a conflict holds
 * back only its path, the region's later batches still reaching main, across a hub restart.
 */
import { mkdirSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { CommitId, lookupPath, readFileBytes } from '@tributary/core';
import { branchRef, Repository } from '@tributary/repository';
import { SyncClient } from '@tributary/sync';
import { appendAndCommit, commitFiles, newRepo, rows, tempDir } from '../libs/sync/src/testing/sync-harness';
import { AppProcess, startApp } from './support/app-process';
import { ok } from './support/trib';
import { waitUntil } from './support/wait';

const NA = 'datasets/heart/na-aws';
const EU = 'datasets/heart/eu-azure';
const HEADER = 'a,b,c,d\n';

/** Whole CSV records (each ends with a newline), about `bytes` long. */
function records(bytes: number, seed: number): string {
  return rows(bytes, seed).replace(/[^\n]*$/, '');
}

describe('hub process: a conflict in the shared layout', () => {
  let tmp: ReturnType<typeof tempDir>;
  const apps: AppProcess[] = [];
  let client: SyncClient | undefined;
  const repos: Repository[] = [];
  beforeAll(() => {
    tmp = tempDir('trib-hub-conflict-');
  });
  afterAll(async () => {
    client?.close();
    for (const r of repos) await r.close();
    for (const a of apps) await a.kill();
    tmp.cleanup();
  });

  async function subscriberOf(topic: string, name: string) {
    return (await client!.listTopics()).find((t) => t.topic === topic)?.subscribers.find((s) => s.name === name);
  }

  /** A wait's description with the hub's output, read only if the wait fails. */
  const withHubLog = (what: string) => () => `${what}\nhub:\n${apps[1]?.output()}`;

  it('parks the rewrite on conflicts/na-aws/2, acks it, leaves main alone, and shows it in trib topics', async () => {
    const storeDir = path.join(tmp.dir, 'broker-store');
    mkdirSync(storeDir);
    const broker = await startApp('broker', { TRIB_STORE: pathToFileURL(storeDir).href, TRIB_LISTEN: '127.0.0.1:0' });
    apps.push(broker);
    client = new SyncClient(broker.address);

    const na = await newRepo(path.join(tmp.dir, 'agent-na-aws'));
    const eu = await newRepo(path.join(tmp.dir, 'agent-eu-azure'));
    repos.push(na, eu);
    const naRows = records(4_000, 1);
    await commitFiles(na, { 'beats.csv': HEADER + naRows });
    await client.publish(na, NA);
    await commitFiles(eu, { 'beats.csv': HEADER + records(3_000, 2) });
    await client.publish(eu, EU);

    const hub = await startApp('hub', {
      TRIB_TOPICS: `${NA},${EU}`,
      TRIB_NAME: 'hub',
      TRIB_HUB_LAYOUT: 'shared',
      TRIB_STORE: pathToFileURL(path.join(tmp.dir, 'hub-store')).href,
      TRIB_HOME: path.join(tmp.dir, 'hub-home'),
      TRIB_BROKER: broker.address,
      TRIB_LISTEN: '127.0.0.1:0',
      TRIB_AUTHOR: 'hub@test',
    });
    apps.push(hub);
    // Both first batches merge (eu-azure's records appended after na-aws's, or the other way round).
    await waitUntil(
      async () => (await subscriberOf(NA, 'hub'))?.cursor === 1 && (await subscriberOf(EU, 'hub'))?.cursor === 1,
      withHubLog('both seq 1 merged'),
    );
    const mergedLines = () => hub.output().split('\n').filter((l) => / merged datasets\/heart\/(na-aws|eu-azure) seq \d -> /.test(l));
    expect(mergedLines()).toHaveLength(2);
    const mainBefore = /-> ([0-9a-f]{64})/.exec(mergedLines()[1])![1] as CommitId;

    // na-aws rewrites its first record: not an append, and main's beats.csv also changed (eu-azure's records).
    const rewritten = naRows.replace(/^[^,]*/, '999999');
    expect(rewritten).not.toBe(naRows);
    const naConflicting = await commitFiles(na, { 'beats.csv': HEADER + rewritten });
    await client.publish(na, NA);
    await waitUntil(async () => (await subscriberOf(NA, 'hub'))?.cursor === 2, withHubLog('na-aws seq 2 acknowledged'));

    const line = await hub.waitFor(/conflict datasets\/heart\/na-aws seq 2: [^\n]*/, 5000);
    expect(line).toContain('kept on branch conflicts/na-aws/2; main unchanged');
    expect(line).toContain('beats.csv (modify/modify)');

    const note = 'conflicts/na-aws/2: beats.csv (modify/modify)';
    const topics = JSON.parse(ok(tmp.dir, ['topics', '--json', '--broker', broker.address]).stdout) as {
      topic: string;
      seq: number;
      subscribers: { name: string; cursor: number; lag: number; conflicts: { seq: number; note: string }[] }[];
    }[];
    expect(topics.find((t) => t.topic === NA)).toMatchObject({ seq: 2, subscribers: [{ name: 'hub', cursor: 2, lag: 0, conflicts: [{ seq: 2, note }] }] });
    expect(topics.find((t) => t.topic === EU)).toMatchObject({ seq: 1, subscribers: [{ name: 'hub', cursor: 1, lag: 0, conflicts: [] }] });
    const text = ok(tmp.dir, ['topics', '--broker', broker.address]).stdout.split('\n');
    const hubRow = text.indexOf('    hub  cursor 2  lag 0');
    expect(hubRow).toBeGreaterThan(0);
    expect(text[hubRow - 1]).toMatch(/^datasets\/heart\/na-aws  seq 2  head [0-9a-f]{12}$/);
    expect(text[hubRow + 1]).toBe(`        conflict seq 2: ${note}`);

    // The conflict blocks nothing: eu-azure's next batch still merges.
    await appendAndCommit(eu, { 'beats.csv': records(1_000, 3) });
    await client.publish(eu, EU);
    await waitUntil(async () => (await subscriberOf(EU, 'hub'))?.cursor === 2, withHubLog('eu-azure seq 2 merged'));
    await hub.kill();

    const repo = await Repository.open(path.join(tmp.dir, 'hub-home'));
    try {
      expect((await repo.refs.resolve(branchRef('conflicts/na-aws/2'))).commit).toBe(naConflicting);
      const main = (await repo.refs.resolve(branchRef('main'))).commit!;
      const mainCommit = await repo.readCommit(main);
      expect(mainCommit.annotations).toMatchObject({ 'trib.topic': EU, 'trib.seq': '2' });
      expect(mainCommit.parents[0]).toBe(mainBefore);
    } finally {
      await repo.close();
    }
    const merged = mergedLines();
    expect(merged).toHaveLength(3);
    expect(merged.filter((l) => l.includes(`${NA} seq 2`))).toEqual([]);
  });
  it("holds back only the conflicting path: the region's later batches reach main, across a hub restart", async () => {
    const GCP = 'datasets/heart/na-gcp';
    const storeDir = path.join(tmp.dir, 'broker-store-2');
    mkdirSync(storeDir);
    const broker = await startApp('broker', { TRIB_STORE: pathToFileURL(storeDir).href, TRIB_LISTEN: '127.0.0.1:0' });
    apps.push(broker);
    client?.close();
    client = new SyncClient(broker.address);
    const aws = await newRepo(path.join(tmp.dir, 'agent-na-aws-2'));
    const gcp = await newRepo(path.join(tmp.dir, 'agent-na-gcp-2'));
    repos.push(aws, gcp);
    const day = 'batches/2026-03-04';
    await commitFiles(aws, { [`${day}/hdr.csv`]: `${HEADER}${records(1_000, 4)}` });
    await client.publish(aws, NA);

    const hubEnv = {
      TRIB_TOPICS: `${NA},${GCP}`,
      TRIB_NAME: 'hub',
      TRIB_HUB_LAYOUT: 'shared',
      TRIB_STORE: pathToFileURL(path.join(tmp.dir, 'hub-store-2')).href,
      TRIB_HOME: path.join(tmp.dir, 'hub-home-2'),
      TRIB_BROKER: broker.address,
      TRIB_LISTEN: '127.0.0.1:0',
      TRIB_AUTHOR: 'hub@test',
    };
    let hub = await startApp('hub', hubEnv);
    apps.push(hub);
    const hubLog = (what: string) => () => `${what}\nhub:\n${hub.output()}`;
    const cursor = async (topic: string) => (await subscriberOf(topic, 'hub'))?.cursor;
    await waitUntil(async () => (await cursor(NA)) === 1, hubLog('na-aws seq 1 merged'));
    // Then gcp, the same day: the same file name with another header, add/add (a topic the hub waited for).
    await commitFiles(gcp, { [`${day}/hdr.csv`]: `ts,hr\n${records(1_000, 5)}`, [`${day}/b1.csv`]: HEADER + records(500, 6) });
    await client.publish(gcp, GCP);
    await waitUntil(async () => (await cursor(GCP)) === 1, hubLog('na-gcp seq 1 dealt with'));
    const first = await hub.waitFor(/conflict datasets\/heart\/na-gcp seq 1: [^\n]*/, 5000);
    expect(first).toContain(`kept on branch conflicts/na-gcp/1; main unchanged; conflicting paths: ${day}/hdr.csv (add/add)`);

    // Three unrelated batches of gcp, the first published while the hub is down: all reach main.
    await hub.kill();
    await commitFiles(gcp, { [`${day}/b2.csv`]: HEADER + records(500, 7) });
    await client.publish(gcp, GCP);
    hub = await startApp('hub', hubEnv);
    apps.push(hub);
    for (const n of [3, 4]) {
      await commitFiles(gcp, { [`${day}/b${n}.csv`]: HEADER + records(500, n + 5) });
      await client.publish(gcp, GCP);
    }
    await waitUntil(async () => (await cursor(GCP)) === 4, hubLog('na-gcp seq 4 dealt with'));
    await hub.waitFor(/merged datasets\/heart\/na-gcp seq 4 -> /, 5000);
    expect(hub.output()).not.toMatch(/conflict datasets\/heart\/na-gcp seq [234]/);
    const topics = () =>
      JSON.parse(ok(tmp.dir, ['topics', '--json', '--broker', broker.address]).stdout) as {
        topic: string;
        subscribers: { name: string; cursor: number; conflicts: { seq: number; note: string }[] }[];
      }[];
    const note1 = `conflicts/na-gcp/1: ${day}/hdr.csv (add/add)`;
    expect(topics().find((t) => t.topic === GCP)?.subscribers).toEqual([expect.objectContaining({ name: 'hub', cursor: 4, conflicts: [{ seq: 1, note: note1 }] })]);

    // gcp changes hdr.csv again: parked, a conflict on that path only.
    await appendAndCommit(gcp, { [`${day}/hdr.csv`]: records(300, 11) });
    await commitFiles(gcp, { [`${day}/b5.csv`]: HEADER + records(500, 10) });
    await client.publish(gcp, GCP);
    await waitUntil(async () => (await cursor(GCP)) === 6, hubLog('na-gcp seq 6 dealt with'));
    const line = await hub.waitFor(/conflict datasets\/heart\/na-gcp seq 5: [^\n]*/, 5000);
    expect(line).toContain(`kept on branch conflicts/na-gcp/5; main unchanged; conflicting paths: ${day}/hdr.csv (add/add)`);
    await hub.waitFor(/merged datasets\/heart\/na-gcp seq 6 -> /, 5000);
    expect(topics().find((t) => t.topic === GCP)?.subscribers[0].conflicts).toEqual([
      { seq: 1, note: note1 },
      { seq: 5, note: `conflicts/na-gcp/5: ${day}/hdr.csv (add/add)` },
    ]);
    await hub.kill();

    const repo = await Repository.open(hubEnv.TRIB_HOME);
    try {
      expect((await repo.refs.list('refs/heads/conflicts/')).map((r) => r.name)).toEqual(['refs/heads/conflicts/na-gcp/1', 'refs/heads/conflicts/na-gcp/5']);
      const tree = (await repo.readCommit((await repo.refs.resolve(branchRef('main'))).commit!)).tree;
      const read = async (p: string) => {
        const e = await lookupPath(repo.objects, tree, p);
        if (!e) return undefined;
        const parts: Buffer[] = [];
        for await (const b of readFileBytes(repo.objects, { id: e.id, chunked: e.chunked, size: e.size })) parts.push(b);
        return Buffer.concat(parts).toString();
      };
      expect(await read(`${day}/hdr.csv`)).toBe(`${HEADER}${records(1_000, 4)}`);
      for (const n of [1, 2, 3, 4, 5]) expect(await read(`${day}/b${n}.csv`)).toBe(HEADER + records(500, n + 5));
    } finally {
      await repo.close();
    }
  });
  it('stops showing a conflict in /health and trib topics once it is settled and its branch deleted', async () => {
    const storeDir = path.join(tmp.dir, 'broker-store-3');
    mkdirSync(storeDir);
    const broker = await startApp('broker', { TRIB_STORE: pathToFileURL(storeDir).href, TRIB_LISTEN: '127.0.0.1:0' });
    apps.push(broker);
    client?.close();
    client = new SyncClient(broker.address);
    const na = await newRepo(path.join(tmp.dir, 'agent-na-aws-3'));
    const eu = await newRepo(path.join(tmp.dir, 'agent-eu-azure-3'));
    repos.push(na, eu);
    const naRows = records(2_000, 21);
    await commitFiles(na, { 'beats.csv': HEADER + naRows });
    await client.publish(na, NA);
    await commitFiles(eu, { 'beats.csv': HEADER + records(2_000, 22) });
    await client.publish(eu, EU);
    const hubStore = pathToFileURL(path.join(tmp.dir, 'hub-store-3')).href;
    const hub = await startApp('hub', {
      TRIB_TOPICS: `${NA},${EU}`,
      TRIB_NAME: 'hub',
      TRIB_HUB_LAYOUT: 'shared',
      TRIB_STORE: hubStore,
      TRIB_HOME: path.join(tmp.dir, 'hub-home-3'),
      TRIB_BROKER: broker.address,
      TRIB_LISTEN: '127.0.0.1:0',
      TRIB_AUTHOR: 'hub@test',
    });
    apps.push(hub);
    const hubLog = (what: string) => () => `${what}\nhub:\n${hub.output()}`;
    const cursor = async (topic: string) => (await subscriberOf(topic, 'hub'))?.cursor;
    const health = async () => ((await (await fetch(`http://${hub.address}/health`)).json()) as { topics: Record<string, { conflicts: string[] }> }).topics[NA];
    await waitUntil(async () => (await cursor(NA)) === 1 && (await cursor(EU)) === 1, hubLog('both seq 1 merged'));

    await commitFiles(na, { 'beats.csv': HEADER + naRows.replace(/^[^,]*/, '999999') });
    await client.publish(na, NA);
    await waitUntil(async () => (await cursor(NA)) === 2, hubLog('na-aws seq 2 parked'));
    expect(await health()).toMatchObject({ conflicts: ['conflicts/na-aws/2'] });
    expect((await subscriberOf(NA, 'hub'))?.conflicts).toEqual([{ seq: 2, note: 'conflicts/na-aws/2: beats.csv (modify/modify)' }]);

    // Settled: eu-azure removes its records, na-aws's next change merges; the operator deletes the branch.
    rmSync(path.join(eu.workdir, 'beats.csv'));
    await commitFiles(eu, { 'notes.txt': 'moved\n' });
    await client.publish(eu, EU);
    await waitUntil(async () => (await cursor(EU)) === 2, hubLog('eu-azure seq 2 merged'));
    ok(tmp.dir, ['init', 'settle-3', '--store', hubStore]);
    ok(path.join(tmp.dir, 'settle-3'), ['branch', '-D', 'conflicts/na-aws/2']);
    await appendAndCommit(na, { 'beats.csv': records(500, 23) });
    await client.publish(na, NA);
    await waitUntil(async () => (await cursor(NA)) === 3, hubLog('na-aws seq 3 dealt with'));
    await hub.waitFor(/merged datasets\/heart\/na-aws seq 3 -> /, 5000);
    expect(await health()).toMatchObject({ conflicts: [] });
    expect((await subscriberOf(NA, 'hub'))?.conflicts).toEqual([]);
    expect(ok(tmp.dir, ['topics', '--broker', broker.address]).stdout).not.toContain('conflict seq 2');
  });
});
