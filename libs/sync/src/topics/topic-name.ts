import { InvalidArgumentError, TopicName, validateRefName } from '@tributary/core';

const SEGMENT = /^[a-z0-9._-]+$/;
const MAX_SEGMENTS = 8;

/**
 * Checks a topic name: 1 to 8 segments of `[a-z0-9._-]+` joined by `/`, such as `datasets/heart/na-aws`. Also
 * refuses what a ref name may not hold (`..`, a `.` segment, a `.lock` suffix, a leading `-`), because a subscriber
 * keeps the topic as the local ref `refs/topics/<topic>`. Throws InvalidArgumentError naming the problem.
 */
export function parseTopicName(name: string): TopicName {
  // A long name is cut in the message, so the reason still shows (gRPC keeps only so much of a status message).
  const shown = typeof name === 'string' && name.length > 80 ? `${name.slice(0, 80)}…` : name;
  const bad = (why: string) => new InvalidArgumentError(`invalid topic ${JSON.stringify(shown)}: ${why}`);
  if (typeof name !== 'string' || name.length === 0) throw bad('empty');
  const segments = name.split('/');
  if (segments.length > MAX_SEGMENTS) throw bad(`more than ${MAX_SEGMENTS} segments`);
  for (const s of segments) {
    if (s.length === 0) throw bad('empty segment');
    if (!SEGMENT.test(s)) throw bad('segments are made of a-z, 0-9, ".", "_" and "-"');
  }
  try {
    validateRefName(name, 'topic');
  } catch (e) {
    throw bad((e as Error).message.replace(/^invalid topic "[^"]*": /, ''));
  }
  return name as TopicName;
}
