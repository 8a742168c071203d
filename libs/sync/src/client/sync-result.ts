import { CommitId } from '@tributary/core';

/** What a publish or a subscribe did (the CLI prints it with --json). */
export interface SyncResult {
  readonly topic: string;
  /** Commits appended (publish) or applied (subscribe) by this call. */
  readonly commits: number;
  /**
   * Seqs of the first and last commit appended or applied. When there were none: both are the seq the published
   * commit already has (publish), or the subscriber's cursor (subscribe).
   */
  readonly seqFrom: number;
  readonly seqTo: number;
  /** The published commit; for a subscribe, the newest commit applied, else what `refs/topics/<topic>` holds. */
  readonly head: CommitId | null;
  /** Payload bytes of the objects that travelled (a delta's bytes where a delta travelled). */
  readonly wireBytes: number;
  /** Size of the head's tree: the total bytes of its files. 0 without a head. */
  readonly datasetBytes: number;
}

export interface SubscriberInfo {
  readonly name: string;
  readonly cursor: number;
  readonly lag: number;
  /** Entries this subscriber acknowledged with a conflict (EntryOutcome.conflict), oldest first; the latest 100. */
  readonly conflicts: { readonly seq: number; readonly note: string }[];
}

export interface TopicInfo {
  readonly topic: string;
  readonly head: CommitId;
  readonly seq: number;
  readonly subscribers: SubscriberInfo[];
  /** Subscribers the broker did not list (past its per-topic or per-answer limits), sorted after those listed. */
  readonly subscribersOmitted: number;
}

/** One delivered entry, handed to `onEntry` once its objects are durable (the local topic ref moves meanwhile). */
export interface DeliveredEntry {
  readonly seq: number;
  readonly commit: CommitId;
}

/**
 * What `onEntry` may return. `conflict`: the entry could not be applied cleanly and was kept aside (the hub: the
 * branch it parked the commit on and the conflicting paths, one line). It travels with the ack, the broker records
 * it before moving the cursor, and `trib topics` shows it under the subscriber; the entry still counts as applied.
 */
export interface EntryOutcome {
  readonly conflict?: string;
  /**
   * Earlier seqs this subscriber acknowledged with a conflict that it has settled since (the hub: their branches are
   * gone): their notes are cleared with this ack, so `trib topics` no longer shows them. At most 100.
   */
  readonly settled?: readonly number[];
}
