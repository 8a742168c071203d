import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { CommitId, lookupPath, readFileBytes, TreeEntry, TreeId, writeFileContent, writeTreeFromPaths } from '@tributary/core';
import { branchRef, Repository } from '@tributary/repository';
import { HUB_LAYOUT, HUB_REGION, HUB_SEQ, HUB_SOURCE, HUB_TOPIC } from './merge-index';
import { HubLayout, layoutOfBranch, mergeRegionalCommit, RegionalCommit } from './regional-merge';

const NOW = new Date('2026-03-04T10:00:00.000Z');
let root: string;
const opened: Repository[] = [];

beforeEach(async () => {
  root = await fs.mkdtemp(path.join(tmpdir(), 'trib-hub-'));
});
afterEach(async () => {
  for (const r of opened.splice(0)) await r.close();
  await fs.rm(root, { recursive: true, force: true });
});

async function newHub(name = 'hub'): Promise<Repository> {
  const r = await Repository.init(path.join(root, name));
  opened.push(r);
  return r;
}

async function reopen(name = 'hub'): Promise<Repository> {
  const r = await Repository.open(path.join(root, name));
  opened.push(r);
  return r;
}

async function fileEntry(repo: Repository, content: string): Promise<Omit<TreeEntry, 'name'>> {
  return { kind: 'file', executable: false, ...(await writeFileContent(repo.objects, [Buffer.from(content)])) };
}

async function treeOf(repo: Repository, files: Record<string, string>): Promise<TreeId> {
  const paths = Object.keys(files).sort();
  const entries = [];
  for (const p of paths) entries.push({ path: p, entry: await fileEntry(repo, files[p]) });
  return (await writeTreeFromPaths(repo.objects, entries)).id;
}

/**
 * A region's feed: commits written straight into the hub's store, as SyncClient.subscribe leaves them (objects
 * present, no ref). seq counts from 1 along the first-parent chain, like the topic log.
 */
class Region {
  private head: CommitId | undefined;
  private seq = 0;
  constructor(readonly region: string, readonly topic = `datasets/heart/${region}`) {}

  async commit(repos: Repository[], files: Record<string, string>): Promise<RegionalCommit> {
    let id: CommitId | undefined;
    for (const repo of repos) {
      id = await repo.writeCommit({
        tree: await treeOf(repo, files),
        parents: this.head ? [this.head] : [],
        author: `agent@${this.region}`,
        time: new Date(NOW.getTime() + this.seq * 1000).toISOString(),
        message: `batch ${this.seq + 1}`,
        annotations: { 'trib.region': this.region },
      });
    }
    this.head = id;
    return { commit: id!, region: this.region, topic: this.topic, seq: ++this.seq };
  }
}

async function main(repo: Repository): Promise<CommitId> {
  return (await repo.refs.resolve(branchRef('main'))).commit!;
}

async function mainTree(repo: Repository): Promise<TreeId> {
  return (await repo.readCommit(await main(repo))).tree;
}

async function read(repo: Repository, p: string): Promise<string | undefined> {
  const e = await lookupPath(repo.objects, await mainTree(repo), p);
  if (!e) return undefined;
  const parts: Buffer[] = [];
  for await (const b of readFileBytes(repo.objects, { id: e.id, chunked: e.chunked, size: e.size })) parts.push(b);
  return Buffer.concat(parts).toString();
}

/** Every hub's main holds exactly `files`. */
async function expectMains(hubs: Repository[], files: Record<string, string>): Promise<void> {
  const expected = await treeOf(hubs[0], files);
  for (const hub of hubs) expect(await mainTree(hub)).toBe(expected);
}

function merge(hub: Repository, c: RegionalCommit, layout: HubLayout = 'graft', log?: (l: string) => void) {
  return mergeRegionalCommit(hub, c, { layout, now: NOW, author: 'hub', log });
}

