import { ObjectStore } from '@tributary/storage';
import { ObjectDatabase } from './object-database';
import { collectGarbage, EVERY_OBJECT_LIVE, GcResult } from './object-gc';

export interface PackMaintenanceOptions {
  /** Merge once this many small packs can be merged (see packsToMerge). Default 16. */
  readonly minPacks?: number;
  /** Told about each merge and each failure (a failed merge is only retried later). */
  readonly log?: (level: 'info' | 'warn', message: string) => void;
}

/**
 * Keeps the pack count of a long-running writer (a broker, a hub) low: it writes one small pack per commit, and a
 * lookup searches every pack's index. Call `afterWrite` after each flush: once enough new packs have appeared, a
 * merge of the small ones runs in the background, one at a time, never in the caller's way.
 *
 * A merge only moves objects (nothing is dead to it), so it needs no lock: readers that lose a pack mid-read reload
 * and find the merged one, which is complete and indexed before any old pack is deleted. It never touches a pack
 * file without an index, which may be another writer's upload in progress. Two writers merging the same packs at
 * once each write a merged copy (a merge never trusts a copy in a pack it leaves alone, which the other may be
 * deleting); a later merge of both folds the duplicates together.
 */
export class PackMaintenance {
  private readonly minPacks: number;
  private nextCheckAt: number;
  private running: Promise<void> | undefined;
  private closed = false;
  private readonly mergedSoFar = { merges: 0, packs: 0 };

  constructor(
    private readonly db: ObjectDatabase,
    private readonly store: ObjectStore,
    private readonly opts: PackMaintenanceOptions = {},
  ) {
    this.minPacks = opts.minPacks ?? 16;
    this.nextCheckAt = this.minPacks;
  }

  /** Starts a merge in the background if enough packs have appeared since the last look. Never throws. */
  afterWrite(): void {
    if (this.closed || this.running || this.db.packs().length < this.nextCheckAt) return;
    const before = this.db.packs().length;
    this.running = this.merge()
      .then((r) => {
        // Packs written while the merge ran count towards the next one: a writer faster than the merge would
        // otherwise pile up a threshold's worth more after every merge.
        const left = r ? Math.max(0, before - r.mergedPacks) + r.writtenPacks : this.db.packs().length;
        this.nextCheckAt = left + this.minPacks;
      })
      .finally(() => {
        this.running = undefined;
      });
  }

  /** The merges done so far and the small packs they merged: what a command that logs no merge sums up at its end. */
  get merged(): { readonly merges: number; readonly packs: number } {
    return { ...this.mergedSoFar };
  }

  /** Waits for a merge in progress; no new one starts. */
  async close(): Promise<void> {
    this.closed = true;
    await this.running;
  }

  /** The merge's result, or undefined if it failed. */
  private async merge(): Promise<GcResult | undefined> {
    let r: GcResult;
    try {
      r = await collectGarbage(this.db, this.store, EVERY_OBJECT_LIVE, {
        graceMs: 0,
        dryRun: false,
        mergeSmallPacks: { minPacks: this.minPacks },
        deleteOrphans: false,
      });
    } catch (e) {
      this.opts.log?.('warn', `merging small packs failed (left as they are, retried later): ${(e as Error).message}`);
      return undefined;
    }
    if (r.mergedPacks > 0) {
      this.mergedSoFar.merges++;
      this.mergedSoFar.packs += r.mergedPacks;
      this.opts.log?.('info', `merged ${r.mergedPacks} small packs into ${r.writtenPacks}; ${r.keptPacks} packs kept`);
    }
    return r;
  }
}
