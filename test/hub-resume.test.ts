/**
 * The hub as a real process (apps/hub/dist/main.js) against a real broker on a real socket and the Redis at REDIS_URL:
 * killed with SIGKILL mid-stream of a large delta, between its merge commit and the move of main, and between its
 * merge and the ack, it resumes from its cursor; the final main tree equals an uninterrupted run's, `trib verify
 * --read-data` passes, and no regional commit is merged twice.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import Redis from 'ioredis';
import { CommitId, SubscriberId, TopicName, TreeId } from '@tributary/core';
import { commitBatch } from '@tributary/ingest';
import { branchRef, Repository } from '@tributary/repository';
import { RunningBroker, SyncClient } from '@tributary/sync';
import { REDIS_URL, rows, startTestBroker, tempDir } from '../libs/sync/src/testing/sync-harness';
import { ok, ROOT } from './support/trib';

const HUB = path.join(ROOT, 'apps/hub/dist/main.js');
const TOPICS = { 'datasets/heart/na-aws': 3, 'datasets/heart/eu-azure': 3 } as const;

class AppProcess {
  readonly lines: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly proc: ChildProcess;

  constructor(script: string, env: Record<string, string>) {
    this.proc = spawn(process.execPath, [script], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let buf = '';
    const onData = (d: Buffer) => {
      buf += d.toString();
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        this.lines.push(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
    };
    this.proc.stdout!.on('data', onData);
    this.proc.stderr!.on('data', onData);
    this.exited = new Promise((resolve) => this.proc.on('exit', (code, signal) => resolve({ code, signal })));
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGTERM');
    await this.exited;
  }
}

let tmp: ReturnType<typeof tempDir>;
let broker: RunningBroker;
let client: SyncClient;
const running: AppProcess[] = [];

/** Two regions publish three batches each; na-aws appends a 24 MB CSV and then 6 MB more (a large delta). */
beforeAll(async () => {
  tmp = tempDir('trib-hub-e2e-');
  broker = await startTestBroker(path.join(tmp.dir, 'broker'));
  client = new SyncClient(broker.address);
  const inbox = path.join(tmp.dir, 'batches');
  await fs.mkdir(inbox);
  const feeds: [string, string, string | undefined, string[]][] = [
    ['na-aws', 'datasets/heart/na-aws', 'hr.csv', [rows(24 << 20, 1), rows(6 << 20, 2), rows(1000, 3)]],
    ['eu-azure', 'datasets/heart/eu-azure', undefined, [rows(2000, 4), rows(3000, 5), rows(4000, 6)]],
  ];
  for (const [region, topic, appendTo, batches] of feeds) {
    const repo = await Repository.init(path.join(tmp.dir, `agent-${region}`));
    try {
      for (const [i, body] of batches.entries()) {
        const f = path.join(inbox, `${region}-${i + 1}.csv`);
        await fs.writeFile(f, `a,b,c,d\n${body}`);
        await commitBatch(repo, f, { region, appendTo });
        await client.publish(repo, topic);
      }
    } finally {
      await repo.close();
    }
  }
});

afterAll(async () => {
  for (const p of running) await p.stop();
  client.close();
  await broker.close();
  tmp.cleanup();
});

function hub(name: string, env: Record<string, string> = {}): AppProcess {
  const p = new AppProcess(HUB, {
    TRIB_TOPICS: Object.keys(TOPICS).join(','),
    TRIB_NAME: name,
    TRIB_STORE: pathToFileURL(path.join(tmp.dir, `${name}-store`)).href,
    TRIB_HOME: path.join(tmp.dir, `${name}-home`),
    TRIB_BROKER: broker.address,
    TRIB_AUTHOR: 'hub@test',
    ...env,
  });
  running.push(p);
  return p;
}