describe('mergeRegionalCommit, graft layout', () => {
  it('grafts each region under regions/<region>/ with a two-parent annotated merge', async () => {
    const hub = await newHub();
    const na = new Region('na-aws');
    const c = await na.commit([hub], { 'batches/2026-03-04/b1.csv': 'x\n1\n' });
    const r = await merge(hub, c);
    expect(r.kind).toBe('merged');
    const m = await hub.readCommit(r.commit!);
    expect(m.parents[1]).toBe(c.commit);
    expect((await hub.readCommit(m.parents[0])).parents).toEqual([]);
    expect(m.annotations).toEqual({
      [HUB_REGION]: 'na-aws',
      [HUB_TOPIC]: 'datasets/heart/na-aws',
      [HUB_SEQ]: '1',
      [HUB_SOURCE]: c.commit,
      [HUB_LAYOUT]: 'graft',
    });
    expect(await layoutOfBranch(hub)).toBe('graft');
    expect(await read(hub, 'regions/na-aws/batches/2026-03-04/b1.csv')).toBe('x\n1\n');
    expect((await hub.head()).commit).toBe(r.commit);
    // An operator's commit on main by hand says no layout: the merges' one still counts.
    const byHand = await hub.writeCommit({ tree: m.tree, parents: [r.commit!], author: 'ops', time: new Date().toISOString(), message: 'fix', annotations: {} });
    await hub.refs.update(branchRef('main'), (await hub.refs.readForSwap(branchRef('main')))!.version, { commit: byHand });
    expect(await layoutOfBranch(hub)).toBe('graft');
  });

  it('gives the same tree whatever order the regions arrive in', async () => {
    const h1 = await newHub('h1');
    const h2 = await newHub('h2');
    const na = new Region('na-aws');
    const eu = new Region('eu-azure');
    const gcp = new Region('na-gcp');
    const na1 = await na.commit([h1, h2], { 'a.csv': 'h\n1\n' });
    const eu1 = await eu.commit([h1, h2], { 'a.csv': 'h\n9\n', 'z/b.bin': 'zz' });
    const na2 = await na.commit([h1, h2], { 'a.csv': 'h\n1\n2\n' });
    const gcp1 = await gcp.commit([h1, h2], { 'q.jsonl': '{}\n' });
    for (const c of [na1, eu1, na2, gcp1]) expect((await merge(h1, c)).kind).toBe('merged');
    for (const c of [gcp1, eu1, na1, na2]) expect((await merge(h2, c)).kind).toBe('merged');
    expect(await mainTree(h1)).toBe(await mainTree(h2));

    const fresh = await treeOf(h1, {
      'regions/eu-azure/a.csv': 'h\n9\n',
      'regions/eu-azure/z/b.bin': 'zz',
      'regions/na-aws/a.csv': 'h\n1\n2\n',
      'regions/na-gcp/q.jsonl': '{}\n',
    });
    expect(await mainTree(h1)).toBe(fresh);
  });

  it('merges calls queued behind a running one together: a merge commit each, in call order, one move of main', async () => {
    const hub = await newHub();
    const regions = ['na-aws', 'na-gcp', 'eu-azure', 'ap-oci'].map((r) => new Region(r));
    const commits: RegionalCommit[] = [];
    for (const r of regions) commits.push(await r.commit([hub], { 'b.csv': `h\n${r.region}\n` }));
    let moves = 0;
    const update = hub.refs.update.bind(hub.refs);
    hub.refs.update = (...args: Parameters<typeof update>) => (moves++, update(...args));
    const outcomes = await Promise.all(commits.map((c) => merge(hub, c)));
    expect(outcomes.map((o) => o.kind)).toEqual(['merged', 'merged', 'merged', 'merged']);
    // main starts (one move), the first call runs alone (one), the three that queued behind it go together (one).
    expect(moves).toBe(3);
    // main's first-parent chain holds one merge per call, in call order, as if merged one at a time.
    const chain: CommitId[] = [];
    for (let id: CommitId | undefined = await main(hub); id; id = (await hub.readCommit(id)).parents[0]) chain.push(id);
    expect(chain.slice(0, 4).reverse()).toEqual(outcomes.map((o) => o.commit));
    for (let i = 0; i < 4; i++) expect((await hub.readCommit(outcomes[i].commit!)).parents[1]).toBe(commits[i].commit);
    // Durable: a fresh open of the store sees every region.
    const again = await reopen();
    for (const r of regions) expect(await read(again, `regions/${r.region}/b.csv`)).toBe(`h\n${r.region}\n`);
  });

  it('a queued call that cannot be merged fails alone; the others queued with it are merged', async () => {
    const hub = await newHub();
    const regions = ['na-aws', 'na-gcp', 'eu-azure'].map((r) => new Region(r));
    const commits: RegionalCommit[] = [];
    for (const r of regions) commits.push(await r.commit([hub], { 'b.csv': `h\n${r.region}\n` }));
    const missing: RegionalCommit = { commit: 'f'.repeat(64) as CommitId, region: 'ghost', topic: 'datasets/heart/ghost', seq: 1 };
    const results = await Promise.allSettled([merge(hub, commits[0]), merge(hub, missing), merge(hub, commits[1]), merge(hub, commits[2])]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason.code).toBe('NOT_FOUND');
    for (const r of regions) expect(await read(hub, `regions/${r.region}/b.csv`)).toBe(`h\n${r.region}\n`);
  });

  it('treats redelivery as a no-op: the same commit, an older seq, and after a restart', async () => {
    const hub = await newHub();
    const na = new Region('na-aws');
    const eu = new Region('eu-azure');
    const c1 = await na.commit([hub], { 'a.csv': 'h\n1\n' });
    const c2 = await na.commit([hub], { 'a.csv': 'h\n1\n2\n' });
    const e1 = await eu.commit([hub], { 'e.csv': 'h\n3\n' });
    const m1 = await merge(hub, c1);
    await merge(hub, c2);
    await merge(hub, e1);
    const head = await main(hub);

    expect(await merge(hub, c1)).toEqual({ kind: 'duplicate', commit: undefined });
    expect(await merge(hub, c2)).toMatchObject({ kind: 'duplicate' });
    const restarted = await reopen();
    expect((await merge(restarted, c1)).kind).toBe('duplicate');
    expect((await merge(restarted, e1)).kind).toBe('duplicate');
    expect(await main(hub)).toBe(head);
    expect(m1.kind).toBe('merged');
  });

  it('removes regions/<region> when the region empties its dataset', async () => {
    const hub = await newHub();
    const na = new Region('na-aws');
    const eu = new Region('eu-azure');
    await merge(hub, await eu.commit([hub], { 'e.csv': '1\n' }));
    const before = await mainTree(hub);
    await merge(hub, await na.commit([hub], { 'a.csv': '1\n' }));
    await merge(hub, await na.commit([hub], {}));
    expect(await mainTree(hub)).toBe(before);
  });

  it('two writers on one hub store: compare-and-swap retries, nothing is lost or merged twice', async () => {
    await newHub();
    const a = await reopen();
    const b = await reopen();
    const regions = ['r1', 'r2', 'r3', 'r4'].map((r) => new Region(r));
    const commits: RegionalCommit[] = [];
    for (const r of regions) commits.push(await r.commit([a], { 'f.csv': `${r.region}\n` }));
    // Each writer with its own clock, as two hub processes have. With one fixed clock, b merging a commit onto the
    // main it last saw could write the very merge commit a already put there; its swap then finds main at its own
    // target and reports `merged` (nothing merged twice, but no `duplicate` either), about one run in fifteen.
    const mergeBy = (hub: Repository, c: RegionalCommit) =>
      mergeRegionalCommit(hub, c, { layout: 'graft', now: new Date(NOW.getTime() + (hub === a ? 0 : 1)), author: 'hub' });
    const results = await Promise.all(commits.map((c, i) => mergeBy(i % 2 ? a : b, c)));
    expect(results.map((r) => r.kind)).toEqual(['merged', 'merged', 'merged', 'merged']);
    await a.objects.reload();
    let merges = 0;
    for (let id: CommitId | undefined = await main(a); id; id = (await a.readCommit(id)).parents[0]) merges++;
    expect(merges).toBe(5);
    for (const c of commits) expect(await read(a, `regions/${c.region}/f.csv`)).toBe(`${c.region}\n`);
    for (const c of commits) expect((await mergeBy(b, c)).kind).toBe('duplicate');
  });
});

