import { ObjectId, TreeShape } from '@tributary/core';
import { RecentlyUsed } from '@tributary/repository';
import { ObjectKindName } from './object-kinds';

/** What an object turned out to be, for checking claims about it. */
export interface Received {
  readonly kind: ObjectKindName;
  /** Chunk: its length; list or tree node: the total file bytes beneath it. */
  readonly size: number;
  /** The length of the object's own bytes (what a claim that it is a chunk is checked against). */
  readonly length: number;
  /** Chunk lists only. */
  readonly level?: number;
  /** Trees only: what the rules that span tree nodes check of it. */
  readonly tree?: TreeShape;
}

/** Entries kept: about 15 MiB at most. */
const DEFAULT_MAX_ENTRIES = 100_000;
/** What an entry weighs against that count: a tree's names, up to 255 bytes each, may outweigh the rest. */
const ENTRY_BYTES = 150;

/**
 * What objects decoded as, by id and kind, remembered across transfers. An id names its bytes wherever they are
 * stored, so what they decode as is a fact about the id, true in any store: a receiver that decoded an object once
 * (received it, or read it to check a claim) can check later claims about it without reading it again. So a
 * broker's or a hub's checks of the objects a new tree names cost reads only for objects it has not seen since it
 * started. Bounded: the least recently used are forgotten.
 */
export class VerifiedKinds {
  private readonly entries: RecentlyUsed<Received>;

  constructor(maxEntries = DEFAULT_MAX_ENTRIES) {
    this.entries = new RecentlyUsed<Received>(maxEntries, (r) => 1 + 2 * ((r.tree?.firstName?.length ?? 0) + (r.tree?.lastName?.length ?? 0)) / ENTRY_BYTES);
  }

  get(id: ObjectId, kind: ObjectKindName): Received | undefined {
    return this.entries.get(kind + id);
  }

  set(id: ObjectId, received: Received): void {
    this.entries.set(received.kind + id, received);
  }
}

/** The process's memory of decoded objects, shared by every receiver unless one is given its own. */
export const processVerifiedKinds = new VerifiedKinds();
