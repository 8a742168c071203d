import {
  Commit,
  CommitId,
  ConflictError,
  editPath,
  EMPTY_TREE_ID,
  encodeCommit,
  InvalidArgumentError,
  lookupPath,
  mergeTrees,
  NotFoundError,
  quotePath,
  sameEntry,
  RefName,
  TREE_PAGE_HEADER,
  TreeEntry,
  TreeId,
  treeSize,
  validateEntryName,
} from '@tributary/core';
import { branchRef, crashPoint, defaultAuthor, isAncestor, Repository, vanishedError } from '@tributary/repository';
import { HUB_LAYOUT, HUB_REGION, HUB_SEQ, HUB_SOURCE, HUB_TOPIC, HUB_VIEW, HubMergeIndex, LastMerge, topicTree } from './merge-index';
import {
  byTopic,
  fileRef,
  fitTakenRecordFiles,
  keepOtherTopicsPaths,
  OtherTopicsAt,
  recordInserter,
  SharedRecordLayout,
  sharedRecordRemovals,
  TopicVersion,
} from './shared-layout';

/**
 * graft: a region's tree lands under `regions/<region>/`, replacing what was there, so the hub's tree does not
 * depend on the order regions arrive in. shared: regions merge into the same paths, appended records unioned in
 * topic-then-sequence order (see TopicBlocks), so the hub's tree does not depend on it either.
 */
export type HubLayout = 'graft' | 'shared';

export interface RegionalCommit {
  readonly commit: CommitId;
  readonly region: string;
  readonly topic: string;
  readonly seq: number;
}

export interface RegionalMergeOptions {
  readonly layout: HubLayout;
  /** The branch merged into (default `main`). */
  readonly branch?: string;
  readonly author?: string;
  /** Clock override, for reproducible tests. */
  readonly now?: Date;
  /** Receives one readable line per conflict. */
  readonly log?: (line: string) => void;
}

export interface RegionalMergeOutcome {
  readonly kind: 'merged' | 'duplicate' | 'conflict';
  /** merged: the new merge commit; duplicate: the merge that already holds it (when known). */
  readonly commit?: CommitId;
  /** conflict: the branch holding the regional commit, `conflicts/<region>/<seq>`. */
  readonly conflictBranch?: string;
  /** conflict: the conflicted paths. */
  readonly conflicts?: string[];
  /** merged (shared): the topic's version main holds, when paths were held back (see HUB_VIEW). */
  readonly view?: TreeId;
}

const CAS_ATTEMPTS = 8;
const indexes = new WeakMap<Repository, HubMergeIndex>();
const layouts = new WeakMap<Repository, SharedRecordLayout>();

/** A call waiting for its turn. */
interface Waiting {
  readonly regional: RegionalCommit;
  readonly opts: RegionalMergeOptions;
  resolve(o: RegionalMergeOutcome): void;
  reject(e: unknown): void;
}
/** Per hub Repository object: calls not started yet, and whether a drain is running. */
const waiting = new WeakMap<Repository, Waiting[]>();
const draining = new WeakSet<Repository>();