describe('mergeRegionalCommit, shared layout', () => {
  it('unions appended records in topic order, then sequence order, across regions, with one header', async () => {
    const hub = await newHub();
    const na = new Region('na-aws');
    const eu = new Region('eu-azure');
    await merge(hub, await na.commit([hub], { 'hr.csv': 't,hr\n1,60\n' }), 'shared');
    await merge(hub, await eu.commit([hub], { 'hr.csv': 't,hr\n5,70\n', 'eu-only.jsonl': '{"a":1}\n' }), 'shared');
    await merge(hub, await na.commit([hub], { 'hr.csv': 't,hr\n1,60\n2,61\n' }), 'shared');
    await merge(hub, await eu.commit([hub], { 'hr.csv': 't,hr\n5,70\n6,71', 'eu-only.jsonl': '{"a":1}\n{"a":2}\n' }), 'shared');
    await merge(hub, await na.commit([hub], { 'hr.csv': 't,hr\n1,60\n2,61\n3,62\n' }), 'shared');
    // datasets/heart/eu-azure < datasets/heart/na-aws; eu's unterminated last record gets its `\n`.
    const expected = 't,hr\n5,70\n6,71\n1,60\n2,61\n3,62\n';
    expect(await read(hub, 'hr.csv')).toBe(expected);
    expect(await read(hub, 'eu-only.jsonl')).toBe('{"a":1}\n{"a":2}\n');
    const e = await lookupPath(hub.objects, await mainTree(hub), 'hr.csv');
    expect(e!.id).toBe((await writeFileContent(hub.objects, [Buffer.from(expected)])).id);
  });

  it('names a conflicting path with a newline or a double quote C-quoted, so its log line and note stay one line', async () => {
    const hub = await newHub();
    const na = new Region('na-aws');
    const eu = new Region('eu-azure');
    await merge(hub, await na.commit([hub], { 'nl\nx.txt': 'a', 'odd "q".txt': 'a', 'ü-日本.txt': 'a' }), 'shared');
    const lines: string[] = [];
    const r = await merge(hub, await eu.commit([hub], { 'nl\nx.txt': 'b', 'odd "q".txt': 'b', 'ü-日本.txt': 'b' }), 'shared', (l) => lines.push(l));
    expect(r.conflicts).toEqual(['"nl\\nx.txt" (add/add)', '"odd \\"q\\".txt" (add/add)', 'ü-日本.txt (add/add)']);
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toMatch(/\n/);
  });

  it('parks a conflict on conflicts/<region>/<seq>, leaves main unchanged, and stays parked on redelivery', async () => {
    const hub = await newHub();
    const na = new Region('na-aws');
    const eu = new Region('eu-azure');
    await merge(hub, await na.commit([hub], { 'model.json': '{"v":1}', 'hr.csv': 'h\n1\n' }), 'shared');
    const head = await main(hub);
    const lines: string[] = [];
    const eu1 = await eu.commit([hub], { 'model.json': '{"v":2}', 'hr.csv': 'h\n5\n' });
    const r = await merge(hub, eu1, 'shared', (l) => lines.push(l));
    expect(r).toEqual({ kind: 'conflict', conflictBranch: 'conflicts/eu-azure/1', conflicts: ['model.json (add/add)'] });
    expect(await main(hub)).toBe(head);
    expect((await hub.refs.resolve(branchRef('conflicts/eu-azure/1'))).commit).toBe(eu1.commit);
    expect(lines).toEqual([expect.stringMatching(/^conflict datasets\/heart\/eu-azure seq 1: .* kept on branch conflicts\/eu-azure\/1; main unchanged; conflicting paths: model.json \(add\/add\)$/)]);

    expect((await merge(hub, eu1, 'shared')).kind).toBe('conflict');
    expect(await main(hub)).toBe(head);
    // The region is not blocked: its next commits are still taken up (and conflict again while model.json differs).
    const eu2 = await eu.commit([hub], { 'model.json': '{"v":1}', 'hr.csv': 'h\n5\n6\n' });
    expect((await merge(hub, eu2, 'shared')).kind).toBe('merged');
    expect(await read(hub, 'hr.csv')).toBe('h\n5\n6\n1\n');
  });

  it('parks a second commit at one seq (a topic recreated) beside the first, and finds each again', async () => {
    const hub = await newHub();
    await merge(hub, await new Region('na-aws').commit([hub], { 'model.json': '{"v":1}' }), 'shared');
    const head = await main(hub);
    const first = await new Region('eu-azure').commit([hub], { 'model.json': '{"v":2}' });
    const again = await new Region('eu-azure').commit([hub], { 'model.json': '{"v":3}' });
    expect(again.seq).toBe(first.seq);
    expect((await merge(hub, first, 'shared')).conflictBranch).toBe('conflicts/eu-azure/1');
    const second = `conflicts/eu-azure/1-${again.commit.slice(0, 12)}`;
    expect((await merge(hub, again, 'shared')).conflictBranch).toBe(second);
    expect((await merge(hub, again, 'shared')).conflictBranch).toBe(second);
    expect((await merge(hub, first, 'shared')).conflictBranch).toBe('conflicts/eu-azure/1');
    expect((await hub.refs.resolve(branchRef(second))).commit).toBe(again.commit);
    expect(await main(hub)).toBe(head);
  });

  it('looks for a parked conflict with one ref read when there is none', async () => {
    const hub = await newHub();
    const na = new Region('na-aws');
    await merge(hub, await na.commit([hub], { 'a.csv': 'h\n1\n' }), 'shared');
    const reads = jest.spyOn(hub.store, 'readVersioned');
    expect((await merge(hub, await na.commit([hub], { 'a.csv': 'h\n1\n2\n' }), 'shared')).kind).toBe('merged');
    const conflictReads = reads.mock.calls.map(([key]) => key).filter((key) => key.includes('conflicts/'));
    expect(conflictReads).toEqual(['refs/heads/conflicts/na-aws/2']);
  });

  it('reads main once for a run of merges, and afresh after another writer moved it', async () => {
    const hub = await newHub();
    const na = new Region('na-aws');
    await merge(hub, await na.commit([hub], { 'a.csv': 'h\n1\n' }), 'shared');
    const reads = jest.spyOn(hub.store, 'readVersioned');
    const mainReads = () => reads.mock.calls.filter(([key]) => key === 'refs/heads/main').length;
    for (let i = 2; i <= 4; i++) await merge(hub, await na.commit([hub], { 'a.csv': `h\n${i}\n` }), 'shared');
    expect(mainReads()).toBe(0);

    // Another hub process on the same store moves main: the first swap fails and the retry reads main; that commit
    // sits in a pack this hub has not loaded, so it reloads and merges onto the main it has just read.
    const other = await reopen();
    const eu = new Region('eu-azure');
    await merge(other, await eu.commit([other], { 'b.csv': 'h\n1\n' }), 'shared');
    const moved = await main(other);
    const r = await merge(hub, await na.commit([hub], { 'a.csv': 'h\n5\n' }), 'shared');
    expect(r.kind).toBe('merged');
    expect((await hub.readCommit(r.commit!)).parents[0]).toBe(moved);
    expect(mainReads()).toBe(1);
  });

  it('calls a differing CSV header or a rewritten record a conflict', async () => {
    const hub = await newHub();
    const na = new Region('na-aws');
    const eu = new Region('eu-azure');
    await merge(hub, await na.commit([hub], { 'hr.csv': 't,hr\n1,60\n' }), 'shared');
    expect((await merge(hub, await eu.commit([hub], { 'hr.csv': 't,spo2\n1,98\n' }), 'shared')).kind).toBe('conflict');
    const gcp = new Region('na-gcp');
    await merge(hub, await gcp.commit([hub], { 'hr.csv': 't,hr\n7,80\n' }), 'shared');
    expect((await merge(hub, await gcp.commit([hub], { 'hr.csv': 't,hr\n7,81\n' }), 'shared')).conflicts).toEqual(['hr.csv (modify/modify)']);
    expect(await read(hub, 'hr.csv')).toBe('t,hr\n1,60\n7,80\n');
  });
});

