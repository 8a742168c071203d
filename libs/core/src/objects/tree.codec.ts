import { IntegrityError, InvalidArgumentError, TribError } from '../errors/trib-error';
import { sha256 } from '../hashing/sha256';
import { ObjectId, TreeId } from '../ids/ids';
import { validateEntryName } from '../paths/path-rules';
import { cQuote } from '../paths/c-quote';
import { TreeEntry } from './object-types';

/**
 * Tree objects: one directory, stored as one or more nodes.
 *
 * - Page (leaf): `tree 1\n` then per entry `<mode> <size> <id> <name>\0`, entries in strictly ascending order of the
 *   UTF-8 bytes of `name`. Modes: `f` file in one chunk, `F` file as a chunk list, `x`/`X` the same but executable,
 *   `l` symlink, `d` directory. Size is decimal without leading zeros, id is 64 lowercase hex.
 * - Index: `tidx 1\n` then per child `<size> <childId> <firstName>\0`; size is the total size beneath the child,
 *   firstName the first entry name beneath it.
 *
 * Paging is content-defined, so an edit moves only the nodes around it: a node closes after an item (an entry, or an
 * index child judged by its firstName) whose name is a boundary name, once the node holds two or more items, and
 * always at MAX_NODE_ITEMS. A directory that fits one page is that page; otherwise pages are grouped into index
 * nodes by the same rule, level by level, until one node is left. The directory's id is that root node's id.
 */
export const TREE_PAGE_HEADER = 'tree 1\n';
export const TREE_INDEX_HEADER = 'tidx 1\n';
export const MAX_NODE_ITEMS = 2048;

export interface TreeIndexChild {
  /** Total size of all files and links beneath the child. */
  readonly size: number;
  readonly id: TreeId;
  readonly firstName: string;
}

export type TreeNode =
  | { readonly type: 'page'; readonly entries: readonly TreeEntry[] }
  | { readonly type: 'index'; readonly children: readonly TreeIndexChild[] };

const PAGE_HEADER = Buffer.from(TREE_PAGE_HEADER, 'latin1');
const INDEX_HEADER = Buffer.from(TREE_INDEX_HEADER, 'latin1');

/** Id of the directory with no entries: the bare page header. */
export const EMPTY_TREE_ID: TreeId = sha256(PAGE_HEADER);

/**
 * Orders names by their UTF-8 bytes (the same as Buffer.compare on the encoded names) without encoding them.
 * UTF-8 byte order is code point order; UTF-16 code units disagree with it only where a surrogate meets a unit
 * above U+D7FF, so only that case needs care.
 */
export function compareNames(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) {
      const xs = x >= 0xd800 && x <= 0xdfff;
      const ys = y >= 0xd800 && y <= 0xdfff;
      if (xs !== ys) return xs ? 1 : -1;
      return x < y ? -1 : 1;
    }
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

/** Sorted path order: component by component, by UTF-8 bytes (a depth-first walk of sorted trees). */
export function comparePaths(a: string, b: string): number {
  const x = a.split('/');
  const y = b.split('/');
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const c = compareNames(x[i], y[i]);
    if (c !== 0) return c;
  }
  return x.length - y.length;
}

