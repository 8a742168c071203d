/*
 * Where a broker keeps its topic logs in its store. libs/sync's TopicLog writes them; this library reads them too
 * (verify walks from them, gc refuses a store that has them), so the layout of an entry's key is written here once.
 */

/**
 * The prefix of every topic log key. The commits the logs name are what subscribers replay, and no ref names them:
 * gc, which walks from refs, would delete them all.
 */
export const TOPIC_LOG_PREFIX = 'topic-log/';
const SEQ_DIGITS = 12;
/** The greatest seq an entry key can hold. */
export const MAX_TOPIC_SEQ = 10 ** SEQ_DIGITS - 1;
/** No topic name has an upper-case segment, so the last `/SEQ/` ends the topic. */
const ENTRY_KEY = new RegExp(`^${TOPIC_LOG_PREFIX}(.+)/SEQ/(\\d{${SEQ_DIGITS}})$`);

/** Entry `seq` of `topic`: `topic-log/<topic>/SEQ/<seq, 12 digits>`, so keys of one topic sort by seq. */
export function topicEntryKey(topic: string, seq: number): string {
  return `${TOPIC_LOG_PREFIX}${topic}/SEQ/${String(seq).padStart(SEQ_DIGITS, '0')}`;
}

/** The topic and seq of an entry key; undefined for any other key. */
export function parseTopicEntryKey(key: string): { topic: string; seq: number } | undefined {
  const m = ENTRY_KEY.exec(key);
  return m ? { topic: m[1], seq: Number(m[2]) } : undefined;
}
