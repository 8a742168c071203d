import { FailedPreconditionError, IntegrityError, InvalidArgumentError, TribError } from '../errors/trib-error';
import { TreeId } from '../ids/ids';
import { splitRelativePath, validateEntryName } from '../paths/path-rules';
import { cQuote } from '../paths/c-quote';
import { TreeEntry } from './object-types';
import { ObjectSink, ObjectSource } from './object-source';
import { itemFirstName, TreeCursor } from './tree-reader';
import {
  closesNode,
  compareNames,
  encodeCheckedTreeIndex,
  encodeCheckedTreePage,
  TREE_PAGE_HEADER,
  TreeIndexChild,
  validateTreeEntry,
} from './tree.codec';

/** A written directory: its root node id and the total size of the files and links beneath it. */
export interface BuiltTree {
  readonly id: TreeId;
  readonly size: number;
}

function addSizes(a: number, b: number): number {
  const sum = a + b;
  if (!Number.isSafeInteger(sum)) throw new InvalidArgumentError('tree size exceeds the safe integer range');
  return sum;
}

/**
 * The paging state machine behind TreeBuilder and editTree. Takes entries one at a time, or whole nodes of an
 * existing tree when they start exactly where a fresh node would start (`alignedAt`); either way the output is the
 * canonical tree of the entries in order. Trusts its caller to validate entries.
 */
class PagedTreeWriter {
  private page: TreeEntry[] = [];
  /** pending[k] (k >= 1): the children, nodes of level k-1, of the level-k node being filled. */
  private readonly pending: TreeIndexChild[][] = [[]];
  /** total[k]: how many children level k has received in all. */
  private readonly total: number[] = [0];
  /** The last name added, or after a whole node its first name: a lower bound for what may follow. */
  private last: string | undefined;

  constructor(private readonly sink: ObjectSink) {}

  async add(entry: TreeEntry): Promise<void> {
    this.checkOrder(entry.name);
    this.page.push(entry);
    if (closesNode(this.page.length, entry.name)) await this.closePage();
  }

  /** True when nothing is pending below level `level`+1, so a complete level-`level` node may follow as a whole. */
  alignedAt(level: number): boolean {
    if (this.page.length > 0) return false;
    for (let k = 1; k <= level && k < this.pending.length; k++) if (this.pending[k].length > 0) return false;
    return true;
  }

  /** Appends a whole existing node of the given level; requires alignedAt(level). */
  async addNode(node: TreeIndexChild, level: number): Promise<void> {
    if (!this.alignedAt(level)) throw new TribError('INTERNAL', 'PagedTreeWriter.addNode: not aligned');
    this.checkOrder(node.firstName);
    await this.push(level + 1, node);
  }

  /** Callers pass sorted input, so this only trips on a tree being edited whose index ranges overlap. */
  private checkOrder(name: string): void {
    if (this.last !== undefined && compareNames(this.last, name) >= 0) {
      throw new IntegrityError(`tree entries out of order at ${cQuote(name)}: the tree being edited is malformed`);
    }
    this.last = name;
  }

  async finish(): Promise<BuiltTree> {
    if (this.page.length > 0) await this.closePage();
    if (this.total.every((n) => n === 0)) {
      return { id: await this.sink.put(Buffer.from(TREE_PAGE_HEADER, 'latin1')), size: 0 };
    }
    for (let k = 1; k < this.pending.length; k++) {
      const higher = this.total.slice(k + 1).some((n) => n > 0);
      const waiting = this.pending[k];
      if (!higher && waiting.length === 1) return { id: waiting[0].id, size: waiting[0].size };
      if (waiting.length > 0) await this.closeIndex(k);
    }
    throw new TribError('INTERNAL', 'PagedTreeWriter.finish: no root');
  }

  private async closePage(): Promise<void> {
    const entries = this.page;
    this.page = [];
    const id = await this.sink.put(encodeCheckedTreePage(entries));
    await this.push(1, { id, firstName: entries[0].name, size: entries.reduce((s, e) => addSizes(s, e.size), 0) });
  }

