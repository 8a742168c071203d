import { ObjectId, TreeId } from '../ids/ids';
import { TreeEntry } from '../objects/object-types';
import { ObjectSink } from '../objects/object-source';
import { compareNames, encodeTreeIndex, encodeTreePage, TreeIndexChild } from '../objects/tree.codec';
import { boundaryNames, plainNames } from './memory-objects';

export interface UnreadableTree {
  /** What is wrong with it, as a test names it. */
  readonly what: string;
  /** What readTree or walkFiles says of it. */
  readonly refusal: RegExp;
  readonly tree: TreeId;
  /** Its tree nodes, each after the nodes it names. */
  readonly nodes: readonly TreeId[];
}

/**
 * Trees whose every node decodes on its own, but whose nodes do not fit together, so every reader refuses them. All
 * their files are the one chunk `chunk`, written to `sink` with them. Test-only: exported from no index.
 */
export async function unreadableTrees(sink: ObjectSink): Promise<{ chunk: ObjectId; trees: UnreadableTree[] }> {
  const chunk = await sink.put(Buffer.from('x'));
  const file = (name: string): TreeEntry => ({ name, kind: 'file', executable: false, chunked: false, size: 1, id: chunk });
  // Boundary names close a page after two entries, so [b0, b1] is a complete page.
  const [b0, b1, b2] = [...boundaryNames(3, 'k')].sort(compareNames);
  const [p0] = plainNames(1, 'zz');
  const page = async (entries: TreeEntry[]) => {
    const id = (await sink.put(encodeTreePage(entries))) as TreeId;
    return { id, firstName: entries[0].name, size: entries.reduce((n, e) => n + e.size, 0) };
  };
  const index = async (children: TreeIndexChild[]) => (await sink.put(encodeTreeIndex(children))) as TreeId;

  const whole = await page([file(b0), file(b1)]);
  const rest = await page([file(b2), file(p0)]);
  const again = await page([file(b1), file(p0)]);
  const deep: TreeId[] = [(await page([file('f')])).id];
  for (let i = 0; i < 300; i++) {
    const below = deep[deep.length - 1];
    deep.push((await page([{ name: 'd', kind: 'dir', executable: false, chunked: false, size: 1, id: below }])).id);
  }
  return {
    chunk,
    trees: [
      { what: 'an index root with one child', refusal: /index root with one child/, tree: await index([whole]), nodes: [whole.id] },
      {
        what: 'an index entry whose first name is not its page\'s',
        refusal: /does not match its index/,
        tree: await index([{ ...whole, firstName: b0.slice(0, -1) }, rest]),
        nodes: [whole.id, rest.id],
      },
      {
        what: 'the same name on two pages',
        refusal: new RegExp(`"${b1}" after "${b1}"`),
        tree: await index([whole, again]),
        nodes: [whole.id, again.id],
      },
      { what: 'folders nested 300 deep', refusal: /nested too deep/, tree: deep[deep.length - 1], nodes: deep.slice(0, -1) },
    ].map((t) => ({ ...t, nodes: [...t.nodes, t.tree] })),
  };
}
