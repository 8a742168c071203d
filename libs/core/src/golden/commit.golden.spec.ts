import { commitId, decodeCommit, encodeCommit, encodeTag, tagId, decodeTag } from '../objects/commit.codec';
import { Commit, Tag } from '../objects/object-types';
import { ObjectId } from '../ids/ids';
import { sha256 } from '../hashing/sha256';

const TREE = sha256(Buffer.from('tree 1\n')) as ObjectId;
const PARENT = 'a'.repeat(64) as ObjectId;

const commit: Commit = {
  tree: TREE,
  parents: [PARENT],
  author: 'Ward 7 <ward7@hospital.example>',
  time: '2026-11-24T04:49:11.123Z',
  message: 'Batch 42\n\nfrom the night shift',
  annotations: { 'trib.region': 'eu-azure', a: 'first' },
};

describe('commit and tag golden vectors', () => {
  it('fixes the canonical bytes and the id of a commit', () => {
    const bytes = encodeCommit(commit);
    expect(bytes.toString('utf8')).toBe(
      'commit 1\n{"tree":"' + TREE + '","parents":["' + PARENT + '"],"author":"Ward 7 <ward7@hospital.example>",' +
        '"time":"2026-11-24T04:49:11.123Z","message":"Batch 42\\n\\nfrom the night shift","annotations":{"a":"first","trib.region":"eu-azure"}}',
    );
    expect(commitId(commit)).toBe('983cd0a32fed43dc5dc44c2d9ba299e4f73835e9c7b75b8ddb3839942c13b795');
  });

  it('does not depend on annotation insertion order', () => {
    const reordered = { ...commit, annotations: { a: 'first', 'trib.region': 'eu-azure' } };
    expect(commitId(reordered)).toBe(commitId(commit));
  });

  it('round-trips and rejects malformed commits', () => {
    expect(decodeCommit(encodeCommit(commit))).toEqual({ ...commit, annotations: { a: 'first', 'trib.region': 'eu-azure' } });
    expect(() => decodeCommit(Buffer.from('commit 1\n{"tree":"x"}'))).toThrow(/malformed/);
    expect(() => decodeCommit(Buffer.from('tree 1\n'))).toThrow(/not a commit/);
    expect(() => encodeCommit({ ...commit, time: '2026-11-24 04:49' })).toThrow(/UTC ISO 8601/);
  });

  it("refuses a commit that is not its encoder's bytes: what the encoder refuses, or another spelling of a commit", () => {
    const raw = (body: Record<string, unknown>) => Buffer.from(`commit 1\n${JSON.stringify(body)}`);
    const fields = { tree: TREE, parents: [PARENT], author: 'a', time: '2026-11-24T04:49:11.123Z', message: 'm', annotations: {} };
    expect(decodeCommit(raw(fields))).toEqual(fields);
    // An author with newlines, to print a forged commit in `trib log`.
    expect(() => decodeCommit(raw({ ...fields, author: 'mallory\nDate: x\n\ncommit ffff' }))).toThrow(/malformed: author .* control character/);
    expect(() => decodeCommit(raw({ ...fields, time: 'not-a-time' }))).toThrow(/malformed: commit time must be UTC ISO 8601/);
    // Another spelling: fields in another order, a field no reader knows, annotations unsorted, spaces.
    expect(() => decodeCommit(raw({ message: 'm', tree: TREE, parents: [PARENT], author: 'a', time: fields.time, annotations: {} }))).toThrow(/not in canonical form/);
    expect(() => decodeCommit(raw({ ...fields, extra: 1 }))).toThrow(/not in canonical form/);
    expect(() => decodeCommit(raw({ ...fields, annotations: { b: '1', a: '2' } }))).toThrow(/not in canonical form/);
    expect(() => decodeCommit(Buffer.from(`commit 1\n${JSON.stringify(fields, null, 1)}`))).toThrow(/not in canonical form/);
  });

  it('fixes the canonical bytes of an annotated tag', () => {
    const tag: Tag = { object: PARENT, name: 'train-v1', tagger: 't', time: '2026-11-24T00:00:00.000Z', message: 'm', annotations: { model: 'pvc' } };
    expect(encodeTag(tag).toString('utf8')).toBe(
      'tag 1\n{"object":"' + PARENT + '","name":"train-v1","tagger":"t","time":"2026-11-24T00:00:00.000Z","message":"m","annotations":{"model":"pvc"}}',
    );
    expect(decodeTag(encodeTag(tag))).toEqual(tag);
    expect(tagId(tag)).toMatch(/^[0-9a-f]{64}$/);
  });
});
