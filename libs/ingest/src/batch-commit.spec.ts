import { promises as fs, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { CommitId, InvalidArgumentError, lookupPath, readFileBytes, readTree, TreeEntry, writeFileContent, writeTreeFromPaths } from '@tributary/core';
import { Repository } from '@tributary/repository';
import { poolRequestsDuring } from '@tributary/storage';
import { commitBatch } from './batch-commit';
import { BATCH_NAME, BATCH_SHA256, REGION } from './batch-history';
import { ingestLanded } from './inbox-ingest';
import { InboxWatcher } from './inbox-watcher';
import { mergeTopicHead } from './topic-merge';

const NOW = new Date('2026-03-04T10:11:12.000Z');
let root: string;
let repo: Repository;
let inbox: string;

beforeEach(async () => {
  root = await fs.mkdtemp(path.join(tmpdir(), 'trib-ingest-'));
  repo = await Repository.init(path.join(root, 'agent'));
  inbox = path.join(root, 'inbox');
  await fs.mkdir(inbox);
});

afterEach(async () => {
  await repo.close();
  await fs.rm(root, { recursive: true, force: true });
});

async function land(name: string, content: string | Buffer): Promise<string> {
  const p = path.join(inbox, name);
  await fs.writeFile(p, content);
  return p;
}

async function readPath(commit: CommitId, p: string): Promise<Buffer | undefined> {
  const tree = (await repo.readCommit(commit)).tree;
  const entry = await lookupPath(repo.objects, tree, p);
  if (!entry) return undefined;
  const parts: Buffer[] = [];
  for await (const b of readFileBytes(repo.objects, { id: entry.id, chunked: entry.chunked, size: entry.size })) parts.push(b);
  return Buffer.concat(parts);
}

async function firstParentLength(commit: CommitId | undefined): Promise<number> {
  let n = 0;
  for (let id = commit; id; id = (await repo.readCommit(id)).parents[0]) n++;
  return n;
}

describe('commitBatch, default layout', () => {
  it('adds each batch as batches/<UTC date>/<name> with its annotations and moves HEAD', async () => {
    const a = await commitBatch(repo, await land('b1.csv', 'x,y\n1,2\n'), { region: 'na-aws', now: NOW });
    const b = await commitBatch(repo, await land('b2.jsonl', '{"x":1}\n'), { region: 'na-aws', now: new Date('2026-03-05T00:00:00Z') });
    expect(a).toMatchObject({ duplicate: false, path: 'batches/2026-03-04/b1.csv' });
    expect(b.path).toBe('batches/2026-03-05/b2.jsonl');
    expect((await repo.head()).commit).toBe(b.commit);

    const commit = await repo.readCommit(b.commit);
    expect(commit.parents).toEqual([a.commit]);
    expect(commit.annotations).toEqual({
      // sha256sum of the bytes, computed outside Node.
      [BATCH_SHA256]: 'bb157861a164e35cdde9d726b0af9ce2765a8f530c35d9e45732b94ee65e9557',
      [BATCH_NAME]: 'b2.jsonl',
      [REGION]: 'na-aws',
    });
    expect((await readPath(b.commit, 'batches/2026-03-04/b1.csv'))!.toString()).toBe('x,y\n1,2\n');

    // The tree is the canonical tree of those two files, as a fresh build gives it.
    const file = async (s: string): Promise<Omit<TreeEntry, 'name'>> => {
      const f = await writeFileContent(repo.objects, [Buffer.from(s)]);
      return { kind: 'file', executable: false, ...f };
    };
    const fresh = await writeTreeFromPaths(repo.objects, [
      { path: 'batches/2026-03-04/b1.csv', entry: await file('x,y\n1,2\n') },
      { path: 'batches/2026-03-05/b2.jsonl', entry: await file('{"x":1}\n') },
    ]);
    expect(commit.tree).toBe(fresh.id);
  });

  it('keeps both batches when a name comes back the same day with other bytes', async () => {
    await commitBatch(repo, await land('b.csv', 'v\n1\n'), { region: 'r', now: NOW });
    const second = await commitBatch(repo, await land('b.csv', 'v\n2\n'), { region: 'r', now: NOW });
    expect(second.path).toMatch(/^batches\/2026-03-04\/b-[0-9a-f]{12}\.csv$/);
    const names: string[] = [];
    const dir = await lookupPath(repo.objects, (await repo.readCommit(second.commit)).tree, 'batches/2026-03-04');
    for await (const e of readTree(repo.objects, dir!.id)) names.push(e.name);
    expect(names).toHaveLength(2);
  });

  it('keeps both batches of a long name that comes back the same day with other bytes, under a name that fits', async () => {
    const name = `${'L'.repeat(246)}.csv`; // 250 bytes: the longest names, with the suffix, would pass 255
    const first = await commitBatch(repo, await land(name, 'v\n1\n'), { region: 'r', now: NOW });
    expect(first.path).toBe(`batches/2026-03-04/${name}`);
    const second = await commitBatch(repo, await land(name, 'v\n2\n'), { region: 'r', now: NOW });
    expect(second.duplicate).toBe(false);
    const unique = path.posix.basename(second.path!);
    expect(unique).toMatch(/^L+-[0-9a-f]{12}\.csv$/);
    expect(Buffer.byteLength(unique)).toBe(255);
    expect((await readPath(second.commit, second.path!))?.toString()).toBe('v\n2\n');
    expect((await readPath(second.commit, first.path!))?.toString()).toBe('v\n1\n');
    // Multi-byte characters are kept whole, and an extension too long to keep counts as stem.
    const wide = `${'é'.repeat(124)}.jsonl`; // 254 bytes
    await commitBatch(repo, await land(wide, '{"a":1}\n'), { region: 'r', now: NOW });
    const third = await commitBatch(repo, await land(wide, '{"a":2}\n'), { region: 'r', now: NOW });
    const wideUnique = path.posix.basename(third.path!);
    expect(wideUnique).toMatch(/^é+-[0-9a-f]{12}\.jsonl$/);
    expect(Buffer.byteLength(wideUnique)).toBeLessThanOrEqual(255);
    const longExt = `a.${'x'.repeat(250)}`;
    await commitBatch(repo, await land(longExt, '1\n'), { region: 'r', now: NOW });
    const fourth = await commitBatch(repo, await land(longExt, '2\n'), { region: 'r', now: NOW });
    expect(path.posix.basename(fourth.path!)).toMatch(new RegExp(`^a\\.x{240}-[0-9a-f]{12}$`));
  });

  it('commits a batch once: the same bytes again return the first commit and change nothing', async () => {
    const first = await commitBatch(repo, await land('b1.csv', 'x\n1\n'), { region: 'r', now: NOW });
    await fs.rm(path.join(inbox, 'b1.csv'));
    const again = await commitBatch(repo, await land('renamed.csv', 'x\n1\n'), { region: 'r', now: NOW });
    expect(again).toEqual({ commit: first.commit, duplicate: true });
    expect((await repo.head()).commit).toBe(first.commit);
  });

  it('reads a small batch and takes the lock without round trips through the thread pool', async () => {
    await commitBatch(repo, await land('b0.csv', 'ts,v\n0,0\n'), { region: 'r', now: NOW });
    const batch = await land('b1.csv', `ts,v\n${'1,2\n'.repeat(300)}`);
    const requests = await poolRequestsDuring(() => commitBatch(repo, batch, { region: 'r', now: NOW }));
    // What is left waits on the disk: the fsyncs of the pack, its index and the branch with their folders (six)
    // and the pack's write. Reading the batch twice through read streams added seven, and the lock six.
    expect(requests.length).toBeLessThanOrEqual(8);
    // The hook does see the pool: the fsyncs are there.
    expect(requests.filter((t) => t === 'FSREQCALLBACK').length).toBeGreaterThanOrEqual(6);
  });

  it('finds the duplicate from the history alone, in a fresh process (new Repository object)', async () => {
    const first = await commitBatch(repo, await land('b1.csv', 'x\n1\n'), { region: 'r', now: NOW });
    for (let i = 0; i < 5; i++) await commitBatch(repo, await land(`n${i}.csv`, `x\n${i + 10}\n`), { region: 'r', now: NOW });
    const reopened = await Repository.open(path.join(root, 'agent'));
    try {
      const again = await commitBatch(reopened, path.join(inbox, 'b1.csv'), { region: 'r', now: NOW });
      expect(again).toEqual({ commit: first.commit, duplicate: true });
    } finally {
      await reopened.close();
    }
  });

  it('finds a batch committed just before a topic-head merge, which puts it on the second parent', async () => {
    const own = await commitBatch(repo, await land('b1.csv', 'x\n1\n'), { region: 'r', now: NOW });
    // The topic's head: a history this one does not descend from (the agent's store lost), of its own batches.
    const tree = await writeTreeFromPaths(repo.objects, []);
    let topicHead: CommitId | undefined;
    for (let i = 0; i < 3; i++) {
      topicHead = await repo.writeCommit({
        tree: tree.id,
        parents: topicHead ? [topicHead] : [],
        author: 'a',
        time: NOW.toISOString(),
        message: 'm',
        annotations: { [BATCH_SHA256]: `${i}`.repeat(64) },
      });
    }
    const merged = await mergeTopicHead(repo, topicHead!, { topic: 'datasets/d/r', region: 'r', now: NOW });
    expect(merged).toMatchObject({ kind: 'merge', previous: own.commit });
    const again = await commitBatch(repo, await land('b1-again.csv', 'x\n1\n'), { region: 'r', now: NOW });
    expect(again).toEqual({ commit: own.commit, duplicate: true });
    expect((await repo.head()).commit).toBe((merged as { commit: CommitId }).commit);
  });

  it('after a crash between the commit and the inbox move, the batch is moved without a second commit', async () => {
    await land('b1.csv', 'x\n1\n');
    // The crash: committed, never moved.
    const committed = await commitBatch(repo, path.join(inbox, 'b1.csv'), { region: 'r', now: NOW });
    await land('b2.csv', 'x\n2\n');
    const watcher = new InboxWatcher(inbox, { settleMs: 0 });
    const events: string[] = [];
    await ingestLanded(repo, watcher, { region: 'r' }, (e) => events.push(`${e.kind} ${e.file.name}`));
    expect(events).toEqual(['duplicate b1.csv', 'committed b2.csv']);
    expect(await firstParentLength((await repo.head()).commit)).toBe(2);
    expect((await repo.readCommit((await repo.readCommit((await repo.head()).commit!)).parents[0])).annotations[BATCH_NAME]).toBe('b1.csv');
    expect((await repo.head()).commit).not.toBe(committed.commit);
    expect(await watcher.landed()).toEqual([]);
    expect((await fs.readdir(path.join(inbox, '.done'))).sort()).toEqual(['b1.csv', 'b2.csv']);
  });
});

describe('ingestLanded, with a writer reusing names', () => {
  it('a file landing under the name of the batch being committed is a batch of its own, not moved away unread', async () => {
    await land('batch.csv', 'k,v\nbatch,1\n');
    const watcher = new InboxWatcher(inbox, { settleMs: 0 });
    const events: string[] = [];
    let landedAgain = false;
    // Once the first batch is committed (before its file moves), the writer lands the next under the same name.
    const onCommitted = () => {
      if (landedAgain) return;
      landedAgain = true;
      // As writers do: write, then rename into place.
      writeFileSync(path.join(inbox, 'batch.csv.tmp'), 'k,v\nbatch,2\n');
      renameSync(path.join(inbox, 'batch.csv.tmp'), path.join(inbox, 'batch.csv'));
    };
    await ingestLanded(repo, watcher, { region: 'r', onCommitted }, (e) => events.push(`${e.kind} ${e.file.name}`));
    await ingestLanded(repo, watcher, { region: 'r' }, (e) => events.push(`${e.kind} ${e.file.name}`));
    expect(events).toEqual(['committed batch.csv', 'committed batch.csv']);
    const done = path.join(inbox, '.done');
    const moved = await Promise.all((await fs.readdir(done)).sort().map((f) => fs.readFile(path.join(done, f), 'utf8')));
    expect(moved.sort()).toEqual(['k,v\nbatch,1\n', 'k,v\nbatch,2\n']);
    expect(await firstParentLength((await repo.head()).commit)).toBe(2);
    expect(await watcher.landed()).toEqual([]);
  });

  it('after a crash between a claim and its commit, the claimed batch goes first, before newer ones', async () => {
    await fs.mkdir(path.join(inbox, '.claimed'));
    await fs.writeFile(path.join(inbox, '.claimed', 'b1.csv'), 'x\n1\n');
    await land('b2.csv', 'x\n2\n');
    const events: string[] = [];
    await ingestLanded(repo, new InboxWatcher(inbox, { settleMs: 0 }), { region: 'r' }, (e) => events.push(`${e.kind} ${e.file.name}`));
    expect(events).toEqual(['committed b1.csv', 'committed b2.csv']);
    expect(await fs.readdir(path.join(inbox, '.claimed'))).toEqual([]);
    expect((await fs.readdir(path.join(inbox, '.done'))).sort()).toEqual(['b1.csv', 'b2.csv']);
  });
});

describe('ingestLanded, with a batch it cannot read', () => {
  /** The fs module itself (not an import's namespace copy), whose openSync batch-commit calls. */
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const nodeFs = require('node:fs') as typeof import('node:fs');
  /** Makes opening the batch files named in `codes` fail with that fs error, as the OS would. */
  function failOpening(codes: Record<string, string>): jest.SpyInstance {
    const real = nodeFs.openSync;
    return jest.spyOn(nodeFs, 'openSync').mockImplementation(((file: string, ...rest: unknown[]) => {
      const code = codes[path.basename(String(file))];
      if (code) throw Object.assign(new Error(`${code}: injected, open '${String(file)}'`), { code, syscall: 'open', path: String(file) });
      return (real as (...a: unknown[]) => number)(file, ...rest);
    }) as typeof nodeFs.openSync);
  }

  it('sends a batch unreadable for a reason of its own to .failed, naming it and why, and commits the others', async () => {
    const spy = failOpening({ 'secret.csv': 'EACCES', 'folder.csv': 'EISDIR' });
    try {
      await land('secret.csv', 'k\n1\n');
      await fs.utimes(path.join(inbox, 'secret.csv'), 1000, 1000);
      await land('folder.csv', 'k\n2\n');
      await fs.utimes(path.join(inbox, 'folder.csv'), 1001, 1001);
      await land('ok1.csv', 'k\n3\n');
      await fs.utimes(path.join(inbox, 'ok1.csv'), 1002, 1002);
      const events: string[] = [];
      const n = await ingestLanded(repo, new InboxWatcher(inbox, { settleMs: 0 }), { region: 'r' }, (e) =>
        events.push(e.kind === 'failed' ? `failed ${e.file.name}: ${e.error.message} -> ${path.relative(inbox, e.movedTo)}` : `${e.kind} ${e.file.name}`),
      );
      expect(events).toEqual([
        `failed secret.csv: cannot read batch secret.csv: EACCES: injected (give the agent's user read access, then land it again) -> ${path.join('.failed', 'secret.csv')}`,
        `failed folder.csv: cannot read batch folder.csv: EISDIR: injected -> ${path.join('.failed', 'folder.csv')}`,
        'committed ok1.csv',
      ]);
      expect(n).toBe(3);
      expect((await fs.readdir(path.join(inbox, '.failed'))).sort()).toEqual(['folder.csv', 'secret.csv']);
      expect(await fs.readdir(path.join(inbox, '.claimed'))).toEqual([]);
      expect(await fs.readdir(path.join(inbox, '.done'))).toEqual(['ok1.csv']);
    } finally {
      spy.mockRestore();
    }
  });

  it('passes over a claimed batch removed before it was read, telling the caller', async () => {
    await land('gone.csv', 'k\n1\n');
    await fs.utimes(path.join(inbox, 'gone.csv'), 1000, 1000);
    await land('ok1.csv', 'k\n2\n');
    await fs.utimes(path.join(inbox, 'ok1.csv'), 1001, 1001);
    const watcher = new InboxWatcher(inbox, { settleMs: 0 });
    const claim = watcher.claim.bind(watcher);
    watcher.claim = async (f) => {
      const claimed = await claim(f);
      if (claimed?.name === 'gone.csv') await fs.rm(claimed.path);
      return claimed;
    };
    const events: string[] = [];
    await ingestLanded(repo, watcher, { region: 'r' }, (e) => events.push(`${e.kind} ${e.file.name}`));
    expect(events).toEqual(['vanished gone.csv', 'committed ok1.csv']);
  });

  it('retries what is not the batch\'s fault (an I/O error reading it, the store refusing a write): the batch waits in .claimed', async () => {
    await land('b1.csv', 'k\n1\n');
    await fs.utimes(path.join(inbox, 'b1.csv'), 1000, 1000);
    await land('b2.csv', 'k\n2\n');
    await fs.utimes(path.join(inbox, 'b2.csv'), 1001, 1001);
    const watcher = new InboxWatcher(inbox, { settleMs: 0 });
    const events: string[] = [];
    const spy = failOpening({ 'b1.csv': 'EIO' });
    try {
      await expect(ingestLanded(repo, watcher, { region: 'r' }, (e) => events.push(`${e.kind} ${e.file.name}`))).rejects.toThrow(/cannot read batch b1\.csv: EIO/);
    } finally {
      spy.mockRestore();
    }
    // The store's own permission problem is every batch's, not this one's.
    const head = jest.spyOn(repo, 'advanceHead').mockRejectedValue(Object.assign(new Error("EACCES: permission denied, open '/store/refs/HEAD'"), { code: 'EACCES' }));
    try {
      await expect(ingestLanded(repo, watcher, { region: 'r' }, (e) => events.push(`${e.kind} ${e.file.name}`))).rejects.toThrow(/EACCES/);
    } finally {
      head.mockRestore();
    }
    expect(events).toEqual([]);
    expect(await fs.readdir(path.join(inbox, '.claimed'))).toEqual(['b1.csv']);
    expect(await fs.readdir(inbox)).not.toContain('.failed');
    await ingestLanded(repo, watcher, { region: 'r' }, (e) => events.push(`${e.kind} ${e.file.name}`));
    expect(events).toEqual(['committed b1.csv', 'committed b2.csv']);
  });
});

describe('ingestLanded, with a writer writing in place', () => {
  it('claims nothing written to since it was listed, and commits it whole once it settles', async () => {
    await land('a.csv', 'x\n1\n');
    await fs.utimes(path.join(inbox, 'a.csv'), 1000, 1000);
    const watcher = new InboxWatcher(inbox, { settleMs: 50 });
    await watcher.landed(); // a first look: settled files are taken from the second on
    // The writer starts again between the listing and the claim.
    const list = watcher.landed.bind(watcher);
    watcher.landed = async () => {
      const listed = await list();
      await fs.appendFile(path.join(inbox, 'a.csv'), '2\n');
      return listed;
    };
    const events: string[] = [];
    expect(await ingestLanded(repo, watcher, { region: 'r' }, (e) => events.push(`${e.kind} ${e.file.name}`))).toBe(0);
    expect((await repo.head()).commit).toBeUndefined();
    watcher.landed = list;
    await new Promise((r) => setTimeout(r, 80));
    await watcher.landed();
    let at = '';
    await ingestLanded(repo, watcher, { region: 'r' }, (e) => {
      events.push(`${e.kind} ${e.file.name}`);
      if (e.kind === 'committed') at = e.path!;
    });
    expect(events).toEqual(['committed a.csv']);
    expect((await readPath((await repo.head()).commit!, at))?.toString()).toBe('x\n1\n2\n');
  });

  it('says so when the file changed while it was committed', async () => {
    await land('a.csv', 'x\n1\n');
    const watcher = new InboxWatcher(inbox, { settleMs: 0 });
    const events: string[] = [];
    // The writer still at it: more bytes arrive once the commit is durable, before the file moves.
    const onCommitted = () => writeFileSync(path.join(inbox, '.claimed', 'a.csv'), 'x\n1\n2\n');
    await ingestLanded(repo, watcher, { region: 'r', onCommitted }, (e) =>
      events.push(e.kind === 'changed' ? `changed ${e.file.name} ${e.sizeThen} -> ${e.sizeNow} ${path.relative(inbox, e.movedTo)}` : `${e.kind} ${e.file.name}`),
    );
    expect(events).toEqual(['committed a.csv', `changed a.csv 4 -> 6 ${path.join('.done', 'a.csv')}`]);
  });
});

describe('commitBatch, append mode', () => {
  it('creates the CSV from the first batch, then appends records without the header', async () => {
    const a = await commitBatch(repo, await land('b1.csv', 'time,hr\n1,60\n2,61\n'), { region: 'r', appendTo: 'data/hr.csv', now: NOW });
    const b = await commitBatch(repo, await land('b2.csv', 'time,hr\r\n3,62\n4,"6\n3"\n'), { region: 'r', appendTo: 'data/hr.csv', now: NOW });
    expect(a.path).toBe('data/hr.csv');
    const expected = 'time,hr\n1,60\n2,61\n3,62\n4,"6\n3"\n';
    expect((await readPath(b.commit, 'data/hr.csv'))!.toString()).toBe(expected);
    const entry = await lookupPath(repo.objects, (await repo.readCommit(b.commit)).tree, 'data/hr.csv');
    const canonical = await writeFileContent(repo.objects, [Buffer.from(expected)]);
    expect({ id: entry!.id, chunked: entry!.chunked, size: entry!.size }).toEqual(canonical);
  });

  it('inserts a newline when the file lacks a final one, and keeps big appends canonical', async () => {
    await commitBatch(repo, await land('b1.csv', 'a,b\n1,2'), { region: 'r', appendTo: 'hr.csv', now: NOW });
    const rows = Array.from({ length: 40_000 }, (_, i) => `${i},${(i * 7919) % 1000}`).join('\n') + '\n';
    const b = await commitBatch(repo, await land('b2.csv', `a,b\n${rows}`), { region: 'r', appendTo: 'hr.csv', now: NOW });
    const expected = Buffer.from(`a,b\n1,2\n${rows}`);
    expect((await readPath(b.commit, 'hr.csv'))!.equals(expected)).toBe(true);
    const entry = await lookupPath(repo.objects, (await repo.readCommit(b.commit)).tree, 'hr.csv');
    expect(entry!.id).toBe((await writeFileContent(repo.objects, [expected])).id);
  });

  it('appends JSONL batches whole, and a header-only CSV batch changes nothing but is still one commit', async () => {
    await commitBatch(repo, await land('a.jsonl', '{"a":1}\n'), { region: 'r', appendTo: 'x.jsonl', now: NOW });
    const b = await commitBatch(repo, await land('b.jsonl', '{"a":2}\n{"a":3}'), { region: 'r', appendTo: 'x.jsonl', now: NOW });
    expect((await readPath(b.commit, 'x.jsonl'))!.toString()).toBe('{"a":1}\n{"a":2}\n{"a":3}');

    await commitBatch(repo, await land('c.csv', 'h\n1\n'), { region: 'r', appendTo: 'y.csv', now: NOW });
    const before = (await repo.head()).commit!;
    const d = await commitBatch(repo, await land('d.csv', 'h\n'), { region: 'r', appendTo: 'y.csv', now: NOW });
    expect((await repo.readCommit(d.commit)).parents).toEqual([before]);
    expect((await repo.readCommit(d.commit)).tree).toBe((await repo.readCommit(before)).tree);
  });

  it('refuses a CSV batch whose header differs; the inbox loop parks it in .failed and goes on', async () => {
    await commitBatch(repo, await land('b1.csv', 'time,hr\n1,60\n'), { region: 'r', appendTo: 'hr.csv', now: NOW });
    const head = (await repo.head()).commit;
    await fs.rm(path.join(inbox, 'b1.csv'));
    const bad = await land('b2.csv', 'time,spo2\n1,98\n');
    await expect(commitBatch(repo, bad, { region: 'r', appendTo: 'hr.csv' })).rejects.toThrow(/has CSV header "time,spo2", but hr.csv has "time,hr"/);
    expect((await repo.head()).commit).toBe(head);

    const good = await land('b3.csv', 'time,hr\n2,61\n');
    await fs.utimes(good, new Date(Date.now() + 5000), new Date(Date.now() + 5000));
    const events: string[] = [];
    await ingestLanded(repo, new InboxWatcher(inbox, { settleMs: 0 }), { region: 'r', appendTo: 'hr.csv' }, (e) => events.push(`${e.kind} ${e.file.name}`));
    expect(events).toEqual(['failed b2.csv', 'committed b3.csv']);
    expect(await fs.readdir(path.join(inbox, '.failed'))).toEqual(['b2.csv']);
  });

  it('refuses a CSV batch that leaves a quoted field open, which would take in every later batch\'s records', async () => {
    const open = await land('b0.csv', 'id,note\n0,"never closed\n');
    await expect(commitBatch(repo, open, { region: 'r', appendTo: 'beats.csv' })).rejects.toThrow(
      `batch b0.csv leaves a quoted CSV field open (an odd number of '"'): the records of every later batch would be read into that field of beats.csv`,
    );
    expect((await repo.head()).commit).toBeUndefined();
    await fs.rm(open);
    await commitBatch(repo, await land('b1.csv', 'id,note\n1,"ok, ""quoted""\n"\n'), { region: 'r', appendTo: 'beats.csv', now: NOW });
    const head = (await repo.head()).commit;
    await fs.rm(path.join(inbox, 'b1.csv'));

    const bad = await land('b2.csv', `id,note\n${'2,x\n'.repeat(100_000)}3,"open quote\n`);
    const good = await land('b3.csv', 'id,note\n4,ok\n');
    await fs.utimes(good, new Date(Date.now() + 5000), new Date(Date.now() + 5000));
    const events: string[] = [];
    await ingestLanded(repo, new InboxWatcher(inbox, { settleMs: 0 }), { region: 'r', appendTo: 'beats.csv' }, (e) =>
      events.push(e.kind === 'failed' ? `failed ${e.file.name}: ${e.error.message}` : `${e.kind} ${e.file.name}`),
    );
    expect(events).toEqual([expect.stringMatching(/^failed b2.csv: batch b2.csv leaves a quoted CSV field open/), 'committed b3.csv']);
    expect(await fs.readdir(path.join(inbox, '.failed'))).toEqual(['b2.csv']);
    expect((await repo.readCommit((await repo.head()).commit!)).parents).toEqual([head]);
    expect((await readPath((await repo.head()).commit!, 'beats.csv'))!.toString()).toBe('id,note\n1,"ok, ""quoted""\n"\n4,ok\n');
  });

  it('rejects append targets that are not .csv/.jsonl or unsafe, and a batch of the other format', async () => {
    const f = await land('b.csv', 'a\n1\n');
    await expect(commitBatch(repo, f, { region: 'r', appendTo: 'x.parquet' })).rejects.toThrow(InvalidArgumentError);
    await expect(commitBatch(repo, f, { region: 'r', appendTo: '../x.csv' })).rejects.toThrow(InvalidArgumentError);
    await expect(commitBatch(repo, f, { region: 'r', appendTo: 'x.jsonl' })).rejects.toThrow(/is csv, but x.jsonl is jsonl/);
  });
});
