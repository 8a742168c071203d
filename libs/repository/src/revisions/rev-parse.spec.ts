import { CommitId, NotFoundError, RefName } from '@tributary/core';
import { parseRevision, resolveRevision, RevisionLookup } from './rev-parse';

const id = (c: string) => c.repeat(64) as CommitId;
// History: a <- b <- d (merge of b and c), a <- c
const parents: Record<string, CommitId[]> = { [id('a')]: [], [id('b')]: [id('a')], [id('c')]: [id('a')], [id('d')]: [id('b'), id('c')] };
const refs: Record<string, CommitId> = {
  HEAD: id('d'),
  'refs/heads/main': id('d'),
  'refs/tags/v1': id('b'),
  'refs/heads/both': id('c'),
  'refs/tags/both': id('b'),
  // Names no branch or tag may take now, from before: a full id (of a), and a short prefix (of c).
  [`refs/tags/${id('a')}`]: id('d'),
  'refs/heads/cccc': id('b'),
};

const repo: RevisionLookup = {
  refCommit: async (n: RefName) => refs[n],
  commitsWithPrefix: async (p) => Object.keys(parents).filter((k) => k.startsWith(p)) as CommitId[],
  parents: async (c) => parents[c],
};

describe('rev-parse', () => {
  it('parses steps', () => {
    expect(parseRevision('main~2^2^')).toEqual({ base: 'main', steps: [{ op: '~', n: 2 }, { op: '^', n: 2 }, { op: '^', n: 1 }] });
    expect(() => parseRevision('~1')).toThrow();
  });

  it('refuses a base no ref could be named, saying why, before looking it up', async () => {
    const lookups: string[] = [];
    const spy: RevisionLookup = { ...repo, refCommit: async (n) => (lookups.push(n), refs[n]) };
    await expect(resolveRevision('HEAD:data.csv', spy)).rejects.toThrow(
      'invalid revision "HEAD:data.csv": only letters',
    );
    await expect(resolveRevision('refs/../x~1', spy)).rejects.toThrow('invalid revision "refs/../x": contains ".."');
    await expect(resolveRevision('a b', spy)).rejects.toThrow(/invalid revision "a b"/);
    expect(lookups).toEqual([]);
  });

  it('resolves names, steps and prefixes with tag > branch > id precedence, as git', async () => {
    expect(await resolveRevision('HEAD', repo)).toBe(id('d'));
    expect(await resolveRevision('HEAD^2', repo)).toBe(id('c'));
    expect(await resolveRevision('main~1', repo)).toBe(id('b'));
    expect(await resolveRevision('main^^', repo)).toBe(id('a'));
    expect(await resolveRevision('HEAD^0', repo)).toBe(id('d'));
    expect(await resolveRevision('v1', repo)).toBe(id('b'));
    expect(await resolveRevision('both', repo)).toBe(id('b'));
    expect(await resolveRevision('ccccc', repo)).toBe(id('c'));
  });

  it('takes a full commit id for that commit before any ref of that name; a shorter prefix after the refs', async () => {
    expect(await resolveRevision(id('a'), repo)).toBe(id('a'));
    expect(await resolveRevision(id('a').toUpperCase(), repo)).toBe(id('a'));
    expect(await resolveRevision('cccc', repo)).toBe(id('b'));
  });

  it('rejects unknown, too short, out-of-range and ambiguous refs', async () => {
    await expect(resolveRevision('nope', repo)).rejects.toThrow(NotFoundError);
    await expect(resolveRevision('nope', repo)).rejects.toThrow(/unknown ref/);
    await expect(resolveRevision('ccc', repo)).rejects.toThrow(/unknown ref/);
    await expect(resolveRevision('HEAD~3', repo)).rejects.toThrow('revision HEAD~3 goes past the start of history (commit aaaaaaaaaaaa has no parent)');
    // A commit with fewer parents is not the start of history.
    await expect(resolveRevision('HEAD^3', repo)).rejects.toThrow('revision HEAD^3: commit dddddddddddd has 2 parents, not 3');
    await expect(resolveRevision('main~1^2', repo)).rejects.toThrow('revision main~1^2: commit bbbbbbbbbbbb has 1 parent, not 2');
    const amb: RevisionLookup = { ...repo, commitsWithPrefix: async () => [id('a'), id('b')] };
    await expect(resolveRevision('abcd', amb)).rejects.toThrow(/ambiguous/);
  });
});
