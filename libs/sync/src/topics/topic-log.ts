import {
  AlreadyExistsError,
  CommitId,
  ConflictError,
  IntegrityError,
  isObjectId,
  NotFoundError,
  parseTopicName,
  TopicName,
} from '@tributary/core';
import { MAX_TOPIC_SEQ, TOPIC_LOG_PREFIX, topicEntryKey } from '@tributary/repository';
import { ObjectStore } from '@tributary/storage';
import { LogFence, StoreFence } from './log-fence';

/** One entry of a topic's log. */
export interface TopicEntry {
  readonly seq: number;
  readonly commit: CommitId;
  /** The previous entry's commit (the commit's first parent); null for entry 1. */
  readonly parent: CommitId | null;
  /** When the entry was appended, UTC ISO 8601. */
  readonly time: string;
}

const LOG_PREFIX = TOPIC_LOG_PREFIX;
const HEADS_PREFIX = 'topic-heads/';

/*
 * Keys, in the broker's object store next to its packs:
 *   topic-log/<topic>/SEQ/<seq, 12 digits>   the entry, JSON, create-if-absent: the log itself (topicEntryKey)
 *   topic-log/<topic>/COMMIT/<commit id>     the entry's seq, create-if-absent: for idempotent publishes
 *   topic-heads/<topic>/HEAD                 {seq, commit} of a recent entry, compare-and-swap: a hint only
 *   topic-heads/<topic>/CREATED              empty, written before entry 1: lists a topic whose first append
 *                                            died before its hint was written
 * The upper-case segments cannot occur in a topic name, so no topic's keys can collide with another's (topics
 * nest: `a` and `a/b` may both exist).
 */
const commitKey = (t: TopicName, c: CommitId) => `${LOG_PREFIX}${t}/COMMIT/${c}`;
const headKey = (t: TopicName) => `${HEADS_PREFIX}${t}/HEAD`;
const createdKey = (t: TopicName) => `${HEADS_PREFIX}${t}/CREATED`;
/** The keys under HEADS_PREFIX that name a topic: its hint, or the mark its first append leaves. */
const TOPIC_KEY_SUFFIXES = ['/HEAD', '/CREATED'];

/**
 * A topic: an ordered log of commits with sequence numbers from 1, kept durably in an ObjectStore. Every entry is
 * written through a LogFence (by default the store's own create-if-absent), so two writers (two brokers on one
 * store) can never both take a sequence number; the head hint is only an optimisation and the true head is found by
 * probing past it, so a lost, stale or even backward hint never loses an entry. Redis is never the only copy of
 * anything here.
 */
export class TopicLog {
  constructor(
    readonly store: ObjectStore,
    readonly fence: LogFence = new StoreFence(store),
  ) {}

  /** The entry at `seq`, or undefined if there is none (yet). Throws IntegrityError for a corrupt entry. */
  async entry(topic: TopicName, seq: number): Promise<TopicEntry | undefined> {
    const key = topicEntryKey(topic, seq);
    let data: Buffer;
    try {
      data = await this.store.get(key);
    } catch (e) {
      if (e instanceof NotFoundError) return undefined;
      throw e;
    }
    return parseEntry(data, key, seq);
  }

  /**
   * The last entry, or undefined if the topic does not exist. Starts at the head hint and probes forward, repairing
   * what a writer that died midway left behind (a missing commit index, a stale hint, an entry claimed in the fence
   * but not written): amortised one read.
   */
  async head(topic: TopicName): Promise<TopicEntry | undefined> {
    const hint = await this.readHint(topic);
    let head: TopicEntry | undefined = hint && (await this.entry(topic, hint.seq));
    if (hint && !head) throw new IntegrityError(`topic ${topic}: head hint names seq ${hint.seq}, which is missing`, { topic });
    let advanced = false;
    for (;;) {
      const seq = (head?.seq ?? 0) + 1;
      const next = (await this.entry(topic, seq)) ?? (await this.recoverEntry(topic, seq));
      if (!next) break;
      await this.indexCommit(topic, next);
      head = next;
      advanced = true;
    }
    if (head && advanced) await this.advanceHint(topic, head);
    return head;
  }

  /** The seq of `commit` if it is in the topic's log. */
  async seqOf(topic: TopicName, commit: CommitId): Promise<number | undefined> {
    let data: Buffer;
    try {
      data = await this.store.get(commitKey(topic, commit));
    } catch (e) {
      if (e instanceof NotFoundError) return undefined;
      throw e;
    }
    const seq = Number(data.toString('utf8').trim());
    if (!Number.isSafeInteger(seq) || seq < 1) throw new IntegrityError(`topic ${topic}: corrupt index for commit ${commit}`, { topic, commit });
    return seq;
  }

  /**
   * Appends `commit` as entry `head.seq + 1` after `head` (undefined: as entry 1 of a new topic). The entry is
   * durable when this resolves. Throws ConflictError when that seq was taken meanwhile (by another broker): the
   * caller re-reads the head and decides again. The caller checks the fast-forward rule (the commit's first
   * parent is `head.commit`) before calling.
   */
  async append(topic: TopicName, head: TopicEntry | undefined, commit: CommitId, now = new Date()): Promise<TopicEntry> {
    const { entry, settle } = await this.appendEntry(topic, head, commit, now);
    await settle();
    return entry;
  }

