import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { CommitId, ConflictError, InvalidArgumentError } from '@tributary/core';
import { LocalStore, MemoryStore, ObjectStore } from '@tributary/storage';
import { branchRef, RefStore, tagRef, topicRef } from './ref-store';

const c1 = 'a'.repeat(64) as CommitId;
const c2 = 'b'.repeat(64) as CommitId;

describe.each([
  ['local', async () => LocalStore.open(mkdtempSync(path.join(tmpdir(), 'trib-refs-')), { create: true })],
  ['memory', async () => new MemoryStore()],
])('RefStore on a %s store', (_kind, open: () => Promise<ObjectStore>) => {
  let store: ObjectStore;
  let refs: RefStore;
  beforeEach(async () => {
    store = await open();
    refs = new RefStore(store);
  });
  afterEach(() => {
    if (store.url.startsWith('file://')) rmSync(new URL(store.url).pathname, { recursive: true, force: true });
  });

  it('keeps nested topic refs side by side, and lists them by name', async () => {
    await refs.update(topicRef('datasets/heart'), undefined, { commit: c1 });
    await refs.update(topicRef('datasets/heart/na-aws'), undefined, { commit: c2 });
    expect((await refs.read(topicRef('datasets/heart')))?.target).toEqual({ commit: c1 });
    expect((await refs.read(topicRef('datasets/heart/na-aws')))?.target).toEqual({ commit: c2 });
    expect(await refs.list('refs/')).toEqual([
      { name: 'refs/topics/datasets/heart', target: { commit: c1 } },
      { name: 'refs/topics/datasets/heart/na-aws', target: { commit: c2 } },
    ]);
    const v = (await refs.read(topicRef('datasets/heart')))!.version;
    await refs.delete(topicRef('datasets/heart'), v);
    expect(await refs.read(topicRef('datasets/heart'))).toBeUndefined();
    expect((await refs.read(topicRef('datasets/heart/na-aws')))?.target).toEqual({ commit: c2 });
  });

  it('refuses a branch or tag nested in another, either way round, with a clear conflict', async () => {
    await refs.create(branchRef('a'), { commit: c1 });
    await expect(refs.create(branchRef('a/b'), { commit: c1 })).rejects.toThrow(new ConflictError('cannot create branch a/b: branch a exists'));
    await refs.create(tagRef('x/y'), { commit: c1 });
    await expect(refs.update(tagRef('x'), undefined, { commit: c1 })).rejects.toThrow(new ConflictError('cannot create tag x: tag x/y exists'));
    expect(await refs.list('refs/')).toHaveLength(2);
  });

  it('answers readForSwap from what it last wrote, and reads again once a swap from a stale answer fails', async () => {
    const ref = branchRef('main');
    const reads = jest.spyOn(store, 'readVersioned');
    expect(await refs.readForSwap(ref)).toBeUndefined();
    await refs.update(ref, undefined, { commit: c1 });
    const mine = await refs.readForSwap(ref);
    expect(mine?.target).toEqual({ commit: c1 });
    expect(reads).toHaveBeenCalledTimes(1);

    // Another writer (another process) moves it: the answer from memory is stale, and the swap from it fails.
    const other = new RefStore(store);
    await other.update(ref, (await other.read(ref))!.version, { commit: c2 });
    await expect(refs.update(ref, mine!.version, { commit: c1 })).rejects.toThrow(ConflictError);
    expect((await refs.readForSwap(ref))?.target).toEqual({ commit: c2 });
    await refs.delete(ref, (await refs.readForSwap(ref))!.version);
    expect(await refs.readForSwap(ref)).toBeUndefined();
    expect(reads).toHaveBeenCalledTimes(3);
  });

  it('answers readForSwap from what it last read, an absent ref included, until a swap from it fails', async () => {
    const ref = branchRef('main');
    const other = new RefStore(store);
    const reads = jest.spyOn(store, 'readVersioned');
    expect(await refs.readForSwap(ref)).toBeUndefined();
    expect(await refs.readForSwap(ref)).toBeUndefined();
    expect(reads).toHaveBeenCalledTimes(1);

    // Created meanwhile by another writer: the remembered absence is stale, and the swap from it fails.
    await other.create(ref, { commit: c1 });
    await expect(refs.update(ref, undefined, { commit: c2 })).rejects.toThrow(ConflictError);
    const fresh = await refs.readForSwap(ref);
    expect(fresh?.target).toEqual({ commit: c1 });
    expect((await refs.readForSwap(ref))?.version).toBe(fresh!.version);
    await refs.update(ref, fresh!.version, { commit: c2 });
    expect(reads).toHaveBeenCalledTimes(2);
    expect((await other.read(ref))?.target).toEqual({ commit: c2 });
  });

  it('takes a swap whose first answer was lost, and whose retry met its own write, as done; a real conflict not', async () => {
    await refs.update(branchRef('main'), undefined, { commit: c1 });
    const v = (await refs.read(branchRef('main')))!.version;
    // As an SDK that retries a request whose answer the network lost: the first attempt landed.
    const swap = store.compareAndSwap.bind(store);
    const spy = jest.spyOn(store, 'compareAndSwap').mockImplementationOnce(async (key, expected, data) => {
      await swap(key, expected, data);
      return swap(key, expected, data);
    });
    await refs.update(branchRef('main'), v, { commit: c2 });
    expect((await refs.read(branchRef('main')))?.target).toEqual({ commit: c2 });
    spy.mockRestore();
    await expect(refs.update(branchRef('main'), v, { commit: c1 })).rejects.toThrow(/was changed by another writer/);
  });

  it('refuses a branch or tag named like a full commit id, which always reads as that commit', () => {
    for (const name of ['a'.repeat(64), 'ABCDEF0123'.repeat(6) + 'abcd']) {
      expect(() => branchRef(name)).toThrow(`invalid branch name ${JSON.stringify(name)}: it would read as the commit id it looks like`);
      expect(() => tagRef(name)).toThrow(`invalid tag name ${JSON.stringify(name)}: it would read as the commit id it looks like`);
    }
    // Shorter hex is a name like any other: it wins over an id prefix, as in git.
    expect(branchRef('a'.repeat(63))).toBe(`refs/heads/${'a'.repeat(63)}`);
    expect(tagRef('cafe')).toBe('refs/tags/cafe');
  });

  it('refuses a topic name with capitals, which the key mapping reserves', () => {
    expect(() => topicRef('Datasets/x')).toThrow(InvalidArgumentError);
  });
});
