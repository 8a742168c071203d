import { promises as fs, statSync, BigIntStats } from 'node:fs';
import * as path from 'node:path';
import { EntryKind, ObjectId } from '@tributary/core';
import { writeFileDurably } from '../repository';

/** What the working copy looked like when a path was last hashed (as git's index keeps it). */
export interface CachedEntry {
  readonly kind: EntryKind;
  readonly executable: boolean;
  readonly size: number;
  readonly mtimeNs: bigint;
  readonly ctimeNs: bigint;
  readonly ino: bigint;
  readonly id: ObjectId;
  readonly chunked: boolean;
}

const FORMAT = 'trib-index 1';

/**
 * The stat cache: lets a commit reuse a file's id without reading it when size, mtime, ctime and inode are
 * unchanged. Entries whose mtime is not older than the cache file itself are "racily clean" -- the file may have
 * changed again within the same timestamp tick after it was hashed -- so they are never trusted, only rehashed.
 */
export class StatCache {
  private entries = new Map<string, CachedEntry>();
  private writtenAtNs = 0n;

  constructor(private readonly file: string) {}

  static async load(file: string): Promise<StatCache> {
    const cache = new StatCache(file);
    let text: string;
    try {
      text = await fs.readFile(file, 'utf8');
      cache.writtenAtNs = statSync(file, { bigint: true }).mtimeNs;
    } catch {
      return cache;
    }
    const lines = text.split('\n');
    if (lines[0] !== FORMAT) return cache;
    for (let i = 1; i < lines.length; i++) {
      if (!lines[i]) continue;
      try {
        const [p, kind, exec, size, mtime, ctime, ino, id, chunked] = JSON.parse(lines[i]);
        cache.entries.set(p, {
          kind, executable: exec === 1, size, mtimeNs: BigInt(mtime), ctimeNs: BigInt(ctime), ino: BigInt(ino), id, chunked: chunked === 1,
        });
      } catch {
        // A damaged line only costs a rehash of that path.
      }
    }
    return cache;
  }

  /** The cached entry when `st` proves the path unchanged since it was hashed; undefined means "hash it". */
  lookup(relPath: string, st: BigIntStats): CachedEntry | undefined {
    const e = this.entries.get(relPath);
    if (!e) return undefined;
    if (e.mtimeNs >= this.writtenAtNs) return undefined;
    if (e.size !== Number(st.size) || e.mtimeNs !== st.mtimeNs || e.ctimeNs !== st.ctimeNs || e.ino !== st.ino) return undefined;
    return e;
  }

  get(relPath: string): CachedEntry | undefined {
    return this.entries.get(relPath);
  }

  set(relPath: string, st: BigIntStats, e: Omit<CachedEntry, 'mtimeNs' | 'ctimeNs' | 'ino'>): void {
    this.entries.set(relPath, {
      kind: e.kind, executable: e.executable, size: e.size, id: e.id, chunked: e.chunked,
      mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs, ino: st.ino,
    });
  }

  delete(relPath: string): void {
    this.entries.delete(relPath);
  }

  /** Drops every entry not in `keep` (paths that no longer exist). */
  retainOnly(keep: Set<string>): void {
    for (const p of this.entries.keys()) if (!keep.has(p)) this.entries.delete(p);
  }

  async save(): Promise<void> {
    const lines = [FORMAT];
    for (const [p, e] of this.entries) {
      lines.push(
        JSON.stringify([p, e.kind, e.executable ? 1 : 0, e.size, e.mtimeNs.toString(), e.ctimeNs.toString(), e.ino.toString(), e.id, e.chunked ? 1 : 0]),
      );
    }
    await fs.mkdir(path.dirname(this.file), { recursive: true });
    await writeFileDurably(this.file, lines.join('\n') + '\n');
    this.writtenAtNs = statSync(this.file, { bigint: true }).mtimeNs;
  }
}
