import { EXIT, exitCodeFor, isTribError, TribError } from '@tributary/core';
import { ConfigError } from './env-config';

/** The exit code of an app that stops on `e`: a bad variable is a usage error, and the rest as the CLI maps them. */
export function exitCodeOf(e: unknown): number {
  if (e instanceof ConfigError) return EXIT.USAGE;
  return isTribError(e) ? exitCodeFor(e.code) : EXIT.PROBLEM;
}

/**
 * Runs `use`, which works with `value`, the value of the environment variable `name`, and puts the variable's name
 * before the message of a failure about that value (one whose message quotes it) that does not name the variable
 * yet, keeping its category: "TRIB_STORE: store file:///x is not a directory". Other failures pass as they are.
 */
export async function namingVariable<T>(name: string, value: string, use: () => Promise<T>): Promise<T> {
  try {
    return await use();
  } catch (e) {
    if (!isTribError(e) || !e.message.includes(value) || e.message.includes(name)) throw e;
    throw new TribError(e.code, `${name}: ${e.message}`, e.details, { cause: e });
  }
}
