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

/**
 * A download of `key` broke off, and the object is no longer the `version` it started on, so the rest cannot be
 * read: the bytes read so far and any read now are of two different values, never to be joined.
 */
export function keyChangedWhileRead(url: string, key: string, version: string, versionName: string, cause?: unknown): ConflictError {
  return new ConflictError(
    `cannot read ${key} in ${url}: it changed while it was read (it is no longer ${versionName} ${version}); read it again`,
    { url, key, expected: version },
    cause === undefined ? undefined : { cause },
  );
}
