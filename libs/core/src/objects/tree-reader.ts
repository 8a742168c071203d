import { IntegrityError, TribError } from '../errors/trib-error';
import { TreeId } from '../ids/ids';
import { checkNestingDepth, MAX_PATH_SEGMENTS, splitRelativePath, validateEntryName } from '../paths/path-rules';
import { cQuote } from '../paths/c-quote';
import { TreeEntry } from './object-types';
import { ObjectSource } from './object-source';
import { closesNode, compareNames, decodeTreeNode, EMPTY_TREE_ID, nodeFirstName, nodeSize, TreeIndexChild, TreeNode } from './tree.codec';

export type TreePage = Extract<TreeNode, { type: 'page' }>;
export type TreeIndex = Extract<TreeNode, { type: 'index' }>;

/** Index levels above the pages. Each level at least halves the node count, so 48 levels is beyond any real tree. */
const MAX_INDEX_LEVELS = 48;

/** What a parent index says about a child: checked against the child once it is read. */
export interface NodeExpectation {
  readonly firstName: string;
  readonly size: number;
  /** 0 for a page, k for an index k levels above the pages; undefined when unknown. */
  readonly level?: number;
}

/**
 * Reads and decodes one tree node. With `expect`, also checks that the node is what its parent index promised
 * (non-empty, same first name, same total size, a page exactly at level 0); IntegrityError otherwise.
 */
export async function loadTreeNode(src: ObjectSource, id: TreeId, expect?: NodeExpectation): Promise<TreeNode> {
  const node = decodeTreeNode(await src.get(id), id);
  if (expect) checkIndexedNode(id, outlineNode(node, id), expect);
  return node;
}

/** One tree node as the rules that span nodes see it (see checkIndexedNode). */
export interface NodeOutline {
  /** The first entry name beneath the node; undefined for an empty page. */
  readonly firstName: string | undefined;
  readonly size: number;
  /** 0 for a page, k for an index k levels above the pages; undefined for an index when unknown. */
  readonly level: number | undefined;
  /**
   * The node ends at a paging boundary, and so does the last node beneath it at each level, as far as the outline's
   * maker has read them (readTree checks the nodes beneath as it reaches them).
   */
  readonly closed: boolean;
}

/** Where an index puts a node among the nodes of its level. */
export interface NodePlace {
  /** The last entry name of the node before it on its level. */
  readonly after?: string;
  /** Every node but the last of its level must end at a paging boundary. */
  readonly closes: boolean;
}

/** The outline of a decoded node from its own items alone. */
export function outlineNode(node: TreeNode, id: TreeId): NodeOutline {
  const names = node.type === 'page' ? node.entries.map((e) => e.name) : node.children.map((c) => c.firstName);
  return {
    firstName: names[0],
    size: nodeSize(node, id),
    level: node.type === 'page' ? 0 : undefined,
    closed: names.length > 0 && closesNode(names.length, names[names.length - 1]),
  };
}

/**
 * Checks a node reached through an index against what the index says of it (non-empty, same first name, same total
 * size, the level expected) and, given its `place`, against its neighbours: names ascending from the node before it,
 * and a paging boundary at its end unless it is the last of its level. IntegrityError otherwise.
 */
export function checkIndexedNode(id: TreeId, node: NodeOutline, expect: NodeExpectation, place?: NodePlace): void {
  const bad = (why: string) => new IntegrityError(`tree ${id} does not match its index: ${why}`, { id });
  if (node.firstName !== expect.firstName) throw bad(`first name ${cQuote(node.firstName ?? '')}, index says ${cQuote(expect.firstName)}`);
  if (node.size !== expect.size) throw bad(`size ${node.size}, index says ${expect.size}`);
  if (expect.level !== undefined && (node.level === undefined ? expect.level === 0 : node.level !== expect.level)) {
    throw bad(expect.level === 0 ? 'expected a page' : node.level === 0 ? 'expected an index' : `pages ${node.level} levels down, expected ${expect.level}`);
  }
  if (place?.closes && !node.closed) throw new IntegrityError(`tree ${id} is malformed: node ends before a paging boundary`, { id });
  if (place?.after !== undefined && compareNames(place.after, expect.firstName) >= 0) {
    throw new IntegrityError(`tree ${id} is malformed: ${cQuote(expect.firstName)} after ${cQuote(place.after)}`, { id });
  }
}

/** IntegrityError unless the node can be a directory's top node: an index there has two children or more. */
export function checkTreeRoot(id: TreeId, root: { readonly level: number | undefined; readonly items: number }): void {
  if (root.level !== 0 && root.items < 2) throw new IntegrityError(`tree ${id} is malformed: index root with one child`, { id });
}