describe('mergeRegionalCommit, shared layout, arrival order', () => {
  /** A seeded shuffle of the feeds that keeps each topic's own order (the topic log's), as concurrent follows do. */
  function interleave(feeds: RegionalCommit[][], seed: number): RegionalCommit[] {
    const next = feeds.map(() => 0);
    const out: RegionalCommit[] = [];
    let x = seed;
    while (out.length < feeds.reduce((n, f) => n + f.length, 0)) {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      const open = feeds.map((f, i) => i).filter((i) => next[i] < feeds[i].length);
      const i = open[x % open.length];
      out.push(feeds[i][next[i]++]);
    }
    return out;
  }

  it('gives byte-identical trees whatever the interleaving of topics, records in topic then sequence order', async () => {
    const eu = new Region('eu-azure');
    const na = new Region('na-aws');
    const gcp = new Region('na-gcp');
    const seeds = [1, 2, 3, 4, 5];
    const hubs: Repository[] = [];
    for (let i = 0; i < seeds.length + 3; i++) hubs.push(await newHub(`h${i}`));
    const euFeed = [
      await eu.commit(hubs, { 'hr.csv': 'ts,hr\n5,70\n', 'logs/eu.jsonl': '{"e":1}\n', 'dup.csv': 'k\n1\n' }),
      await eu.commit(hubs, { 'hr.csv': 'ts,hr\n5,70\n6,71', 'logs/eu.jsonl': '{"e":1}\n{"e":2}', 'dup.csv': 'k\n1\n' }),
      await eu.commit(hubs, {
        'hr.csv': 'ts,hr\n5,70\n6,71\n7,72\n',
        'logs/eu.jsonl': '{"e":1}\n{"e":2}\n{"e":3}\n',
        'dup.csv': 'k\n1\n',
        'events.jsonl': '{"r":"eu","n":1}\n',
      }),
    ];
    const naFeed = [
      await na.commit(hubs, { 'hr.csv': 'ts,hr\r\n1,60\r\n', 'dup.csv': 'k\n1\n', 'events.jsonl': '{"r":"na","n":1}' }),
      await na.commit(hubs, { 'hr.csv': 'ts,hr\r\n1,60\r\n2,61\r\n', 'dup.csv': 'k\n1\n2\n', 'events.jsonl': '{"r":"na","n":1}\n{"r":"na","n":2}\n' }),
    ];
    const gcpFeed = [
      await gcp.commit(hubs, { 'hr.csv': 'ts,hr\n9,90\n', 'gcp/model.bin': 'v1' }),
      await gcp.commit(hubs, { 'hr.csv': 'ts,hr\n9,90\n10,91\n', 'gcp/model.bin': 'v2' }),
      await gcp.commit(hubs, { 'hr.csv': 'ts,hr\n9,90\n10,91\n11,92', 'gcp/model.bin': 'v2' }),
    ];
    const feeds = [euFeed, naFeed, gcpFeed];
    const orders = [
      [...euFeed, ...naFeed, ...gcpFeed],
      [...gcpFeed, ...naFeed, ...euFeed],
      [naFeed[0], gcpFeed[0], euFeed[0], naFeed[1], gcpFeed[1], euFeed[1], gcpFeed[2], euFeed[2]],
      ...seeds.map((s) => interleave(feeds, s)),
    ];
    expect(new Set(orders.map((o) => o.map((c) => c.commit).join())).size).toBe(orders.length);

    for (const [i, order] of orders.entries()) {
      for (const [j, c] of order.entries()) {
        expect(await merge(hubs[i], c, 'shared')).toMatchObject({ kind: 'merged' });
        // Redelivery of something merged before changes nothing.
        if ((i + j) % 3 === 0) expect((await merge(hubs[i], order[(i * j) % (j + 1)], 'shared')).kind).toBe('duplicate');
      }
    }

    await expectMains(hubs, {
      'hr.csv': 'ts,hr\n5,70\n6,71\n7,72\n1,60\r\n2,61\r\n9,90\n10,91\n11,92\n',
      'dup.csv': 'k\n1\n1\n2\n',
      'events.jsonl': '{"r":"eu","n":1}\n{"r":"na","n":1}\n{"r":"na","n":2}\n',
      'logs/eu.jsonl': '{"e":1}\n{"e":2}\n{"e":3}\n',
      'gcp/model.bin': 'v2',
    });
  });

  it('keeps a path one region removes while another holds it, whatever the order', async () => {
    const eu = new Region('eu-azure');
    const na = new Region('na-aws');
    const gcp = new Region('na-gcp');
    const hubs: Repository[] = [];
    for (let i = 0; i < 7; i++) hubs.push(await newHub(`h${i}`));
    const euFeed = [
      await eu.commit(hubs, { 'schema.json': '{"v":1}', 'hr.csv': 'h\n', 'hr2.csv': 'h\r\n5\n', 'docs/a.txt': 'a' }),
      await eu.commit(hubs, { 'schema.json': '{"v":1}', 'hr.csv': 'h\n' }),
    ];
    const naFeed = [
      await na.commit(hubs, { 'schema.json': '{"v":1}', 'hr.csv': 'h\n1\n', 'notes.csv': 'k\r\n3\r\n', 'hr2.csv': 'h\n1\n' }),
      await na.commit(hubs, { 'hr.csv': 'h\n1\n2\n', 'notes.csv': 'k\r\n3\r\n', 'hr2.csv': 'h\n1\n', 'docs/a.txt': 'a' }),
    ];
    const gcpFeed = [
      await gcp.commit(hubs, { 'hr.csv': 'h\n9\n', 'notes.csv': 'k\n1\n', 'docs/a.txt': 'a', 'docs/b.txt': 'b' }),
      await gcp.commit(hubs, { 'hr.csv': 'h\n9\n' }),
    ];
    const feeds = [euFeed, naFeed, gcpFeed];
    const orders = [
      [...euFeed, ...naFeed, ...gcpFeed],
      [...gcpFeed, ...naFeed, ...euFeed],
      [euFeed[0], naFeed[0], gcpFeed[0], euFeed[1], naFeed[1], gcpFeed[1]],
      [naFeed[0], euFeed[0], gcpFeed[0], naFeed[1], gcpFeed[1], euFeed[1]],
      ...[1, 2, 3].map((seed) => interleave(feeds, seed)),
    ];
    for (const [i, order] of orders.entries()) {
      for (const c of order) {
        const lines: string[] = [];
        expect({ order: i, topic: c.topic, seq: c.seq, kind: (await merge(hubs[i], c, 'shared', (l) => lines.push(l))).kind, lines })
          .toEqual({ order: i, topic: c.topic, seq: c.seq, kind: 'merged', lines: [] });
      }
    }
    // What the last versions hold: eu's schema.json and empty hr.csv block, na's files, gcp's hr.csv; and docs/a.txt,
    // which eu removed and gcp left while na added it.
    await expectMains(hubs, {
      'schema.json': '{"v":1}',
      'hr.csv': 'h\n1\n2\n9\n',
      'hr2.csv': 'h\n1\n',
      'notes.csv': 'k\r\n3\r\n',
      'docs/a.txt': 'a',
    });
  });

  it('calls a change to a file another region still holds a conflict, in either order', async () => {
    for (const naFirst of [true, false]) {
      const eu = new Region('eu-azure');
      const na = new Region('na-aws');
      const hub = await newHub(naFirst ? 'na-first' : 'eu-first');
      const na1 = await na.commit([hub], { 'model.json': '{"v":1}' });
      const eu1 = await eu.commit([hub], { 'model.json': '{"v":1}' });
      const na2 = await na.commit([hub], { 'model.json': '{"v":2}' });
      const lines: string[] = [];
      const outcomes = [];
      for (const c of naFirst ? [na1, na2, eu1] : [na1, eu1, na2]) outcomes.push((await merge(hub, c, 'shared', (l) => lines.push(l))).kind);
      expect(outcomes).toEqual(['merged', 'merged', 'conflict']);
      expect(lines).toEqual([expect.stringMatching(/model\.json \((add\/add|modify\/modify)\)$/)]);
    }
  });

  it('lays a version that is one unterminated header as it is, in either order, and lets it go cleanly', async () => {
    for (const naFirst of [true, false]) {
      const eu = new Region('eu-azure');
      const na = new Region('na-aws');
      const hub = await newHub(naFirst ? 'na-first' : 'eu-first');
      const na1 = await na.commit([hub], { 'x.csv': '' });
      const eu1 = await eu.commit([hub], { 'x.csv': 'id,val' });
      for (const c of naFirst ? [na1, eu1] : [eu1, na1]) expect((await merge(hub, c, 'shared')).kind).toBe('merged');
      expect({ naFirst, x: await read(hub, 'x.csv') }).toEqual({ naFirst, x: 'id,val' });
      const lines: string[] = [];
      const r = await merge(hub, await eu.commit([hub], {}), 'shared', (l) => lines.push(l));
      expect({ naFirst, kind: r.kind, lines, x: await read(hub, 'x.csv') }).toEqual({ naFirst, kind: 'merged', lines: [], x: '' });
    }
  });

  it("parks a header change or a truncation while another region holds the header, though that region adds nothing visible", async () => {
    // na's header-only version adds nothing to main, so main still equals eu's last version: eu's change must
    // still be whole records appended, as it would be had na's come after it.
    const cases = [
      { name: 'truncation (A)', eu: ['id,val\n1,eu\n', ''], na: ['id,val\n', 'id,val\n7,na\n'], naFirst: false },
      { name: 'header change, na first (B)', eu: ['id,val\n1,eu\n', 'temp_c,city\n1,eu\n'], na: ['id,val\n', 'id,val\n7,na\n'], naFirst: true },
      { name: 'header change, eu first', eu: ['id,val\n1,eu\n', 'temp_c,city\n1,eu\n'], na: ['id,val\n', 'id,val\n7,na\n'], naFirst: false },
      { name: 'terminator change', eu: ['id,val\r\n1,eu\r\n', 'id,val\n1,eu\r\n'], na: ['id,val\n', 'id,val\n7,na\n'], naFirst: false },
      { name: 'truncation to the header', eu: ['id,val\n1,eu\n', 'id,val\n'], na: ['id,val', 'id,val\n7,na\n'], naFirst: true },
    ];
    const got = [];
    for (const { name, eu: euFiles, na: naFiles, naFirst } of cases) {
      const eu = new Region('eu-azure');
      const na = new Region('na-aws');
      const hub = await newHub(name.replace(/\W/g, '-'));
      const [eu1, eu2] = [await eu.commit([hub], { 'a.csv': euFiles[0] }), await eu.commit([hub], { 'a.csv': euFiles[1] })];
      const [na1, na2] = [await na.commit([hub], { 'a.csv': naFiles[0] }), await na.commit([hub], { 'a.csv': naFiles[1] })];
      const outcomes = [];
      for (const c of naFirst ? [na1, eu1, eu2, na2] : [eu1, na1, eu2, na2]) outcomes.push((await merge(hub, c, 'shared')).conflicts ?? []);
      got.push({ name, outcomes, a: await read(hub, 'a.csv') });
    }
    // eu's change is parked; main holds eu's first version and na's last, in topic order.
    expect(got).toEqual(cases.map(({ name, eu: euFiles }) => ({ name, outcomes: [[], [], ['a.csv (modify/modify)'], []], a: `${euFiles[0]}7,na\n` })));
  });

  it('lets a region rewrite a record file that no other region holds a header or records in', async () => {
    const eu = new Region('eu-azure');
    const na = new Region('na-aws');
    const hub = await newHub();
    await merge(hub, await na.commit([hub], { 'a.csv': '', 'b.csv': 'k\n1\n' }), 'shared');
    await merge(hub, await eu.commit([hub], { 'a.csv': 'id,val\n1,eu\n' }), 'shared');
    const r = await merge(hub, await eu.commit([hub], { 'a.csv': 'temp_c,city\n1,eu' }), 'shared');
    expect(r.kind).toBe('merged');
    expect(await read(hub, 'a.csv')).toBe('temp_c,city\n1,eu\n');
  });

  it('parks a CSV version that leaves a quoted field open, whether it is new or appended to, in either order', async () => {
    const got = [];
    for (const euFirst of [true, false]) {
      const eu = new Region('eu-azure');
      const na = new Region('na-aws');
      const hub = await newHub(euFirst ? 'eu-first' : 'na-first');
      const eu1 = await eu.commit([hub], { 'c.csv': 'id,val\n1,"open\n' });
      const na1 = await na.commit([hub], { 'c.csv': 'id,val\n2,na\n3,na\n' });
      const outcomes: Record<string, string[]> = {};
      for (const c of euFirst ? [eu1, na1] : [na1, eu1]) outcomes[c.region] = (await merge(hub, c, 'shared')).conflicts ?? [];
      got.push({ euFirst, outcomes, c: await read(hub, 'c.csv') });
    }
    // Whichever came first, eu's version is parked and na's records stay records of their own.
    expect(got).toEqual(
      [true, false].map((euFirst) => ({ euFirst, outcomes: { 'eu-azure': [expect.stringMatching(/^c\.csv /)], 'na-aws': [] }, c: 'id,val\n2,na\n3,na\n' })),
    );

    // A region alone in a file: its append, or its rewrite, that opens a quote is parked; closing it later merges.
    const hub = await newHub();
    const eu = new Region('eu-azure');
    await merge(hub, await eu.commit([hub], { 'd.csv': 'id,val\n1,eu\n' }), 'shared');
    const appended = await merge(hub, await eu.commit([hub], { 'd.csv': 'id,val\n1,eu\n2,"open\n' }), 'shared');
    const rewritten = await merge(hub, await eu.commit([hub], { 'd.csv': 'id,val\n1,"eu\n' }), 'shared');
    expect({ appended: appended.conflicts, rewritten: rewritten.conflicts, d: await read(hub, 'd.csv') })
      .toEqual({ appended: ['d.csv (unclosed quote)'], rewritten: ['d.csv (unclosed quote)'], d: 'id,val\n1,eu\n' });
    expect((await merge(hub, await eu.commit([hub], { 'd.csv': 'id,val\n1,eu\n2,"open\nclosed"\n3,"a ""q"""' }), 'shared')).kind).toBe('merged');
    expect(await read(hub, 'd.csv')).toBe('id,val\n1,eu\n2,"open\nclosed"\n3,"a ""q"""\n');
  });

  it("holds back only a parked conflict's path: the region's later commits merge, across a restart, until it changes that path", async () => {
    const day = 'batches/2026-03-04';
    const aws = new Region('na-aws');
    const gcp = new Region('na-gcp');
    const hub = await newHub();
    const awsHdr = 'id,val\n1,aws\n';
    const gcpHdr = 'ts,hr\n9,gcp\n';
    expect((await merge(hub, await aws.commit([hub], { [`${day}/hdr.csv`]: awsHdr, [`${day}/aws.json`]: '{}' }), 'shared')).kind).toBe('merged');
    // Same day, same file name, other bytes (another header): add/add, parked with the rest of that commit.
    const files: Record<string, string> = { [`${day}/hdr.csv`]: gcpHdr, [`${day}/b1.jsonl`]: '{"n":1}\n' };
    const gcp1 = await gcp.commit([hub], files);
    const lines: string[] = [];
    const parked = await merge(hub, gcp1, 'shared', (l) => lines.push(l));
    expect(parked).toEqual({ kind: 'conflict', conflictBranch: 'conflicts/na-gcp/1', conflicts: [`${day}/hdr.csv (add/add)`] });

    // Three more batches, the first after a restart (the parked seq is read back from the conflict branch): each
    // merges, bringing its own files and those of the parked commit that did not conflict; hdr.csv stays aws's.
    let h = hub;
    for (let n = 2; n <= 4; n++) {
      if (n === 2) {
        await hub.close();
        h = await reopen();
      }
      files[`${day}/b${n}.jsonl`] = `{"n":${n}}\n`;
      const r = await merge(h, await gcp.commit([h], files), 'shared', (l) => lines.push(l));
      expect({ n, kind: r.kind }).toEqual({ n, kind: 'merged' });
    }
    expect(lines).toHaveLength(1);
    expect(await read(h, `${day}/hdr.csv`)).toBe(awsHdr);
    for (let n = 1; n <= 4; n++) expect(await read(h, `${day}/b${n}.jsonl`)).toBe(`{"n":${n}}\n`);
    expect((await h.refs.list('refs/heads/conflicts/')).map((r) => r.name)).toEqual(['refs/heads/conflicts/na-gcp/1']);

    // Redelivered, the parked commit is still a conflict, and a merged one a duplicate; main does not move.
    const head = await main(h);
    expect((await merge(h, gcp1, 'shared')).kind).toBe('conflict');
    expect((await merge(h, { ...gcp1, commit: (await h.readCommit(head)).parents[1] as CommitId, seq: 4 }, 'shared')).kind).toBe('duplicate');
    expect(await main(h)).toBe(head);

    // aws keeps appending to its hdr.csv: gcp's held-back version is no part of its layout.
    expect((await merge(h, await aws.commit([h], { [`${day}/hdr.csv`]: `${awsHdr}2,aws\n`, [`${day}/aws.json`]: '{}' }), 'shared')).kind).toBe('merged');
    expect(await read(h, `${day}/hdr.csv`)).toBe(`${awsHdr}2,aws\n`);

    // gcp changes hdr.csv again (appends to its version): a conflict on that path only, parked; main unchanged.
    files[`${day}/hdr.csv`] = `${gcpHdr}10,gcp\n`;
    files[`${day}/b5.jsonl`] = '{"n":5}\n';
    const gcp5 = await gcp.commit([h], files);
    const before = await main(h);
    expect(await merge(h, gcp5, 'shared')).toEqual({ kind: 'conflict', conflictBranch: 'conflicts/na-gcp/5', conflicts: [`${day}/hdr.csv (add/add)`] });
    expect(await main(h)).toBe(before);
    // Its next batch leaves hdr.csv as seq 5 had it: held back again; b5 and b6 come in.
    files[`${day}/b6.jsonl`] = '{"n":6}\n';
    expect((await merge(h, await gcp.commit([h], files), 'shared')).kind).toBe('merged');
    expect(await read(h, `${day}/b5.jsonl`)).toBe('{"n":5}\n');
    expect(await read(h, `${day}/hdr.csv`)).toBe(`${awsHdr}2,aws\n`);
    // gcp settles it by taking aws's header for its records: they go into its own block, after aws's.
    files[`${day}/hdr.csv`] = 'id,val\n9,gcp\n';
    expect((await merge(h, await gcp.commit([h], files), 'shared')).kind).toBe('merged');
    expect(await read(h, `${day}/hdr.csv`)).toBe(`${awsHdr}2,aws\n9,gcp\n`);
    expect((await h.refs.list('refs/heads/conflicts/')).map((r) => r.name)).toEqual(['refs/heads/conflicts/na-gcp/1', 'refs/heads/conflicts/na-gcp/5']);
  });

  it('forgets a parked commit whose branch is deleted unsettled: the next commit keeping that path parks again', async () => {
    const day = 'batches/2026-03-04';
    const aws = new Region('na-aws');
    const gcp = new Region('na-gcp');
    const hub = await newHub();
    expect((await merge(hub, await aws.commit([hub], { [`${day}/hdr.csv`]: 'id,val\n1,aws\n' }), 'shared')).kind).toBe('merged');
    const files: Record<string, string> = { [`${day}/hdr.csv`]: 'ts,hr\n9,gcp\n', [`${day}/b1.jsonl`]: '{"n":1}\n' };
    expect((await merge(hub, await gcp.commit([hub], files), 'shared')).kind).toBe('conflict');
    const parked = (await hub.refs.read(branchRef('conflicts/na-gcp/1')))!;
    await hub.refs.delete(branchRef('conflicts/na-gcp/1'), parked.version);
    // The README's advice: delete a conflict branch only once the region has settled it.
    files[`${day}/b2.jsonl`] = '{"n":2}\n';
    expect(await merge(hub, await gcp.commit([hub], files), 'shared')).toEqual({
      kind: 'conflict',
      conflictBranch: 'conflicts/na-gcp/2',
      conflicts: [`${day}/hdr.csv (add/add)`],
    });
    files[`${day}/b3.jsonl`] = '{"n":3}\n';
    expect((await merge(hub, await gcp.commit([hub], files), 'shared')).kind).toBe('merged');
  });

  it('after a held-back conflict, main is still the layout of what each topic holds, whatever the order', async () => {
    // gcp's seq 1 conflicts with eu's model.json whichever comes first; its later batches merge either way, and
    // two hubs that took the same commits hold the same tree.
    const eu = new Region('eu-azure');
    const gcp = new Region('na-gcp');
    const na = new Region('na-aws');
    const hubs = [await newHub('h0'), await newHub('h1')];
    const eu1 = await eu.commit(hubs, { 'model.json': '{"v":1}', 'hr.csv': 'h\n1\n' });
    const gcp1 = await gcp.commit(hubs, { 'model.json': '{"v":2}', 'hr.csv': 'h\n5\n' });
    const gcp2 = await gcp.commit(hubs, { 'model.json': '{"v":2}', 'hr.csv': 'h\n5\n6\n', 'b.jsonl': '{}\n' });
    const na1 = await na.commit(hubs, { 'hr.csv': 'h\n7\n' });
    const eu2 = await eu.commit(hubs, { 'model.json': '{"v":1}', 'hr.csv': 'h\n1\n2\n' });
    const orders = [
      [eu1, gcp1, gcp2, na1, eu2],
      [eu1, na1, eu2, gcp1, gcp2],
    ];
    for (const [i, order] of orders.entries()) {
      const kinds = [];
      for (const c of order) kinds.push(`${c.region} ${c.seq} ${(await merge(hubs[i], c, 'shared')).kind}`);
      expect(kinds.sort()).toEqual(['eu-azure 1 merged', 'eu-azure 2 merged', 'na-aws 1 merged', 'na-gcp 1 conflict', 'na-gcp 2 merged']);
    }
    await expectMains(hubs, { 'model.json': '{"v":1}', 'hr.csv': 'h\n1\n2\n7\n5\n6\n', 'b.jsonl': '{}\n' });
  });

  it('keeps the layout across a restart (the merge index and block sizes are read back from main)', async () => {
    const eu = new Region('eu-azure');
    const na = new Region('na-aws');
    const hub = await newHub();
    await merge(hub, await na.commit([hub], { 'hr.csv': 'h\n1\n' }), 'shared');
    await merge(hub, await eu.commit([hub], { 'hr.csv': 'h\n5\n' }), 'shared');
    await hub.close();
    const again = await reopen();
    await merge(again, await na.commit([again], { 'hr.csv': 'h\n1\n2\n' }), 'shared');
    await merge(again, await eu.commit([again], { 'hr.csv': 'h\n5\n6\n' }), 'shared');
    expect(await read(again, 'hr.csv')).toBe('h\n5\n6\n1\n2\n');
  });
});

