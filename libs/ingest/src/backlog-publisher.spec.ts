import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { CommitId, UnavailableError } from '@tributary/core';
import { Repository } from '@tributary/repository';
import { BacklogPublisher, PublishSummary, TopicPublisher } from './backlog-publisher';
import { commitBatch } from './batch-commit';
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
});