/**
 * A tree node as a receiver of trees sees it, built from the bottom up (pageShape, indexShape): what the index
 * above checks of it, what a directory entry naming it checks (checkTreeRoot), and how deep it nests.
 */
export interface TreeShape extends NodeOutline {
  readonly level: number;
  /** The last entry name beneath the node; undefined for an empty page. */
  readonly lastName: string | undefined;
  /** The node's own entries or children. */
  readonly items: number;
  /** Levels of directories beneath the node: 0 without subdirectories. */
  readonly depth: number;
}

/**
 * Levels of directories beneath a page whose subdirectories each have `subdirDepths` beneath them. IntegrityError
 * at the depth walkFiles refuses to enter, so no tree that every reader would refuse can be stored.
 */
export function pageDepth(id: TreeId, subdirDepths: Iterable<number>): number {
  let depth = 0;
  for (const d of subdirDepths) depth = Math.max(depth, d + 1);
  if (depth >= MAX_PATH_SEGMENTS) throw new IntegrityError(`tree ${id} is malformed: directories nested too deep (${depth} levels)`, { id });
  return depth;
}

/** The shape of a page, given the depth beneath each of its subdirectories (see TreeShape.depth). */
export function pageShape(id: TreeId, node: TreePage, depthOf: (dir: TreeEntry) => number): TreeShape {
  const { entries } = node;
  return {
    ...outlineNode(node, id),
    level: 0,
    lastName: entries[entries.length - 1]?.name,
    items: entries.length,
    depth: pageDepth(id, entries.filter((e) => e.kind === 'dir').map(depthOf)),
  };
}

/**
 * The shape of an index whose children have `shapes` (in its order), once they are checked against it and against
 * each other as readTree checks them: what the index says, names ascending, all at one level, and each but the last
 * closed at a paging boundary. IntegrityError otherwise.
 */
export function indexShape(id: TreeId, node: TreeIndex, shapes: readonly TreeShape[]): TreeShape {
  const { children } = node;
  const level = shapes[0].level;
  children.forEach((c, i) => {
    checkIndexedNode(c.id, shapes[i], { ...c, level }, { after: shapes[i - 1]?.lastName, closes: i < children.length - 1 });
  });
  return indexShapeOver(id, node, shapes[shapes.length - 1], Math.max(...shapes.map((s) => s.depth)));
}

/**
 * The shape of an index from its own children, the shape of its last child and the depth beneath it, for an index
 * whose children were checked before (indexShape checks them).
 */
export function indexShapeOver(id: TreeId, node: TreeIndex, last: TreeShape, depth: number): TreeShape {
  const { children } = node;
  if (last.level + 1 > MAX_INDEX_LEVELS) throw new IntegrityError(`tree ${id} index deeper than ${MAX_INDEX_LEVELS} levels`, { id });
  return {
    firstName: children[0].firstName,
    size: nodeSize(node, id),
    level: last.level + 1,
    closed: closesNode(children.length, children[children.length - 1].firstName) && last.closed,
    lastName: last.lastName,
    items: children.length,
    depth,
  };
}

/** Total size of all files and links beneath a tree: one read. */
export async function treeSize(src: ObjectSource, id: TreeId): Promise<number> {
  if (id === EMPTY_TREE_ID) return 0;
  return nodeSize(await loadTreeNode(src, id), id);
}

/**
 * Streams a directory's entries in order, one page at a time, so memory stays at one page per index level.
 * Besides each node's own checks, verifies what holds across nodes: every page non-empty and consistent with its
 * index entry, names ascending across pages, all pages at one depth, every node but the last of its level closed at
 * a paging boundary, and an index root with at least two children. Violations throw IntegrityError; so a tree that
 * reads without error is the only encoding of its entries.
 */
export async function* readTree(src: ObjectSource, id: TreeId): AsyncGenerator<TreeEntry> {
  const root = await loadTreeNode(src, id);
  if (root.type === 'page') {
    yield* root.entries;
    return;
  }
  checkTreeRoot(id, { level: undefined, items: root.children.length });
  yield* readIndex(src, root.children, 1, true, { leafDepth: -1 });
}

interface ReadState {
  last?: string;
  leafDepth: number;
}

