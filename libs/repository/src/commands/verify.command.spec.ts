import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import {
  ChunkId,
  CHUNK_LIST_HEADER,
  CommitId,
  encodeChunkList,
  sha256,
  UnavailableError,
  VIEW_TREE_ANNOTATION,
  walkFiles,
  writeFileContent,
  writeTreeFromPaths,
} from '@tributary/core';
import { unreadableTrees } from '../../../core/src/testing/unreadable-trees';
import { branchRef } from '../refs/ref-store';
import { Repository } from '../repository';
import { walkReachable } from './reachability';
import { collectRepositoryGarbage, topicLogHeads, verifyRepository } from './verify.command';

const FILES = 300;
let dir: string;
const opened: Repository[] = [];

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(tmpdir(), 'trib-verify-'));
});
afterEach(async () => {
  for (const r of opened.splice(0)) await r.close();
  await fs.rm(dir, { recursive: true, force: true });
});

/** A repository whose main holds FILES small files, each one chunk, written into one pack; returns the chunk ids. */
async function manySmallFiles(): Promise<ChunkId[]> {
  const repo = await Repository.init(dir);
  const chunks: ChunkId[] = [];
  const files = [];
  for (let i = 0; i < FILES; i++) {
    const content = await writeFileContent(repo.objects, [Buffer.from(`${i},reading\n`.repeat(40))]);
    chunks.push(content.id as ChunkId);
    const entry = { kind: 'file' as const, executable: false, ...content };
    files.push({ path: `batches/day-${i % 7}/f${i}.csv`, entry });
  }
  files.sort((a, b) => (a.path < b.path ? -1 : 1));
  const tree = (await writeTreeFromPaths(repo.objects, files)).id;
  const commit = await repo.writeCommit({
    tree,
    parents: [],
    author: 'Test <t@example.org>',
    time: '2026-01-01T00:00:00.000Z',
    message: 'many files',
    annotations: {},
  });
  await repo.refs.update(branchRef('main'), undefined, { commit });
  await repo.close();
  return chunks;
}

async function reopen(): Promise<Repository> {
  const repo = await Repository.open(dir);
  opened.push(repo);
  return repo;
}

describe('verifyRepository', () => {
  it("lists the packs again before it counts a chunk missing: a writer's commit pack may land before its chunks' pack", async () => {
    const writer = await Repository.init(dir);
    opened.push(writer);
    const readers = [await reopen(), await reopen()];
    const content = await writeFileContent(writer.objects, [Buffer.alloc(100_000, 7)]);
    await writer.objects.flush();
    const chunkPacks = new Set(writer.objects.packs().map((p) => p.name));
    const tree = (await writeTreeFromPaths(writer.objects, [{ path: 'big.bin', entry: { kind: 'file' as const, executable: false, ...content } }])).id;
    const commit = await writer.writeCommit({ tree, parents: [], author: 'Test <t@example.org>', time: '2026-01-01T00:00:00.000Z', message: 'big', annotations: {} });
    await writer.refs.update(branchRef('main'), undefined, { commit });
    // Each reader listed the packs when only the commit's had landed: it knows that pack, not the chunk's.
    for (const reader of readers) {
      reader.objects.adopt(writer.objects.packs().filter((p) => !chunkPacks.has(p.name)));
      expect(reader.objects.isStored(content.id)).toBe(false);
    }
    expect((await verifyRepository(readers[0])).damage).toEqual([]);
    expect((await verifyRepository(readers[1], { readData: true })).damage).toEqual([]);
  });

  it('hashes every reachable object with a few ranged reads per pack, not one read per object', async () => {
    await manySmallFiles();
    const repo = await reopen();
    const reads = jest.spyOn(repo.store, 'getRange');
    const r = await verifyRepository(repo, { readData: true });
    expect(r.damage).toEqual([]);
    expect(r.objects).toBeGreaterThan(FILES);
    // One read per level (commit, root, batches/, the day folders) and a few for the chunks: not one per object.
    expect(reads.mock.calls.length).toBeLessThanOrEqual(8);
  });

  it('names the one damaged chunk among many, with the path that uses it', async () => {
    const chunks = await manySmallFiles();
    const victim = 123;
    const at = (await reopen()).objects.placeOf(chunks[victim])!;
    const packFile = path.join(dir, '.trib/store/packs', `${at.pack}.pack`);
    const bytes = await fs.readFile(packFile);
    bytes[at.offset + 5] ^= 0xff;
    await fs.chmod(packFile, 0o644);
    await fs.writeFile(packFile, bytes);

    const repo = await reopen();
    const r = await verifyRepository(repo, { readData: true });
    const where = `batches/day-${victim % 7}/f${victim}.csv`;
    expect(r.damage).toEqual([expect.objectContaining({ id: chunks[victim], role: 'chunk', path: where })]);
    // Without --read-data chunks are only looked up, so the flipped byte goes unseen.
    expect((await verifyRepository(repo)).damage).toEqual([]);
  });
});

