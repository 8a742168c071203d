import { parseTopicEntryKey, topicEntryKey } from './topic-log-keys';

describe('topic log entry keys', () => {
  it('read back the topic and seq they were made of, nested topics too, and nothing else', () => {
    for (const [topic, seq] of [['datasets/heart/na', 1], ['a', 999_999_999_999], ['a/b', 42]] as const) {
      expect(parseTopicEntryKey(topicEntryKey(topic, seq))).toEqual({ topic, seq });
    }
    expect(topicEntryKey('a', 7)).toBe('topic-log/a/SEQ/000000000007');
    for (const other of ['topic-log/a/COMMIT/00', 'topic-log/a/SEQ/7', 'topic-heads/a/HEAD', 'packs/x']) {
      expect(parseTopicEntryKey(other)).toBeUndefined();
    }
  });
});
