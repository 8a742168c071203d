/**
 * A subscriber that keeps an entry aside says so with its ack (onEntry returns `{ conflict }`): the broker records
 * the note before the cursor moves, the entry counts as acknowledged (not delivered again), and listTopics shows
 * it under that subscriber only.
 */
import * as path from 'node:path';
import { CommitId } from '@tributary/core';
import { Repository } from '@tributary/repository';
import { SyncClient } from '../libs/sync/src/client/sync.client';
import { appendAndCommit, commitFiles, newRepo, rows, startTestBroker, tempDir, TempDir } from '../libs/sync/src/testing/sync-harness';

const TOPIC = 'datasets/heart/na-aws';

describe('sync: conflicts acknowledged by a subscriber', () => {
  let t: TempDir;
  let broker: Awaited<ReturnType<typeof startTestBroker>>;
  let client: SyncClient;
  let edge: Repository;
  const commits: CommitId[] = [];

  beforeAll(async () => {
    t = tempDir();
    broker = await startTestBroker(path.join(t.dir, 'broker-store'));
    client = new SyncClient(broker.address);
    edge = await newRepo(path.join(t.dir, 'edge'));
    commits.push(await commitFiles(edge, { 'beats.csv': `a,b,c,d\n${rows(2_000, 1)}` }));
    commits.push(await appendAndCommit(edge, { 'beats.csv': rows(500, 2) }));
    commits.push(await appendAndCommit(edge, { 'beats.csv': rows(500, 3) }));
    await client.publish(edge, TOPIC);
  });
  afterAll(async () => {
    client?.close();
    await edge?.close();
    await broker?.close();
    t?.cleanup();
  });

  it('shows an ack with a conflict in listTopics, advances the cursor past it, and never redelivers it', async () => {
    const hub = await newRepo(path.join(t.dir, 'hub'));
    try {
      const first = await client.subscribe(hub, TOPIC, 'hub', {
        onEntry: async (e) => (e.seq === 2 ? { conflict: `conflicts/na-aws/2: beats.csv (modify/modify)` } : undefined),
      });
      expect(first).toMatchObject({ commits: 3, seqFrom: 1, seqTo: 3, head: commits[2] });
      const clean = await newRepo(path.join(t.dir, 'clean'));
      try {
        await client.subscribe(clean, TOPIC, 'reader');
      } finally {
        await clean.close();
      }

      const [info] = await client.listTopics();
      expect(info).toMatchObject({ topic: TOPIC, seq: 3 });
      expect(info.subscribers).toEqual([
        { name: 'hub', cursor: 3, lag: 0, conflicts: [{ seq: 2, note: 'conflicts/na-aws/2: beats.csv (modify/modify)' }] },
        { name: 'reader', cursor: 3, lag: 0, conflicts: [] },
      ]);

      commits.push(await appendAndCommit(edge, { 'beats.csv': rows(500, 4) }));
      await client.publish(edge, TOPIC);
      const seen: number[] = [];
      const next = await client.subscribe(hub, TOPIC, 'hub', {
        onEntry: async (e) => {
          seen.push(e.seq);
          return { conflict: 'conflicts/na-aws/4: first line\nsecond line' };
        },
      });
      expect(seen).toEqual([4]);
      expect(next).toMatchObject({ commits: 1, seqFrom: 4, seqTo: 4 });
      const hubInfo = (await client.listTopics())[0].subscribers.find((s) => s.name === 'hub');
      expect(hubInfo).toEqual({
        name: 'hub',
        cursor: 4,
        lag: 0,
        conflicts: [
          { seq: 2, note: 'conflicts/na-aws/2: beats.csv (modify/modify)' },
          { seq: 4, note: 'conflicts/na-aws/4: first line second line' },
        ],
      });
    } finally {
      await hub.close();
    }
  });

  it('clears a seq\'s conflict when a replay (--from) acknowledges it cleanly', async () => {
    const node = await newRepo(path.join(t.dir, 'replayer'));
    try {
      await client.subscribe(node, TOPIC, 'replayer', { onEntry: async (e) => ({ conflict: `conflicts/na-aws/${e.seq}` }) });
      expect((await client.listTopics())[0].subscribers.find((s) => s.name === 'replayer')?.conflicts.map((c) => c.seq)).toEqual([1, 2, 3, 4]);
      const replay = await client.subscribe(node, TOPIC, 'replayer', {
        from: 3,
        onEntry: async (e) => (e.seq === 4 ? { conflict: 'conflicts/na-aws/4 again' } : {}),
      });
      expect(replay).toMatchObject({ commits: 2, seqFrom: 3, seqTo: 4 });
      expect((await client.listTopics())[0].subscribers.find((s) => s.name === 'replayer')).toEqual({
        name: 'replayer',
        cursor: 4,
        lag: 0,
        conflicts: [
          { seq: 1, note: 'conflicts/na-aws/1' },
          { seq: 2, note: 'conflicts/na-aws/2' },
          { seq: 4, note: 'conflicts/na-aws/4 again' },
        ],
      });
    } finally {
      await node.close();
    }
  });
});