/**
 * Merges one regional commit, whose objects are already in the hub's store, into the hub's `main` as a two-parent
 * merge commit (parents: main, the regional commit) annotated `trib.region`, `trib.topic`, `trib.seq` and
 * `trib.source` (the regional commit). No working copy: trees are edited in the object store.
 *
 * - graft: main's tree with `regions/<region>` set to the regional commit's tree (a few objects, whatever the size).
 * - shared: a three-way merge of trees from base = the topic's version last merged into main (found from main's
 *   merge annotations, see HubMergeIndex: the regional tree, or its view when paths were held back), ours = main,
 *   theirs = the regional commit. A `.csv` / `.jsonl` file is
 *   laid out as the header, then one block per topic in topic order, each block the topic's last-merged version
 *   without the header (TopicBlocks): records the topic only appended go at the end of its block
 *   (insertRegionalRecords, placed from the other topics' last-merged versions, SharedRecordLayout), and a file
 *   the tree merge takes whole is fitted to the layout (fitTakenRecordFiles). So, given the same set of merged
 *   entries, main's tree is the same whatever order topics arrived in. Other two-sided changes are conflicts.
 * - Idempotent: a commit main already merged (same topic and an equal or lower seq on the same chain, or otherwise
 *   already an ancestor of main) returns `duplicate` and changes nothing; a commit already parked on its conflict
 *   branch returns `conflict` again and changes nothing, even once later commits of the topic merged.
 * - Conflict: the regional commit is kept on branch `conflicts/<region>/<seq>`, `log` gets a readable line, main is
 *   unchanged; the caller still acknowledges it. shared: the topic's later commits are merged from there on, their
 *   conflicting paths the region has not changed since held back as main has them (see sharedMerge), so a conflict
 *   holds back only what conflicts, and a later change to such a path is merged, or parked, anew.
 * - Durable before it returns: the merge commit and its objects (the regional commit's too, which a subscriber may
 *   leave pending for this flush) are flushed, then main moves by compare-and-swap; a conflict branch likewise
 *   (retried from the new main if another writer moved it). Calls on one Repository object run one at a time, in
 *   call order; calls that queued up meanwhile (other topics' entries) are merged together: one merge commit each,
 *   one after the other on main as if merged singly, made durable by one flush and one move of main.
 *
 * Throws InvalidArgumentError for a bad region or seq, NotFoundError when the regional commit's objects are missing.
 */
export function mergeRegionalCommit(hub: Repository, regional: RegionalCommit, opts: RegionalMergeOptions): Promise<RegionalMergeOutcome> {
  validateEntryName(regional.region);
  if (!Number.isSafeInteger(regional.seq) || regional.seq < 1) throw new InvalidArgumentError(`bad sequence number ${regional.seq}`);
  return new Promise<RegionalMergeOutcome>((resolve, reject) => {
    let queue = waiting.get(hub);
    if (!queue) waiting.set(hub, (queue = []));
    queue.push({ regional, opts, resolve, reject });
    if (!draining.has(hub)) void drain(hub);
  });
}

/** Merges what is waiting, a group at a time, until nothing is. Never rejects: outcomes go to each call. */
async function drain(hub: Repository): Promise<void> {
  draining.add(hub);
  try {
    for (;;) {
      const queue = waiting.get(hub) ?? [];
      if (queue.length === 0) return;
      // Calls merging into the same branch with the same layout go together.
      const first = queue[0].opts;
      let n = 1;
      while (n < queue.length && queue[n].opts.branch === first.branch && queue[n].opts.layout === first.layout) n++;
      const group = queue.splice(0, n);
      try {
        const outcomes = await mergeGroup(hub, group);
        group.forEach((w, i) => w.resolve(outcomes[i]));
      } catch (e) {
        if (group.length === 1) group[0].reject(e);
        // One entry's failure (its objects missing, say) is its own: merge the others one by one.
        else for (const w of group) await mergeGroup(hub, [w]).then((o) => w.resolve(o[0]), w.reject);
      }
    }
  } finally {
    draining.delete(hub);
  }
}

/**
 * The merge index the merges into `hub` keep (one per Repository object): what a caller reading main's merges (the
 * hub's start-up recall) should ask, so main's history is walked once for both, and once for all topics.
 */
export function mergeIndexOf(hub: Repository): HubMergeIndex {
  let index = indexes.get(hub);
  if (!index) indexes.set(hub, (index = new HubMergeIndex()));
  return index;
}

async function mergeGroup(hub: Repository, group: readonly Waiting[]): Promise<RegionalMergeOutcome[]> {
  let index = mergeIndexOf(hub);
  const opts = group[0].opts;
  const mainRef = branchRef(opts.branch ?? 'main');
  for (let attempt = 1; ; attempt++) {
    try {
      return await attemptGroup(hub, index, mainRef, group);
    } catch (e) {
      // The index may have followed merges that never reached main: it starts over (lazily) from main.
      if (group.length > 1) indexes.set(hub, (index = new HubMergeIndex()));
      if (!(e instanceof ConflictError || e instanceof NotFoundError) || attempt >= CAS_ATTEMPTS) throw e;
      // Another process on the same store may have moved main to a commit in a pack this one has not loaded yet.
      if (e instanceof NotFoundError) await hub.objects.reload();
    }
  }
}

