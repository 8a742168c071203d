/**
 * An edge site loses its disk: the agent (a real process) restarts on an empty TRIB_STORE and TRIB_HOME for a topic
 * that already has entries, against a real broker process and a real hub process on the Redis at REDIS_URL. Its next
 * batches are committed on a fresh history, which the broker refuses as not a fast-forward; the agent fetches the
 * topic's head, merges it (first parent: the topic head) and publishes, so every batch, before and after the loss,
 * ends on the hub's main byte for byte and once. A conflicting history is reported in /health and the log instead.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { CommitId, diffTrees, readFileBytes } from '@tributary/core';
import { branchRef, Repository } from '@tributary/repository';
import { SyncClient } from '@tributary/sync';
import { tempDir } from '../libs/sync/src/testing/sync-harness';
import { AppProcess, startApp } from './support/app-process';
import { waitUntil } from './support/wait';

const TOPIC = 'datasets/heart/na-aws';

let tmp: ReturnType<typeof tempDir>;
let apps: AppProcess[] = [];

beforeEach(() => {
  tmp = tempDir('trib-agent-lost-store-');
});
afterEach(async () => {
  for (const a of apps.reverse()) await a.kill();
  apps = [];
  tmp.cleanup();
});

async function start(name: 'broker' | 'hub' | 'edge-agent', env: Record<string, string>): Promise<AppProcess> {
  const a = await startApp(name, env);
  apps.push(a);
  return a;
}

async function stop(a: AppProcess): Promise<void> {
  await a.kill();
  apps = apps.filter((x) => x !== a);
}

function agent(broker: string): Promise<AppProcess> {
  return start('edge-agent', {
    TRIB_REGION: 'na-aws',
    TRIB_DATASET: 'heart',
    TRIB_INBOX: path.join(tmp.dir, 'inbox'),
    TRIB_STORE: pathToFileURL(path.join(tmp.dir, 'agent-store')).href,
    TRIB_HOME: path.join(tmp.dir, 'agent-home'),
    TRIB_INBOX_SETTLE_MS: '0',
    TRIB_BROKER: broker,
  });
}

/** Lands a batch the way writers must: write under a dot name, then rename. */
async function land(name: string, content: string): Promise<void> {
  const inbox = path.join(tmp.dir, 'inbox');
  await fs.mkdir(inbox, { recursive: true });
  await fs.writeFile(path.join(inbox, `.${name}.tmp`), content);
  await fs.rename(path.join(inbox, `.${name}.tmp`), path.join(inbox, name));
}

async function done(): Promise<string[]> {
  return (await fs.readdir(path.join(tmp.dir, 'inbox', '.done')).catch(() => [] as string[])).sort();
}

async function health(a: AppProcess): Promise<Record<string, unknown>> {
  return (await (await fetch(`http://${a.address}/health`)).json()) as Record<string, unknown>;
}

/** The topic's last seq and the hub's cursor on it. */
async function topicState(client: SyncClient): Promise<{ seq: number; hub: number }> {
  const t = (await client.listTopics()).find((x) => x.topic === TOPIC);
  return { seq: t?.seq ?? 0, hub: t?.subscribers.find((s) => s.name === 'hub')?.cursor ?? 0 };
}

/** Every file on the hub's main (path -> bytes), and the (topic, seq) of each merge along its first parents. */
async function hubMain(): Promise<{ files: Map<string, string>; merged: string[] }> {
  const repo = await Repository.open(path.join(tmp.dir, 'hub-home'));
  try {
    const head = (await repo.refs.resolve(branchRef('main'))).commit!;
    const files = new Map<string, string>();
    for await (const c of diffTrees(repo.objects, undefined, (await repo.readCommit(head)).tree)) {
      if (c.new?.kind !== 'file') continue;
      const parts: Buffer[] = [];
      for await (const b of readFileBytes(repo.objects, c.new)) parts.push(b);
      files.set(c.path, Buffer.concat(parts).toString());
    }
    const merged: string[] = [];
    for (let id: CommitId | undefined = head; id; id = (await repo.readCommit(id)).parents[0]) {
      const a = (await repo.readCommit(id)).annotations;
      if (a['trib.topic']) merged.unshift(`${a['trib.topic']}#${a['trib.seq']}`);
    }
    return { files, merged };
  } finally {
    await repo.close();
  }
}

