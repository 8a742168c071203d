import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { CommitId, NotFoundError, TribError, UnavailableError, writeTreeFromPaths, writeFileContent } from '@tributary/core';
import { branchRef, Repository } from '@tributary/repository';
import { conflictNote, HubService, TopicSubscriber } from './hub.service';

/** Delivers a topic's entries in order from a cursor, like the broker; acks advance the cursor and keep its notes. */
class FakeFeeds implements TopicSubscriber {
  readonly entries = new Map<string, { seq: number; commit: CommitId }[]>();
  readonly cursors = new Map<string, number>();
  /** Per topic, the hub's conflict notes by seq, as the broker keeps them. */
  readonly notes = new Map<string, Map<number, string>>();
  /** Every ack's settled seqs, per topic and acked seq. */
  readonly settled = new Map<string, Map<number, number[]>>();
  failuresLeft = new Map<string, number>();
  /** Per topic, a seq whose ack is lost once: the subscription then fails, as when the broker went before Redis heard it. */
  readonly loseAckOf = new Map<string, number>();
  /** Calls to listTopics. */
  listed = 0;
  /** Calls to subscribe, failed ones included. */
  subscribed = 0;
  private readonly waiting = new Set<() => void>();

  async subscribe(
    _repo: Repository,
    topic: string,
    _name: string,
    opts: { signal?: AbortSignal; onEntry?(e: { seq: number; commit: CommitId }): Promise<void | { conflict?: string; settled?: number[] }> },
  ) {
    this.subscribed++;
    const left = this.failuresLeft.get(topic) ?? 0;
    if (left !== 0) {
      this.failuresLeft.set(topic, left - 1);
      throw left < 0 ? new NotFoundError(`topic ${topic} does not exist`) : new UnavailableError('broker unreachable');
    }
    while (!opts.signal?.aborted) {
      for (const e of this.entries.get(topic) ?? []) {
        if (e.seq <= (this.cursors.get(topic) ?? 0)) continue;
        const outcome = (await opts.onEntry?.(e)) ?? {};
        if (this.loseAckOf.get(topic) === e.seq) {
          this.loseAckOf.delete(topic);
          throw new UnavailableError('broker unreachable before the ack reached Redis');
        }
        this.ack(topic, e.seq, outcome);
      }
      await new Promise<void>((r) => {
        this.waiting.add(r);
        opts.signal?.addEventListener('abort', () => r(), { once: true });
      });
    }
  }

  async listTopics() {
    this.listed++;
    return [...this.notes].map(([topic, notes]) => ({ topic, subscribers: [{ name: 'hub', conflicts: [...notes.keys()].map((seq) => ({ seq })) }] }));
  }

  /** Appends an entry to a topic, delivered to a subscription that follows it. */
  append(topic: string, entry: { seq: number; commit: CommitId }): void {
    this.entries.get(topic)!.push(entry);
    for (const r of this.waiting) r();
    this.waiting.clear();
  }

  private ack(topic: string, seq: number, outcome: { conflict?: string; settled?: number[] }): void {
    const notes = this.notes.get(topic) ?? new Map<number, string>();
    this.notes.set(topic, notes);
    for (const s of outcome.settled ?? []) notes.delete(s);
    if (outcome.conflict) notes.set(seq, outcome.conflict);
    else notes.delete(seq);
    if (!this.settled.has(topic)) this.settled.set(topic, new Map());
    this.settled.get(topic)!.set(seq, outcome.settled ?? []);
    this.cursors.set(topic, Math.max(this.cursors.get(topic) ?? 0, seq));
  }
}

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 10));
}

