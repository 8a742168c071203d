import { CommitId } from '@tributary/core';
import { MemoryCommits } from '../testing/memory-commits';
import { CommitReader, isAncestor, mergeBases } from './commit-walk';

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

  it('finds an ancestor behind a child whose clock ran days behind, however far', async () => {
    const h = new MemoryHistory();
    const a = h.at('a', '2026-03-10T12:00:00.000Z');
    const b = h.at('b', '2026-03-01T12:00:00.000Z', [a]); // an edge device nine days behind
    const c = h.at('c', '2026-03-01T13:00:00.000Z', [b]);
    const d = h.at('d', '1970-01-01T00:00:00.000Z', [c]); // one that lost its clock altogether
    expect(await isAncestor(h, a, c)).toBe(true);
    expect(await isAncestor(h, a, d)).toBe(true);
    expect(await isAncestor(h, b, d)).toBe(true);
    expect(await isAncestor(h, d, a)).toBe(false);
  });

  it('reads the commits since the fork, not the shared history, for branches that diverged', async () => {
    const h = new MemoryHistory();
    const day = 24 * 3600_000;
    const t0 = Date.UTC(2026, 0, 1);
    let shared = h.at('root', new Date(t0).toISOString());
    for (let i = 1; i <= 100; i++) shared = h.at(`c${i}`, new Date(t0 + i * day).toISOString(), [shared]);
    let x = shared;
    let y = shared;
    for (let i = 1; i <= 3; i++) {
      x = h.at(`x${i}`, new Date(t0 + (100 + i) * day).toISOString(), [x]);
      y = h.at(`y${i}`, new Date(t0 + (100 + i) * day + 3600_000).toISOString(), [y]);
    }
    h.reads = 0;
    expect(await isAncestor(h, x, y)).toBe(false);
    // Three commits a side, the fork and its parent: not the hundred beneath.
    expect(h.reads).toBeLessThanOrEqual(10);
    h.reads = 0;
    expect(await isAncestor(h, shared, y)).toBe(true);
    expect(h.reads).toBeLessThanOrEqual(6);
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