describe('edge agent after a lost store', () => {
  let broker: AppProcess;
  let client: SyncClient;
  beforeEach(async () => {
    broker = await start('broker', { TRIB_STORE: path.join(tmp.dir, 'broker'), TRIB_LISTEN: '127.0.0.1:0' });
    client = new SyncClient(broker.address);
  });
  afterEach(() => client.close());

  it('merges the topic head into its fresh history and publishes; every batch reaches the hub once, byte for byte', async () => {
    const hub = await start('hub', {
      TRIB_TOPICS: TOPIC,
      TRIB_STORE: path.join(tmp.dir, 'hub-store'),
      TRIB_HOME: path.join(tmp.dir, 'hub-home'),
      TRIB_BROKER: broker.address,
    });
    const batches: Record<string, string> = {};
    const put = async (name: string, content: string) => {
      batches[name] = content;
      await land(name, content);
    };

    const first = await agent(broker.address);
    await put('b1.csv', 't,hr\n1,60\n');
    await waitUntil(async () => (await topicState(client)).seq === 1, () => first.output());
    await put('b2.csv', 't,hr\n2,61\n');
    await waitUntil(async () => (await topicState(client)).seq === 2, () => first.output());
    await stop(first);

    // The disk is lost: store and home go; the inbox (and its .done) stays, as a writer's folder would.
    await fs.rm(path.join(tmp.dir, 'agent-store'), { recursive: true });
    await fs.rm(path.join(tmp.dir, 'agent-home'), { recursive: true });
    const second = await agent(broker.address);
    await put('b3.csv', 't,hr\n3,62\n');
    await put('b4.csv', 't,hr\n4,63\n');
    await waitUntil(async () => (await done()).length === 4, () => second.output());
    await waitUntil(
      async () => {
        const h = await health(second);
        return h.lastPublished !== null && h.lastPublished === h.head;
      },
      () => second.output(),
    );
    await put('b5.csv', 't,hr\n5,64\n');
    await waitUntil(async () => (await done()).length === 5, () => second.output());
    await waitUntil(
      async () => {
        const h = await health(second);
        const s = await topicState(client);
        return h.committed === 3 && h.lastPublished === h.head && s.hub === s.seq;
      },
      () => `${second.output()}\n${hub.output()}`,
    );

    const h = await health(second);
    expect(h.error).toBeNull();
    expect(second.output()).not.toMatch(/not a fast-forward/);
    expect(second.output()).toMatch(/merged [0-9a-f]{64}, the head of datasets\/heart\/na-aws, with this agent's history/);
    await stop(hub);

    const { files, merged } = await hubMain();
    const byName = new Map<string, string>();
    for (const [p, bytes] of files) {
      expect(p).toMatch(/^regions\/na-aws\/batches\/\d{4}-\d\d-\d\d\/b\d\.csv$/);
      expect(byName.has(path.basename(p))).toBe(false);
      byName.set(path.basename(p), bytes);
    }
    expect(Object.fromEntries([...byName].sort())).toEqual(batches);
    // Each entry of the topic merged once, in order.
    const { seq } = await topicState(client);
    expect(merged).toEqual(Array.from({ length: seq }, (_, i) => `${TOPIC}#${i + 1}`));
  });

  it('reports a history that conflicts with the topic in /health and in one log line, and keeps committing', async () => {
    const first = await agent(broker.address);
    await land('b1.csv', 't,hr\n1,60\n');
    await waitUntil(async () => (await topicState(client)).seq === 1, () => first.output());
    await stop(first);
    await fs.rm(path.join(tmp.dir, 'agent-store'), { recursive: true });
    await fs.rm(path.join(tmp.dir, 'agent-home'), { recursive: true });
    await fs.rm(path.join(tmp.dir, 'inbox', '.done'), { recursive: true });

    // The same name with other bytes, the same day: both histories add batches/<date>/b1.csv, differently.
    const second = await agent(broker.address);
    await land('b1.csv', 't,hr\n1,99\n');
    await waitUntil(async () => (await health(second)).error !== null, () => second.output());
    await land('b2.csv', 't,hr\n2,61\n');
    await waitUntil(async () => (await health(second)).committed === 2, () => second.output());

    const h = await health(second);
    const error = h.error as { message: string; permanent: boolean; conflicts: { path: string; kind: string }[] };
    expect(error.permanent).toBe(true);
    expect(error.message).toContain(TOPIC);
    expect(error.message).toMatch(/batches\/\d{4}-\d\d-\d\d\/b1\.csv \(add\/add\)/);
    expect(h.lastPublished).toBeNull();
    expect((await topicState(client)).seq).toBe(1);
    const lines = second.output().split('\n');
    const conflictLines = lines.filter((l) => l.includes(`cannot publish to ${TOPIC}`));
    expect(conflictLines).toHaveLength(1);
    expect(conflictLines[0]).toMatch(/conflict at batches\/\d{4}-\d\d-\d\d\/b1\.csv \(add\/add\).*To fix it/);
    expect(lines.filter((l) => /not a fast-forward|retrying in/.test(l))).toEqual([]);
  });
});
