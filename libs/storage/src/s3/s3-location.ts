import { InvalidArgumentError } from '@tributary/core';
import { validateStoreKey } from '../store-keys';

/** Where an S3 store lives: `s3://bucket/prefix`. */
export interface S3Location {
  /** The normalized URL, for messages. */
  readonly url: string;
  readonly bucket: string;
  /** Key prefix without leading or trailing `/`; may be empty. */
  readonly prefix: string;
}

// S3's own rules for new buckets: 3 to 63 characters of lowercase letters, digits, dots and hyphens.
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/**
 * Parses `s3://bucket/prefix` (the scheme in any case, as RFC 3986 has it; the prefix may be empty; a trailing `/`
 * is ignored). Throws InvalidArgumentError naming the URL when the bucket name breaks S3's naming rules, the prefix
 * is not a valid store key, or the URL carries credentials, a query or a fragment (endpoints and credentials come
 * from the environment).
 */
export function parseS3Url(url: string): S3Location {
  const bad = (why: string) => new InvalidArgumentError(`bad S3 store URL ${JSON.stringify(url)}: ${why}`, { url });
  const match = /^s3:\/\/([^/?#]*)(\/[^?#]*)?$/i.exec(url);
  if (!match) {
    if (/^s3:\/\/[^?#]*[?#]/i.test(url)) {
      throw bad('a query or fragment has no meaning here; the endpoint comes from AWS_ENDPOINT_URL_S3');
    }
    throw bad('expected s3://bucket/prefix');
  }
  const [, bucket, rawPath = ''] = match;
  if (bucket.includes('@')) throw bad('credentials do not belong in a store URL');
  if (!BUCKET.test(bucket) || bucket.includes('..')) {
    throw bad('the bucket name must be 3 to 63 characters of a-z, 0-9, "." and "-"');
  }
  const prefix = rawPath.replace(/^\//, '').replace(/\/$/, '');
  // `s3://bucket//`: the one segment there is empty.
  if (prefix !== '' || rawPath === '//') {
    try {
      validateStoreKey(prefix);
    } catch {
      throw bad('the prefix must be /-separated segments of [A-Za-z0-9._-], none empty, . or ..');
    }
  }
  return { url: `s3://${bucket}${prefix ? `/${prefix}` : ''}`, bucket, prefix };
}