/** Merges the group onto main one after the other, then makes them durable and moves main once. */
async function attemptGroup(hub: Repository, index: HubMergeIndex, mainRef: RefName, group: readonly Waiting[]): Promise<RegionalMergeOutcome[]> {
  // A branch is never symbolic. Stale only if another writer moved main: the swap below then fails, and the retry
  // (mergeGroup) reads it afresh.
  const read = await hub.refs.readForSwap(mainRef);
  let main = read && 'commit' in read.target ? { commit: read.target.commit, version: read.version } : undefined;
  if (!main) main = await startMain(hub, index, mainRef, group[0].opts);
  let tip = main.commit;
  const outcomes: RegionalMergeOutcome[] = [];
  const watch = hub.objects.watchReuse();
  try {
    for (const { regional, opts } of group) {
      const r = await mergeOnto(hub, index, tip, regional, opts);
      if (r.kind === 'merged') {
        index.record(tip, r.commit!, regional.topic, regional.seq, regional.commit, r.view);
        tip = r.commit!;
      }
      outcomes.push(r);
    }
    if (tip !== main.commit) {
      await flushChecked(hub);
      crashPoint('hub.before-main');
      await hub.refs.update(mainRef, main.version, { commit: tip });
    }
  } finally {
    hub.objects.stopWatchingReuse(watch);
  }
  return outcomes;
}

/**
 * Flushes, then checks that nothing the merge or the entries' transfers referred to instead of storing it, nor
 * what they stored, was deleted meanwhile by a gc in another working copy of the store (old, and unreachable
 * until a ref names it): ObjectDatabase.checkReused, over the running watches (this merge's and the
 * subscriptions'). If something was, no ref may name it: the entry fails, is not acknowledged, and comes again,
 * fetching what is gone (`has` no longer counts it).
 */
async function flushChecked(hub: Repository): Promise<void> {
  await hub.objects.flush();
  const gone = await hub.objects.checkReused();
  if (gone.length > 0) throw vanishedError(gone, 'a merge relied on', 'the entry comes again');
}

/**
 * The outcome of merging `regional` onto `mainCommit`: a merge commit written (durable at the next flush; main is
 * not moved here), a duplicate, or a parked conflict.
 */
async function mergeOnto(
  hub: Repository,
  index: HubMergeIndex,
  mainCommit: CommitId,
  regional: RegionalCommit,
  opts: RegionalMergeOptions,
): Promise<RegionalMergeOutcome> {
  const last = await index.lastMerge(hub, mainCommit, regional.topic);
  const parked = async () => {
    const branch = await parkedConflict(hub, regional);
    return branch && { kind: 'conflict' as const, conflictBranch: branch, conflicts: [] };
  };
  if (await alreadyMerged(hub, mainCommit, last, regional)) {
    // A parked commit is on the chain of the topic's later merges (it held back what conflicts): still a conflict.
    if (last?.source !== regional.commit) {
      const conflict = await parked();
      if (conflict) return conflict;
    }
    return { kind: 'duplicate', commit: last?.source === regional.commit ? last.merge : undefined };
  }
  const conflict = await parked();
  if (conflict) return conflict;

  const mainTree = (await hub.readCommit(mainCommit)).tree;
  const theirs: Commit = await hub.readCommit(regional.commit);
  let tree: TreeId;
  let view: TreeId | undefined;
  if (opts.layout === 'graft') {
    tree = await graftRegion(hub, mainTree, regional.region, theirs.tree);
  } else {
    const shared = await sharedMerge(hub, index, mainCommit, mainTree, last, regional, theirs.tree);
    if ('conflicts' in shared) return park(hub, regional, shared.conflicts, opts);
    tree = shared.tree;
    view = shared.view;
  }

  const commit = (await hub.objects.put(
    encodeCommit({
      tree,
      parents: [mainCommit, regional.commit],
      author: opts.author?.trim() || defaultAuthor(),
      time: (opts.now ?? new Date()).toISOString(),
      message: `Merge ${regional.topic} seq ${regional.seq} (${regional.region})`,
      annotations: {
        [HUB_REGION]: regional.region,
        [HUB_TOPIC]: regional.topic,
        [HUB_SEQ]: String(regional.seq),
        [HUB_SOURCE]: regional.commit,
        [HUB_LAYOUT]: opts.layout,
        ...(view ? { [HUB_VIEW]: view } : {}),
      },
    }),
  )) as CommitId;
  return view ? { kind: 'merged', commit, view } : { kind: 'merged', commit };
}

