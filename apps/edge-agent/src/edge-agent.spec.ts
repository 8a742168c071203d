import { randomBytes } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { CommitId, lookupPath, PermissionDeniedError, readFileBytes } from '@tributary/core';
import { Repository } from '@tributary/repository';
import { InMemoryTopicLog } from '../../../libs/ingest/src/testing/in-memory-topic-log';
import { EdgeAgent, sameFailure } from './edge-agent';

async function until(cond: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await cond())) await new Promise((r) => setTimeout(r, 10));
}

describe('EdgeAgent', () => {
  let root: string;
  let repo: Repository;
  beforeEach(async () => {
    root = await fs.mkdtemp(path.join(tmpdir(), 'trib-agent-'));
    repo = await Repository.init(path.join(root, 'home'));
  });
  afterEach(async () => {
    await repo.close();
    await fs.rm(root, { recursive: true, force: true });
  });

  it('commits landed batches in order, moves them to .done, and publishes each once, also across a broker outage', async () => {
    const inbox = path.join(root, 'inbox');
    await fs.mkdir(inbox);
    // Landed before the agent starts, oldest first by mtime.
    for (const [i, name] of ['b.csv', 'a.csv'].entries()) {
      await fs.writeFile(path.join(inbox, name), `x\n${name}\n`);
      await fs.utimes(path.join(inbox, name), 1000 + i, 1000 + i);
    }
    const broker = new InMemoryTopicLog(false);
    const lines: string[] = [];
    const agent = new EdgeAgent({ repo, client: broker, region: 'na-aws', dataset: 'heart', inbox, settleMs: 2000, appendTo: 'hr.csv', log: (l) => lines.push(l) });
    await agent.start();
    await until(async () => (await fs.readdir(inbox)).filter((n) => !n.startsWith('.')).length === 0);
    await fs.writeFile(path.join(inbox, '.c.csv.tmp'), 'x\nc\n');
    await fs.rename(path.join(inbox, '.c.csv.tmp'), path.join(inbox, 'c.csv'));
    await until(() => agent.status().committed === 3);
    broker.up = true;
    await until(() => broker.log.length === 3);
    await agent.stop();

    expect(agent.topic).toBe('datasets/heart/na-aws');
    const names: string[] = [];
    for (let id: CommitId | undefined = (await repo.head()).commit; id; id = (await repo.readCommit(id)).parents[0]) {
      names.unshift((await repo.readCommit(id)).annotations['trib.batch.name']);
    }
    expect(names).toEqual(['b.csv', 'a.csv', 'c.csv']);
    expect(broker.log[2]).toBe((await repo.head()).commit);
    expect((await fs.readdir(path.join(inbox, '.done'))).sort()).toEqual(['a.csv', 'b.csv', 'c.csv']);
    expect(lines.some((l) => /^publish to datasets\/heart\/na-aws failed: UNAVAILABLE/.test(l))).toBe(true);
    expect(lines.filter((l) => l.startsWith('committed '))).toHaveLength(3);
  });

  it("logs a batch's 'committed' once it is moved to .done, before the 'published' of the publish that follows", async () => {
    const inbox = path.join(root, 'inbox');
    await fs.mkdir(inbox);
    const lines: string[] = [];
    const moved = () => existsSync(path.join(inbox, '.done', 'a.csv'));
    const log = (l: string) => lines.push(l.startsWith('committed ') ? `${l} [${moved() ? 'moved' : 'not moved'}]` : l);
    const agent = new EdgeAgent({ repo, client: new InMemoryTopicLog(), region: 'na-aws', dataset: 'heart', inbox, settleMs: 0, appendTo: '', log });
    await agent.start();
    try {
      await fs.writeFile(path.join(inbox, 'a.csv'), 'x\n1\n');
      await until(() => lines.some((l) => l.startsWith('published ')));
    } finally {
      await agent.stop();
    }
    const committed = lines.findIndex((l) => l.startsWith('committed a.csv'));
    expect(lines[committed]).toMatch(/ \[moved\]$/);
    expect(committed).toBeLessThan(lines.findIndex((l) => l.startsWith('published ')));
  });

  it('takes a batch written in place only once its writer has finished, so the commit holds all of it', async () => {
    const inbox = path.join(root, 'inbox');
    await fs.mkdir(inbox);
    const broker = new InMemoryTopicLog();
    const lines: string[] = [];
    // TRIB_INBOX_SETTLE_MS's default: a writer pausing 20 ms between writes stays well inside it.
    const agent = new EdgeAgent({ repo, client: broker, region: 'na-aws', dataset: 'heart', inbox, settleMs: 2000, appendTo: '', log: (l) => lines.push(l) });
    // Each look at the inbox lists it.
    const listings = jest.spyOn(fs, 'readdir');
    const since = Date.now();
    await agent.start();
    let mostSettling = 0;
    try {
      // As `cp` or `scp` write: the file appears under its final name at once and grows, and every write is an
      // inbox change the agent looks at.
      const writer = await fs.open(path.join(inbox, 'hr.csv'), 'w');
      await writer.write('time,hr\n');
      for (let i = 0; i < 50; i++) {
        await writer.write(`${i},${60 + (i % 40)}\n`);
        await new Promise((r) => setTimeout(r, 20));
        mostSettling = Math.max(mostSettling, Number(agent.status().settling));
      }
      await writer.close();
      await until(() => agent.status().committed === 1);
    } finally {
      await agent.stop();
    }
    const looks = listings.mock.calls.filter(([dir]) => dir === inbox).length;
    const elapsed = Date.now() - since;
    listings.mockRestore();
    expect(mostSettling).toBe(1);
    // 51 writes, each an inbox change: the agent looks at most once per tenth of the settle time, not once per write.
    expect(looks).toBeLessThanOrEqual(2 + elapsed / 200);
    // "committed hr.csv -> <commit> (<path in the dataset>)"
    const [, commit, at] = /^committed hr\.csv -> (\w+) \((.+)\)$/.exec(lines.find((l) => l.startsWith('committed ')) ?? '')!;
    const entry = await lookupPath(repo.objects, (await repo.readCommit(commit as CommitId)).tree, at);
    const parts: Buffer[] = [];
    for await (const b of readFileBytes(repo.objects, { id: entry!.id, chunked: entry!.chunked, size: entry!.size })) parts.push(b);
    const committed = Buffer.concat(parts).toString();
    expect(committed).toBe(await fs.readFile(path.join(inbox, '.done', 'hr.csv'), 'utf8'));
    expect(committed.split('\n')).toHaveLength(52);
  });

  it('merges the small packs its commits leave, so a long-running agent keeps few packs', async () => {
    const inbox = path.join(root, 'inbox');
    await fs.mkdir(inbox);
    const broker = new InMemoryTopicLog();
    const lines: string[] = [];
    // Batches land by rename, so they need no time to settle.
    const agent = new EdgeAgent({ repo, client: broker, region: 'eu-azure', dataset: 'heart', inbox, settleMs: 0, appendTo: '', log: (l) => lines.push(l) });
    await agent.start();
    const batches = 40;
    for (let i = 0; i < batches; i++) {
      await fs.writeFile(path.join(inbox, `.b${i}.tmp`), `id,v\n${i},${'x'.repeat(200 + i)}\n`);
      await fs.rename(path.join(inbox, `.b${i}.tmp`), path.join(inbox, `b${String(i).padStart(2, '0')}.csv`));
      await until(() => agent.status().committed === i + 1);
    }
    await until(() => broker.log.length === batches);
    await agent.stop();

    // One pack per commit without merging; every 16 new packs start a merge.
    let packs = 0;
    for await (const info of repo.store.list('packs/')) if (info.key.endsWith('.idx')) packs++;
    expect(packs).toBeLessThan(20);
    expect(lines.some((l) => /^merged \d+ small packs/.test(l))).toBe(true);
    // Every batch is still there, read back through the merged packs.
    const reopened = await Repository.open(path.join(root, 'home'));
    try {
      let n = 0;
      for (let id: CommitId | undefined = (await reopened.head()).commit; id; id = (await reopened.readCommit(id)).parents[0]) n++;
      expect(n).toBe(batches);
    } finally {
      await reopened.close();
    }
  });
  it('stops between batches when stopped in a backlog, and the next start takes the rest, each once', async () => {
    const inbox = path.join(root, 'inbox');
    await fs.mkdir(inbox);
    const batches = 100;
    for (let i = 0; i < batches; i++) {
      const name = path.join(inbox, `b${String(i).padStart(3, '0')}.csv`);
      await fs.writeFile(name, `id\n${i}\n`);
      await fs.utimes(name, 1000 + i, 1000 + i);
    }
    const broker = new InMemoryTopicLog();
    const options = { repo, client: broker, region: 'na-aws', dataset: 'heart', inbox, settleMs: 0, appendTo: '', log: () => undefined };
    const first = new EdgeAgent(options);
    await first.start();
    await until(() => Number(first.status().committed) >= 1);
    await first.stop();
    const stoppedAt = Number(first.status().committed);
    expect(stoppedAt).toBeLessThan(batches);
    const second = new EdgeAgent(options);
    await second.start();
    await until(async () => (await fs.readdir(inbox)).filter((n) => !n.startsWith('.')).length === 0);
    await until(() => Number(second.status().committed) + stoppedAt === batches);
    await second.stop();
    let n = 0;
    for (let id: CommitId | undefined = (await repo.head()).commit; id; id = (await repo.readCommit(id)).parents[0]) n++;
    expect(n).toBe(batches);
    expect(await fs.readdir(path.join(inbox, '.done'))).toHaveLength(batches);
  });

  it('shows a failing ingest in status().ingestError, logs it once (not every try), backs off, and clears it once a round goes through', async () => {
    const inbox = path.join(root, 'inbox');
    await fs.mkdir(inbox);
    const lines: string[] = [];
    // A short backoff, so the test sees many tries.
    const options = { repo, client: new InMemoryTopicLog(), region: 'na-aws', dataset: 'heart', inbox, settleMs: 0, appendTo: '', log: (l: string) => lines.push(l), ingestRetryMs: { min: 10, max: 40 } };
    const agent = new EdgeAgent(options);
    await agent.start();
    try {
      expect(agent.status().ingestError).toBeNull();
      await fs.rm(inbox, { recursive: true });
      await until(() => lines.some((l) => l.startsWith('ingest failed')));
      await new Promise((r) => setTimeout(r, 1500));
      // (Jest's fs errors come from another realm, so describeError shows them as `Error: ...`; a process does not.)
      const failing = agent.status().ingestError as { message: string; permanent: boolean; since: string; failures: number } | undefined;
      expect(failing).toMatchObject({ message: expect.stringMatching(/^ingest failed: (Error: )?ENOENT: no such file or directory, scandir '.*inbox'$/), permanent: false });
      expect(Date.parse(failing!.since)).not.toBeNaN();
      expect(failing!.failures).toBeGreaterThanOrEqual(10);
      expect(lines.filter((l) => l.startsWith('ingest failed'))).toHaveLength(1);

      await fs.mkdir(inbox);
      await fs.writeFile(path.join(inbox, 'b1.csv'), 'k\n1\n');
      await until(() => agent.status().committed === 1);
      expect(agent.status().ingestError).toBeNull();
      expect(lines.filter((l) => l.startsWith('ingesting again after '))).toHaveLength(1);
      expect(lines.filter((l) => l.startsWith('ingest failed'))).toHaveLength(1);
    } finally {
      await agent.stop();
    }
  }, 15_000);

  it('takes a failure naming a new temp or lock file at every try for one failure: logged once, its tries counted', async () => {
    const inbox = path.join(root, 'inbox');
    await fs.mkdir(inbox);
    const lines: string[] = [];
    const agent = new EdgeAgent({ repo, client: new InMemoryTopicLog(), region: 'na-aws', dataset: 'heart', inbox, settleMs: 0, appendTo: '', log: (l: string) => lines.push(l), ingestRetryMs: { min: 10, max: 20 } });
    // What a store whose refs/ its user may not write says: the lock draft it could not create has a new name each try.
    const refsReadOnly = jest.spyOn(repo, 'advanceHead').mockImplementation(async () => {
      throw new PermissionDeniedError(`cannot update refs/heads/main in file:///s: permission denied, open '/s/refs/heads/main~lock~${randomBytes(12).toString('hex')}'`);
    });
    await agent.start();
    try {
      await fs.writeFile(path.join(inbox, 'b1.csv'), 'k\n1\n');
      await until(() => refsReadOnly.mock.calls.length >= 2);
      const first = agent.status().ingestError as { message: string; since: string; failures: number };
      await until(() => refsReadOnly.mock.calls.length >= 6);
      const failing = agent.status().ingestError as { message: string; since: string; failures: number };
      expect(failing.message).toMatch(/^ingest failed: PERMISSION_DENIED: cannot update refs\/heads\/main in file:\/\/\/s: permission denied, open '\/s\/refs\/heads\/main~lock~[0-9a-f]{24}'$/);
      expect(failing.failures).toBeGreaterThanOrEqual(5);
      expect(failing.since).toBe(first.since);
      expect(lines.filter((l) => l.startsWith('ingest failed'))).toHaveLength(1);

      refsReadOnly.mockRestore();
      await until(() => agent.status().committed === 1);
      expect(lines.filter((l) => l.startsWith('ingesting again after '))).toEqual([expect.stringMatching(/^ingesting again after \d+ failed tries since /)]);
    } finally {
      await agent.stop();
    }
  }, 10_000);

  it('stops at once during the pause after a failed ingest', async () => {
    const inbox = path.join(root, 'inbox');
    await fs.mkdir(inbox);
    const lines: string[] = [];
    const log = (l: string) => lines.push(l);
    const agent = new EdgeAgent({ repo, client: new InMemoryTopicLog(), region: 'na-aws', dataset: 'heart', inbox, settleMs: 2000, appendTo: '', log });
    await agent.start();
    // Timers that are never advanced: a stop that waits out the pause never returns.
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    try {
      // The watcher sees the inbox go; the ingest it starts then fails on a file where the folder was. Time moves on
      // only until then (the agent paces its looks at the inbox), never into the pause after the failure.
      await fs.rm(inbox, { recursive: true });
      await fs.writeFile(inbox, 'a file where the inbox was');
      while (!lines.some((l) => l.startsWith('ingest failed'))) {
        jest.advanceTimersByTime(50);
        await new Promise((r) => setImmediate(r));
      }
      await agent.stop();
    } finally {
      jest.useRealTimers();
    }
  }, 10_000);
});


describe('sameFailure', () => {
  it('tells failures apart but for the random names of temp and lock files', () => {
    const lock = (hex: string) => `ingest failed: PERMISSION_DENIED: cannot update refs/heads/main in file:///s: permission denied, open '/s/refs/heads/main~lock~${hex}'`;
    expect(sameFailure(lock('6bd612b53fa4c2b9553ee730'), lock('a48ea658b7d17e5a8e3eb744'))).toBe(true);
    expect(sameFailure("cannot write packs/x in file:///s: EACCES, open '/s/packs/.tmp-0123456789abcdef~'", "cannot write packs/x in file:///s: EACCES, open '/s/packs/.tmp-fedcba9876543210~'")).toBe(true);
    expect(sameFailure(lock('6bd612b53fa4c2b9553ee730'), lock('6bd612b53fa4c2b9553ee730').replace('refs/heads/main in', 'refs/heads/other in'))).toBe(false);
    expect(sameFailure(lock('6bd612b53fa4c2b9553ee730'), lock('6bd612b53fa4c2b9553ee730').replace('permission denied', 'read-only file system'))).toBe(false);
  });
});
