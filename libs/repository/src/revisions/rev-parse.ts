import { CommitId, InvalidArgumentError, isObjectId, NotFoundError, RefName, validateRefName } from '@tributary/core';

/** One step after the base name: `~N` (N first parents back) or `^N` (the Nth parent; `^` is `^1`). */
export type RevisionStep = { readonly op: '~' | '^'; readonly n: number };

export interface ParsedRevision {
  readonly base: string;
  readonly steps: readonly RevisionStep[];
}

/**
 * Splits `main~2^2` into its base name and steps. Throws InvalidArgumentError on a malformed suffix, or on a base
 * that no ref could be named (ref-name rules), before anything is looked up with it.
 */
export function parseRevision(spec: string): ParsedRevision {
  const m = /^([^~^]+)((?:[~^]\d*)*)$/.exec(spec);
  if (!m) throw new InvalidArgumentError(`bad revision ${JSON.stringify(spec)}`);
  validateRefName(m[1], 'revision');
  const steps: RevisionStep[] = [];
  for (const s of m[2].matchAll(/([~^])(\d*)/g)) {
    const n = s[2] === '' ? 1 : Number.parseInt(s[2], 10);
    if (!Number.isSafeInteger(n) || n > 1_000_000) throw new InvalidArgumentError(`bad revision ${JSON.stringify(spec)}`);
    steps.push({ op: s[1] as '~' | '^', n });
  }
  return { base: m[1], steps };
}

/** What rev-parse needs from a repository; kept narrow so it can be tested with fakes. */
export interface RevisionLookup {
  /** Resolves a full ref name (following symbolic refs and peeling tags) to a commit, or undefined. */
  refCommit(name: RefName): Promise<CommitId | undefined>;
  /** Commit ids starting with `prefix` (lowercase hex, >= 4 chars). */
  commitsWithPrefix(prefix: string): Promise<CommitId[]>;
  parents(id: CommitId): Promise<readonly CommitId[]>;
}

/**
 * Resolves a REF: `HEAD`, a branch, a tag, `topics/<topic>`, a full ref name, a full commit id or a unique prefix of
 * at least 4 hex digits, then any chain of `~N`, `^` and `^N`. A full commit id of a stored commit means that
 * commit, whatever refs there are (as in git); otherwise a tag wins over a branch (a name that is both, made before
 * trib refused that, as in git: refCandidates), either over an id prefix. Throws InvalidArgumentError for unknown,
 * ambiguous or malformed refs.
 */
export async function resolveRevision(spec: string, repo: RevisionLookup): Promise<CommitId> {
  const { base, steps } = parseRevision(spec);
  let id = await resolveBase(base, repo);
  for (const step of steps) {
    if (step.op === '~') {
      for (let i = 0; i < step.n; i++) id = nth(id, await repo.parents(id), 1, spec);
    } else if (step.n > 0) {
      id = nth(id, await repo.parents(id), step.n, spec);
    }
  }
  return id;
}

/** The n-th parent of commit `id`; the error says whether history starts there or the commit has fewer parents. */
function nth(id: CommitId, parents: readonly CommitId[], n: number, spec: string): CommitId {
  const p = parents[n - 1];
  if (p) return p;
  if (parents.length === 0) throw new InvalidArgumentError(`revision ${spec} goes past the start of history (commit ${id.slice(0, 12)} has no parent)`);
  throw new InvalidArgumentError(`revision ${spec}: commit ${id.slice(0, 12)} has ${parents.length} parent${parents.length === 1 ? '' : 's'}, not ${n}`);
}

/** The refs a revision's base name may be, in the order they are tried: the first that exists is the one meant. */
export function refCandidates(base: string): RefName[] {
  if (base === 'HEAD' || base.startsWith('refs/')) return [base as RefName];
  // Tags first, as git: a name that is both (made before trib refused that) means the tag, which pins a version.
  const candidates = [`refs/tags/${base}`, `refs/heads/${base}`];
  if (base.startsWith('topics/')) candidates.push(`refs/${base}`);
  return candidates as RefName[];
}

async function resolveBase(base: string, repo: RevisionLookup): Promise<CommitId> {
  const full = base.toLowerCase();
  if (isObjectId(full)) {
    const found = await repo.commitsWithPrefix(full);
    if (found.length) return found[0];
  }
  for (const c of refCandidates(base)) {
    const id = await repo.refCommit(c as RefName).catch((e) => {
      if (e instanceof NotFoundError) return undefined;
      throw e;
    });
    if (id) return id;
  }
  if (base === 'HEAD') throw new InvalidArgumentError('HEAD has no commits yet');
  if (/^[0-9a-fA-F]{4,63}$/.test(base)) {
    const found = await repo.commitsWithPrefix(base.toLowerCase());
    if (found.length === 1) return found[0];
    if (found.length > 1) {
      throw new InvalidArgumentError(`ambiguous ref ${base}: matches ${found.slice(0, 5).join(', ')}`);
    }
  }
  throw new NotFoundError(`unknown ref ${JSON.stringify(base)}`);
}
