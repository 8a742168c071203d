import { CommitId } from '@tributary/core';
import { MemoryCommits } from '../testing/memory-commits';
import { CLOCK_SKEW_MS, CommitReader, isAncestor, mergeBases } from './commit-walk';

/** Commits by the ids a test names, each stamped with the time it gives. */
class MemoryHistory extends MemoryCommits {
  at(id: string, time: string, parents: string[] = []): CommitId {
    return this.add({ time, parents: parents as CommitId[], message: id }, id);
  }
}

describe('isAncestor', () => {
  it('finds a parent stamped after its child by a clock running behind', async () => {
    const h = new MemoryHistory();
    const a = h.at('a', '2026-03-02T12:00:00.000Z');
    const b = h.at('b', '2026-03-02T08:00:00.000Z', [a]); // four hours behind its parent
    const c = h.at('c', '2026-03-02T09:00:00.000Z', [b]);
    expect(await isAncestor(h, a, c)).toBe(true);
    expect(await isAncestor(h, c, a)).toBe(false);
  });

  it('stops once the walk is older than the ancestor by more than the skew allowed', async () => {
    const h = new MemoryHistory();
    const day = 24 * 3600_000;
    let parent = h.at('root', new Date(Date.UTC(2026, 0, 1)).toISOString());
    for (let i = 1; i <= 100; i++) parent = h.at(`c${i}`, new Date(Date.UTC(2026, 0, 1) + i * day).toISOString(), [parent]);
    const other = h.at('other', new Date(Date.UTC(2026, 0, 1) + 95 * day).toISOString());
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
    const root = h.at('root', at(0));
    const a1 = h.at('a1', at(1), [root]);
    const b1 = h.at('b1', at(2), [root]);
    const a2 = h.at('a2', at(3), [a1]);
    expect(await mergeBases(h, a2, b1)).toEqual([root]);
    expect(await mergeBases(h, a2, a1)).toEqual([a1]);
    expect(await mergeBases(h, a2, h.at('lone', at(4)))).toEqual([]);
  });

  it('finds both bases of a criss-cross merge, and not their own common ancestor', async () => {
    // a1 and b1 fork from root; each side then merges the other's: m1 = a1 + b1, m2 = b1 + a1.
    const h = new MemoryHistory();
    const root = h.at('root', at(0));
    const a1 = h.at('a1', at(1), [root]);
    const b1 = h.at('b1', at(2), [root]);
    const m1 = h.at('m1', at(3), [a1, b1]);
    const m2 = h.at('m2', at(4), [b1, a1]);
    expect((await mergeBases(h, m1, m2)).sort()).toEqual([a1, b1].sort());
  });
});