/**
 * shared: main's tree with the topic's change from the version main holds of it (its last merge's view) to the
 * regional tree, or the conflicts that park it. A conflicting path the region has not changed since its last commit
 * the hub dealt with (merged or parked: see lastDealtWith) is held back, not a conflict: it stays as the topic's
 * last-merged version has it, so a commit parked on a conflict holds back only what conflicts, and the region's
 * later commits still bring their own changes. Main then holds a view of the regional tree, with those paths as
 * before, and the merge records it (HUB_VIEW). A held path the region changes again is merged (or conflicts) anew.
 */
async function sharedMerge(
  hub: Repository,
  index: HubMergeIndex,
  mainCommit: CommitId,
  mainTree: TreeId,
  last: LastMerge | undefined,
  regional: RegionalCommit,
  regionalTree: TreeId,
): Promise<{ tree: TreeId; view: TreeId | undefined } | { conflicts: string[] }> {
  const db = hub.objects;
  const base = last && (await topicTree(hub, last));
  let layout = layouts.get(hub);
  if (!layout) layouts.set(hub, (layout = new SharedRecordLayout(db, hub)));
  let merges: ReadonlyMap<string, LastMerge> | undefined;
  const allMerges = async () => (merges ??= await index.allMerges(hub, mainCommit));
  const insert = recordInserter(db, db, async (path) => layout.blocksAround(await allMerges(), regional.topic, path));
  const othersHold = async (path: string) => layout.othersHold(await allMerges(), regional.topic, path);
  const othersAt = otherTopicsAt(hub, allMerges, regional.topic);
  let dealt: Promise<TreeId | undefined> | undefined;
  let theirs = regionalTree;
  for (;;) {
    const conflicts = await sharedMergeAttempt(db, { base, ours: mainTree, theirs }, insert, othersHold, othersAt, regional.topic);
    if (!Array.isArray(conflicts)) return { tree: conflicts.tree, view: theirs === regionalTree ? undefined : theirs };
    // Conflicts on paths the region left as its last dealt-with commit had them are held back; any other parks it.
    const dealtTree = await (dealt ??= lastDealtWith(hub, last, regional).then((c) => (c ? hub.treeOf(c) : base)));
    const held: string[] = [];
    const other: string[] = [];
    for (const c of conflicts) {
      const unchanged = sameEntry(await lookupPath(db, regionalTree, c.path), dealtTree && (await lookupPath(db, dealtTree, c.path)));
      const heldAlready = sameEntry(await lookupPath(db, theirs, c.path), base && (await lookupPath(db, base, c.path)));
      if (unchanged && !heldAlready) held.push(c.path);
      else other.push(conflictWords(c));
    }
    if (other.length > 0 || held.length === 0) return { conflicts: other.length > 0 ? other : conflicts.map(conflictWords) };
    for (const path of held) {
      const before = base && (await lookupPath(db, base, path));
      theirs = (await editPath(db, db, theirs, path, before)).id;
    }
  }
}

/** A conflict: the path and its kind (`add/add`, `modify/modify`, `unclosed quote`, ...). */
interface SharedConflict {
  readonly path: string;
  readonly kind: string;
}

/** One three-way merge of the shared layout: the merged tree, or the conflicts. */
async function sharedMergeAttempt(
  db: Repository['objects'],
  trees: { base: TreeId | undefined; ours: TreeId; theirs: TreeId },
  insert: ReturnType<typeof recordInserter>,
  othersHold: (path: string) => Promise<boolean>,
  othersAt: OtherTopicsAt,
  topic: string,
): Promise<{ tree: TreeId } | SharedConflict[]> {
  const { base, ours, theirs } = trees;
  const inserted = new Set<string>();
  const removals = await sharedRecordRemovals(db, db, { base, ours, theirs });
  const merged = await mergeTrees(db, db, base, ours, removals.theirs, {
    mergeFile: async (path, b, o, t) => {
      if (o.kind !== 'file' || t.kind !== 'file' || (b && b.kind !== 'file')) return undefined;
      inserted.add(path);
      const file = await insert(path, b && fileRef(b), fileRef(o), fileRef(t));
      return file && { ...o, id: file.id, chunked: file.chunked, size: file.size };
    },
  });
  if (!merged.tree) return merged.conflicts.map((c) => ({ path: c.path, kind: c.kind }));
  const fitted = await fitTakenRecordFiles(db, db, { base, ours, theirs, merged: merged.tree.id }, inserted, insert, othersHold);
  if (fitted.conflicts.length > 0) return fitted.conflicts.map(splitConflict);
  const kept = await keepOtherTopicsPaths(db, db, { base, ours, theirs, merged: fitted.tree }, othersAt, topic, removals.removed);
  if (kept.conflicts.length > 0) return kept.conflicts.map(splitConflict);
  return { tree: kept.tree };
}

