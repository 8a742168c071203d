import { CommitId, describeError, sleep } from '@tributary/core';
import { conflictBranchPrefix, conflictSeqOf, HubLayout, mergeIndexOf, mergeRegionalCommit } from '@tributary/hub';
import { BRANCH_PREFIX, branchRef, crashPoint, PackMaintenance, Repository } from '@tributary/repository';
import { MAX_SETTLED } from '@tributary/sync';
import { regionOf } from './hub-config';

/** What the hub needs from a sync client (SyncClient from @tributary/sync fits). */
export interface TopicSubscriber {
  subscribe(
    repo: Repository,
    topic: string,
    subscriber: string,
    opts: {
      follow?: boolean;
      signal?: AbortSignal;
      entryMakesDurable?: boolean;
      /** A `{ conflict }` result travels with the ack, so `trib topics` shows it; `{ settled }` clears earlier ones. */
      onEntry?(e: { seq: number; commit: CommitId }): Promise<void | { conflict?: string; settled?: number[] }>;
      /** Called when the broker first answers, once when it stops answering (`down`: why), once when it is back. */
      onLinkChange?(change: { broker: string; down?: Error }): void;
    },
  ): Promise<unknown>;
  /** The broker's topics, with each subscriber's conflict notes. */
  listTopics(): Promise<readonly { topic: string; subscribers: readonly { name: string; conflicts: readonly { seq: number }[] }[] }[]>;
}

export interface HubDeps {
  readonly repo: Repository;
  readonly client: TopicSubscriber;
  readonly topics: readonly string[];
  readonly name: string;
  readonly layout: HubLayout;
  /** Author of the hub's merge commits (TRIB_AUTHOR); empty: `hub/<name>`. */
  readonly author?: string;
  readonly log: (line: string) => void;
  /** How often the conflict branches are listed again between entries; default CONFLICTS_REFRESH_MS. */
  readonly conflictsRefreshMs?: number;
}

interface TopicState {
  lastSeq: number;
  merged: number;
  duplicates: number;
  conflicts: string[];
  /** Milliseconds from the regional commit's time to its merge, for the most recent merges. */
  latenciesMs: number[];
  state: 'starting' | 'following' | 'retrying';
}

const MIN_BACKOFF_MS = 200;
const MAX_BACKOFF_MS = 10_000;
const KEEP_LATENCIES = 1000;
/** Conflicting paths named in the note sent with an ack; the hub's log line names them all. */
const NOTE_PATHS = 10;
/** How often the conflict branches are listed again between entries, for /health. */
export const CONFLICTS_REFRESH_MS = 30_000;

/**
 * Follows every topic as subscriber `name` and merges each regional commit into main inside the subscription's
 * onEntry, so the broker's cursor advances only after the merge is durable. A conflict is logged, parked on its
 * branch and acknowledged with a note (`<branch>: <paths>`), so it shows in `trib topics` and never blocks the
 * topic; once its branch is gone (deleted when settled), the topic's next ack clears the note, and /health, which
 * lists the branches again every CONFLICTS_REFRESH_MS and, while the topic has any, after each entry, no longer
 * shows it. A topic that does not exist yet is waited for (follow mode); a failing topic is retried with backoff and
 * never stops the others.
 */
export class HubService {
  private readonly abort = new AbortController();
  private readonly runs: Promise<void>[] = [];
  private readonly topics = new Map<string, TopicState>();
  /** Each merge leaves a small pack in the hub's store; this merges them in the background. */
  private readonly packs: PackMaintenance;
  /** Topics whose subscription cannot reach the broker: the log says so when the first goes, and when all are back. */
  private readonly unreachable = new Set<string>();
  /**
   * Per topic, the seqs the broker holds a conflict note of for this hub, as far as it knows: the notes it sent, and
   * those the broker listed at start. A note whose branch is gone is settled with the topic's next ack.
   */
  private readonly notes = new Map<string, Set<number>>();
  private notesLearned = false;
  /** Per topic, the conflict branch listings started: only the latest one started may set /health's list. */
  private readonly listings = new Map<string, number>();
  private refreshTimer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> = Promise.resolve();

  constructor(private readonly deps: HubDeps) {
    this.packs = new PackMaintenance(deps.repo.objects, deps.repo.store, { log: (_level, message) => deps.log(message) });
    for (const t of deps.topics) {
      this.topics.set(t, { lastSeq: 0, merged: 0, duplicates: 0, conflicts: [], latenciesMs: [], state: 'starting' });
      this.notes.set(t, new Set());
    }
  }

  start(): void {
    for (const t of this.deps.topics) this.runs.push(this.recall(t).then(() => this.follow(t)));
    // Not awaited by stop: a broker that does not answer would hold it up, and nothing waits for the notes.
    void this.learnNotes();
    this.scheduleRefresh();
  }

