import * as path from 'node:path';
import { CommitId, FailedPreconditionError, TopicName } from '@tributary/core';
import { branchRef, Repository, topicRef } from '@tributary/repository';
import { SyncClient } from '../../libs/sync/src/client/sync.client';
import { BrokerContext } from '../../libs/sync/src/broker/broker-context';
import { commitFiles as writeCommit } from '../../libs/sync/src/testing/object-fixtures';
import { commitFiles, newRepo } from '../../libs/sync/src/testing/sync-harness';

/** A commit on top of `parent` made straight in the object database, on branch `name`. */
export async function commitOn(repo: Repository, parent: CommitId, name: string, content: string): Promise<CommitId> {
  const { commit } = await writeCommit(repo.objects, { 'data.csv': Buffer.from(content) }, [parent], name);
  await repo.objects.flush();
  const ref = branchRef(name);
  const current = await repo.refs.read(ref);
  await repo.refs.update(ref, current?.version, { commit });
  return commit;
}

export interface PublishRace {
  /** Working folder for the racing repositories. */
  readonly dir: string;
  readonly topic: string;
  /** One client per broker; publisher a goes through the first, b through the second. */
  readonly clients: readonly [SyncClient, SyncClient];
  /** The brokers' contexts, to read the log back through each. */
  readonly brokers: readonly BrokerContext[];
  readonly rounds: number;
}

/**
 * Two publishers race diverging commits onto one topic through two brokers, `rounds` times. Asserts that each seq
 * has exactly one winner, the loser gets FAILED_PRECONDITION, the log read through every broker is one
 * first-parent chain of the winners, and a fresh subscriber through the second broker gets every winner in order.
 * Returns the acknowledged commits, oldest first.
 */
export async function racePublishers(race: PublishRace): Promise<CommitId[]> {
  const [c1, c2] = race.clients;
  const topic = race.topic;
  const a = await newRepo(path.join(race.dir, 'a'));
  const b = await newRepo(path.join(race.dir, 'b'));
  try {
    let head = await commitFiles(a, { 'data.csv': 'id\n' });
    await c1.publish(a, topic);
    const acknowledged: CommitId[] = [head];
    for (let round = 1; round <= race.rounds; round++) {
      // Both publishers hold the head (b through broker 2, which must see what broker 1 wrote).
      await c2.subscribe(b, topic, 'b');
      await c1.subscribe(a, topic, 'a');
      expect((await b.refs.resolve(topicRef(topic))).commit).toBe(head);
      const ca = await commitOn(a, head, `ra${round}`, `from a, round ${round}\n`);
      const cb = await commitOn(b, head, `rb${round}`, `from b, round ${round}\n`);
      const results = await Promise.allSettled([c1.publish(a, topic, ca), c2.publish(b, topic, cb)]);
      const won = results.filter((r) => r.status === 'fulfilled') as PromiseFulfilledResult<{ head: CommitId; seqTo: number; commits: number }>[];
      const lost = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(1);
      expect(lost[0].reason).toBeInstanceOf(FailedPreconditionError);
      expect(won[0].value).toMatchObject({ commits: 1, seqTo: round + 1 });
      expect([ca, cb]).toContain(won[0].value.head);
      head = won[0].value.head;
      acknowledged.push(head);
    }
    for (const ctx of race.brokers) {
      for (let seq = 1; seq <= acknowledged.length; seq++) {
        const parent = seq === 1 ? null : acknowledged[seq - 2];
        expect(await ctx.log.entry(topic as TopicName, seq)).toMatchObject({ seq, commit: acknowledged[seq - 1], parent });
      }
      expect(await ctx.log.entry(topic as TopicName, acknowledged.length + 1)).toBeUndefined();
    }
    // A fresh subscriber through broker 2 gets every entry, whichever broker stored its objects.
    const fresh = await newRepo(path.join(race.dir, 'fresh'));
    try {
      const seen: CommitId[] = [];
      await c2.subscribe(fresh, topic, 'fresh', { onEntry: async (e) => void seen.push(e.commit) });
      expect(seen).toEqual(acknowledged);
    } finally {
      await fresh.close();
    }
    return acknowledged;
  } finally {
    await a.close();
    await b.close();
  }
}
