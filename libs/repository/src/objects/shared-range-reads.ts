import { RecentlyUsed } from './recently-used';

/**
 * Ranged reads of pack files shared by concurrent readers of one database. A broker sending the same commit to
 * many subscribers at once asks for the same ranges in the same order, one subscriber a little behind another:
 * a read already under way is joined rather than repeated, and with a budget the most recent reads are kept, so
 * the store (a round trip and a GET each on a cloud) serves each range about once however many subscribers follow.
 *
 * Packs never change once written and their names are never reused, so a kept range cannot go stale. Callers get
 * the same Buffer, so they must treat it as read-only (as `ObjectDatabase.getMany` already asks).
 */
export class SharedRangeReads {
  private readonly inFlight = new Map<string, Promise<Buffer>>();
  /** Recently completed reads. */
  private readonly recent: RecentlyUsed<Buffer>;

  /** `keepBytes`: how many bytes of completed reads to keep for readers that come later; 0 keeps none. */
  constructor(private readonly keepBytes: number) {
    this.recent = new RecentlyUsed<Buffer>(keepBytes, (bytes) => bytes.length);
  }

  /** The bytes of `length` bytes at `offset` of `packKey`: kept, joined, or fetched by `fetch`. */
  read(packKey: string, offset: number, length: number, fetch: () => Promise<Buffer>): Promise<Buffer> {
    const key = `${packKey}:${offset}:${length}`;
    const kept = this.recent.get(key);
    if (kept) return Promise.resolve(kept);
    const pending = this.inFlight.get(key);
    if (pending) return pending;
    const read = fetch().then(
      (bytes) => {
        this.inFlight.delete(key);
        this.keep(key, bytes);
        return bytes;
      },
      (e: unknown) => {
        this.inFlight.delete(key);
        throw e;
      },
    );
    this.inFlight.set(key, read);
    return read;
  }

  private keep(key: string, bytes: Buffer): void {
    // A read larger than a quarter of the budget would push out everything else for one reader's sake.
    if (this.keepBytes === 0 || bytes.length > this.keepBytes / 4) return;
    this.recent.set(key, bytes);
  }
}
