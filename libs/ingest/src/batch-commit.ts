import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync } from 'node:fs';
import * as path from 'node:path';
import {
  appendToFile,
  CommitId,
  cQuote,
  editPath,
  FailedPreconditionError,
  FileRef,
  InvalidArgumentError,
  lookupPath,
  quotePath,
  recordFormatOf,
  RecordFormat,
  splitRelativePath,
  TreeEntry,
  TreeId,
  validateEntryName,
  writeFileContent,
} from '@tributary/core';
import { crashPoint, defaultAuthor, Repository } from '@tributary/repository';
import { readAt, SYNC_IO_MAX_BYTES } from '@tributary/storage';
import { BATCH_NAME, BATCH_SHA256, RecentBatches, REGION } from './batch-history';
import { lastByte, quotesClosed, readCsvHeader, recordsToAppend } from './batch-records';

export interface CommitBatchOptions {
  /** The region recorded in the commit's `trib.region` annotation. */
  readonly region: string;
  /** A `.csv` or `.jsonl` path in the dataset to append the batch's records to, instead of a new file per batch. */
  readonly appendTo?: string;
  /** Clock override (commit time and the `batches/<date>/` folder), for reproducible tests. */
  readonly now?: Date;
  readonly author?: string;
}

export interface BatchCommit {
  readonly commit: CommitId;
  /** True when this batch (same sha256) was already committed: nothing was written, `commit` is that commit. */
  readonly duplicate: boolean;
  /** The dataset path the batch went to; undefined for a duplicate. */
  readonly path?: string;
}

const READ_BLOCK = 1 << 20;
const recentByRepo = new WeakMap<Repository, RecentBatches>();

/** Checks TRIB_APPEND_TO-style paths up front, so an agent refuses a bad one at start-up. */
export function appendTargetFormat(appendTo: string): RecordFormat {
  splitRelativePath(appendTo);
  const format = recordFormatOf(appendTo);
  if (!format) throw new InvalidArgumentError(`cannot append batches to ${cQuote(appendTo)}: only .csv and .jsonl files can be appended to`);
  return format;
}

/**
 * Commits one landed batch file on the repository's current branch, without a working copy: the new tree is the
 * head's tree with one path changed (editPath), so the cost follows the batch, not the dataset.
 *
 * - Default layout: the file's bytes become `batches/<UTC date>/<name>` (if that path already holds other bytes,
 *   `<stem>-<sha256 prefix><ext>` instead, so no batch ever replaces another; the stem shortened to keep the name
 *   within 255 bytes: uniqueBatchName).
 * - `appendTo`: the batch's records are appended to that file with appendToFile (O(batch + one chunk)); a CSV
 *   batch's header is dropped after checking it equals the file's, and the file is created from the whole batch
 *   when absent or empty. One `\n` is inserted when the file lacks a final newline. A CSV batch that leaves a quoted
 *   field open is refused (quotesClosed), checked as its bytes stream.
 * - The commit carries `trib.batch.sha256` (of the file's bytes), `trib.batch.name` and `trib.region`.
 * - Once only: if a commit with the same `trib.batch.sha256` is among the RECENT_BATCH_WINDOW (1000) commits nearest
 *   the branch head (RecentBatches), nothing is written and that commit is returned with `duplicate` true.
 * - Durable before it returns: the commit and its objects are flushed, then HEAD moves by compare-and-swap, all
 *   under the repository lock. A crash before the HEAD move leaves only unreferenced objects.
 *
 * Throws InvalidArgumentError for a name that cannot be a tree entry, a bad `appendTo`, a CSV header that differs
 * from the file's, or a CSV batch to append that leaves a quoted field open; FailedPreconditionError if the file
 * changed while it was read; BatchReadError if the batch file itself cannot be opened or read; the store's errors as
 * they come.
 */