  /**
   * What main and the conflict branches hold of `topic` from before this process started, so /health tells the truth
   * after a restart: `lastSeq`, the newest seq merged or parked, and `conflicts`, the branches still parked. Reads
   * main's first-parent chain back to the topic's last merge, through the index the merges keep (so the next merge
   * does not walk it again), and lists the region's conflict branches. A store that does not answer leaves the state to fill in as entries come.
   */
  private async recall(topic: string): Promise<void> {
    const { repo } = this.deps;
    const state = this.topics.get(topic)!;
    try {
      const main = (await repo.refs.resolve(branchRef('main'))).commit;
      const last = await mergeIndexOf(repo).lastMerge(repo, main, topic);
      const parked = await this.parkedBranches(topic);
      state.lastSeq = Math.max(state.lastSeq, last?.seq ?? 0, ...parked.map((p) => p.seq));
      for (const { branch } of parked) if (!state.conflicts.includes(branch)) state.conflicts.push(branch);
    } catch (e) {
      this.deps.log(`could not read what main holds of ${topic} yet (${describeError(e)}); /health fills in as entries come`);
    }
  }

  /** The region's conflict branches with the seq each names, by seq: one ref listing. */
  private async parkedBranches(topic: string): Promise<{ branch: string; seq: number }[]> {
    const parked: { branch: string; seq: number }[] = [];
    for (const r of await this.deps.repo.refs.list(`${BRANCH_PREFIX}${conflictBranchPrefix(regionOf(topic))}`)) {
      const branch = r.name.slice(BRANCH_PREFIX.length);
      const seq = conflictSeqOf(branch);
      if (seq !== undefined) parked.push({ branch, seq });
    }
    return parked.sort((a, b) => a.seq - b.seq);
  }

  /**
   * Lists the topic's conflict branches again, so /health shows only those still there (one deleted once settled
   * goes); returns their seqs, or undefined when the store did not answer (the list is left as it was).
   */
  private async refreshConflicts(topic: string): Promise<Set<number> | undefined> {
    const listing = (this.listings.get(topic) ?? 0) + 1;
    this.listings.set(topic, listing);
    try {
      const parked = await this.parkedBranches(topic);
      // An older listing may have missed a branch parked since: it must not undo a newer one.
      if (this.listings.get(topic) === listing) this.topics.get(topic)!.conflicts = parked.map((p) => p.branch);
      return new Set(parked.map((p) => p.seq));
    } catch (e) {
      if (!this.abort.signal.aborted) this.deps.log(`could not list the conflict branches of ${topic} (${describeError(e)})`);
      return undefined;
    }
  }

  /**
   * The seqs of the topic's notes whose branches are gone (at most MAX_SETTLED), for the ack: forgotten here (and
   * noted again by `follow` if the subscription that sent them fails). A topic
   * with no note and no branch listed has nothing to settle, and costs no listing (on a cloud store, a request).
   */
  private async settledNotes(topic: string): Promise<number[]> {
    if (this.notes.get(topic)!.size === 0 && this.topics.get(topic)!.conflicts.length === 0) return [];
    const parked = await this.refreshConflicts(topic);
    if (!parked) return [];
    const notes = this.notes.get(topic)!;
    const settled = [...notes].filter((seq) => !parked.has(seq)).slice(0, MAX_SETTLED);
    for (const seq of settled) notes.delete(seq);
    return settled;
  }

  /** Adds the broker's conflict notes of this hub, from before it started (their branches may have gone meanwhile). */
  private async learnNotes(): Promise<void> {
    try {
      for (const t of await this.deps.client.listTopics()) {
        const mine = t.subscribers.find((s) => s.name === this.deps.name);
        for (const c of mine?.conflicts ?? []) this.notes.get(t.topic)?.add(c.seq);
      }
      this.notesLearned = true;
    } catch (e) {
      if (!this.abort.signal.aborted) this.deps.log(`could not read the broker's conflict notes yet (${describeError(e)}); trying again later`);
    }
  }

  private scheduleRefresh(): void {
    this.refreshTimer = setTimeout(() => {
      if (!this.notesLearned) void this.learnNotes();
      this.refreshing = Promise.all(this.deps.topics.map((t) => this.refreshConflicts(t))).then(() => {
        if (!this.abort.signal.aborted) this.scheduleRefresh();
      });
    }, this.deps.conflictsRefreshMs ?? CONFLICTS_REFRESH_MS);
  }

  async stop(): Promise<void> {
    this.abort.abort();
    clearTimeout(this.refreshTimer);
    await Promise.allSettled(this.runs);
    await this.refreshing;
    await this.packs.close();
  }

  status(): Record<string, unknown> {
    return { app: 'hub', name: this.deps.name, layout: this.deps.layout, topics: Object.fromEntries(this.topics) };
  }

