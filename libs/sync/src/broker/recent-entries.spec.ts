import { CommitId, TopicName } from '@tributary/core';
import { TopicEntry } from '../topics/topic-log';
import { BrokerContext } from './broker-context';
import { readEntry, rememberAppended } from './recent-entries';

const topic = 'datasets/a/b' as TopicName;
const entry = (seq: number): TopicEntry => ({ seq, commit: String(seq).padStart(64, '0') as CommitId, parent: null, time: '2026-11-24T00:00:00.000Z' });

describe('recent entries', () => {
  it('serves the entry this broker appended last from memory, any other from the log', async () => {
    const reads: number[] = [];
    const ctx = { log: { entry: async (_t: TopicName, seq: number) => (reads.push(seq), entry(seq)) } } as unknown as BrokerContext;
    rememberAppended(ctx, topic, entry(7));
    expect(await readEntry(ctx, topic, 7)).toEqual(entry(7));
    expect(reads).toEqual([]);
    expect(await readEntry(ctx, topic, 8)).toEqual(entry(8));
    expect(await readEntry(ctx, 'datasets/a/c' as TopicName, 7)).toEqual(entry(7));
    expect(reads).toEqual([8, 7]);
    // Another broker context shares nothing.
    const other = { log: { entry: async () => undefined } } as unknown as BrokerContext;
    expect(await readEntry(other, topic, 7)).toBeUndefined();
  });
});
