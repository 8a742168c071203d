import { TopicName } from '@tributary/core';
import { TopicEntry } from '../topics/topic-log';
import { BrokerContext } from './broker-context';

/** Per broker: the last entry it appended to each topic. */
const lastAppended = new WeakMap<BrokerContext, Map<TopicName, TopicEntry>>();

/** Records an entry this broker has durably appended (call after the append resolved). */
export function rememberAppended(ctx: BrokerContext, topic: TopicName, entry: TopicEntry): void {
  let byTopic = lastAppended.get(ctx);
  if (!byTopic) lastAppended.set(ctx, (byTopic = new Map()));
  byTopic.set(topic, entry);
}

/**
 * The entry at `seq`, like `ctx.log.entry`, but the one this broker appended last comes from memory: entries are
 * written once and never change, so the subscribers the append wakes need not read it back from the store.
 */
export function readEntry(ctx: BrokerContext, topic: TopicName, seq: number): Promise<TopicEntry | undefined> {
  const last = lastAppended.get(ctx)?.get(topic);
  return last && last.seq === seq ? Promise.resolve(last) : ctx.log.entry(topic, seq);
}
