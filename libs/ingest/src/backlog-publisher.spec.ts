import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { CommitId, UnavailableError } from '@tributary/core';
import { Repository } from '@tributary/repository';
import { BacklogPublisher, PublishSummary, TopicPublisher } from './backlog-publisher';
import { commitBatch } from './batch-commit';

/** A broker stand-in that keeps the topic's log and can be switched off. */
class FakeBroker implements TopicPublisher {
  readonly log: CommitId[] = [];
  up = false;
  calls = 0;
  async publishCommit(repo: Repository, topic: string, commit: CommitId): Promise<PublishSummary> {
    this.calls++;
    if (!this.up) throw new UnavailableError('broker unreachable');
    const chain: CommitId[] = [];
    for (let id: CommitId | undefined = commit; id && !this.log.includes(id); ) {
      chain.unshift(id);
      id = (await repo.readCommit(id)).parents[0];
    }
    const seqFrom = this.log.length + 1;
    this.log.push(...chain);
    return { commits: chain.length, seqFrom, seqTo: this.log.length, head: this.log[this.log.length - 1] };
  }
}

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
    const broker = new FakeBroker();
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
    const broker = new FakeBroker();
    broker.up = true;
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

  it('stop ends a backoff', async () => {
    const broker = new FakeBroker();
    await batch(1);
    const pub = new BacklogPublisher(repo, broker, 't', { minBackoffMs: 60_000, onError: () => pub.stop() });
    pub.kick();
    await pub.drain();
    expect(broker.calls).toBe(1);
  });
});