  /**
   * `append` in two steps, for a caller that acknowledges as soon as the entry is durable: resolves once the entry
   * itself is durable (that is the append: two writers never both get the seq), with `settle` to call afterwards,
   * which writes the commit index and moves the head hint. Both are repairable caches: `head()` probes past a stale
   * hint and indexes what it finds, so a settle that never runs (a crash) costs a later reader a few reads, never an
   * entry. `settle` rejects only with store errors, which the caller may log and drop. Throws as `append`.
   */
  async appendEntry(
    topic: TopicName,
    head: TopicEntry | undefined,
    commit: CommitId,
    now = new Date(),
  ): Promise<{ entry: TopicEntry; settle(): Promise<void> }> {
    const seq = (head?.seq ?? 0) + 1;
    if (seq > MAX_TOPIC_SEQ) throw new IntegrityError(`topic ${topic} is full`, { topic });
    const entry: TopicEntry = { seq, commit, parent: head?.commit ?? null, time: now.toISOString() };
    if (seq === 1) await this.markCreated(topic);
    try {
      await this.fence.createEntry(topic, seq, topicEntryKey(topic, seq), Buffer.from(JSON.stringify(entry) + '\n'));
    } catch (e) {
      if (e instanceof AlreadyExistsError) {
        throw new ConflictError(`topic ${topic}: seq ${seq} was taken by another writer`, { topic, seq });
      }
      throw e;
    }
    return {
      entry,
      settle: async () => {
        await this.indexCommit(topic, entry);
        await this.advanceHint(topic, entry);
      },
    };
  }

  /**
   * Every topic that has, or had an append of, an entry, sorted. A topic whose first append failed or is still
   * under way is listed too: its `head` is then undefined.
   */
  async topics(): Promise<TopicName[]> {
    const out = new Set<TopicName>();
    for await (const info of this.store.list(HEADS_PREFIX)) {
      const suffix = TOPIC_KEY_SUFFIXES.find((x) => info.key.endsWith(x));
      if (!suffix) continue;
      try {
        out.add(parseTopicName(info.key.slice(HEADS_PREFIX.length, -suffix.length)));
      } catch {
        // Not a key this class wrote; skip it rather than fail the listing.
      }
    }
    return [...out].sort();
  }

  /**
   * Leaves the topic's name where `topics` lists it before its first entry is written: the head hint comes only
   * after the entry, and a broker killed between the two would otherwise leave a topic no listing shows.
   */
  private async markCreated(topic: TopicName): Promise<void> {
    try {
      await this.store.putIfAbsent(createdKey(topic), Buffer.alloc(0));
    } catch (e) {
      if (!(e instanceof AlreadyExistsError)) throw e;
    }
  }

  private async recoverEntry(topic: TopicName, seq: number): Promise<TopicEntry | undefined> {
    const key = topicEntryKey(topic, seq);
    const data = await this.fence.recoverEntry(topic, seq, key);
    return data && parseEntry(data, key, seq);
  }

  private async indexCommit(topic: TopicName, entry: TopicEntry): Promise<void> {
    try {
      await this.store.putIfAbsent(commitKey(topic, entry.commit), Buffer.from(`${entry.seq}\n`));
    } catch (e) {
      if (!(e instanceof AlreadyExistsError)) throw e;
    }
  }

  private async readHint(topic: TopicName): Promise<{ seq: number; version: string } | undefined> {
    const v = await this.store.readVersioned(headKey(topic));
    if (!v) return undefined;
    let seq: unknown;
    try {
      seq = JSON.parse(v.data.toString('utf8')).seq;
    } catch {
      seq = undefined;
    }
    if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) {
      throw new IntegrityError(`topic ${topic}: corrupt head hint`, { topic });
    }
    return { seq, version: v.version };
  }

  /** Moves the hint forward to `entry`, never back; losing a race to a newer hint is fine. */
  private async advanceHint(topic: TopicName, entry: TopicEntry): Promise<void> {
    const data = Buffer.from(JSON.stringify({ seq: entry.seq, commit: entry.commit }) + '\n');
    for (let attempt = 0; attempt < 5; attempt++) {
      const v = await this.store.readVersioned(headKey(topic));
      if (v) {
        const current = this.hintSeq(v.data);
        if (current !== undefined && current >= entry.seq) return;
      }
      try {
        await this.store.compareAndSwap(headKey(topic), v?.version, data);
        return;
      } catch (e) {
        if (!(e instanceof ConflictError)) throw e;
      }
    }
  }

  private hintSeq(data: Buffer): number | undefined {
    try {
      const seq = JSON.parse(data.toString('utf8')).seq;
      return typeof seq === 'number' ? seq : undefined;
    } catch {
      return undefined;
    }
  }
}

function parseEntry(data: Buffer, key: string, seq: number): TopicEntry {
  let v: any;
  try {
    v = JSON.parse(data.toString('utf8'));
  } catch {
    v = undefined;
  }
  const ok =
    v && v.seq === seq && typeof v.commit === 'string' && isObjectId(v.commit) &&
    (v.parent === null || (typeof v.parent === 'string' && isObjectId(v.parent))) && typeof v.time === 'string';
  if (!ok) throw new IntegrityError(`topic log entry ${key} is corrupt`, { key });
  return { seq: v.seq, commit: v.commit, parent: v.parent, time: v.time };
}
