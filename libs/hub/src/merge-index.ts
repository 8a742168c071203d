import { CommitId, TreeId, VIEW_TREE_ANNOTATION } from '@tributary/core';
import { CommitReader } from '@tributary/repository';

/** Annotations of a hub merge commit. */
export const HUB_REGION = 'trib.region';
export const HUB_TOPIC = 'trib.topic';
export const HUB_SEQ = 'trib.seq';
export const HUB_SOURCE = 'trib.source';
/** The layout (graft or shared) the merge was made with: a hub refuses to go on with the other one. */
export const HUB_LAYOUT = 'trib.layout';
/**
 * The tree of the topic's version main holds, when it is not the regional commit's tree: paths of it held back
 * (kept as the topic's previous version had them) because they conflict and the region has not changed them since
 * its commit parked on a conflict branch. Absent on most merges.
 */
export const HUB_VIEW = VIEW_TREE_ANNOTATION;

/** The newest merge of one topic on main: the regional commit merged, its sequence number and the merge commit. */
export interface LastMerge {
  readonly seq: number;
  readonly source: CommitId;
  readonly merge: CommitId;
  /** The tree of the topic's version main holds, when not the source's (HUB_VIEW). */
  readonly view?: TreeId;
}

/** The tree of the topic's version main holds: its view when the merge held paths back, else the source's tree. */
export async function topicTree(repo: CommitReader, last: LastMerge): Promise<TreeId> {
  return last.view ?? (await repo.readCommit(last.source)).tree;
}

/**
 * For each topic, the newest merge of it on main's first-parent history, read from the merge commits' annotations
 * (`trib.topic`, `trib.seq`, `trib.source`). The history is the truth and this is a cache of it, checked against
 * main's head on every lookup:
 * - commits added to main since the last lookup are read (normally none: the caller records its own merges);
 * - older history is scanned lazily, only until the topic asked for is found, and never twice;
 * - if main moved to a commit whose first-parent chain does not reach the head seen before, it starts over.
 */
export class HubMergeIndex {
  private head: CommitId | undefined;
  private started = false;
  private readonly latest = new Map<string, LastMerge>();
  /** The next commit to scan on the way back into history; undefined once the root has been scanned. */
  private scanFrom: CommitId | undefined;

  async lastMerge(repo: CommitReader, mainHead: CommitId | undefined, topic: string): Promise<LastMerge | undefined> {
    await this.catchUp(repo, mainHead);
    while (!this.latest.has(topic) && this.scanFrom !== undefined) {
      const id = this.scanFrom;
      const c = await repo.readCommit(id);
      const m = mergeOf(id, c.annotations);
      if (m && !this.latest.has(m.topic)) this.latest.set(m.topic, m.last);
      this.scanFrom = c.parents[0];
    }
    return this.latest.get(topic);
  }

  /**
   * The newest merge of every topic merged on main, by topic. Scans all of main's first-parent history the first
   * time (what a lookup of a topic never merged costs anyway), then only what is new. A copy: later merges do not
   * change it.
   */
  async allMerges(repo: CommitReader, mainHead: CommitId | undefined): Promise<Map<string, LastMerge>> {
    await this.catchUp(repo, mainHead);
    while (this.scanFrom !== undefined) {
      const id = this.scanFrom;
      const c = await repo.readCommit(id);
      const m = mergeOf(id, c.annotations);
      if (m && !this.latest.has(m.topic)) this.latest.set(m.topic, m.last);
      this.scanFrom = c.parents[0];
    }
    return new Map(this.latest);
  }

  /** Notes a merge the caller just made on top of `parent` (the main head it read). */
  record(parent: CommitId | undefined, merge: CommitId, topic: string, seq: number, source: CommitId, view?: TreeId): void {
    if (!this.started || parent !== this.head) {
      this.started = false;
      return;
    }
    this.latest.set(topic, view ? { seq, source, merge, view } : { seq, source, merge });
    this.head = merge;
  }

  /** Notes a commit on main that merged nothing (the hub's initial commit). */
  recordPlain(parent: CommitId | undefined, commit: CommitId): void {
    if (this.started && parent === this.head) this.head = commit;
    else this.started = false;
  }

  private async catchUp(repo: CommitReader, mainHead: CommitId | undefined): Promise<void> {
    if (this.started && mainHead === this.head) return;
    if (this.started) {
      const newer: { topic: string; last: LastMerge }[] = [];
      let id = mainHead;
      while (id !== undefined && id !== this.head) {
        const c = await repo.readCommit(id);
        const m = mergeOf(id, c.annotations);
        if (m) newer.push(m);
        id = c.parents[0];
      }
      if (id === this.head) {
        for (let i = newer.length - 1; i >= 0; i--) this.latest.set(newer[i].topic, newer[i].last);
        this.head = mainHead;
        return;
      }
    }
    this.latest.clear();
    this.head = mainHead;
    this.scanFrom = mainHead;
    this.started = true;
  }
}

function mergeOf(id: CommitId, a: Readonly<Record<string, string>>): { topic: string; last: LastMerge } | undefined {
  const topic = a[HUB_TOPIC];
  const source = a[HUB_SOURCE];
  const seq = Number(a[HUB_SEQ]);
  if (!topic || !source || !Number.isSafeInteger(seq)) return undefined;
  const view = a[HUB_VIEW] as TreeId | undefined;
  return { topic, last: view ? { seq, source: source as CommitId, merge: id, view } : { seq, source: source as CommitId, merge: id } };
}
