import { AlreadyExistsError, ConflictError, NotFoundError } from '@tributary/core';

/*
 * The errors a store raises about one key of the store at `url`, worded alike by every adapter so a message reads
 * the same whatever the backend. Each carries `url` and `key` in its details.
 */

export function keyNotFound(url: string, key: string): NotFoundError {
  return new NotFoundError(`${key} not found in ${url}`, { url, key });
}

export function keyExists(url: string, key: string): AlreadyExistsError {
  return new AlreadyExistsError(`${key} already exists in ${url}`, { url, key });
}

export interface KeyChange {
  /** What the backend calls a version in messages: `version` (the default), `ETag`, `generation`. */
  readonly versionName?: string;
  /** The version the adapter found instead (undefined: no value), when it read one. */
  readonly found?: { readonly version: string | undefined };
  readonly cause?: unknown;
}

/** A compare-and-swap or conditional delete of `key` that lost: its value is no longer `expected` (undefined: none). */
export function keyChanged(
  url: string,
  key: string,
  expected: string | undefined,
  change: KeyChange = {},
): ConflictError {
  const show = (v: string | undefined) => (v === undefined ? 'no value' : `${change.versionName ?? 'version'} ${v}`);
  const found = change.found ? `, found ${show(change.found.version)}` : '';
  return new ConflictError(
    `${key} in ${url} changed: expected ${show(expected)}${found}`,
    { url, key, expected, ...(change.found ? { actual: change.found.version } : {}) },
    change.cause === undefined ? undefined : { cause: change.cause },
  );
}
