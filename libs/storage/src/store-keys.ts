import { InvalidArgumentError } from '@tributary/core';
import type { ByteRange } from './object-store.port';

const SEGMENT = /^[A-Za-z0-9._-]+$/;

/** Throws InvalidArgumentError unless `key` is a safe relative store key (see ObjectStore). */
export function validateStoreKey(key: string): void {
  if (key.length === 0 || key.length > 1024) throw new InvalidArgumentError(`bad store key ${JSON.stringify(key)}`);
  for (const seg of key.split('/')) {
    if (!SEGMENT.test(seg) || seg === '.' || seg === '..') {
      throw new InvalidArgumentError(`bad store key ${JSON.stringify(key)}`);
    }
  }
}

/** Throws InvalidArgumentError unless `prefix` (of ObjectStore.list) is empty, a key, or a key followed by `/`. */
export function validateListPrefix(prefix: string): void {
  if (prefix === '') return;
  validateStoreKey(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix);
}

/** Throws InvalidArgumentError unless both fields of `range` are non-negative safe integers. */
export function validateByteRange(range: ByteRange): void {
  const ok = (n: number) => Number.isSafeInteger(n) && n >= 0;
  if (!ok(range.offset) || !ok(range.length)) {
    throw new InvalidArgumentError(`bad byte range offset=${range.offset} length=${range.length}`);
  }
}
