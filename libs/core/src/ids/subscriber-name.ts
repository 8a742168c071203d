import { InvalidArgumentError } from '../errors/trib-error';
import { SubscriberId } from './ids';

/**
 * The one rule for subscriber names, at every boundary: `trib subscribe --as`, TRIB_NAME, the broker's Subscribe.
 * It is the rule the broker has kept cursors under from the start: a narrower one (no capitals, say) would lock a
 * subscriber out of the cursor Redis holds under its name. A name is only ever part of a Redis key, never a ref, a
 * topic segment or a path, so capitals, "..", and the rest cost nothing.
 */
export const SUBSCRIBER_NAME_RULE = '1 to 64 of A-Z a-z 0-9 . _ -';
const SUBSCRIBER_NAME = /^[A-Za-z0-9._-]{1,64}$/;

export function isSubscriberName(name: unknown): name is SubscriberId {
  return typeof name === 'string' && SUBSCRIBER_NAME.test(name);
}

/** Checks a subscriber name against SUBSCRIBER_NAME_RULE. Throws InvalidArgumentError naming it. */
export function parseSubscriberId(name: unknown): SubscriberId {
  if (!isSubscriberName(name)) {
    const shown = typeof name === 'string' && name.length > 80 ? `${name.slice(0, 80)}…` : name;
    throw new InvalidArgumentError(`invalid subscriber name ${JSON.stringify(shown)}: use ${SUBSCRIBER_NAME_RULE}`);
  }
  return name;
}