/** `path (kind)`, as fitTakenRecordFiles and keepOtherTopicsPaths report a conflict, split. */
function splitConflict(line: string): SharedConflict {
  const at = line.lastIndexOf(' (');
  return at < 0 || !line.endsWith(')') ? { path: line, kind: 'conflict' } : { path: line.slice(0, at), kind: line.slice(at + 2, -1) };
}

/**
 * The topic's newest commit the hub dealt with before `regional`: a commit after the last merged one that was
 * parked on its conflict branch (found walking back from the regional commit's parent, the topic log being a
 * first-parent chain: normally no step at all, as the next seq follows the last merged one), else the last merged
 * one. Read from the conflict branches, so it holds across restarts.
 */
async function lastDealtWith(hub: Repository, last: LastMerge | undefined, regional: RegionalCommit): Promise<CommitId | undefined> {
  let id = (await hub.readCommit(regional.commit)).parents[0];
  for (let seq = regional.seq - 1; id && seq > (last?.seq ?? 0) && id !== last?.source; seq--) {
    if (await parkedConflict(hub, { ...regional, commit: id, seq })) return id;
    id = (await hub.readCommit(id)).parents[0];
  }
  return last?.source;
}

/** What the other topics' last-merged versions hold at a path, in topic order; their trees are read once, when asked. */
function otherTopicsAt(hub: Repository, merges: () => Promise<ReadonlyMap<string, LastMerge>>, topic: string): OtherTopicsAt {
  let trees: Promise<{ topic: string; tree: TreeId }[]> | undefined;
  const load = async () => {
    const others = [...(await merges())].filter(([t]) => t !== topic).map(([t, last]) => ({ topic: t, last })).sort(byTopic);
    return Promise.all(others.map(async (o) => ({ topic: o.topic, tree: await topicTree(hub, o.last) })));
  };
  return async (path) => {
    const out: TopicVersion[] = [];
    for (const { topic: other, tree } of await (trees ??= load())) {
      const entry = await lookupPath(hub.objects, tree, path);
      if (entry) out.push({ topic: other, entry });
    }
    return out;
  };
}

/**
 * The layout the newest merge on `branch` (default main) was made with, as its annotation says, looking back along
 * the first-parent chain past commits made by hand (an operator's fix on main says no layout, and must not hide the
 * merges' one); undefined when no commit says one (no merge yet, or only merges made before merges said so). Reads
 * the commits since the newest merge that says one: normally just the head.
 */
export async function layoutOfBranch(hub: Repository, branch = 'main'): Promise<HubLayout | undefined> {
  for (let id = (await hub.refs.resolve(branchRef(branch))).commit; id !== undefined; ) {
    const c = await hub.readCommit(id);
    const layout = c.annotations[HUB_LAYOUT];
    if (layout === 'graft' || layout === 'shared') return layout;
    id = c.parents[0];
  }
  return undefined;
}

/** graft: main's tree with `regions/<region>` replaced by the regional tree (removed when that tree is empty). */
export async function graftRegion(hub: Repository, mainTree: TreeId, region: string, regionalTree: TreeId): Promise<TreeId> {
  const db = hub.objects;
  const entry: Omit<TreeEntry, 'name'> | undefined =
    regionalTree === EMPTY_TREE_ID
      ? undefined
      : { kind: 'dir', executable: false, chunked: false, id: regionalTree, size: await treeSize(db, regionalTree) };
  return (await editPath(db, db, mainTree, `regions/${region}`, entry)).id;
}