  private async closeIndex(level: number): Promise<void> {
    const children = this.pending[level];
    this.pending[level] = [];
    const id = await this.sink.put(encodeCheckedTreeIndex(children));
    await this.push(level + 1, { id, firstName: children[0].firstName, size: children.reduce((s, c) => addSizes(s, c.size), 0) });
  }

  private async push(level: number, child: TreeIndexChild): Promise<void> {
    while (this.pending.length <= level) {
      this.pending.push([]);
      this.total.push(0);
    }
    this.pending[level].push(child);
    this.total[level]++;
    if (closesNode(this.pending[level].length, child.firstName)) await this.closeIndex(level);
  }
}

/**
 * Writes one directory from entries given in sorted order (UTF-8 bytes of the name). Pages are written as they
 * close, so memory is one page plus one pending node per index level, however many entries. Await each call before
 * the next. `add` throws InvalidArgumentError for an invalid entry or a name not strictly after the previous one
 * (out of order or duplicate); `finish` returns the directory's id and total size, and may be called once.
 */
export class TreeBuilder {
  private readonly writer: PagedTreeWriter;
  private last: string | undefined;
  private busy = false;
  private finished = false;

  constructor(sink: ObjectSink) {
    this.writer = new PagedTreeWriter(sink);
  }

  async add(entry: TreeEntry): Promise<void> {
    this.enter();
    try {
      validateTreeEntry(entry);
      if (this.last !== undefined && compareNames(this.last, entry.name) >= 0) {
        throw new InvalidArgumentError(
          compareNames(this.last, entry.name) === 0
            ? `duplicate tree entry ${cQuote(entry.name)}`
            : `tree entry ${cQuote(entry.name)} added after ${cQuote(this.last)}: entries must be sorted`,
        );
      }
      this.last = entry.name;
      await this.writer.add(entry);
    } finally {
      this.busy = false;
    }
  }

  async finish(): Promise<BuiltTree> {
    this.enter();
    this.finished = true;
    try {
      return await this.writer.finish();
    } finally {
      this.busy = false;
    }
  }

  private enter(): void {
    if (this.finished) throw new FailedPreconditionError('tree builder already finished');
    if (this.busy) throw new FailedPreconditionError('tree builder used concurrently: await each call');
    this.busy = true;
  }
}

/** Writes a directory from entries in any order (sorted here); throws InvalidArgumentError on duplicates. */
export async function buildTree(sink: ObjectSink, entries: readonly TreeEntry[]): Promise<BuiltTree> {
  const builder = new TreeBuilder(sink);
  for (const e of [...entries].sort((a, b) => compareNames(a.name, b.name))) await builder.add(e);
  return builder.finish();
}