describe('HubService', () => {
  let root: string;
  let repo: Repository;
  beforeEach(async () => {
    root = await fs.mkdtemp(path.join(tmpdir(), 'trib-hubsvc-'));
    repo = await Repository.init(path.join(root, 'hub'));
  });
  afterEach(async () => {
    await repo.close();
    await fs.rm(root, { recursive: true, force: true });
  });

  async function regional(parent: CommitId | undefined, content: string | Record<string, string>): Promise<CommitId> {
    const paths = [];
    for (const [p, c] of Object.entries(typeof content === 'string' ? { 'hr.csv': content } : content)) {
      paths.push({ path: p, entry: { kind: 'file' as const, executable: false, ...(await writeFileContent(repo.objects, [Buffer.from(c)])) } });
    }
    const tree = await writeTreeFromPaths(repo.objects, paths);
    return repo.writeCommit({ tree: tree.id, parents: parent ? [parent] : [], author: 'a', time: new Date().toISOString(), message: 'b', annotations: {} });
  }

  /** The seq of the topic's newest merge on main. */
  async function merged(topic: string): Promise<number | undefined> {
    for (let id = (await repo.refs.resolve(branchRef('main'))).commit; id; id = (await repo.readCommit(id)).parents[0]) {
      const a = (await repo.readCommit(id)).annotations;
      if (a['trib.topic'] === topic) return Number(a['trib.seq']);
    }
    return undefined;
  }

  const conflictsOf = (hub: HubService, topic: string) => (hub.status().topics as Record<string, { conflicts: string[] }>)[topic].conflicts;
  const deleteBranch = async (name: string) => repo.refs.delete(branchRef(name), (await repo.refs.resolve(branchRef(name))).version!);

  /** Two topics' feeds: na-aws with seqs 1 and 2 (a1, then a2 on it), eu-azure with seq 1. */
  async function twoTopics() {
    const feeds = new FakeFeeds();
    const a1 = await regional(undefined, 'h\n1\n');
    const a2 = await regional(a1, 'h\n1\n2\n');
    const b1 = await regional(undefined, 'h\n9\n');
    feeds.entries.set('datasets/heart/na-aws', [{ seq: 1, commit: a1 }, { seq: 2, commit: a2 }]);
    feeds.entries.set('datasets/heart/eu-azure', [{ seq: 1, commit: b1 }]);
    return { feeds, a2 };
  }

  it('merges every topic, retries a failing one without stopping the others, and logs each merge', async () => {
    const { feeds } = await twoTopics();
    feeds.failuresLeft.set('datasets/heart/eu-azure', 2);
    const lines: string[] = [];
    const hub = new HubService({ repo, client: feeds, topics: [...feeds.entries.keys()], name: 'hub', layout: 'graft', log: (l) => lines.push(l) });
    hub.start();
    await until(() => (feeds.cursors.get('datasets/heart/na-aws') ?? 0) === 2 && feeds.cursors.get('datasets/heart/eu-azure') === 1);
    await hub.stop();

    const main = (await repo.refs.resolve(branchRef('main'))).commit!;
    const merged: string[] = [];
    for (let id: CommitId | undefined = main; id; id = (await repo.readCommit(id)).parents[0]) {
      const a = (await repo.readCommit(id)).annotations;
      if (a['trib.topic']) merged.push(`${a['trib.topic']}#${a['trib.seq']}`);
    }
    expect(merged.sort()).toEqual(['datasets/heart/eu-azure#1', 'datasets/heart/na-aws#1', 'datasets/heart/na-aws#2']);
    expect(lines.filter((l) => l.startsWith('merged '))).toHaveLength(3);
    expect(lines.filter((l) => l.startsWith('subscription to datasets/heart/eu-azure failed: UNAVAILABLE'))).toHaveLength(2);
    expect(hub.status()).toMatchObject({ topics: { 'datasets/heart/na-aws': { lastSeq: 2, merged: 2 } } });
  });

  it('shows after a restart what main and the conflict branches hold of each topic, before any entry comes', async () => {
    const { feeds, a2 } = await twoTopics();
    const topics = [...feeds.entries.keys()];
    const first = new HubService({ repo, client: feeds, topics, name: 'hub', layout: 'graft', log: () => undefined });
    first.start();
    await until(() => feeds.cursors.get('datasets/heart/na-aws') === 2 && feeds.cursors.get('datasets/heart/eu-azure') === 1);
    await first.stop();
    // Two entries parked since (the graft layout never parks one: the branches are made here as the shared one would).
    for (const seq of [10, 4]) await repo.refs.update(branchRef(`conflicts/na-aws/${seq}`), undefined, { commit: a2 });
    // The second name park gives when the first holds another commit (a topic made again from scratch).
    await repo.refs.update(branchRef(`conflicts/na-aws/4-${a2.slice(0, 12)}`), undefined, { commit: a2 });

    const lines: string[] = [];
    const again = new HubService({ repo, client: new FakeFeeds(), topics, name: 'hub', layout: 'graft', log: (l) => lines.push(l) });
    again.start();
    const recalled = () => Object.values(again.status().topics as Record<string, { lastSeq: number }>).every((t) => t.lastSeq > 0);
    await until(recalled);
    await again.stop();
    expect(again.status()).toMatchObject({
      topics: {
        'datasets/heart/na-aws': { lastSeq: 10, merged: 0, conflicts: ['conflicts/na-aws/4', `conflicts/na-aws/4-${a2.slice(0, 12)}`, 'conflicts/na-aws/10'] },
        'datasets/heart/eu-azure': { lastSeq: 1, merged: 0, conflicts: [] },
      },
    });
    expect(lines).toEqual([]);
  });

  it("walks main's history once after a restart, for every topic's recall and first merge together", async () => {
    const feeds = new FakeFeeds();
    const b1 = await regional(undefined, 'h\n9\n');
    feeds.entries.set('datasets/heart/eu-azure', [{ seq: 1, commit: b1 }]);
    const aws: { seq: number; commit: CommitId }[] = [];
    for (let seq = 1, parent: CommitId | undefined; seq <= 20; seq++) aws.push({ seq, commit: (parent = await regional(parent, `h\n${seq}\n`)) });
    const first = new HubService({ repo, client: feeds, topics: ['datasets/heart/eu-azure'], name: 'hub', layout: 'graft', log: () => undefined });
    first.start();
    await until(() => feeds.cursors.get('datasets/heart/eu-azure') === 1);
    await first.stop();
    feeds.entries.set('datasets/heart/na-aws', aws);
    const second = new HubService({ repo, client: feeds, topics: ['datasets/heart/na-aws'], name: 'hub', layout: 'graft', log: () => undefined });
    second.start();
    await until(() => feeds.cursors.get('datasets/heart/na-aws') === 20);
    await second.stop();
    // Main: the hub's first commit, eu-azure's merge, 20 of na-aws above it. The next entry of each topic, after a restart:
    const below: CommitId[] = [];
    for (let id = (await repo.readCommit((await repo.refs.resolve(branchRef('main'))).commit!)).parents[0]; id; id = (await repo.readCommit(id)).parents[0]) below.push(id);
    feeds.entries.get('datasets/heart/eu-azure')!.push({ seq: 2, commit: await regional(b1, 'h\n9\n10\n') });
    aws.push({ seq: 21, commit: await regional(aws[19].commit, 'h\n21\n') });
    // A restart: a new process opens the store afresh.
    await repo.close();
    repo = await Repository.open(path.join(root, 'hub'));
    const reads = new Map<string, number>();
    const readCommit = repo.readCommit.bind(repo);
    repo.readCommit = async (id: CommitId) => {
      reads.set(id, (reads.get(id) ?? 0) + 1);
      return readCommit(id);
    };
    const again = new HubService({ repo, client: feeds, topics: [...feeds.entries.keys()], name: 'hub', layout: 'graft', log: () => undefined });
    again.start();
    await until(() => feeds.cursors.get('datasets/heart/na-aws') === 21 && feeds.cursors.get('datasets/heart/eu-azure') === 2);
    await again.stop();
    expect(below).toHaveLength(21);
    expect(Math.max(...below.map((id) => reads.get(id) ?? 0))).toBe(1);
  });

  it("drops a conflict branch deleted once settled from /health after the next entry, whose ack settles the branch's note", async () => {
    const [na, eu] = ['datasets/heart/na-aws', 'datasets/heart/eu-azure'];
    const feeds = new FakeFeeds();
    const na1 = await regional(undefined, 'h\n1\n');
    // na-aws rewrites its record in the file eu-azure writes too: parked in the shared layout.
    const na2 = await regional(na1, 'h\n7\n');
    const eu1 = await regional(undefined, 'h\n9\n');
    feeds.entries.set(eu, [{ seq: 1, commit: eu1 }]);
    feeds.entries.set(na, [{ seq: 1, commit: na1 }]);
    const hub = new HubService({ repo, client: feeds, topics: [na, eu], name: 'hub', layout: 'shared', log: () => undefined });
    hub.start();
    try {
      await until(() => feeds.cursors.get(na) === 1 && feeds.cursors.get(eu) === 1);
      feeds.append(na, { seq: 2, commit: na2 });
      await until(() => feeds.cursors.get(na) === 2);
      expect([...feeds.notes.get(na)!]).toEqual([[2, 'conflicts/na-aws/2: hr.csv (modify/modify)']]);
      expect(conflictsOf(hub, na)).toEqual(['conflicts/na-aws/2']);

      // Settled: eu-azure removes its records, then na-aws's next change merges cleanly; the branch is deleted.
      feeds.append(eu, { seq: 2, commit: await regional(eu1, { 'notes.txt': 'n\n' }) });
      await until(() => feeds.cursors.get(eu) === 2);
      await deleteBranch('conflicts/na-aws/2');
      feeds.append(na, { seq: 3, commit: await regional(na2, 'h\n7\n3\n') });
      await until(() => feeds.cursors.get(na) === 3);
      expect(conflictsOf(hub, na)).toEqual([]);
      expect(feeds.notes.get(na)).toEqual(new Map());
      expect(feeds.settled.get(na)).toEqual(new Map([[1, []], [2, []], [3, [2]]]));
      expect(await merged(na)).toBe(3);
    } finally {
      await hub.stop();
    }
  });

  it("settles the broker's notes from before a restart whose branches are gone, and lists the branches again every so often", async () => {
    const na = 'datasets/heart/na-aws';
    const feeds = new FakeFeeds();
    const a1 = await regional(undefined, 'h\n1\n');
    feeds.entries.set(na, [{ seq: 1, commit: a1 }]);
    // Notes of seqs parked by an earlier run; the branch of seq 4 went while the hub was down.
    feeds.notes.set(na, new Map([[4, 'conflicts/na-aws/4'], [5, 'conflicts/na-aws/5'], [6, 'conflicts/na-aws/6']]));
    for (const seq of [5, 6]) await repo.refs.update(branchRef(`conflicts/na-aws/${seq}`), undefined, { commit: a1 });
    const hub = new HubService({ repo, client: feeds, topics: [na], name: 'hub', layout: 'graft', log: () => undefined, conflictsRefreshMs: 10 });
    hub.start();
    try {
      await until(() => feeds.cursors.get(na) === 1);
      await deleteBranch('conflicts/na-aws/5');
      // No entry comes: the listing every conflictsRefreshMs finds the branch gone; the note waits for an ack.
      await until(() => conflictsOf(hub, na).length === 1);
      expect(conflictsOf(hub, na)).toEqual(['conflicts/na-aws/6']);
      expect([...feeds.notes.get(na)!.keys()]).toEqual([5, 6]);
      feeds.append(na, { seq: 7, commit: await regional(a1, 'h\n1\n7\n') });
      await until(() => feeds.cursors.get(na) === 7);
      expect([...feeds.notes.get(na)!.keys()]).toEqual([6]);
      expect(feeds.settled.get(na)!.get(7)).toEqual([5]);
    } finally {
      await hub.stop();
    }
  });

  it('settles a note again with a later ack when the ack that settled it never reached Redis', async () => {
    const na = 'datasets/heart/na-aws';
    const feeds = new FakeFeeds();
    feeds.entries.set(na, []);
    // A note of a seq parked by an earlier run, whose branch went while the hub was down.
    feeds.notes.set(na, new Map([[5, 'conflicts/na-aws/5']]));
    const hub = new HubService({ repo, client: feeds, topics: [na], name: 'hub', layout: 'graft', log: () => undefined });
    hub.start();
    try {
      await until(() => feeds.listed > 0 && feeds.subscribed > 0);
      const a1 = await regional(undefined, 'h\n1\n');
      feeds.loseAckOf.set(na, 8);
      feeds.append(na, { seq: 8, commit: a1 });
      // The ack of 8 (settling 5) is lost and the call fails; 8 comes again, and its ack settles 5 once more.
      await until(() => feeds.cursors.get(na) === 8);
      expect(feeds.subscribed).toBe(2);
      expect(feeds.settled.get(na)!.get(8)).toEqual([5]);
      expect(feeds.notes.get(na)).toEqual(new Map());
    } finally {
      await hub.stop();
    }
  });

  it('stops at once, without waiting out the pause before it would subscribe again', async () => {
    // Fake timers that are never advanced: a stop that waits for any timer never returns.
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    try {
      const feeds = new FakeFeeds();
      const hub = new HubService({ repo, client: feeds, topics: ['datasets/heart/na-aws'], name: 'hub', layout: 'graft', log: () => undefined });
      hub.start();
      while (feeds.subscribed === 0) await new Promise((r) => setImmediate(r));
      await hub.stop();
      expect(feeds.subscribed).toBe(1);
    } finally {
      jest.useRealTimers();
    }
  }, 10_000);

  it('logs a subscription that fails as it stops, such as a broker that did not confirm the last acks', async () => {
    const feeds = new FakeFeeds();
    const stopping = jest.spyOn(feeds, 'subscribe').mockImplementation(async (_r, _t, _n, opts) => {
      await new Promise((r) => opts.signal?.addEventListener('abort', r, { once: true }));
      throw new UnavailableError('the broker did not confirm that it recorded the acknowledgement of entries up to seq 4');
    });
    const lines: string[] = [];
    const hub = new HubService({ repo, client: feeds, topics: ['datasets/heart/na-aws'], name: 'hub', layout: 'graft', log: (l) => lines.push(l) });
    hub.start();
    await until(() => stopping.mock.calls.length === 1);
    await hub.stop();
    expect(lines).toEqual([
      'subscription to datasets/heart/na-aws ended while stopping: UNAVAILABLE: the broker did not confirm that it ' +
        'recorded the acknowledgement of entries up to seq 4',
    ]);
  });

  it('backs off while the same entry comes again and fails, and only an entry past it resets the backoff', async () => {
    const feeds = new FakeFeeds();
    const a1 = await regional(undefined, 'h\n1\n');
    // The broker delivers seq 1, then the call fails (its ack could not be recorded): seq 1 comes again each time.
    const failing = jest.spyOn(feeds, 'subscribe').mockImplementation(async (_r, _t, _n, opts) => {
      await opts.onEntry?.({ seq: 1, commit: a1 });
      throw new TribError('INTERNAL', 'redis: ERR the ack failed');
    });
    const lines: string[] = [];
    const hub = new HubService({ repo, client: feeds, topics: ['datasets/heart/na-aws'], name: 'hub', layout: 'graft', log: (l) => lines.push(l) });
    hub.start();
    await until(() => failing.mock.calls.length === 4);
    await hub.stop();
    const retries = lines.filter((l) => l.startsWith('subscription to datasets/heart/na-aws failed')).map((l) => l.replace(/.*retrying in /, ''));
    expect(retries).toEqual(['200 ms', '400 ms', '800 ms', '1600 ms'].slice(0, retries.length));
    expect(retries.length).toBeGreaterThanOrEqual(3);
  });

  it('notes a conflict for the ack as its branch and at most ten paths', () => {
    expect(conflictNote('conflicts/na-aws/3', ['beats.csv (modify/modify)'])).toBe('conflicts/na-aws/3: beats.csv (modify/modify)');
    expect(conflictNote('conflicts/na-aws/3', [])).toBe('conflicts/na-aws/3');
    const paths = Array.from({ length: 12 }, (_, i) => `f${i}.csv (add/add)`);
    expect(conflictNote('conflicts/eu-azure/9', paths)).toBe(`conflicts/eu-azure/9: ${paths.slice(0, 10).join(', ')} and 2 more`);
  });
});
