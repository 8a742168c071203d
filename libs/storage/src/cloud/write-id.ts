import { randomBytes } from 'node:crypto';

/*
 * A cloud adapter retries a request whose answer was lost, and the first attempt may have taken effect. A retried
 * compare-and-swap then finds its own value and fails its condition: a branch it created reads "already exists",
 * and a ref it moved reads "changed by another writer". So each compare-and-swap stores a random write id in the
 * object's metadata, and on a failed condition reads it back: its own id means the swap did take effect.
 */

/** The metadata name of the write id (a valid name on S3, GCS and Azure alike). */
export const WRITE_ID_METADATA = 'tribwrite';

/** A fresh write id for one compare-and-swap. */
export function newWriteId(): string {
  return randomBytes(12).toString('hex');
}
