import { EXIT, exitCodeFor, isTribError, TribError } from '@tributary/core';
import { ConfigError } from './env-config';

/** The exit code of an app that stops on `e`: a bad variable is a usage error, and the rest as the CLI maps them. */
export function exitCodeOf(e: unknown): number {
  if (e instanceof ConfigError) return EXIT.USAGE;
  return isTribError(e) ? exitCodeFor(e.code) : EXIT.PROBLEM;
}

/**
 * Runs `use`, which works with `value`, the value of the environment variable `name`, and puts the variable's name
 * before the message of a failure about that value (one whose message quotes it) that names none of Tributary's
 * variables yet, keeping its category: "TRIB_STORE: store file:///x is not a directory". Other failures pass as they are, a message
 * that already names the setting to change (TRIB_TOPIC_LOG_FENCE for a store a broker may not share) included.
 */
export async function namingVariable<T>(name: string, value: string, use: () => Promise<T>): Promise<T> {
  try {
    return await use();
  } catch (e) {
    if (!isTribError(e) || !e.message.includes(value) || NAMES_A_VARIABLE.test(e.message)) throw e;
    throw new TribError(e.code, `${name}: ${e.message}`, e.details, { cause: e });
  }
}

/** A message that names one of Tributary's own variables (an SDK's, such as AWS_REGION, is named after TRIB_STORE). */
const NAMES_A_VARIABLE = /\b(TRIB_[A-Z_]+|REDIS_URL)\b/;
