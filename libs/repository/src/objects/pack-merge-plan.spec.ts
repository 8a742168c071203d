import { packsToMerge, SizedPack } from './pack-merge-plan';

const sized = (sizes: number[]): SizedPack<string>[] => sizes.map((bytes, i) => ({ pack: `p${i}:${bytes}`, bytes }));
const rule = { maxPackBytes: 1000, minPacks: 2 };

describe('packsToMerge', () => {
  it('merges packs of similar size, smallest first', () => {
    expect(packsToMerge(sized([10, 10, 10]), rule)).toEqual(['p0:10', 'p1:10', 'p2:10']);
  });

  it('leaves a geometric progression alone', () => {
    expect(packsToMerge(sized([1, 10, 100, 999]), rule)).toEqual([]);
  });

  it('takes a larger pack along when it is not twice everything smaller', () => {
    expect(packsToMerge(sized([100, 1, 1, 101]), rule).sort()).toEqual(['p0:100', 'p1:1', 'p2:1', 'p3:101']);
    expect(packsToMerge(sized([1, 1, 100]), rule)).toEqual(['p0:1', 'p1:1']);
  });

  it('ignores packs at the size limit and waits for enough small ones', () => {
    expect(packsToMerge(sized([1000, 1000, 1000]), rule)).toEqual([]);
    expect(packsToMerge(sized([5, 5, 5]), { maxPackBytes: 1000, minPacks: 4 })).toEqual([]);
  });

  it('keeps the pack count logarithmic and rewrites each byte a logarithmic number of times', () => {
    // One 1 KB pack per commit, merged whenever 8 can be: a broker's life in miniature.
    let packs: number[] = [];
    let rewritten = 0;
    const commits = 4096;
    for (let i = 0; i < commits; i++) {
      packs.push(1000);
      const merge = packsToMerge(packs.map((bytes, j) => ({ pack: j, bytes })), { maxPackBytes: Infinity, minPacks: 8 });
      if (merge.length === 0) continue;
      const merged = merge.reduce((n, j) => n + packs[j], 0);
      rewritten += merged;
      packs = packs.filter((_, j) => !merge.includes(j)).concat([merged]);
    }
    expect(packs.length).toBeLessThanOrEqual(8 + Math.ceil(Math.log2(commits)));
    expect(rewritten / (commits * 1000)).toBeLessThanOrEqual(Math.log2(commits));
    // The figures the docs quote (the simulation is deterministic): 4 packs left, each byte rewritten under 8 times.
    expect(packs.length).toBe(4);
    expect(rewritten / (commits * 1000)).toBeLessThan(8);
  });
});