export async function commitBatch(repo: Repository, batchFile: string, opts: CommitBatchOptions): Promise<BatchCommit> {
  const name = path.basename(batchFile);
  validateEntryName(name);
  const format = opts.appendTo ? appendTargetFormat(opts.appendTo) : undefined;
  if (format) {
    const own = recordFormatOf(name);
    if (own && own !== format) throw new InvalidArgumentError(`batch ${quotePath(name)} is ${own}, but ${quotePath(opts.appendTo!)} is ${format}`);
  }
  const sha = await hashFile(batchFile);
  let recent = recentByRepo.get(repo);
  if (!recent) recentByRepo.set(repo, (recent = new RecentBatches()));
  const history = recent;

  return repo.lock.run(async () => {
    const head = await repo.head();
    const dup = await history.find(repo, head.commit, sha);
    if (dup) return { commit: dup, duplicate: true };
    const now = opts.now ?? new Date();
    const baseTree = await repo.treeOf(head.commit);
    const reread = hashingReader(batchFile);
    const placed = opts.appendTo
      ? await appendBatch(repo, baseTree, opts.appendTo, format!, name, reread.bytes)
      : await addBatchFile(repo, baseTree, name, sha, now, reread.bytes);
    if (reread.digest() !== sha) throw new FailedPreconditionError(`batch ${quotePath(name)} changed while it was being committed; it will be retried`);
    const commit = await repo.writeCommit({
      tree: placed.tree,
      parents: head.commit ? [head.commit] : [],
      author: opts.author?.trim() || defaultAuthor(),
      time: now.toISOString(),
      message: `batch ${name} (${opts.region})`,
      annotations: { [BATCH_SHA256]: sha, [BATCH_NAME]: name, [REGION]: opts.region },
    });
    crashPoint('ingest.before-head');
    await repo.advanceHead(head, commit);
    history.record(head.commit, commit, sha);
    return { commit, duplicate: false, path: placed.path };
  });
}

async function addBatchFile(
  repo: Repository,
  baseTree: TreeId | undefined,
  name: string,
  sha: string,
  now: Date,
  bytes: AsyncIterable<Uint8Array>,
): Promise<{ tree: TreeId; path: string }> {
  const db = repo.objects;
  const file = await writeFileContent(db, bytes);
  const dir = `batches/${now.toISOString().slice(0, 10)}`;
  let target = `${dir}/${name}`;
  const existing = baseTree && (await lookupPath(db, baseTree, target));
  if (existing && existing.id !== file.id) target = `${dir}/${uniqueBatchName(name, sha)}`;
  const tree = await editPath(db, db, baseTree, target, fileEntry(file));
  return { tree: tree.id, path: target };
}

/** The longest tree entry name, in UTF-8 bytes (validateEntryName's bound, a filesystem's usual one). */
const MAX_NAME_BYTES = 255;

/**
 * `<stem>-<sha256 prefix><ext>`, for a batch whose name is taken that day by other bytes. The stem is shortened (at a
 * character boundary) when the whole would pass MAX_NAME_BYTES, so a long name that fits as landed still fits with
 * its suffix; the extension and the suffix are kept (an extension so long it leaves no stem counts as stem).
 */
export function uniqueBatchName(name: string, sha: string): string {
  const suffix = `-${sha.slice(0, 12)}`;
  let ext = path.extname(name);
  if (Buffer.byteLength(ext, 'utf8') + suffix.length >= MAX_NAME_BYTES) ext = '';
  let room = MAX_NAME_BYTES - suffix.length - Buffer.byteLength(ext, 'utf8');
  let stem = '';
  for (const ch of name.slice(0, name.length - ext.length)) {
    room -= Buffer.byteLength(ch, 'utf8');
    if (room < 0) break;
    stem += ch;
  }
  return `${stem}${suffix}${ext}`;
}

