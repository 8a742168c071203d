import { InvalidArgumentError } from '@tributary/core';

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