/** FNV-1a 32 of the name's UTF-8 bytes. */
export function nameHash(name: string): number {
  let h = 0x811c9dc5;
  const step = (byte: number) => {
    h = Math.imul(h ^ byte, 0x01000193) >>> 0;
  };
  for (let i = 0; i < name.length; i++) {
    let cp = name.charCodeAt(i);
    if (cp >= 0xd800 && cp <= 0xdbff && i + 1 < name.length) {
      const lo = name.charCodeAt(i + 1);
      if (lo >= 0xdc00 && lo <= 0xdfff) {
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        i++;
      }
    }
    if (cp < 0x80) step(cp);
    else if (cp < 0x800) {
      step(0xc0 | (cp >> 6));
      step(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      step(0xe0 | (cp >> 12));
      step(0x80 | ((cp >> 6) & 0x3f));
      step(0x80 | (cp & 0x3f));
    } else {
      step(0xf0 | (cp >> 18));
      step(0x80 | ((cp >> 12) & 0x3f));
      step(0x80 | ((cp >> 6) & 0x3f));
      step(0x80 | (cp & 0x3f));
    }
  }
  return h;
}

/** True when a node holding `count` items, the last named `lastName`, must close after that item. */
export function closesNode(count: number, lastName: string): boolean {
  return count >= MAX_NODE_ITEMS || (count >= 2 && (nameHash(lastName) & 0xff) === 0);
}

/** Same answer as isObjectId; a plain loop, because the regex dominated decoding large directories. */
function isHexId(s: string): s is ObjectId {
  if (s.length !== 64) return false;
  for (let i = 0; i < 64; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) return false;
  }
  return true;
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function checkName(name: string): void {
  validateEntryName(name);
  if (LONE_SURROGATE.test(name)) throw new InvalidArgumentError(`unsafe path: ${JSON.stringify(name)} is not valid Unicode`);
}

function checkSize(size: number, what: string): void {
  if (!Number.isSafeInteger(size) || size < 0) throw new InvalidArgumentError(`${what}: size must be a non-negative integer, got ${size}`);
}

/** The one-character mode of an entry; throws InvalidArgumentError for combinations the format cannot hold. */
export function entryMode(e: TreeEntry): string {
  switch (e.kind) {
    case 'file':
      return e.executable ? (e.chunked ? 'X' : 'x') : e.chunked ? 'F' : 'f';
    case 'symlink':
    case 'dir':
      if (e.executable || e.chunked) throw new InvalidArgumentError(`entry ${cQuote(e.name)}: a ${e.kind} cannot be executable or chunked`);
      return e.kind === 'dir' ? 'd' : 'l';
    default:
      throw new InvalidArgumentError(`entry ${cQuote((e as TreeEntry).name)}: unknown kind ${String((e as TreeEntry).kind)}`);
  }
}

/** Checks one entry on its own (name, kind, size, id); throws InvalidArgumentError. */
export function validateTreeEntry(e: TreeEntry): void {
  checkName(e.name);
  entryMode(e);
  checkSize(e.size, `entry ${cQuote(e.name)}`);
  if (typeof e.id !== 'string' || !isHexId(e.id)) throw new InvalidArgumentError(`entry ${cQuote(e.name)}: bad id ${String(e.id)}`);
}

/** Bytes of a page whose entries are already validated and sorted; for builders that checked them on the way in. */
export function encodeCheckedTreePage(entries: readonly TreeEntry[]): Buffer {
  let text = TREE_PAGE_HEADER;
  for (const e of entries) text += `${entryMode(e)} ${e.size} ${e.id} ${e.name}\0`;
  return Buffer.from(text, 'utf8');
}

/** Bytes of an index node whose children are already validated and sorted. */
export function encodeCheckedTreeIndex(children: readonly TreeIndexChild[]): Buffer {
  let text = TREE_INDEX_HEADER;
  for (const c of children) text += `${c.size} ${c.id} ${c.firstName}\0`;
  return Buffer.from(text, 'utf8');
}

/**
 * Canonical bytes of one page. Throws InvalidArgumentError for an invalid entry, entries out of order or duplicated,
 * or more than MAX_NODE_ITEMS entries. Splitting a directory into pages is the builder's job (tree-builder.ts).
 */
export function encodeTreePage(entries: readonly TreeEntry[]): Buffer {
  if (entries.length > MAX_NODE_ITEMS) throw new InvalidArgumentError(`a tree page holds at most ${MAX_NODE_ITEMS} entries`);
  entries.forEach((e, i) => {
    validateTreeEntry(e);
    if (i > 0 && compareNames(entries[i - 1].name, e.name) >= 0) {
      throw new InvalidArgumentError(`tree entries must be unique and sorted: ${cQuote(e.name)} after ${cQuote(entries[i - 1].name)}`);
    }
  });
  return encodeCheckedTreePage(entries);
}

/** Canonical bytes of one index node; same checks as encodeTreePage, on the children's first names. */
export function encodeTreeIndex(children: readonly TreeIndexChild[]): Buffer {
  if (children.length === 0 || children.length > MAX_NODE_ITEMS) throw new InvalidArgumentError(`a tree index holds 1 to ${MAX_NODE_ITEMS} children`);
  children.forEach((c, i) => {
    checkName(c.firstName);
    checkSize(c.size, `index child ${cQuote(c.firstName)}`);
    if (!isHexId(c.id)) throw new InvalidArgumentError(`index child ${cQuote(c.firstName)}: bad id ${String(c.id)}`);
    if (i > 0 && compareNames(children[i - 1].firstName, c.firstName) >= 0) {
      throw new InvalidArgumentError(`index children must be sorted: ${cQuote(c.firstName)} after ${cQuote(children[i - 1].firstName)}`);
    }
  });
  return encodeCheckedTreeIndex(children);
}

export function isTreeBytes(bytes: Buffer): boolean {
  return bytes.subarray(0, 7).equals(PAGE_HEADER) || bytes.subarray(0, 7).equals(INDEX_HEADER);
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function isAscii(bytes: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (bytes[i] >= 0x80) return false;
  return true;
}

const DIGITS = /^(0|[1-9][0-9]{0,15})$/;
const MODES: Record<string, Pick<TreeEntry, 'kind' | 'executable' | 'chunked'>> = {
  f: { kind: 'file', executable: false, chunked: false },
  F: { kind: 'file', executable: false, chunked: true },
  x: { kind: 'file', executable: true, chunked: false },
  X: { kind: 'file', executable: true, chunked: true },
  l: { kind: 'symlink', executable: false, chunked: false },
  d: { kind: 'dir', executable: false, chunked: false },
};

/**
 * Parses and strictly checks one tree node (page or index). Throws IntegrityError for anything malformed: bad header,
 * mode, size, id or UTF-8, entries not strictly ascending (so duplicates too), or a node the paging rule would have
 * closed earlier (so a node's bytes are the only encoding of its items). Throws InvalidArgumentError, with
 * "unsafe path" in the message, for a name validateEntryName rejects (`.`, `..`, `.trib`, `/`, `\`), which a CLI
 * reports like any unsafe path.
 */
export function decodeTreeNode(bytes: Buffer, id?: ObjectId): TreeNode {
  const label = id ? `tree ${id}` : 'tree';
  const bad = (why: string) => new IntegrityError(`${label} is malformed: ${why}`, { id });
  const isPage = bytes.subarray(0, 7).equals(PAGE_HEADER);
  if (!isPage && !bytes.subarray(0, 7).equals(INDEX_HEADER)) throw new IntegrityError(id ? `object ${id} is not a tree` : 'object is not a tree', { id });

  const names: string[] = [];
  const entries: TreeEntry[] = [];
  const children: TreeIndexChild[] = [];
  let pos = 7;
  const field = (end: number, what: string): string => {
    const sp = bytes.indexOf(0x20, pos);
    if (sp < 0 || sp >= end) throw bad(`missing ${what}`);
    const s = bytes.toString('latin1', pos, sp);
    pos = sp + 1;
    return s;
  };
  while (pos < bytes.length) {
    const end = bytes.indexOf(0, pos);
    if (end < 0) throw bad('truncated item');
    let mode = '';
    if (isPage) {
      mode = field(end, 'mode');
      if (!Object.prototype.hasOwnProperty.call(MODES, mode)) throw bad(`unknown mode ${JSON.stringify(mode)}`);
    }
    const sizeText = field(end, 'size');
    if (!DIGITS.test(sizeText) || !Number.isSafeInteger(Number(sizeText))) throw bad(`bad size ${JSON.stringify(sizeText)}`);
    const childId = field(end, 'id');
    if (!isHexId(childId)) throw bad(`bad id ${JSON.stringify(childId.slice(0, 80))}`);
    let name: string;
    try {
      name = isAscii(bytes, pos, end) ? bytes.toString('latin1', pos, end) : utf8.decode(bytes.subarray(pos, end));
    } catch {
      throw bad('name is not valid UTF-8');
    }
    try {
      checkName(name);
    } catch (e) {
      if (e instanceof TribError) throw new InvalidArgumentError(`${label}: ${e.message}`, { id, name }, { cause: e });
      throw e;
    }
    if (names.length > 0) {
      const prev = names[names.length - 1];
      if (compareNames(prev, name) >= 0) throw bad(`${cQuote(name)} after ${cQuote(prev)} (must be unique and sorted)`);
      if (closesNode(names.length, prev)) throw bad(`node continues past its boundary after ${cQuote(prev)}`);
    }
    names.push(name);
    if (isPage) entries.push({ name, ...MODES[mode], size: Number(sizeText), id: childId });
    else children.push({ size: Number(sizeText), id: childId, firstName: name });
    pos = end + 1;
  }
  if (isPage) return { type: 'page', entries };
  if (children.length === 0) throw bad('index without children');
  return { type: 'index', children };
}

export function nodeFirstName(node: TreeNode): string | undefined {
  return node.type === 'page' ? node.entries[0]?.name : node.children[0]?.firstName;
}

/** Total size beneath a node; IntegrityError if it exceeds the safe integer range. */
export function nodeSize(node: TreeNode, id?: ObjectId): number {
  let total = 0;
  for (const item of node.type === 'page' ? node.entries : node.children) total += item.size;
  if (!Number.isSafeInteger(total)) throw new IntegrityError(`${id ? `tree ${id}` : 'tree'}: total size overflows`, { id });
  return total;
}