/** An unborn main gets an empty root commit, so every merge can have main as its first parent. */
async function startMain(
  hub: Repository,
  index: HubMergeIndex,
  mainRef: RefName,
  opts: RegionalMergeOptions,
): Promise<{ commit: CommitId; version: string }> {
  const tree = await hub.objects.put(Buffer.from(TREE_PAGE_HEADER, 'latin1'));
  const commit = await hub.writeCommit({
    tree,
    parents: [],
    author: opts.author?.trim() || defaultAuthor(),
    time: (opts.now ?? new Date()).toISOString(),
    message: 'Start of the hub dataset',
    annotations: {},
  });
  const version = await hub.refs.update(mainRef, undefined, { commit });
  index.recordPlain(undefined, commit);
  return { commit, version };
}

/**
 * Whether main already holds the regional commit. The answer comes from the topic's last merge: the same commit, or
 * a lower seq found on its first-parent chain (the topic log is fast-forward only, so seq s of a topic is
 * last - s steps back from the last entry merged). Anything else at or below the last seq falls back to an ancestry
 * walk; a topic never merged by the hub holds nothing (a conflict branch merged by hand is not looked for).
 */
async function alreadyMerged(hub: Repository, main: CommitId, last: LastMerge | undefined, regional: RegionalCommit): Promise<boolean> {
  if (!last) return false;
  if (last.source === regional.commit) return true;
  if (regional.seq > last.seq) return false;
  let id: CommitId | undefined = last.source;
  for (let steps = last.seq - regional.seq; steps > 0 && id; steps--) id = (await hub.readCommit(id)).parents[0];
  if (id === regional.commit) return true;
  return isAncestor(hub, regional.commit, main);
}

/** Where a region's parked commits are kept: `conflicts/<region>/<seq>`, or `<seq>-<commit12>` when that is taken. */
export function conflictBranchPrefix(region: string): string {
  return `conflicts/${region}/`;
}

/** The seq a conflict branch's name says (either form, see conflictBranchPrefix); undefined for any other name. */
export function conflictSeqOf(branch: string): number | undefined {
  const m = /\/([1-9]\d*)(?:-[0-9a-f]{12})?$/.exec(branch);
  return m ? Number(m[1]) : undefined;
}

function conflictBranchName(regional: RegionalCommit): string {
  return `${conflictBranchPrefix(regional.region)}${regional.seq}`;
}

/** A conflict as the log line and the ack's note name it: the path C-quoted as in every message (one line), its kind. */
function conflictWords(c: { path: string; kind: string }): string {
  return `${quotePath(c.path)} (${c.kind})`;
}

/**
 * The conflict branch already holding this regional commit, if it was parked before. `park` takes the second name
 * only when the first holds another commit, so an absent first name (the usual case) settles it in one read.
 */
async function parkedConflict(hub: Repository, regional: RegionalCommit): Promise<string | undefined> {
  const name = conflictBranchName(regional);
  for (const candidate of [name, `${name}-${regional.commit.slice(0, 12)}`]) {
    const v = await hub.refs.read(branchRef(candidate));
    if (!v) return undefined;
    if ('commit' in v.target && v.target.commit === regional.commit) return candidate;
  }
  return undefined;
}

async function park(hub: Repository, regional: RegionalCommit, conflicts: string[], opts: RegionalMergeOptions): Promise<RegionalMergeOutcome> {
  // The regional commit may have just arrived (a subscriber that leaves flushing to the merge): durable first.
  await flushChecked(hub);
  let name = conflictBranchName(regional);
  try {
    await hub.refs.create(branchRef(name), { commit: regional.commit });
  } catch (e) {
    if (!(e instanceof ConflictError)) throw e;
    // The name holds another commit (a topic recreated from scratch, say): keep both.
    name = `${name}-${regional.commit.slice(0, 12)}`;
    await hub.refs.create(branchRef(name), { commit: regional.commit }).catch((err) => {
      if (!(err instanceof ConflictError)) throw err;
    });
  }
  opts.log?.(
    `conflict ${regional.topic} seq ${regional.seq}: ${regional.commit.slice(0, 12)} kept on branch ${name}; main unchanged; ` +
      `conflicting paths: ${conflicts.join(', ') || '(none reported)'}`,
  );
  return { kind: 'conflict', conflictBranch: name, conflicts };
}