describe('verifyRepository when the store fails to answer', () => {
  it('fails with that error, not a report of damaged objects', async () => {
    await manySmallFiles();
    const repo = await reopen();
    // As a connection dropped mid-read, on every ranged read of pack data.
    jest.spyOn(repo.store, 'getRange').mockRejectedValue(new UnavailableError('cannot read packs/x: connection dropped'));
    await expect(verifyRepository(repo, { readData: true })).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });
});

describe('verifyRepository while a gc elsewhere announces packs', () => {
  it('counts an announced pack as stored: it is readable until gc deletes it', async () => {
    await manySmallFiles();
    const [pack] = (await reopen()).objects.packs();
    await fs.writeFile(path.join(dir, '.trib/store/packs/gc-00000000000000000000000000000000.condemned'), JSON.stringify({ packs: [pack.name] }));
    const repo = await reopen();
    expect(repo.objects.has(repo.objects.packs()[0].index.entries().next().value!.id)).toBe(false);
    expect((await verifyRepository(repo)).damage).toEqual([]);
  });
});

describe('collectRepositoryGarbage while another working copy commits', () => {
  it('deletes nothing when a ref moves while it runs', async () => {
    await manySmallFiles();
    const repo = await reopen();
    // Something dead for gc to delete: a commit only a deleted branch named.
    const tree = (await writeTreeFromPaths(repo.objects, [])).id;
    const orphan = await repo.writeCommit({ tree, parents: [], author: 'T <t@example.org>', time: '2026-01-02T00:00:00.000Z', message: 'orphan', annotations: {} });
    const main = (await repo.refs.read(branchRef('main')))!;
    const list = repo.refs.list.bind(repo.refs);
    let calls = 0;
    // Another working copy's commit moves main between gc's walk and its deletions.
    jest.spyOn(repo.refs, 'list').mockImplementation(async (prefix) => {
      if (++calls === 2) await repo.refs.update(branchRef('main'), main.version, { commit: orphan });
      return list(prefix);
    });
    const r = await collectRepositoryGarbage(repo, { graceMs: 0 });
    expect(r.deferred).toBe(true);
    expect(repo.objects.isStored(orphan)).toBe(true);
  });
});

describe('a view tree a commit names (a hub merge that held paths back)', () => {
  it('is kept by gc and checked by verify, as the commit\'s own tree is', async () => {
    const repo = await Repository.init(dir);
    opened.push(repo);
    const file = async (text: string) => ({ kind: 'file' as const, executable: false, ...(await writeFileContent(repo.objects, [Buffer.from(text)])) });
    const tree = (await writeTreeFromPaths(repo.objects, [{ path: 'main.csv', entry: await file('a\n1\n') }])).id;
    const held = await file('held back\n');
    const view = (await writeTreeFromPaths(repo.objects, [{ path: 'hdr.csv', entry: held }])).id;
    const commit = await repo.writeCommit({ tree, parents: [], author: 'Hub <h@example.org>', time: '2026-01-01T00:00:00.000Z', message: 'merge', annotations: { [VIEW_TREE_ANNOTATION]: view } });
    await repo.refs.update(branchRef('main'), undefined, { commit });
    const r = await collectRepositoryGarbage(repo, { graceMs: 0 });
    expect(r.deferred).toBeFalsy();
    await repo.objects.reload();
    expect([repo.objects.isStored(view), repo.objects.isStored(held.id)]).toEqual([true, true]);
    expect(await verifyRepository(repo)).toEqual({ objects: 5, damage: [] });

    const gone = sha256(Buffer.from('a view never stored'));
    const broken = await repo.writeCommit({ tree, parents: [commit], author: 'Hub <h@example.org>', time: '2026-01-01T00:00:01.000Z', message: 'merge', annotations: { [VIEW_TREE_ANNOTATION]: gone } });
    await repo.refs.update(branchRef('main'), (await repo.refs.read(branchRef('main')))!.version, { commit: broken });
    expect((await verifyRepository(repo)).damage.map((d) => d.id)).toEqual([gone]);
  });
});

