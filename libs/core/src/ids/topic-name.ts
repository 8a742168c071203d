import { InvalidArgumentError } from '../errors/trib-error';
import { validateRefName } from '../paths/path-rules';
import { TopicName } from './ids';

const SEGMENT = /^[a-z0-9._-]+$/;
const MAX_SEGMENTS = 8;

/**
 * The one rule for topic names, at every boundary (the CLI, TRIB_TOPICS, the broker's calls), as messages state it.
 * A subscriber keeps a topic as the local ref `refs/topics/<topic>`, hence what a ref name may not hold.
 */
export const TOPIC_NAME_RULE =
  'a topic is 1 to 8 segments of a-z 0-9 . _ - joined by "/" (such as datasets/heart/na-aws), at most 200 characters, ' +
  'with no "..", no segment "." and none ending in ".lock", and no leading "-"';

/**
 * Why `name` is not a topic name (TOPIC_NAME_RULE), or undefined when it is one.
 */
export function topicNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'empty';
  const segments = name.split('/');
  if (segments.length > MAX_SEGMENTS) return `more than ${MAX_SEGMENTS} segments`;
  for (const s of segments) {
    if (s.length === 0) return 'empty segment';
    if (!SEGMENT.test(s)) return 'segments are made of a-z, 0-9, ".", "_" and "-"';
  }
  try {
    validateRefName(name, 'topic');
  } catch (e) {
    return (e as Error).message.replace(/^invalid topic "[^"]*": /, '');
  }
  return undefined;
}

/** Checks a topic name (TOPIC_NAME_RULE). Throws InvalidArgumentError naming the name (cut if long), why, and the rule. */
export function parseTopicName(name: unknown): TopicName {
  // A long name is cut in the message, so the reason still shows (gRPC keeps only so much of a status message).
  const shown = typeof name === 'string' && name.length > 80 ? `${name.slice(0, 80)}…` : name;
  const problem = typeof name === 'string' ? topicNameProblem(name) : 'not a string';
  if (problem !== undefined) throw new InvalidArgumentError(`invalid topic ${JSON.stringify(shown)}: ${problem}; ${TOPIC_NAME_RULE}`);
  return name as TopicName;
}
