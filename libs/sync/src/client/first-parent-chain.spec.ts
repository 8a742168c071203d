import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { CommitId, EMPTY_TREE_ID, FailedPreconditionError } from '@tributary/core';
import { Repository } from '@tributary/repository';
import { firstParentChainAfter } from './sync.client';

describe('firstParentChainAfter', () => {
  let root: string;
  let repo: Repository;
  /** c[0] <- c[1] <- ... <- c[39] (the history a conflicting merge was tried at), then n[0] <- n[1] on top. */
  let c: CommitId[];
  let n: CommitId[];
  /** A topic head on a history of its own. */
  let other: CommitId;

  const commit = (parents: CommitId[], message: string) =>
    repo.writeCommit({ tree: EMPTY_TREE_ID, parents, author: 'A <a@example.org>', time: '2026-01-01T00:00:00.000Z', message, annotations: {} });

  beforeAll(async () => {
    root = await fs.mkdtemp(path.join(tmpdir(), 'trib-chain-'));
    repo = await Repository.init(path.join(root, 'repo'));
    c = [];
    for (let i = 0; i < 40; i++) c.push(await commit(i ? [c[i - 1]] : [], `c${i}`));
    n = [await commit([c[39]], 'n0')];
    n.push(await commit([n[0]], 'n1'));
    other = await commit([], 'other');
  });
  afterAll(async () => {
    await repo.close();
    await fs.rm(root, { recursive: true, force: true });
  });
  afterEach(() => jest.restoreAllMocks());

  const countReads = () => jest.spyOn(repo, 'readCommit');

  it('returns the commits after the head, oldest first, reading only those', async () => {
    const reads = countReads();
    expect(await firstParentChainAfter(repo, n[1], c[39], 't')).toEqual([n[0], n[1]]);
    expect(reads).toHaveBeenCalledTimes(2);
  });

  it('without a hint, finds a history that does not hold the head only at its root', async () => {
    const reads = countReads();
    await expect(firstParentChainAfter(repo, n[1], other, 't')).rejects.toThrow(FailedPreconditionError);
    expect(reads.mock.calls.length).toBeGreaterThanOrEqual(42);
  });

  it('with the head known not to be in c39, refuses on reaching c39, reading only the commits since', async () => {
    const reads = countReads();
    const refused = firstParentChainAfter(repo, n[1], other, 't', { topicHead: other, at: c[39] });
    await expect(refused).rejects.toThrow(new FailedPreconditionError(`not a fast-forward: ${n[1]} does not descend from ${other}, the head of topic t`));
    await expect(refused).rejects.toMatchObject({ details: { topic: 't', head: other } });
    expect(reads).toHaveBeenCalledTimes(2);
  });

  it('ignores the hint once the head has moved', async () => {
    expect(await firstParentChainAfter(repo, n[1], c[37], 't', { topicHead: other, at: c[39] })).toEqual([c[38], c[39], n[0], n[1]]);
  });
});
