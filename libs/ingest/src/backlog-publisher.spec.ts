import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { CommitId, diffTrees, editPath, FailedPreconditionError, InvalidArgumentError, lookupPath, readFileBytes, UnavailableError } from '@tributary/core';
import { Repository, walkReachable } from '@tributary/repository';
import { BacklogPublisher, DivergedEvent, PublishProblem, PublishSummary, TopicPublisher } from './backlog-publisher';
import { commitBatch } from './batch-commit';
import { mergeTopicHead } from './topic-merge';
import { InMemoryTopicLog } from './testing/in-memory-topic-log';

describe('BacklogPublisher', () => {
  let root: string;
  let repo: Repository;
  beforeEach(async () => {
    root = await fs.mkdtemp(path.join(tmpdir(), 'trib-backlog-'));
    repo = await Repository.init(path.join(root, 'agent'));
  });
  afterEach(async () => {
    await repo.close();
    await fs.rm(root, { recursive: true, force: true });
  });

  async function batch(i: number): Promise<CommitId> {
    const f = path.join(root, `b${i}.csv`);
    await fs.writeFile(f, `x\n${i}\n`);
    return (await commitBatch(repo, f, { region: 'r' })).commit;
  }

  it('keeps retrying while the broker is down, then publishes the whole backlog in order, each commit once', async () => {
    const broker = new InMemoryTopicLog(false);
    const errors: unknown[] = [];
    const published: PublishSummary[] = [];
    const pub = new BacklogPublisher(repo, broker, 'datasets/d/r', {
      minBackoffMs: 1,
      maxBackoffMs: 4,
      onError: (e) => {
        errors.push(e);
        if (errors.length === 3) broker.up = true;
      },
      onPublished: (r) => published.push(r),
    });
    const commits = [await batch(1), await batch(2)];
    pub.kick();
    commits.push(await batch(3));
    pub.kick();
    await pub.drain();
    commits.push(await batch(4));
    pub.kick();
    await pub.drain();

    expect(errors).toHaveLength(3);
    expect(broker.log).toEqual(commits);
    expect(published.reduce((n, r) => n + r.commits, 0)).toBe(4);
    expect(pub.lastPublished).toBe(commits[3]);
  });

  it('does nothing for an unborn HEAD or a HEAD already published', async () => {
    const broker = new InMemoryTopicLog();
    const pub = new BacklogPublisher(repo, broker, 't');
    pub.kick();
    await pub.drain();
    expect(broker.calls).toBe(0);
    await batch(1);
    pub.kick();
    await pub.drain();
    pub.kick();
    await pub.drain();
    expect(broker.calls).toBe(1);
  });

  describe('stop', () => {
    // Backoffs are an hour and the timers are fake and never advanced: a stop that waits one out never returns.
    const HOUR = 3_600_000;
    beforeEach(() => {
      jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    });
    afterEach(() => {
      jest.useRealTimers();
    });

    it('ends a backoff in progress', async () => {
      const broker = new InMemoryTopicLog(false);
      await batch(1);
      // onError runs just before the sleep starts; stop once it has.
      const pub = new BacklogPublisher(repo, broker, 't', { minBackoffMs: HOUR, onError: () => setImmediate(() => pub.stop()) });
      pub.kick();
      await pub.drain();
      expect(broker.calls).toBe(1);
    }, 10_000);

    it('called from onError, does not start a backoff', async () => {
      const broker = new InMemoryTopicLog(false);
      await batch(1);
      const pub = new BacklogPublisher(repo, broker, 't', { minBackoffMs: HOUR, onError: () => pub.stop() });
      pub.kick();
      await pub.drain();
      expect(broker.calls).toBe(1);
    }, 10_000);

    it('during a publish that then fails, does not start a backoff', async () => {
      let fail!: () => void;
      const failing = new Promise<never>((_resolve, reject) => (fail = () => reject(new UnavailableError('broker gone'))));
      failing.catch(() => undefined);
      let calls = 0;
      const broker: TopicPublisher = {
        publishCommit: () => {
          calls++;
          return failing;
        },
      };
      await batch(1);
      const errors: unknown[] = [];
      const pub = new BacklogPublisher(repo, broker, 't', { minBackoffMs: HOUR, onError: (e) => errors.push(e) });
      pub.kick();
      while (calls === 0) await new Promise((r) => setImmediate(r));
      pub.stop();
      fail();
      await pub.drain();
      expect(calls).toBe(1);
      expect(errors).toHaveLength(1); // the failure is still reported
    }, 10_000);
  });

  describe('a topic whose head HEAD does not descend from (a lost store, a second agent)', () => {
    const TOPIC = 'datasets/heart/na-aws';
    const DAY = new Date('2026-03-01T12:00:00Z');
    let old: Repository;
    let brokerRepo: Repository;
    beforeEach(async () => {
      old = await Repository.init(path.join(root, 'old-agent'));
      brokerRepo = await Repository.init(path.join(root, 'broker'));
    });
    afterEach(async () => {
      await old.close();
      await brokerRepo.close();
    });

    /** Copies `commit` with everything beneath it (its whole history) from one repository to another. */
    async function copy(from: Repository, to: Repository, commit: CommitId): Promise<void> {
      const { live } = await walkReachable(from, [commit]);
      for (const id of live) if (!to.objects.has(id)) await to.objects.put(await from.objects.get(id));
      await to.objects.flush();
    }

    /** A broker stand-in that refuses a publish that is not a fast-forward, as the real one does, and can fetch. */
    class StrictBroker implements TopicPublisher {
      readonly log: CommitId[] = [];
      calls = 0;
      fetches = 0;
      /** The `diverged` hint each publish came with. */
      readonly hints: unknown[] = [];
      async publishCommit(repo: Repository, topic: string, commit: CommitId, opts?: { diverged?: unknown }): Promise<PublishSummary> {
        this.calls++;
        this.hints.push(opts?.diverged);
        const head = this.log[this.log.length - 1];
        const chain: CommitId[] = [];
        for (let id: CommitId | undefined = commit; id !== head; id = (await repo.readCommit(id)).parents[0]) {
          if (id === undefined) throw new FailedPreconditionError(`not a fast-forward: ${commit} does not descend from ${head}, the head of topic ${topic}`, { topic, head });
          chain.unshift(id);
        }
        await copy(repo, brokerRepo, commit);
        const seqFrom = this.log.length + 1;
        this.log.push(...chain);
        return { commits: chain.length, seqFrom, seqTo: this.log.length, head: commit };
      }
      async fetchTopicHead(repo: Repository, _topic: string, subscriber: string): Promise<CommitId | undefined> {
        expect(subscriber).toBe('edge-agent');
        this.fetches++;
        const head = this.log[this.log.length - 1];
        if (head) await copy(brokerRepo, repo, head);
        return head;
      }
    }

    async function land(r: Repository, name: string, content: string): Promise<CommitId> {
      const f = path.join(root, 'inbox', name);
      await fs.mkdir(path.dirname(f), { recursive: true });
      await fs.writeFile(f, content);
      return (await commitBatch(r, f, { region: 'na-aws', now: DAY })).commit;
    }

    async function files(r: Repository, commit: CommitId): Promise<Record<string, string>> {
      const out: Record<string, string> = {};
      for await (const c of diffTrees(r.objects, undefined, (await r.readCommit(commit)).tree)) {
        if (c.new?.kind !== 'file') continue;
        const parts: Buffer[] = [];
        for await (const b of readFileBytes(r.objects, c.new)) parts.push(b);
        out[c.path] = Buffer.concat(parts).toString();
      }
      return out;
    }

    /** Waits for `cond`, failing (not hanging) if it does not come: the old publisher looped on the refusal. */
    async function until(cond: () => boolean, what: string): Promise<void> {
      for (let i = 0; i < 2000 && !cond(); i++) await new Promise((r) => setTimeout(r, 2));
      if (!cond()) throw new Error(`never happened: ${what}`);
    }

    function publisherOf(r: Repository, broker: StrictBroker, extra: { recheckMs?: number; events?: DivergedEvent[]; errors?: unknown[] } = {}) {
      const errors = extra.errors ?? [];
      const pub: BacklogPublisher = new BacklogPublisher(r, broker, TOPIC, {
        minBackoffMs: 1,
        maxBackoffMs: 2,
        recheckMs: extra.recheckMs ?? 1,
        merge: { region: 'na-aws', author: 'edge-agent/na-aws', subscriber: 'edge-agent' },
        onDiverged: (e) => extra.events?.push(e),
        // The old publisher retried the refusal for ever: give up after a few, so the spec fails instead of hanging.
        onError: (e) => {
          errors.push(e);
          if (errors.length > 5) pub.stop();
        },
      });
      return pub;
    }

    it('fetches the topic head, merges it as the first parent and publishes the batches committed since', async () => {
      const broker = new StrictBroker();
      const before = [await land(old, 'b1.csv', 't,v\n1,1\n'), await land(old, 'b2.csv', 't,v\n2,2\n')];
      const first = new BacklogPublisher(old, broker, TOPIC);
      first.kick();
      await first.drain();
      expect(broker.log).toEqual(before);

      // The disk is lost: a fresh repository for the same topic commits the next batches on a history of its own.
      const after = [await land(repo, 'b3.csv', 't,v\n3,3\n'), await land(repo, 'b4.csv', 't,v\n4,4\n')];
      const events: DivergedEvent[] = [];
      const errors: unknown[] = [];
      const pub = publisherOf(repo, broker, { events, errors });
      pub.kick();
      await pub.drain();

      expect(errors).toEqual([]);
      expect(broker.fetches).toBe(1);
      expect(broker.log).toHaveLength(3);
      const merge = broker.log[2];
      expect((await repo.head()).commit).toBe(merge);
      expect(pub.lastPublished).toBe(merge);
      expect(pub.problem).toBeUndefined();
      expect((await repo.readCommit(merge)).parents).toEqual([before[1], after[1]]);
      expect(events.map((e) => e.kind)).toEqual(['fetching', 'merge']);
      expect(await files(brokerRepo, merge)).toEqual({
        'batches/2026-03-01/b1.csv': 't,v\n1,1\n',
        'batches/2026-03-01/b2.csv': 't,v\n2,2\n',
        'batches/2026-03-01/b3.csv': 't,v\n3,3\n',
        'batches/2026-03-01/b4.csv': 't,v\n4,4\n',
      });

      // Later batches go on as plain fast-forwards.
      const next = await land(repo, 'b5.csv', 't,v\n5,5\n');
      pub.kick();
      await pub.drain();
      expect(broker.log).toEqual([...before, merge, next]);
      expect(broker.fetches).toBe(1);
    });

    it('moves an empty or older branch to the topic head instead of merging', async () => {
      const broker = new StrictBroker();
      const a = await land(old, 'b1.csv', 't,v\n1,1\n');
      await copy(old, repo, a);
      const head = await repo.head();
      await repo.advanceHead(head, a); // this store holds an older state of the topic (a backup)
      const b = await land(old, 'b2.csv', 't,v\n2,2\n');
      broker.log.push(a, b);
      await copy(old, brokerRepo, b);
      const c = await land(repo, 'b3.csv', 't,v\n3,3\n');
      const events: DivergedEvent[] = [];
      const pub = publisherOf(repo, broker, { events });
      pub.kick();
      await pub.drain();
      // b3 builds on a, the topic on b: a merge of b (first parent) and c.
      expect((await repo.readCommit(broker.log[2])).parents).toEqual([b, c]);

      const empty = await Repository.init(path.join(root, 'empty'));
      try {
        const r = await mergeTopicHead(empty, await broker.fetchTopicHead(empty, TOPIC, 'edge-agent').then((h) => h!), { topic: TOPIC, region: 'na-aws' });
        expect(r).toMatchObject({ kind: 'fast-forward', commit: broker.log[2], previous: undefined });
        expect((await empty.head()).commit).toBe(broker.log[2]);
      } finally {
        await empty.close();
      }
    });

    it('on a conflict keeps HEAD, reports it once per topic head, and merges again once the head moves', async () => {
      const broker = new StrictBroker();
      const a = await land(old, 'b1.csv', 't,v\n1,1\n');
      const first = new BacklogPublisher(old, broker, TOPIC);
      first.kick();
      await first.drain();
      // The fresh history holds a different b1.csv at the same path: an add/add conflict.
      const mine = await land(repo, 'b1.csv', 't,v\n1,9\n');
      const events: DivergedEvent[] = [];
      const errors: unknown[] = [];
      const pub = publisherOf(repo, broker, { events, errors });
      pub.kick();
      await until(() => events.some((e) => e.kind === 'conflict') && broker.calls >= 6, 'a conflict, then several rechecks').catch((e) => {
        pub.stop();
        throw e;
      });
      const conflicts = events.filter((e) => e.kind === 'conflict');
      expect(conflicts).toHaveLength(1); // once per topic head, however many rechecks
      expect(conflicts[0]).toMatchObject({ kind: 'conflict', topicHead: a, head: mine, conflicts: [{ path: 'batches/2026-03-01/b1.csv', kind: 'add/add' }] });
      expect(broker.fetches).toBe(1);
      expect(errors).toEqual([]);
      const problem = pub.problem as PublishProblem;
      expect(problem).toMatchObject({ permanent: true, topicHead: a });
      expect(problem.message).toContain(TOPIC);
      expect(problem.message).toContain('batches/2026-03-01/b1.csv (add/add)');
      expect((await repo.head()).commit).toBe(mine);
      expect(broker.log).toEqual([a]);
      // Every recheck says what is known, so that the client walks only the commits since `mine`, not the history.
      const firstRecheck = broker.hints.findIndex((h) => h !== undefined);
      expect(firstRecheck).toBeGreaterThan(0);
      expect(broker.hints.slice(firstRecheck)).toEqual(broker.hints.slice(firstRecheck).map(() => ({ topicHead: a, at: mine })));

      // An operator settles it on the topic: b1.csv takes this agent's version. The head moves; the agent merges.
      await copy(repo, old, mine);
      const theirs = await lookupPath(old.objects, (await old.readCommit(mine)).tree, 'batches/2026-03-01/b1.csv');
      const tree = await editPath(old.objects, old.objects, (await old.readCommit(a)).tree, 'batches/2026-03-01/b1.csv', theirs);
      const fix = await old.writeCommit({ tree: tree.id, parents: [a], author: 'op', time: DAY.toISOString(), message: 'settle', annotations: {} });
      await broker.publishCommit(old, TOPIC, fix);
      await until(() => pub.problem === undefined, 'a publish after the head moved');
      pub.stop();
      await pub.drain();
      expect(broker.fetches).toBe(2);
      expect(broker.log).toHaveLength(3);
      expect((await repo.readCommit(broker.log[2])).parents).toEqual([fix, mine]);
      expect(await files(brokerRepo, broker.log[2])).toEqual({ 'batches/2026-03-01/b1.csv': 't,v\n1,9\n' });
    });

    it('does not retry a refusal that waiting cannot cure in a loop, and reports it once', async () => {
      let calls = 0;
      const broker: TopicPublisher = {
        publishCommit: async () => {
          calls++;
          throw new InvalidArgumentError('unsafe path in a tree');
        },
      };
      await batch(1);
      const refused: PublishProblem[] = [];
      const errors: unknown[] = [];
      const pub: BacklogPublisher = new BacklogPublisher(repo, broker, TOPIC, {
        minBackoffMs: 1,
        recheckMs: 3_600_000,
        onRefused: (p) => refused.push(p),
        onError: (e) => {
          errors.push(e);
          if (errors.length > 5) pub.stop();
        },
      });
      pub.kick();
      await until(() => calls > 0, 'a publish');
      for (let i = 0; i < 50; i++) await new Promise((r) => setTimeout(r, 1));
      for (let i = 0; i < 5; i++) pub.kick(); // new batches do not cut the wait short
      for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 1));
      expect(calls).toBe(1);
      expect(errors).toEqual([]);
      expect(refused).toHaveLength(1);
      expect(pub.problem).toMatchObject({ permanent: true });
      expect(pub.problem!.message).toBe(`publish to ${TOPIC} refused: INVALID_ARGUMENT: unsafe path in a tree`);
      pub.stop();
      await pub.drain();
    });

    it('shows a transient failure as a problem while it lasts, and clears it once a publish goes through', async () => {
      let up = false;
      const seen: (PublishProblem | undefined)[] = [];
      const broker: TopicPublisher = {
        publishCommit: async (_r, _t, commit) => {
          if (!up) throw new UnavailableError('broker unreachable');
          return { commits: 1, seqFrom: 1, seqTo: 1, head: commit };
        },
      };
      await batch(1);
      const pub: BacklogPublisher = new BacklogPublisher(repo, broker, TOPIC, {
        minBackoffMs: 1,
        maxBackoffMs: 2,
        onError: () => {
          seen.push(pub.problem);
          up = seen.length >= 2;
        },
      });
      pub.kick();
      await pub.drain();
      expect(seen[0]).toMatchObject({ permanent: false, message: `publish to ${TOPIC} failed: UNAVAILABLE: broker unreachable` });
      expect(pub.problem).toBeUndefined();
    });
  });
});
