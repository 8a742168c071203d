import { Commit, CommitId } from '@tributary/core';
import { CLOCK_SKEW_MS, CommitReader, isAncestor, mergeBases } from './commit-walk';

/** Commits by id in memory; counts reads. */
class MemoryHistory implements CommitReader {
  readonly commits = new Map<CommitId, Commit>();
  reads = 0;

  add(id: string, time: string, parents: string[] = []): CommitId {
    const commit = { tree: 't', parents, author: 'a', time, message: id, annotations: {} } as unknown as Commit;
    this.commits.set(id as CommitId, commit);
    return id as CommitId;
  }

  async readCommit(id: CommitId): Promise<Commit> {
    this.reads++;
    return this.commits.get(id)!;
  }
}

describe('isAncestor', () => {
  it('finds a parent stamped after its child by a clock running behind', async () => {
    const h = new MemoryHistory();
    const a = h.add('a', '2026-03-02T12:00:00.000Z');
    const b = h.add('b', '2026-03-02T08:00:00.000Z', [a]); // four hours behind its parent
    const c = h.add('c', '2026-03-02T09:00:00.000Z', [b]);
    expect(await isAncestor(h, a, c)).toBe(true);
    expect(await isAncestor(h, c, a)).toBe(false);
  });

  it('stops once the walk is older than the ancestor by more than the skew allowed', async () => {
    const h = new MemoryHistory();
    const day = 24 * 3600_000;
    let parent = h.add('root', new Date(Date.UTC(2026, 0, 1)).toISOString());
    for (let i = 1; i <= 100; i++) parent = h.add(`c${i}`, new Date(Date.UTC(2026, 0, 1) + i * day).toISOString(), [parent]);
    const other = h.add('other', new Date(Date.UTC(2026, 0, 1) + 95 * day).toISOString());
    h.reads = 0;
    expect(await isAncestor(h, other, parent)).toBe(false);
    // The five newer commits, and those within the skew allowance: not the hundred.
    expect(h.reads).toBeLessThanOrEqual(2 + 5 + Math.ceil(CLOCK_SKEW_MS / day) + 1);
  });
});

describe('mergeBases', () => {
  const at = (hour: number) => new Date(Date.UTC(2026, 2, 1, hour)).toISOString();

  it('finds the fork point, an ancestor itself, and nothing for unrelated histories', async () => {
    const h = new MemoryHistory();
    const root = h.add('root', at(0));
    const a1 = h.add('a1', at(1), [root]);
    const b1 = h.add('b1', at(2), [root]);
    const a2 = h.add('a2', at(3), [a1]);
    expect(await mergeBases(h, a2, b1)).toEqual([root]);
    expect(await mergeBases(h, a2, a1)).toEqual([a1]);
    expect(await mergeBases(h, a2, h.add('lone', at(4)))).toEqual([]);
  });

  it('finds both bases of a criss-cross merge, and not their own common ancestor', async () => {
    // a1 and b1 fork from root; each side then merges the other's: m1 = a1 + b1, m2 = b1 + a1.
    const h = new MemoryHistory();
    const root = h.add('root', at(0));
    const a1 = h.add('a1', at(1), [root]);
    const b1 = h.add('b1', at(2), [root]);
    const m1 = h.add('m1', at(3), [a1, b1]);
    const m2 = h.add('m2', at(4), [b1, a1]);
    expect((await mergeBases(h, m1, m2)).sort()).toEqual([a1, b1].sort());
  });
});