function comparePaths(a: readonly string[], b: readonly string[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const c = compareNames(a[i], b[i]);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

/**
 * Writes nested trees from a flat list of paths and returns the root. Paths must come in sorted order, comparing
 * component by component by UTF-8 bytes (the order of a depth-first walk of sorted trees). A `dir` entry places an
 * existing subtree at its path; nothing may then be given beneath that path. Memory: one builder per open directory
 * level. Throws InvalidArgumentError for an unsafe path, an invalid entry, a path out of order or repeated, or a
 * path beneath a non-directory.
 */
export async function writeTreeFromPaths(
  sink: ObjectSink,
  files: AsyncIterable<{ path: string; entry: Omit<TreeEntry, 'name'> }> | Iterable<{ path: string; entry: Omit<TreeEntry, 'name'> }>,
): Promise<BuiltTree> {
  const root = new TreeBuilder(sink);
  const open: { name: string; builder: TreeBuilder }[] = [];
  const closeInnermost = async () => {
    const dir = open.pop()!;
    const { id, size } = await dir.builder.finish();
    const parent = open.length > 0 ? open[open.length - 1].builder : root;
    await parent.add({ name: dir.name, kind: 'dir', executable: false, chunked: false, id, size });
  };
  let prev: string[] | undefined;
  for await (const { path, entry } of files) {
    const parts = splitRelativePath(path);
    if (prev) {
      const c = comparePaths(prev, parts);
      if (c >= 0) throw new InvalidArgumentError(`paths must be unique and sorted: ${cQuote(path)} after ${cQuote(prev.join('/'))}`);
      if (prev.length < parts.length && prev.every((p, i) => p === parts[i])) {
        throw new InvalidArgumentError(`path ${cQuote(path)} lies beneath ${cQuote(prev.join('/'))}, which is not a directory`);
      }
    }
    const dirs = parts.length - 1;
    let common = 0;
    while (common < open.length && common < dirs && open[common].name === parts[common]) common++;
    while (open.length > common) await closeInnermost();
    for (let i = common; i < dirs; i++) open.push({ name: parts[i], builder: new TreeBuilder(sink) });
    const target = open.length > 0 ? open[open.length - 1].builder : root;
    await target.add({ ...entry, name: parts[dirs] });
    prev = parts;
  }
  while (open.length > 0) await closeInnermost();
  return root.finish();
}

/** One change to a directory: set `name` to `entry`, or remove it when `entry` is undefined. */
export interface TreeEdit {
  readonly name: string;
  readonly entry?: TreeEntry;
}

/**
 * Writes a directory that is `treeId` (undefined: empty) with `edits` applied, reusing every node of the old tree
 * that no edit touches, without reading it: reads and writes follow the number of edits, not the directory's size,
 * and the result is the same canonical tree that building all entries afresh would give. Edits must come in
 * strictly ascending name order; removing an absent name is a no-op. Throws InvalidArgumentError for an invalid or
 * out-of-order edit, and IntegrityError / NotFoundError from reading the old tree.
 */
export async function editTree(
  src: ObjectSource,
  sink: ObjectSink,
  treeId: TreeId | undefined,
  edits: AsyncIterable<TreeEdit> | Iterable<TreeEdit>,
): Promise<BuiltTree> {
  const cursor = await TreeCursor.open(src, treeId, { levels: true });
  const writer = new PagedTreeWriter(sink);
  const iterator = Symbol.asyncIterator in edits ? edits[Symbol.asyncIterator]() : (edits as Iterable<TreeEdit>)[Symbol.iterator]();
  let last: string | undefined;
  const nextEdit = async (): Promise<TreeEdit | undefined> => {
    const r = await iterator.next();
    if (r.done) return undefined;
    const edit = r.value;
    validateEntryName(edit.name);
    if (edit.entry) {
      validateTreeEntry(edit.entry);
      if (edit.entry.name !== edit.name) throw new InvalidArgumentError(`tree edit for ${cQuote(edit.name)} carries an entry named ${cQuote(edit.entry.name)}`);
    }
    if (last !== undefined && compareNames(last, edit.name) >= 0) {
      throw new InvalidArgumentError(`tree edits must be unique and sorted: ${cQuote(edit.name)} after ${cQuote(last)}`);
    }
    last = edit.name;
    return edit;
  };

  let edit = await nextEdit();
  for (;;) {
    const item = cursor.peek();
    if (!item) break;
    const first = itemFirstName(item);
    if (edit && compareNames(edit.name, first) < 0) {
      if (edit.entry) await writer.add(edit.entry);
      edit = await nextEdit();
      continue;
    }
    if (item.type === 'entry') {
      cursor.pop();
      if (edit && edit.name === first) {
        if (edit.entry) await writer.add(edit.entry);
        edit = await nextEdit();
      } else {
        await writer.add(item.entry);
      }
      continue;
    }
    const bound = cursor.boundAfterNext();
    const untouched = !edit || (bound !== undefined && compareNames(edit.name, bound) >= 0);
    if (untouched && item.level !== undefined && writer.alignedAt(item.level)) {
      cursor.pop();
      await writer.addNode(item, item.level);
    } else {
      await cursor.expand();
    }
  }
  for (; edit; edit = await nextEdit()) if (edit.entry) await writer.add(edit.entry);
  return writer.finish();
}