/** Until the broker has `name`'s acks for every entry of every topic (the hub acks only after a durable merge). */
async function caughtUp(name: string): Promise<void> {
  for (;;) {
    const topics = await client.listTopics();
    const done = Object.entries(TOPICS).every(([t, seq]) => topics.find((x) => x.topic === t)?.subscribers.find((s) => s.name === name)?.cursor === seq);
    if (done) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** main's tree, and every (topic, seq) merged along main's first-parent history. */
async function mainOf(name: string): Promise<{ tree: TreeId; merged: string[]; authors: Set<string> }> {
  const repo = await Repository.open(path.join(tmp.dir, `${name}-home`));
  try {
    const head = (await repo.refs.resolve(branchRef('main'))).commit!;
    const merged: string[] = [];
    const authors = new Set<string>();
    for (let id: CommitId | undefined = head; id; id = (await repo.readCommit(id)).parents[0]) {
      const { annotations: a, author } = await repo.readCommit(id);
      if (a['trib.topic']) merged.push(`${a['trib.topic']}#${a['trib.seq']}`);
      if (a['trib.topic']) authors.add(author);
    }
    return { tree: (await repo.readCommit(head)).tree, merged: merged.sort(), authors };
  } finally {
    await repo.close();
  }
}

const EVERY_ENTRY = Object.entries(TOPICS)
  .flatMap(([t, n]) => Array.from({ length: n }, (_, i) => `${t}#${i + 1}`))
  .sort();

let reference: TreeId;

describe('hub process', () => {
  it('merges every regional commit once (uninterrupted reference run)', async () => {
    const h = hub('ref');
    await caughtUp('ref');
    await h.stop();
    const main = await mainOf('ref');
    expect(main.merged).toEqual(EVERY_ENTRY);
    expect([...main.authors]).toEqual(['hub@test']);
    expect(h.lines.some((l) => /hub ref: listening on 127\.0\.0\.1:\d+/.test(l))).toBe(true);
    expect(h.lines.filter((l) => /merged datasets\/heart\/(na-aws|eu-azure) seq \d -> [0-9a-f]{64}/.test(l))).toHaveLength(6);
    reference = main.tree;
  });

  it.each([
    // na-aws seq 1 is ~400 objects (a 24 MB file in 64 KiB chunks), so object 300 lands inside its transfer.
    ['mid-stream of the large first entry', 'sync.receive.object:300', { doomedNever: /merged datasets\/heart\/na-aws seq 1 / }],
    // na-aws seq 2 appends 6 MB to hr.csv: the old last chunk travels as a delta, the first delta of the run.
    ['mid-stream of an append that travels as a delta', 'sync.receive.delta:1', { doomedNever: /merged datasets\/heart\/na-aws seq 2 / }],
    ['between its merge commit and the move of main', 'hub.before-main:2', {}],
    ['between its merge and the ack', 'hub.before-ack:4', { revivedSays: /seq \d \([0-9a-f]{64}\) is already in main; nothing to do/ }],
  ])('resumes after kill -9 %s: same tree, verify passes, nothing merged twice', async (_what, crashAt, expectLog: { doomedNever?: RegExp; revivedSays?: RegExp }) => {
    const name = `crash-${crashAt.replace(/[^a-z0-9]+/g, '-')}`;
    const doomed = hub(name, { TRIB_CRASH_AT: crashAt });
    expect((await doomed.exited).signal).toBe('SIGKILL');
    if (expectLog.doomedNever) expect(doomed.lines.filter((l) => expectLog.doomedNever!.test(l))).toEqual([]);

    const revived = hub(name);
    await caughtUp(name);
    await revived.stop();
    const main = await mainOf(name);
    expect(main.merged).toEqual(EVERY_ENTRY);
    expect(main.tree).toBe(reference);
    ok(path.join(tmp.dir, `${name}-home`), ['verify', '--read-data']);
    if (expectLog.revivedSays) expect(revived.lines.some((l) => expectLog.revivedSays!.test(l))).toBe(true);
  });

  it('heals a cursor that is not a number or is past the head: gets the topics again, merges nothing twice, no retry loop', async () => {
    const name = 'healer';
    const first = hub(name);
    await caughtUp(name);
    await first.stop();
    const redis = new Redis(REDIS_URL);
    try {
      const key = (t: string) => broker.context.cursors.cursorKey(t as TopicName, name as SubscriberId);
      await redis.set(key('datasets/heart/na-aws'), 'junk');
      await redis.set(key('datasets/heart/eu-azure'), '500');
      const listed = await client.listTopics();
      for (const t of Object.keys(TOPICS)) {
        expect(listed.find((x) => x.topic === t)?.subscribers.find((s) => s.name === name)).toMatchObject({ cursor: 0, lag: 3 });
      }
      const revived = hub(name);
      // Caught up means every ack was recorded; a failing one would show as a failed subscription first.
      const failed = (l: string) => /subscription to .* failed/.test(l);
      for (;;) {
        if (revived.lines.some(failed)) break;
        const topics = await client.listTopics();
        if (Object.entries(TOPICS).every(([t, seq]) => topics.find((x) => x.topic === t)?.subscribers.find((s) => s.name === name)?.cursor === seq)) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      await revived.stop();
      expect(revived.lines.filter(failed)).toEqual([]);
      expect(revived.lines.filter((l) => / is already in main; nothing to do$/.test(l))).toHaveLength(6);
      expect(await redis.get(key('datasets/heart/na-aws'))).toBe('3');
      expect(await redis.get(key('datasets/heart/eu-azure'))).toBe('3');
    } finally {
      await redis.quit();
    }
    const main = await mainOf(name);
    expect(main.merged).toEqual(EVERY_ENTRY);
    expect(main.tree).toBe(reference);
  });

  it('waits for a topic that does not exist yet and merges it when it appears, while following the others', async () => {
    const late = 'datasets/heart/late-region';
    const h = hub('waiter', { TRIB_TOPICS: `datasets/heart/eu-azure,${late}` });
    for (;;) {
      const eu = (await client.listTopics()).find((t) => t.topic === 'datasets/heart/eu-azure');
      if (eu?.subscribers.find((s) => s.name === 'waiter')?.cursor === 3) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const repo = await Repository.init(path.join(tmp.dir, 'agent-late'));
    try {
      const f = path.join(tmp.dir, 'late.csv');
      await fs.writeFile(f, 'a\n1\n');
      await commitBatch(repo, f, { region: 'late-region' });
      await client.publish(repo, late);
    } finally {
      await repo.close();
    }
    while (!h.lines.some((l) => l.includes(`merged ${late} seq 1 -> `))) await new Promise((r) => setTimeout(r, 50));
    await h.stop();
    expect((await mainOf('waiter')).merged).toEqual(['datasets/heart/eu-azure#1', 'datasets/heart/eu-azure#2', 'datasets/heart/eu-azure#3', `${late}#1`]);
  });
});