async function appendBatch(
  repo: Repository,
  baseTree: TreeId | undefined,
  target: string,
  format: RecordFormat,
  name: string,
  batch: AsyncIterable<Uint8Array>,
): Promise<{ tree: TreeId; path: string }> {
  const db = repo.objects;
  const existing = baseTree && (await lookupPath(db, baseTree, target));
  if (existing && existing.kind !== 'file') {
    throw new InvalidArgumentError(`cannot append batches to ${quotePath(target)}: it is a ${existing.kind === 'dir' ? 'directory' : existing.kind}`);
  }
  const bytes = format === 'csv' ? quotesClosed(batch, { batchName: name, target }) : batch;
  let file: FileRef;
  if (!existing || existing.size === 0) {
    file = await writeFileContent(db, bytes);
  } else {
    const old: FileRef = { id: existing.id, chunked: existing.chunked, size: existing.size };
    const existingHeader = format === 'csv' ? (await readCsvHeader(db, old)).record : undefined;
    const needsNewline = (await lastByte(db, old)) !== 0x0a;
    file = await appendToFile(db, db, old, recordsToAppend(format, bytes, { existingHeader, needsNewline, batchName: name, target }));
  }
  const tree = await editPath(db, db, baseTree, target, fileEntry(file, existing || undefined));
  return { tree: tree.id, path: target };
}

function fileEntry(file: FileRef, like?: TreeEntry): Omit<TreeEntry, 'name'> {
  return { kind: 'file', executable: like?.executable ?? false, id: file.id, chunked: file.chunked, size: file.size };
}

async function hashFile(file: string): Promise<string> {
  const reader = hashingReader(file);
  for await (const _ of reader.bytes);
  return reader.digest();
}

/** The file's bytes as a stream, and their sha256 once the stream has been read to its end. */
function hashingReader(file: string): { bytes: AsyncIterable<Uint8Array>; digest(): string } {
  const hash = createHash('sha256');
  let complete = false;
  return {
    bytes: (async function* () {
      for await (const block of readBlocks(file)) {
        hash.update(block);
        yield block;
      }
      complete = true;
    })(),
    digest: () => {
      if (!complete) throw new FailedPreconditionError(`batch ${quotePath(path.basename(file))} was not read to its end`);
      return hash.digest('hex');
    },
  };
}

/**
 * The file's bytes in blocks, to its end as it is when read. A small batch is read in one synchronous call (see
 * SYNC_IO_MAX_BYTES), a larger one a block at a time through the thread pool.
 */
async function* readBlocks(file: string): AsyncGenerator<Buffer> {
  const fd = readingBatch(file, () => openSync(file, 'r'));
  try {
    const blockBytes = readingBatch(file, () => fstatSync(fd).size) <= SYNC_IO_MAX_BYTES ? SYNC_IO_MAX_BYTES : READ_BLOCK;
    for (let position = 0; ; ) {
      const block = await readAt(fd, position, blockBytes).catch((e: unknown) => {
        throw new BatchReadError(file, e);
      });
      if (block.length === 0) return;
      position += block.length;
      yield block;
    }
  } finally {
    closeSync(fd);
  }
}

function readingBatch<T>(file: string, op: () => T): T {
  try {
    return op();
  } catch (e) {
    throw new BatchReadError(file, e);
  }
}

/**
 * Opening, or reading, the batch file itself failed (as opposed to the store the commit goes to): `code` is the fs
 * error's (EACCES, EISDIR, ENOENT for a file removed meanwhile, EIO...), and the message names the batch by its name,
 * without the absolute path Node puts in. The caller decides which of these are the batch's own fault.
 */
export class BatchReadError extends Error {
  readonly code: string | undefined;
  readonly batch: string;
  constructor(file: string, cause: unknown) {
    const why = cause instanceof Error ? cause.message.split(', ')[0] : String(cause);
    super(`cannot read batch ${quotePath(path.basename(file))}: ${why}`, { cause });
    this.name = 'BatchReadError';
    this.code = (cause as NodeJS.ErrnoException).code;
    this.batch = file;
  }
}