describe('a tree whose nodes do not fit together (stored before brokers checked that)', () => {
  it('is damaged, named with the node at fault, though each node is well-formed', async () => {
    const scratch = await Repository.init(path.join(dir, 'scratch'));
    opened.push(scratch);
    const { trees } = await unreadableTrees(scratch.objects);
    for (const [i, t] of trees.entries()) {
      const repo = await Repository.init(path.join(dir, `t${i}`));
      opened.push(repo);
      for (const id of t.nodes) await repo.objects.put(await scratch.objects.get(id));
      await repo.objects.put(Buffer.from('x'));
      const readAll = async () => {
        for await (const _ of walkFiles(repo.objects, t.tree));
      };
      await expect(readAll()).rejects.toThrow(t.refusal);
      const commit = await repo.writeCommit({ tree: t.tree, parents: [], author: 'T <t@example.org>', time: '2026-01-01T00:00:00.000Z', message: t.what, annotations: {} });
      await repo.refs.update(branchRef('main'), undefined, { commit });
      const { damage } = await verifyRepository(repo, { readData: true });
      expect(damage).toHaveLength(1);
      expect(damage[0]).toMatchObject({ role: 'tree', problem: expect.stringMatching(t.refusal) });
      expect(t.nodes).toContain(damage[0].id);
    }
  });
});

describe('walkReachable from objects of unknown kind', () => {
  it('walks each as what it decodes as; a chunk that looks like an object, or a missing one, is a leaf', async () => {
    const repo = await Repository.init(dir);
    opened.push(repo);
    const db = repo.objects;
    const chunks = [Buffer.from('first chunk'), Buffer.from('second chunk')];
    const children = await Promise.all(chunks.map((c) => db.put(c)));
    const list = await db.put(encodeChunkList({ level: 0, children: children.map((id, i) => ({ id, size: chunks[i].length })) }));
    const lookalike = await db.put(Buffer.from(`${CHUNK_LIST_HEADER}\x00but no children`));
    const missing = sha256(Buffer.from('never stored'));
    await db.flush();

    const { live, damage } = await walkReachable(repo, [], { unknown: [list, lookalike, missing] });

    expect(damage).toEqual([]);
    expect([...live].sort()).toEqual([list, ...children, lookalike].sort());
    const known = await walkReachable(repo, [], { unknown: [list], known: new Set([list]) });
    expect(known.live.size).toBe(0);
  });
});

describe('verifyRepository on a broker store (topic logs, no refs)', () => {
  /** A root commit of one file, or a commit on `parent`; no ref names it. */
  async function commitOf(repo: Repository, name: string, parents: CommitId[]): Promise<CommitId> {
    const content = await writeFileContent(repo.objects, [Buffer.from(`${name}\n`.repeat(20))]);
    const tree = (await writeTreeFromPaths(repo.objects, [{ path: `${name}.csv`, entry: { kind: 'file' as const, executable: false, ...content } }])).id;
    return repo.writeCommit({ tree, parents, author: 'T <t@example.org>', time: '2026-01-01T00:00:00.000Z', message: name, annotations: {} });
  }
  /** Entry `seq` of `topic` and its commit index, as libs/sync's TopicLog writes them. */
  async function entry(repo: Repository, topic: string, seq: number, commit: string, parent: string | null): Promise<void> {
    const json = JSON.stringify({ seq, commit, parent, time: '2026-01-01T00:00:00.000Z' }) + '\n';
    await repo.store.putIfAbsent(`topic-log/${topic}/SEQ/${String(seq).padStart(12, '0')}`, Buffer.from(json));
    await repo.store.putIfAbsent(`topic-log/${topic}/COMMIT/${commit}`, Buffer.from(`${seq}\n`));
  }

  it('walks from the last entry of each topic, nested topics too', async () => {
    const repo = await Repository.init(dir, { bare: true });
    opened.push(repo);
    const c1 = await commitOf(repo, 'one', []);
    const c2 = await commitOf(repo, 'two', [c1]);
    const other = await commitOf(repo, 'other', []);
    await repo.objects.flush();
    // Written out of order, as a listing need not return them in order either.
    await entry(repo, 'datasets/a', 2, c2, c1);
    await entry(repo, 'datasets/a', 1, c1, null);
    await entry(repo, 'datasets/a/b', 1, other, null);

    expect((await topicLogHeads(repo.store)).sort()).toEqual([c2, other].sort());
    const r = await verifyRepository(repo, { readData: true });
    expect(r.damage).toEqual([]);
    expect(r.objects).toBe(9); // three commits, each with a root tree and one chunk
  });

  it('refuses a topic whose last entry does not name a commit', async () => {
    const repo = await Repository.init(dir, { bare: true });
    opened.push(repo);
    await repo.store.putIfAbsent('topic-log/datasets/a/SEQ/000000000001', Buffer.from('null\n'));
    await expect(verifyRepository(repo)).rejects.toMatchObject({ code: 'INTEGRITY', message: expect.stringContaining('topic-log/datasets/a/SEQ/000000000001') });
  });
});