  private async follow(topic: string): Promise<void> {
    const { repo, client, name, log } = this.deps;
    const state = this.topics.get(topic)!;
    const region = regionOf(topic);
    let backoff = MIN_BACKOFF_MS;
    // The highest seq merged or found merged in this run: only an entry past it is progress that ends the backoff.
    // An entry delivered again after a failed subscription (its ack failed, say) is not, or the hub would retry it
    // every MIN_BACKOFF_MS for good.
    let progress = 0;
    // Settled seqs sent with this subscription's acks: an ack that never reached Redis (the call failed) leaves its
    // notes there, so they are settled again with a later ack (clearing a note twice is harmless).
    const sentSettled = new Set<number>();
    while (!this.abort.signal.aborted) {
      try {
        state.state = this.unreachable.has(topic) ? 'retrying' : 'following';
        await client.subscribe(repo, topic, name, {
          follow: true,
          signal: this.abort.signal,
          // The merge flushes before main moves or a conflict branch is made: one flush per entry, not two.
          entryMakesDurable: true,
          onEntry: async (e) => {
            const conflict = await this.mergeEntry(topic, region, state, e);
            if (conflict !== undefined) this.notes.get(topic)!.add(e.seq);
            const settled = await this.settledNotes(topic);
            for (const seq of settled) sentSettled.add(seq);
            crashPoint('hub.before-ack');
            if (e.seq > progress) {
              progress = e.seq;
              backoff = MIN_BACKOFF_MS;
            }
            return { conflict, settled };
          },
          onLinkChange: (change) => this.linkChanged(topic, state, change),
        });
        sentSettled.clear();
        // A following subscription ends by itself only when the broker ended the call: start again, but not in a spin.
        await sleep(MIN_BACKOFF_MS, this.abort.signal);
      } catch (e) {
        if (this.abort.signal.aborted) {
          // Say so even when stopping: e.g. the broker did not confirm the last acks, so those entries come again.
          log(`subscription to ${topic} ended while stopping: ${describeError(e)}`);
          break;
        }
        for (const seq of sentSettled) this.notes.get(topic)!.add(seq);
        sentSettled.clear();
        state.state = 'retrying';
        log(`subscription to ${topic} failed: ${describeError(e)}; retrying in ${backoff} ms`);
        await sleep(backoff, this.abort.signal);
        backoff = Math.min(MAX_BACKOFF_MS, backoff * 2);
      }
    }
  }

  /** The subscription retries an unreachable broker by itself: this is how the log and the state learn of it. */
  private linkChanged(topic: string, state: TopicState, change: { broker: string; down?: Error }): void {
    const wasDown = this.unreachable.size > 0;
    state.state = change.down ? 'retrying' : 'following';
    if (change.down) this.unreachable.add(topic);
    else this.unreachable.delete(topic);
    if (change.down && !wasDown) this.deps.log(`warning: ${change.down.message} (retrying until it answers)`);
    if (!change.down && wasDown && this.unreachable.size === 0) this.deps.log(`broker ${change.broker} answers again`);
  }

  /** Merges one entry; returns the conflict note when it was parked instead. */
  private async mergeEntry(topic: string, region: string, state: TopicState, e: { seq: number; commit: CommitId }): Promise<string | undefined> {
    const { repo, layout, log } = this.deps;
    const r = await mergeRegionalCommit(repo, { commit: e.commit, region, topic, seq: e.seq }, { layout, log, author: this.deps.author || `hub/${this.deps.name}` });
    state.lastSeq = Math.max(state.lastSeq, e.seq);
    if (r.kind === 'merged') {
      state.merged++;
      const made = Date.parse((await repo.readCommit(e.commit)).time);
      const latency = Date.now() - made;
      state.latenciesMs.push(latency);
      if (state.latenciesMs.length > KEEP_LATENCIES) state.latenciesMs.shift();
      log(`merged ${topic} seq ${e.seq} -> ${r.commit} (${latency} ms after the regional commit)`);
      this.packs.afterWrite();
    } else if (r.kind === 'duplicate') {
      state.duplicates++;
      log(`${topic} seq ${e.seq} (${e.commit}) is already in main; nothing to do`);
    } else {
      if (!state.conflicts.includes(r.conflictBranch!)) state.conflicts.push(r.conflictBranch!);
      return conflictNote(r.conflictBranch!, r.conflicts ?? []);
    }
    return undefined;
  }
}

/**
 * `<branch>: <paths>`, at most NOTE_PATHS of them; just `<branch>` when the merge reported none (an entry delivered
 * again after it was parked: the paths are in the log line of the first time).
 */
export function conflictNote(branch: string, paths: readonly string[]): string {
  if (paths.length === 0) return branch;
  const more = paths.length > NOTE_PATHS ? ` and ${paths.length - NOTE_PATHS} more` : '';
  return `${branch}: ${paths.slice(0, NOTE_PATHS).join(', ')}${more}`;
}

