import { CommitId, sha256 } from '@tributary/core';
import { MemoryCommits } from '@tributary/repository';
import { BATCH_SHA256, RecentBatches } from './batch-history';

/** A linear history of fake commits; commit i ingested batch `sha-i`. Counts reads. */
class FakeHistory extends MemoryCommits {
  ingest(batch: string | undefined, parent = this.head): CommitId {
    return this.add({ parents: parent ? [parent] : [], annotations: batch ? { [BATCH_SHA256]: batch } : {} });
  }
}

describe('RecentBatches', () => {
  it('finds batches within the window and forgets older ones', async () => {
    const h = new FakeHistory();
    const ids = Array.from({ length: 10 }, (_, i) => h.ingest(`sha-${i}`));
    const recent = new RecentBatches(4);
    expect(await recent.find(h, h.head, 'sha-9')).toBe(ids[9]);
    expect(await recent.find(h, h.head, 'sha-6')).toBe(ids[6]);
    expect(await recent.find(h, h.head, 'sha-5')).toBeUndefined();
    expect(h.reads).toBe(4);
  });

  it('reads only new commits after the first walk, and nothing for commits it recorded', async () => {
    const h = new FakeHistory();
    for (let i = 0; i < 20; i++) h.ingest(`sha-${i}`);
    const recent = new RecentBatches(100);
    await recent.find(h, h.head, 'x');
    const parent = h.head;
    const mine = h.ingest('mine');
    recent.record(parent, mine, 'mine');
    h.reads = 0;
    expect(await recent.find(h, h.head, 'mine')).toBe(mine);
    expect(h.reads).toBe(0);
    h.ingest('other-writer');
    expect(await recent.find(h, h.head, 'other-writer')).toBe(h.head);
    expect(await recent.find(h, h.head, 'sha-0')).toBeDefined();
    expect(h.reads).toBe(1);
  });

  it('starts over when the branch moved to an unrelated history', async () => {
    const h = new FakeHistory();
    for (let i = 0; i < 5; i++) h.ingest(`sha-${i}`);
    const recent = new RecentBatches(100);
    expect(await recent.find(h, h.head, 'sha-1')).toBeDefined();
    h.head = undefined;
    h.ingest('new-0', undefined);
    h.ingest('new-1');
    expect(await recent.find(h, h.head, 'sha-1')).toBeUndefined();
    expect(await recent.find(h, h.head, 'new-0')).toBeDefined();
    // A record on top of a head it did not see is not trusted: the next lookup walks again.
    recent.record(sha256(Buffer.from('elsewhere')), sha256(Buffer.from('c')), 'ghost');
    expect(await recent.find(h, h.head, 'ghost')).toBeUndefined();
  });

  it('sees both sides of a merge: the second parent, an agent\'s own history after a topic-head merge, too', async () => {
    const h = new FakeHistory();
    const topic = Array.from({ length: 50 }, (_, i) => h.ingest(`topic-${i}`));
    h.head = undefined;
    const own = Array.from({ length: 50 }, (_, i) => h.ingest(`own-${i}`));
    const recent = new RecentBatches(10);
    expect(await recent.find(h, h.head, 'own-49')).toBe(own[49]);
    const merge = h.add({ parents: [topic[49], own[49]] });
    h.reads = 0;
    expect(await recent.find(h, merge, 'own-49')).toBe(own[49]);
    expect(await recent.find(h, merge, 'own-46')).toBe(own[46]);
    expect(await recent.find(h, merge, 'topic-45')).toBe(topic[45]);
    // The window is the 10 nearest commits, the merge and 9 more: no more than those are read.
    expect(await recent.find(h, merge, 'own-44')).toBeUndefined();
    expect(h.reads).toBe(10);

    // Commits on top of the merge are joined to it as before, the farthest dropping out of the window.
    const parent = h.head;
    const mine = h.ingest('mine');
    recent.record(parent, mine, 'mine');
    h.ingest('next');
    h.reads = 0;
    expect(await recent.find(h, h.head, 'mine')).toBe(mine);
    expect(await recent.find(h, h.head, 'own-47')).toBe(own[47]);
    expect(await recent.find(h, h.head, 'topic-46')).toBe(topic[46]);
    expect(await recent.find(h, h.head, 'own-46')).toBeUndefined();
    expect(h.reads).toBe(1);
  });
});