async function* readIndex(
  src: ObjectSource,
  children: readonly TreeIndexChild[],
  depth: number,
  lastOfLevel: boolean,
  state: ReadState,
): AsyncGenerator<TreeEntry> {
  if (depth > MAX_INDEX_LEVELS) throw new IntegrityError(`tree index deeper than ${MAX_INDEX_LEVELS} levels`);
  for (let i = 0; i < children.length; i++) {
    const ref = children[i];
    const isLast = lastOfLevel && i === children.length - 1;
    const node = decodeTreeNode(await src.get(ref.id), ref.id);
    checkIndexedNode(ref.id, outlineNode(node, ref.id), ref, { after: state.last, closes: !isLast });
    if (node.type === 'index') {
      yield* readIndex(src, node.children, depth + 1, isLast, state);
      continue;
    }
    if (state.leafDepth < 0) state.leafDepth = depth;
    if (state.leafDepth !== depth) throw new IntegrityError(`tree ${ref.id} is malformed: pages at different depths`, { id: ref.id });
    state.last = node.entries[node.entries.length - 1].name;
    yield* node.entries;
  }
}

/**
 * Finds one entry of a directory by name, descending the index: one read per level. Throws InvalidArgumentError for
 * a name that could never be an entry (see validateEntryName).
 */
export async function lookupEntry(src: ObjectSource, treeId: TreeId, name: string): Promise<TreeEntry | undefined> {
  return new DirectoryLookup(src, treeId).entry(name);
}

/**
 * Finds entries of one directory by name, many of them: keeps the nodes on the way to the last page it read, so
 * names looked up in order (as a walk of another version of the directory makes them) read and decode each node of
 * this one once, not once per name. Memory is one node per index level.
 */
export class DirectoryLookup {
  /** path[k]: the node read at depth k (path[0] the root) on the way to the last page. */
  private readonly path: { readonly id: TreeId; readonly node: TreeNode }[] = [];

  /** `root`: the directory's top node, when the caller has decoded it already. */
  constructor(
    private readonly src: ObjectSource,
    readonly treeId: TreeId,
    root?: TreeNode,
  ) {
    if (root) this.path.push({ id: treeId, node: root });
  }

  /** The entry named `name`, or undefined. Throws InvalidArgumentError for a name that could never be an entry. */
  async entry(name: string): Promise<TreeEntry | undefined> {
    validateEntryName(name);
    const page = (await this.pageNear(name, false))?.node;
    const i = page ? searchLast(page.entries, (e) => compareNames(e.name, name) <= 0) : -1;
    return i >= 0 && page!.entries[i].name === name ? page!.entries[i] : undefined;
  }

  /** The id of the page that holds `name` or would hold it (the first page for a name before them all). */
  async pageFor(name: string): Promise<TreeId> {
    return (await this.pageNear(name, true))!.id;
  }

  /** The page whose range takes `name`; before the first page, that page with `orFirst`, else undefined. */
  private async pageNear(name: string, orFirst: boolean): Promise<{ id: TreeId; node: Extract<TreeNode, { type: 'page' }> } | undefined> {
    let id = this.treeId;
    let node = await this.nodeAt(0, id);
    for (let depth = 0; node.type !== 'page'; depth++) {
      if (depth > MAX_INDEX_LEVELS) throw new IntegrityError(`tree ${this.treeId} index deeper than ${MAX_INDEX_LEVELS} levels`, { id: this.treeId });
      const i = searchLast(node.children, (c) => compareNames(c.firstName, name) <= 0);
      if (i < 0 && !orFirst) return undefined;
      const child = node.children[Math.max(0, i)];
      id = child.id;
      node = await this.nodeAt(depth + 1, id, child);
    }
    return { id, node };
  }

  private async nodeAt(depth: number, id: TreeId, expect?: NodeExpectation): Promise<TreeNode> {
    const held = this.path[depth];
    if (held?.id === id) return held.node;
    const node = await loadTreeNode(this.src, id, expect);
    this.path.length = depth;
    this.path.push({ id, node });
    return node;
  }
}

/** Index of the last item satisfying `atOrBefore`, which must hold for a prefix of the items; -1 if none. */
function searchLast<T>(items: readonly T[], atOrBefore: (item: T) => boolean): number {
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (atOrBefore(items[mid])) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

/**
 * Resolves a slash-separated path (`a/b/c.csv`) from a root tree. Undefined when some component is missing or a
 * non-final component is not a directory. Throws InvalidArgumentError for an unsafe path (see splitRelativePath).
 */
export async function lookupPath(src: ObjectSource, rootTreeId: TreeId, path: string): Promise<TreeEntry | undefined> {
  const parts = splitRelativePath(path);
  let tree = rootTreeId;
  for (let i = 0; ; i++) {
    const entry = await lookupEntry(src, tree, parts[i]);
    if (!entry || i === parts.length - 1) return entry;
    if (entry.kind !== 'dir') return undefined;
    tree = entry.id;
  }
}

/**
 * Every file and symlink beneath a tree, depth first in sorted order, with its path (joined to `prefix` by `/` when
 * a prefix is given). Streams: memory follows the depth, not the size.
 */
export async function* walkFiles(src: ObjectSource, treeId: TreeId, prefix = ''): AsyncGenerator<{ path: string; entry: TreeEntry }> {
  yield* walk(src, treeId, prefix, 0);
}

async function* walk(src: ObjectSource, treeId: TreeId, prefix: string, depth: number): AsyncGenerator<{ path: string; entry: TreeEntry }> {
  checkNestingDepth(prefix, depth);
  for await (const entry of readTree(src, treeId)) {
    const path = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.kind === 'dir') yield* walk(src, entry.id, path, depth + 1);
    else yield { path, entry };
  }
}

