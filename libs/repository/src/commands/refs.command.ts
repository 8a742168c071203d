import { CommitId, ConflictError, encodeTag, FailedPreconditionError, IntegrityError, InvalidArgumentError, NotFoundError, Annotations, RefName, Tag, validateNewRefName } from '@tributary/core';
import { Repository } from '../repository';
import { branchRef, BRANCH_PREFIX, tagRef, TAG_PREFIX } from '../refs/ref-store';
import { isAncestor } from '../history/commit-walk';
import { defaultAuthor } from './commit.command';

export interface RefListing {
  readonly name: string;
  readonly commit: CommitId;
  readonly current?: boolean;
}

export async function listBranches(repo: Repository): Promise<RefListing[]> {
  const head = await repo.head();
  return (await repo.refs.list(BRANCH_PREFIX))
    .filter((r) => 'commit' in r.target)
    .map((r) => ({ name: r.name.slice(BRANCH_PREFIX.length), commit: (r.target as { commit: CommitId }).commit, current: r.name === head.ref }));
}

export async function createBranch(repo: Repository, name: string, start = 'HEAD'): Promise<CommitId> {
  const ref = branchRef(name);
  validateNewRefName(name, 'branch name');
  await refuseSharedName(repo, tagRef(name), `cannot create branch ${name}: tag ${name} exists`);
  const commit = await repo.resolve(start);
  try {
    await repo.refs.create(ref, { commit });
  } catch (e) {
    // The store's message: "already exists", or the nesting it refuses ("cannot create branch a: branch a/b exists").
    if (e instanceof ConflictError) throw new InvalidArgumentError(e.message);
    throw e;
  }
  return commit;
}

/**
 * Deletes a branch. Refuses, as git's `branch -d` does, when its commit is not in HEAD's history: once the ref is
 * gone nothing else names those commits, and gc deletes them after its grace period. `force` deletes it anyway
 * (FailedPreconditionError with details.overridable otherwise).
 */
export async function deleteBranch(repo: Repository, name: string, opts: { force?: boolean } = {}): Promise<void> {
  const ref = branchRef(name);
  const head = await repo.head();
  if (head.ref === ref) throw new FailedPreconditionError(`cannot delete branch ${name}: it is checked out`);
  let v;
  try {
    v = await repo.refs.read(ref);
  } catch (e) {
    // A branch whose ref is damaged names no commit to keep: -D drops it, and -d says how.
    if (!(e instanceof IntegrityError && e.details.ref === ref)) throw e;
    if (!opts.force) throw new IntegrityError(`${e.message}: trib branch -D ${name} deletes it`, e.details, { cause: e });
    await repo.refs.deleteAsStored(ref);
    return;
  }
  if (!v) throw new NotFoundError(`no branch named ${name}`);
  const commit = 'commit' in v.target ? v.target.commit : undefined;
  if (!opts.force && commit && !(head.commit && (await isAncestor(repo, commit, head.commit)))) {
    throw new FailedPreconditionError(`branch ${name} is not fully merged into HEAD: its commits would be lost to gc`, {
      branch: name,
      overridable: true,
    });
  }
  await repo.refs.delete(ref, v.version);
}

/** The tags with the commit each names and, for an annotated one, its tag object (read on the way to the commit). */
export async function listTags(repo: Repository): Promise<(RefListing & { readonly tag?: Tag })[]> {
  const out: (RefListing & { readonly tag?: Tag })[] = [];
  for (const r of await repo.refs.list(TAG_PREFIX)) {
    const target = await repo.refTarget(r.name);
    if (target) out.push({ name: r.name.slice(TAG_PREFIX.length), ...target });
  }
  return out;
}

/**
 * Creates a tag, once: an existing tag is never moved. With a message or annotations it is an annotated tag object
 * (tagger, time, message, annotations); otherwise a plain ref to the commit.
 */
export async function createTag(
  repo: Repository,
  name: string,
  target = 'HEAD',
  opts: { message?: string; annotations?: Annotations; now?: Date } = {},
): Promise<CommitId> {
  const ref = tagRef(name);
  validateNewRefName(name, 'tag name');
  await refuseSharedName(repo, branchRef(name), `cannot create tag ${name}: branch ${name} exists`);
  const commit = await repo.resolve(target);
  let pointTo = commit;
  if (opts.message !== undefined || (opts.annotations && Object.keys(opts.annotations).length)) {
    pointTo = await repo.objects.put(
      encodeTag({ object: commit, name, tagger: defaultAuthor(), time: (opts.now ?? new Date()).toISOString(), message: opts.message ?? '', annotations: opts.annotations ?? {} }),
    );
    await repo.objects.flush();
  }
  try {
    await repo.refs.create(ref, { commit: pointTo });
  } catch (e) {
    if (e instanceof ConflictError) throw new InvalidArgumentError(e.message);
    throw e;
  }
  return commit;
}

/**
 * A branch and a tag of one name would make that name mean one of them silently (a tag pinning a training set,
 * hidden by a branch made later, or the reverse), so a new one may not take the other's name. git allows it and
 * warns that the name is ambiguous.
 */
async function refuseSharedName(repo: Repository, other: RefName, message: string): Promise<void> {
  if (await repo.refs.read(other)) throw new InvalidArgumentError(`${message}; a name may be one or the other`);
}

export async function deleteTag(repo: Repository, name: string): Promise<void> {
  const ref = tagRef(name);
  const v = await repo.refs.read(ref);
  if (!v) throw new NotFoundError(`no tag named ${name}`);
  await repo.refs.delete(ref, v.version);
}