describe('mergeRegionalCommit, shared layout, replayed in several arrival orders', () => {
  /** A seeded xorshift: the same feeds on every run. */
  function random(seed: number): (n: number) => number {
    let x = seed >>> 0 || 1;
    return (n) => {
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      return x % n;
    };
  }

  /** A CSV file's header record and where it ends (after its terminator), quotes taken into account. */
  function headerOf(b: Buffer): { record: Buffer; end: number; terminated: boolean } {
    let quoted = false;
    for (let i = 0; i < b.length; i++) {
      if (b[i] === 0x22) quoted = !quoted;
      else if (b[i] === 0x0a && !quoted) return { record: b.subarray(0, i > 0 && b[i - 1] === 0x0d ? i - 1 : i), end: i + 1, terminated: true };
    }
    return { record: b, end: b.length, terminated: false };
  }

  const quotes = (b: Buffer) => b.toString('latin1').split('"').length - 1;

  /** TopicBlocks' layout of the topics' last-merged versions, given in topic order. */
  function layout(p: string, versions: Buffer[]): Buffer {
    const present = versions.filter((v) => v.length > 0);
    const csv = p.endsWith('.csv');
    const headers = present.map((v) => (csv ? headerOf(v) : { record: Buffer.alloc(0), end: 0, terminated: false }));
    const parts: Buffer[] = [];
    if (csv && present.length > 0) {
      const i = Math.max(0, headers.findIndex((h) => h.terminated));
      parts.push(present[i].subarray(0, headers[i].end));
    }
    present.forEach((v, i) => {
      const body = v.subarray(headers[i].end);
      if (body.length > 0) parts.push(body, Buffer.from(body[body.length - 1] === 0x0a ? '' : '\n'));
    });
    return Buffer.concat(parts);
  }

  /** Whether the topic's change from `base` to `theirs` is one the merge must take: whole records appended, a new version with everyone's header, or a removal. */
  function mustMerge(p: string, base: Buffer | undefined, theirs: Buffer | undefined, others: Buffer[]): boolean {
    if (!theirs || (base && base.equals(theirs))) return true;
    const csv = p.endsWith('.csv');
    if (csv && quotes(theirs) % 2 !== 0) return false;
    if (!base || base.length === 0) {
      if (!csv || theirs.length === 0) return true;
      const h = headerOf(theirs).record;
      return others.every((o) => o.length === 0 || headerOf(o).record.equals(h));
    }
    if (!theirs.subarray(0, base.length).equals(base)) return false;
    const added = theirs.subarray(base.length);
    return base[base.length - 1] === 0x0a || added[0] === 0x0a || (added[0] === 0x0d && added[1] === 0x0a);
  }

  /** A region's feed of commits: its own files changed a step at a time, whatever the hub makes of them. */
  function feed(rnd: (n: number) => number, steps: number): Record<string, Buffer>[] {
    const files: Record<string, Buffer> = {};
    const out: Record<string, Buffer>[] = [];
    const field = () => ['x1', '', '"a,b"', '"multi\nline"', '"q""uote"', 'é€'][rnd(6)];
    const records = (t: string) => {
      let s = '';
      for (let n = 1 + rnd(2); n > 0; n--) s += `${field()},${field()}${t}`;
      return rnd(4) === 0 ? s.slice(0, s.length - t.length) : s;
    };
    for (let step = 0; step < steps; step++) {
      const p = ['a.csv', 'a.csv', 'b.csv', 'c.jsonl'][rnd(4)];
      const csv = p.endsWith('.csv');
      const t = rnd(4) === 0 ? '\r\n' : '\n';
      const cur = files[p];
      const header = rnd(8) === 0 ? 'temp_c,city' : 'id,val';
      const op = rnd(20);
      if (cur === undefined) {
        const body = csv ? [``, header, header + t, header + t + records(t), header + t + '9,"open' + t][rnd(5)] : ['', `{"n":${step}}${t}`][rnd(2)];
        files[p] = Buffer.from(body);
      } else if (op < 12) {
        const close = cur.length > 0 && cur[cur.length - 1] !== 0x0a ? t : '';
        files[p] = Buffer.concat([cur, Buffer.from(close + (csv ? records(t) : `{"n":${step}}${t}`))]);
      } else if (op < 13 && csv) files[p] = Buffer.concat([cur, Buffer.from((cur.length > 0 && cur[cur.length - 1] !== 0x0a ? t : '') + '8,"open' + t)]);
      else if (op < 14 && csv) files[p] = Buffer.concat([cur, Buffer.from('closed"' + t)]);
      else if (op < 15) files[p] = Buffer.alloc(0);
      else if (op < 16 && csv) files[p] = cur.subarray(0, headerOf(cur).end);
      else if (op < 17 && csv) files[p] = Buffer.concat([Buffer.from(cur.length === 0 ? '' : header + t), cur.subarray(headerOf(cur).end)]);
      else if (op < 18) files[p] = Buffer.concat([Buffer.from('ins' + t), cur]);
      else delete files[p];
      out.push({ ...files });
    }
    return out;
  }

  /** The files of the topic's version a merge put on main: `files`, or the view it recorded (trib.view). */
  async function topicFiles(hub: Repository, mergeCommit: CommitId, files: Record<string, Buffer>): Promise<Record<string, Buffer>> {
    const view = (await hub.readCommit(mergeCommit)).annotations['trib.view'] as TreeId | undefined;
    if (!view) return files;
    const out: Record<string, Buffer> = {};
    for (const p of ['a.csv', 'b.csv', 'c.jsonl']) {
      const e = await lookupPath(hub.objects, view, p);
      if (!e) continue;
      const parts: Buffer[] = [];
      for await (const b of readFileBytes(hub.objects, { id: e.id, chunked: e.chunked, size: e.size })) parts.push(b);
      out[p] = Buffer.concat(parts);
    }
    return out;
  }

  it('keeps main the layout of the last-merged versions, and takes every append, whatever the order', async () => {
    const names = ['na-aws', 'eu-azure', 'na-gcp'];
    for (let seed = 1; seed <= 12; seed++) {
      const rnd = random(seed * 7919);
      const orders = 3;
      const hubs: Repository[] = [];
      for (let i = 0; i < orders; i++) hubs.push(await newHub(`s${seed}-o${i}`));
      const regions = names.map((n) => new Region(n));
      const feeds: { c: RegionalCommit; files: Record<string, Buffer> }[][] = [];
      for (const r of regions) {
        const commits = [];
        for (const files of feed(rnd, 7)) {
          const text: Record<string, string> = {};
          for (const [p, b] of Object.entries(files)) text[p] = b.toString();
          commits.push({ c: await r.commit(hubs, text), files });
        }
        feeds.push(commits);
      }
      const topicOrder = regions.map((r, i) => ({ topic: r.topic, i })).sort((a, b) => (a.topic < b.topic ? -1 : 1)).map((x) => x.i);
      for (let o = 0; o < orders; o++) {
        // Each region's commits in its own order; regions interleaved differently per order.
        const next = feeds.map(() => 0);
        const last: (Record<string, Buffer> | undefined)[] = feeds.map(() => undefined);
        const dealt: (Record<string, Buffer> | undefined)[] = feeds.map(() => undefined);
        while (next.some((n, i) => n < feeds[i].length)) {
          const open = feeds.map((_, i) => i).filter((i) => next[i] < feeds[i].length);
          const i = o === 0 ? open[0] : o === 1 ? open[open.length - 1] : open[rnd(open.length)];
          const { c, files } = feeds[i][next[i]++];
          const lines: string[] = [];
          const outcome = await merge(hubs[o], c, 'shared', (l) => lines.push(l));
          const where = `seed ${seed} order ${o}: ${c.region} seq ${c.seq}`;
          const paths = new Set([...Object.keys(files), ...Object.keys(last[i] ?? {})]);
          // A path the region left as its last commit the hub dealt with (merged or parked) never parks it: it is
          // held back when it conflicts.
          const unchanged = (p: string) => (dealt[i]?.[p] === undefined ? files[p] === undefined : files[p]?.equals(dealt[i]![p]) === true);
          const required = [...paths].every(
            (p) => unchanged(p) || mustMerge(p, last[i]?.[p], files[p], last.flatMap((v, j) => (j !== i && v?.[p] ? [v[p]] : []))),
          );
          if (required) expect({ where, kind: outcome.kind, lines }).toEqual({ where, kind: 'merged', lines: [] });
          dealt[i] = files;
          // What main holds of the topic: the regional tree, or its view when the merge held paths back.
          if (outcome.kind === 'merged') last[i] = await topicFiles(hubs[o], outcome.commit!, files);
          const expected: Record<string, string> = {};
          for (const p of new Set(last.flatMap((v) => Object.keys(v ?? {})))) {
            const versions = topicOrder.flatMap((j) => (last[j]?.[p] ? [last[j]![p]] : []));
            const csvHeaders = p.endsWith('.csv') ? versions.filter((v) => v.length > 0).map((v) => headerOf(v).record.toString()) : [];
            // Every topic's version has the same header, and none leaves a quoted field open.
            expect({ where, p, headers: new Set(csvHeaders).size <= 1, open: versions.some((v) => p.endsWith('.csv') && quotes(v) % 2 !== 0) })
              .toEqual({ where, p, headers: true, open: false });
            expected[p] = layout(p, versions).toString();
          }
          const got: Record<string, string> = {};
          for (const p of ['a.csv', 'b.csv', 'c.jsonl']) {
            const text = await read(hubs[o], p);
            if (text !== undefined) got[p] = text;
          }
          expect({ where, main: got }).toEqual({ where, main: expected });
        }
      }
    }
  });
});