/** An item under a TreeCursor: a node not yet read (standing for all entries beneath it) or one entry. */
export type CursorItem =
  | { readonly type: 'node'; readonly id: TreeId; readonly firstName: string; readonly size: number; readonly level?: number }
  | { readonly type: 'entry'; readonly entry: TreeEntry };

export function itemFirstName(item: CursorItem): string {
  return item.type === 'node' ? item.firstName : item.entry.name;
}

/**
 * A lazy in-order position in one directory, for algorithms that skip whole nodes (diff, merge, edit). The items
 * still ahead, taken in order, cover exactly the entries not yet consumed; a node is read only when `expand` is
 * called on it, and then replaced by its children. Memory: one node per index level.
 */
export class TreeCursor {
  /** Reversed: the next item is last. */
  private readonly items: CursorItem[] = [];
  private readonly preloaded = new Map<string, TreeNode>();

  private constructor(private readonly src: ObjectSource) {}

  /**
   * Opens a directory; `undefined` is the empty directory. Reads the root. With `levels`, also reads the leftmost
   * path so every node item carries its level (those reads are reused by `expand`).
   */
  static async open(src: ObjectSource, id: TreeId | undefined, opts: { levels?: boolean } = {}): Promise<TreeCursor> {
    const cursor = new TreeCursor(src);
    if (id === undefined || id === EMPTY_TREE_ID) return cursor;
    const root = await loadTreeNode(src, id);
    const firstName = nodeFirstName(root);
    if (firstName === undefined) return cursor;
    let level: number | undefined;
    if (opts.levels) {
      level = 0;
      for (let node = root; node.type === 'index'; level++) {
        if (level > MAX_INDEX_LEVELS) throw new IntegrityError(`tree ${id} index deeper than ${MAX_INDEX_LEVELS} levels`, { id });
        const child = node.children[0];
        node = await loadTreeNode(src, child.id, child);
        cursor.preloaded.set(child.id, node);
      }
    }
    cursor.preloaded.set(id, root);
    cursor.items.push({ type: 'node', id, firstName, size: nodeSize(root, id), level });
    return cursor;
  }

  peek(): CursorItem | undefined {
    return this.items[this.items.length - 1];
  }

  /** First name of the item after the next one: the exclusive upper bound of the next item's names. */
  boundAfterNext(): string | undefined {
    const after = this.items[this.items.length - 2];
    return after && itemFirstName(after);
  }

  pop(): CursorItem | undefined {
    return this.items.pop();
  }

  /** Replaces the next item, which must be a node, by its children (entries for a page). */
  async expand(): Promise<void> {
    const item = this.items.pop();
    if (!item || item.type !== 'node') throw new TribError('INTERNAL', 'TreeCursor.expand: next item is not a node');
    let node = this.preloaded.get(item.id);
    if (node) {
      this.preloaded.delete(item.id);
      checkIndexedNode(item.id, outlineNode(node, item.id), item);
    } else {
      node = await loadTreeNode(this.src, item.id, item);
    }
    const next = this.peek();
    const lastName = node.type === 'page' ? node.entries[node.entries.length - 1]?.name : node.children[node.children.length - 1].firstName;
    if (next && lastName !== undefined && compareNames(lastName, itemFirstName(next)) >= 0) {
      throw new IntegrityError(`tree ${item.id} is malformed: it overlaps the next node at ${cQuote(itemFirstName(next))}`, { id: item.id });
    }
    if (node.type === 'page') {
      for (let i = node.entries.length - 1; i >= 0; i--) this.items.push({ type: 'entry', entry: node.entries[i] });
      return;
    }
    const level = item.level === undefined ? undefined : item.level - 1;
    for (let i = node.children.length - 1; i >= 0; i--) {
      const c = node.children[i];
      this.items.push({ type: 'node', id: c.id, firstName: c.firstName, size: c.size, level });
    }
  }
}
