import fc from 'fast-check';
import { IntegrityError, InvalidArgumentError } from '../errors/trib-error';
import { sha256 } from '../hashing/sha256';
import { ObjectId } from '../ids/ids';
import { boundaryNames, fakeId, plainNames } from '../testing/memory-objects';
import { TreeEntry } from './object-types';
import {
  closesNode,
  compareNames,
  decodeTreeNode,
  EMPTY_TREE_ID,
  encodeTreeIndex,
  encodeTreePage,
  isTreeBytes,
  MAX_NODE_ITEMS,
  nameHash,
} from './tree.codec';

const ID = fakeId(1);
const file = (name: string, over: Partial<TreeEntry> = {}): TreeEntry => ({ name, kind: 'file', executable: false, chunked: false, size: 3, id: ID, ...over });
const raw = (text: string) => Buffer.from(text, 'utf8');

describe('tree codec', () => {
  it('encodes a page as header plus `<mode> <size> <id> <name>\\0` per entry', () => {
    const bytes = encodeTreePage([
      file('a.csv'),
      file('b', { chunked: true, size: 300000 }),
      file('c', { executable: true }),
      file('d', { executable: true, chunked: true }),
      { name: 'e', kind: 'symlink', executable: false, chunked: false, size: 7, id: ID },
      { name: 'f', kind: 'dir', executable: false, chunked: false, size: 0, id: ID },
    ]);
    expect(bytes.toString('utf8')).toBe(
      `tree 1\nf 3 ${ID} a.csv\0F 300000 ${ID} b\0x 3 ${ID} c\0X 3 ${ID} d\0l 7 ${ID} e\0d 0 ${ID} f\0`,
    );
  });

  it('round-trips every mode', () => {
    const entries: TreeEntry[] = [
      file('a'),
      file('b', { chunked: true }),
      file('c', { executable: true }),
      file('d', { executable: true, chunked: true }),
      { name: 'e', kind: 'symlink', executable: false, chunked: false, size: 1, id: ID },
      { name: 'f', kind: 'dir', executable: false, chunked: false, size: Number.MAX_SAFE_INTEGER, id: ID },
    ];
    expect(decodeTreeNode(encodeTreePage(entries))).toEqual({ type: 'page', entries });
  });

  it('keeps spaces and other bytes inside names', () => {
    const entries = [file(' lead'), file('a b  c.csv'), file('tab\there'), file('ü x')];
    expect(decodeTreeNode(encodeTreePage(entries))).toEqual({ type: 'page', entries });
    const children = [{ size: 1, id: ID, firstName: 'a b' }];
    expect(decodeTreeNode(encodeTreeIndex(children))).toEqual({ type: 'index', children });
  });

  it('encodes an index as header plus `<size> <childId> <firstName>\\0` per child', () => {
    const children = [
      { size: 10, id: fakeId(2), firstName: 'a' },
      { size: 0, id: fakeId(3), firstName: 'é' },
    ];
    const bytes = encodeTreeIndex(children);
    expect(bytes.toString('utf8')).toBe(`tidx 1\n10 ${fakeId(2)} a\u0000` + `0 ${fakeId(3)} é\0`);
    expect(decodeTreeNode(bytes)).toEqual({ type: 'index', children });
  });

  it('the empty directory is the bare page header', () => {
    expect(EMPTY_TREE_ID).toBe(sha256(raw('tree 1\n')));
    expect(decodeTreeNode(raw('tree 1\n'))).toEqual({ type: 'page', entries: [] });
  });

  it('orders names by UTF-8 bytes, not UTF-16 units', () => {
    // U+FB00 is above the surrogates in UTF-16 but below U+1F600 in UTF-8.
    const names = ['😀', 'ﬀ', 'é', 'Z', 'a', 'a.b', 'a-b'];
    const sorted = [...names].sort(compareNames);
    expect(sorted).toEqual(['Z', 'a', 'a-b', 'a.b', 'é', 'ﬀ', '😀']);
    expect(() => encodeTreePage([file('😀'), file('ﬀ')])).toThrow(InvalidArgumentError);
    expect(() => encodeTreePage([file('ﬀ'), file('😀')])).not.toThrow();
  });

  it('compareNames agrees with Buffer.compare on the UTF-8 bytes', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 6 }), fc.string({ unit: 'binary', maxLength: 6 }), (a, b) => {
        expect(Math.sign(compareNames(a, b))).toBe(Math.sign(Buffer.compare(Buffer.from(a), Buffer.from(b))));
      }),
    );
  });

  it('nameHash is FNV-1a 32 of the UTF-8 bytes', () => {
    expect(nameHash('')).toBe(0x811c9dc5);
    expect(nameHash('a')).toBe(0xe40c292c);
    expect(nameHash('foobar')).toBe(0xbf9cf968);
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 8 }), (s) => {
        let h = 0x811c9dc5;
        for (const b of Buffer.from(s)) h = Math.imul(h ^ b, 0x01000193) >>> 0;
        expect(nameHash(s)).toBe(h);
      }),
    );
  });

  it('closes a node after a boundary name once it holds two items, and always at the cap', () => {
    const [boundary] = boundaryNames(1);
    const [plain] = plainNames(1);
    expect(closesNode(1, boundary)).toBe(false);
    expect(closesNode(2, boundary)).toBe(true);
    expect(closesNode(2, plain)).toBe(false);
    expect(closesNode(MAX_NODE_ITEMS - 1, plain)).toBe(false);
    expect(closesNode(MAX_NODE_ITEMS, plain)).toBe(true);
  });

  describe('encoding rejects what the format cannot hold', () => {
    it.each<[string, TreeEntry[]]>([
      ['unsorted', [file('b'), file('a')]],
      ['duplicate', [file('a'), file('a')]],
      ['executable symlink', [{ name: 'l', kind: 'symlink', executable: true, chunked: false, size: 1, id: ID }]],
      ['chunked dir', [{ name: 'd', kind: 'dir', executable: false, chunked: true, size: 1, id: ID }]],
      ['negative size', [file('a', { size: -1 })]],
      ['fractional size', [file('a', { size: 1.5 })]],
      ['bad id', [file('a', { id: 'ABC' as ObjectId })]],
      ['unsafe name', [file('..')]],
      ['slash in name', [file('a/b')]],
      ['lone surrogate', [file('a\ud800')]],
    ])('%s', (_, entries) => {
      expect(() => encodeTreePage(entries)).toThrow(InvalidArgumentError);
    });

    it('more than the item cap', () => {
      const many = plainNames(MAX_NODE_ITEMS + 1).sort(compareNames).map((n) => file(n));
      expect(() => encodeTreePage(many)).toThrow(InvalidArgumentError);
    });
  });

  describe('decoding validates strictly', () => {
    const line = (name: string, mode = 'f', size = '3', id: string = ID) => `${mode} ${size} ${id} ${name}\0`;

    it.each<[string, string]>([
      ['wrong header', `tree 2\n${line('a')}`],
      ['not a tree', 'commit 1\n{}'],
      ['unknown mode', `tree 1\n${line('a', 'z')}`],
      ['two-char mode', `tree 1\n${line('a', 'ff')}`],
      ['leading zero size', `tree 1\n${line('a', 'f', '03')}`],
      ['negative size', `tree 1\n${line('a', 'f', '-3')}`],
      ['huge size', `tree 1\n${line('a', 'f', '99999999999999999')}`],
      ['uppercase id', `tree 1\n${line('a', 'f', '3', ID.toUpperCase())}`],
      ['short id', `tree 1\n${line('a', 'f', '3', ID.slice(1))}`],
      ['missing terminator', `tree 1\nf 3 ${ID} a`],
      ['missing field', `tree 1\nf ${ID} a\0`],
      ['unsorted', `tree 1\n${line('b')}${line('a')}`],
      ['duplicate', `tree 1\n${line('a')}${line('a')}`],
      ['UTF-16 order instead of UTF-8', `tree 1\n${line('😀')}${line('ﬀ')}`],
      ['empty index', 'tidx 1\n'],
      ['index child with a mode', `tidx 1\nf 3 ${ID} a\0`],
      ['unsorted index', `tidx 1\n3 ${ID} b\u00003 ${ID} a\0`],
    ])('%s -> IntegrityError', (_, text) => {
      expect(() => decodeTreeNode(raw(text), ID)).toThrow(IntegrityError);
    });

    it('invalid UTF-8 in a name -> IntegrityError', () => {
      const bytes = Buffer.concat([raw(`tree 1\nf 3 ${ID} a`), Buffer.from([0xc3, 0x28]), Buffer.from([0])]);
      expect(() => decodeTreeNode(bytes)).toThrow(IntegrityError);
      const overlong = Buffer.concat([raw(`tree 1\nf 3 ${ID} `), Buffer.from([0xc0, 0xae]), Buffer.from([0])]);
      expect(() => decodeTreeNode(overlong)).toThrow(IntegrityError);
    });

    it('keeps a leading byte-order mark as part of the name', () => {
      const node = decodeTreeNode(raw(`tree 1\nf 3 ${ID} \ufeffa\0`));
      expect(node.type === 'page' && node.entries[0].name).toBe('\ufeffa');
    });

    it.each(['.', '..', '.trib', 'a\\b'])('unsafe name %j -> InvalidArgumentError naming the tree', (name) => {
      expect(() => decodeTreeNode(raw(`tree 1\n${line(name)}`), ID)).toThrow(InvalidArgumentError);
      expect(() => decodeTreeNode(raw(`tree 1\n${line(name)}`), ID)).toThrow(new RegExp(`tree ${ID}: unsafe path`));
    });

    it('a slash inside a name -> InvalidArgumentError', () => {
      expect(() => decodeTreeNode(raw(`tree 1\n${line('a/b')}`))).toThrow(InvalidArgumentError);
      expect(() => decodeTreeNode(raw(`tidx 1\n3 ${ID} ../x\0`))).toThrow(InvalidArgumentError);
    });

    it('rejects a page that runs past a paging boundary', () => {
      const [a, b, c] = [...boundaryNames(2), ...plainNames(1, 'z')].sort(compareNames);
      // a and b are boundary names, so a canonical page closes after b (two items); nothing may follow it.
      const twoBoundaries = `tree 1\n${line(a)}${line(b)}`;
      expect(() => decodeTreeNode(raw(twoBoundaries))).not.toThrow();
      expect(() => decodeTreeNode(raw(`${twoBoundaries}${line(c)}`))).toThrow(/boundary/);
    });

    it('decodes every canonical page it encodes', () => {
      const entryArb = fc.record({
        name: fc.string({ unit: 'binary', minLength: 1, maxLength: 6 }).filter((n) => !/[/\\\0]/.test(n) && n !== '.' && n !== '..' && n !== '.trib'),
        kind: fc.constantFrom<TreeEntry['kind']>('file', 'dir', 'symlink'),
        executable: fc.boolean(),
        chunked: fc.boolean(),
        size: fc.nat(),
        id: fc.nat().map(fakeId),
      }).map((e): TreeEntry => (e.kind === 'file' ? e : { ...e, executable: false, chunked: false }));
      fc.assert(
        fc.property(fc.uniqueArray(entryArb, { selector: (e) => e.name, maxLength: 12 }), (entries) => {
          const sorted = entries.sort((x, y) => compareNames(x.name, y.name));
          // Only pages the paging rule would produce: no interior boundary.
          fc.pre(sorted.every((e, i) => i === sorted.length - 1 || !closesNode(i + 1, e.name)));
          expect(decodeTreeNode(encodeTreePage(sorted))).toEqual({ type: 'page', entries: sorted });
        }),
      );
    });
  });

  it('recognises tree bytes', () => {
    expect(isTreeBytes(raw('tree 1\n'))).toBe(true);
    expect(isTreeBytes(raw(`tidx 1\n3 ${ID} a\0`))).toBe(true);
    expect(isTreeBytes(raw('commit 1\n{}'))).toBe(false);
  });
});
