import fc from 'fast-check';
import { sha256 } from '../hashing/sha256';
import { ObjectId } from '../ids/ids';
import { readFileBytes, writeFileContent } from '../objects/file-content';
import { ObjectSink, ObjectSource } from '../objects/object-source';
import { FileRef } from '../objects/object-types';
import { RecordFormat, RecordSplitter } from '../rows/record-splitter';
import { rowUnionMerge } from './row-union';

class MemoryObjects implements ObjectSource, ObjectSink {
  private readonly objects = new Map<string, Buffer>();
  async put(bytes: Buffer): Promise<ObjectId> {
    const id = sha256(bytes);
    this.objects.set(id, Buffer.from(bytes));
    return id;
  }
  async get(id: ObjectId): Promise<Buffer> {
    const b = this.objects.get(id);
    if (!b) throw new Error(`missing ${id}`);
    return b;
  }
}

async function* blocks(bytes: Buffer): AsyncGenerator<Buffer> {
  for (let i = 0; i < bytes.length; i += 100_000) yield bytes.subarray(i, i + 100_000);
}

const store = new MemoryObjects();
const file = (text: string): Promise<FileRef> => writeFileContent(store, blocks(Buffer.from(text)));

async function contents(f: FileRef): Promise<string> {
  const parts: Buffer[] = [];
  for await (const b of readFileBytes(store, f)) parts.push(b);
  return Buffer.concat(parts).toString();
}

async function union(path: string, base: string | undefined, ours: string, theirs: string) {
  const baseFile = base === undefined ? undefined : await file(base);
  const merged = await rowUnionMerge(store, store, path, baseFile, await file(ours), await file(theirs));
  return merged === undefined ? undefined : contents(merged);
}

describe('rowUnionMerge', () => {
  it('is the base, then our appended records, then theirs, with the header once', async () => {
    expect(await union('t.csv', 'h\n1\n', 'h\n1\n2\n', 'h\n1\n3\n4\n')).toBe('h\n1\n2\n3\n4\n');
    const merged = await union('t.jsonl', '{"a":1}\n', '{"a":1}\n{"b":2}\n', '{"a":1}\n{"c":3}\n');
    expect(merged).toBe('{"a":1}\n{"b":2}\n{"c":3}\n');
  });

  it('inserts exactly one newline where records would fuse', async () => {
    // Base without a final newline: each side starts its records with a terminator, which is not repeated.
    expect(await union('t.csv', 'h\n1', 'h\n1\n2', 'h\n1\n3\n')).toBe('h\n1\n2\n3\n');
    expect(await union('t.csv', 'h\n1', 'h\n1\n2\n', 'h\n1\r\n3\n')).toBe('h\n1\n2\n3\n');
    expect(await union('t.csv', 'h\n1', 'h\n1\n', 'h\n1\n3')).toBe('h\n1\n3');
    // Our appended records without a final newline.
    expect(await union('t.csv', 'h\n1\n', 'h\n1\n2', 'h\n1\n3')).toBe('h\n1\n2\n3');
  });

  it("ends our open last record with the line ending of our file's first line (a CSV's header)", async () => {
    expect(await union('t.csv', 'h\r\n1\r\n', 'h\r\n1\r\n2', 'h\r\n1\r\n3\r\n')).toBe('h\r\n1\r\n2\r\n3\r\n');
    expect(await union('t.csv', 'h\r\n1', 'h\r\n1\r\n2\n4', 'h\r\n1\r\n3\r\n')).toBe('h\r\n1\r\n2\n4\r\n3\r\n');
    expect(await union('t.jsonl', '{}\r\n', '{}\r\n{"a":1}', '{}\r\n{"b":2}\r\n')).toBe('{}\r\n{"a":1}\r\n{"b":2}\r\n');
    // A quoted newline in the header is not its end; a file of \n lines keeps \n.
    expect(await union('t.csv', '"a\nb"\r\n', '"a\nb"\r\n1', '"a\nb"\r\n2\r\n')).toBe('"a\nb"\r\n1\r\n2\r\n');
    expect(await union('t.csv', 'h\n1\r\n', 'h\n1\r\n2', 'h\n1\r\n3\r\n')).toBe('h\n1\r\n2\n3\r\n');
    // Ours only ended base's last record (or the header), theirs with another line ending and more: ours' ending stays.
    expect(await union('t.csv', 'h\r\n1', 'h\r\n1\r\n', 'h\r\n1\n2\n')).toBe('h\r\n1\r\n2\n');
    expect(await union('t.jsonl', '{}', '{}\n', '{}\r\n{"a":1}\r\n')).toBe('{}\n{"a":1}\r\n');
    expect(await union('t.csv', '', 'h\r\n', 'h\n2\n')).toBe('h\r\n2\n');
    // A first line longer than one of the store's blocks (100,000 bytes here), its CR ending one block.
    const long = 'x'.repeat(99_999);
    expect(await union('t.jsonl', `${long}\r\n`, `${long}\r\n1`, `${long}\r\n2\r\n`)).toBe(`${long}\r\n1\r\n2\r\n`);
  });

  it('keeps quoted fields with newlines intact', async () => {
    expect(await union('t.csv', 'h\n', 'h\n"a\nb"\n', 'h\n"c\r\n""d"""\n')).toBe('h\n"a\nb"\n"c\r\n""d"""\n');
  });

  it('refuses when a side is not base plus whole records', async () => {
    expect(await union('t.csv', 'h\n1\n', 'h\n9\n2\n', 'h\n1\n3\n')).toBeUndefined(); // modified
    expect(await union('t.csv', 'h\n1\n2\n', 'h\n1\n2\n3\n', 'h\n1\n')).toBeUndefined(); // deleted a record
    expect(await union('t.csv', 'h\n1', 'h\n12\n', 'h\n1\n3\n')).toBeUndefined(); // extended the last record
    expect(await union('t.csv', 'h\n1\n', 'h\n1\n2\n', 'h\n1\n"3\n')).toBeUndefined(); // left a quote open
    expect(await union('t.bin', 'h\n1\n', 'h\n1\n2\n', 'h\n1\n3\n')).toBeUndefined(); // not a record file
    expect(await union('t.csv', undefined, 'h\n2\n', 'h\n3\n')).toBeUndefined(); // add/add
  });

  it('joins two CSVs grown from an empty base when their headers agree', async () => {
    expect(await union('t.csv', '', 'h,i\n1,2\n', 'h,i\r\n3,4\n')).toBe('h,i\n1,2\n3,4\n');
    expect(await union('t.csv', '', 'h,i', 'h,i\n3,4\n')).toBe('h,i\n3,4\n');
    expect(await union('t.csv', '', 'h,i\n1,2\n', 'h,j\n3,4\n')).toBeUndefined();
    expect(await union('t.jsonl', '', '1\n', '2\n')).toBe('1\n2\n');
  });

  it('takes records both sides appended alike once: a batch both took, then more on one side or both', async () => {
    // One side holds the other's appended records and more: that side, as it is.
    expect(await union('t.csv', 'h\n1\n', 'h\n1\n2\n3\n4\n', 'h\n1\n2\n3\n')).toBe('h\n1\n2\n3\n4\n');
    expect(await union('t.csv', 'h\n1\n', 'h\n1\n2\n3\n', 'h\n1\n2\n3\n4\n')).toBe('h\n1\n2\n3\n4\n');
    // Alike, then apart: the shared records once, then ours', then theirs'.
    expect(await union('t.csv', 'h\n1\n', 'h\n1\n2\n3\n', 'h\n1\n2\n4\n')).toBe('h\n1\n2\n3\n4\n');
    expect(await union('t.jsonl', '{}\n', '{}\n{"a":1}\n{"b":2}\n', '{}\n{"a":1}\n{"c":3}\n')).toBe('{}\n{"a":1}\n{"b":2}\n{"c":3}\n');
    // Records that only start alike are not alike.
    expect(await union('t.csv', 'h\n1\n', 'h\n1\n25\n', 'h\n1\n26\n')).toBe('h\n1\n25\n26\n');
    // A side whose last record has no newline shares it only if the other side ends that record there too.
    expect(await union('t.csv', 'h\n1\n', 'h\n1\n2', 'h\n1\n2\n3\n')).toBe('h\n1\n2\n3\n');
    expect(await union('t.csv', 'h\r\n1\r\n', 'h\r\n1\r\n2\r\n3\r\n', 'h\r\n1\r\n2')).toBe('h\r\n1\r\n2\r\n3\r\n');
    expect(await union('t.csv', 'h\n1\n', 'h\n1\n2', 'h\n1\n20\n')).toBe('h\n1\n2\n20\n');
    // A newline inside quotes ends no record: records that differ after it are not shared.
    expect(await union('t.csv', 'h\n', 'h\n"a\nb"\n2\n', 'h\n"a\nb"\n3\n')).toBe('h\n"a\nb"\n2\n3\n');
    expect(await union('t.csv', 'h\n', 'h\n"a\nX"\n', 'h\n"a\nY"\n')).toBe('h\n"a\nX"\n"a\nY"\n');
    // Grown from an empty base with the same header, and a shared record longer than a block (100,000 bytes here).
    expect(await union('t.csv', '', 'h\n1\n2\n', 'h\n1\n3\n')).toBe('h\n1\n2\n3\n');
    const long = 'x'.repeat(150_000);
    expect(await union('t.jsonl', '{}\n', `{}\n${long}\n1\n`, `{}\n${long}\n2\n`)).toBe(`{}\n${long}\n1\n2\n`);
  });

  it('takes records both sides appended once in whatever order each took them, one for one', async () => {
    // The same two batches, taken in the other order: nothing doubled, and ours as it is.
    expect(await union('t.csv', 'h\n1\n', 'h\n1\n2\n3\n', 'h\n1\n3\n2\n')).toBe('h\n1\n2\n3\n');
    // A batch both took, after other records on one side: theirs' own records follow ours, in their order.
    expect(await union('t.csv', 'h\n1\n', 'h\n1\n2\n3\n4\n', 'h\n1\n6\n3\n5\n2\n')).toBe('h\n1\n2\n3\n4\n6\n5\n');
    // All of ours' records among theirs: theirs as it is.
    expect(await union('t.jsonl', '{}\n', '{}\n{"a":1}\n', '{}\n{"b":2}\n{"a":1}')).toBe('{}\n{"b":2}\n{"a":1}');
    // One for one: a record one side took twice and the other once is there twice.
    expect(await union('t.csv', 'h\n1\n', 'h\n1\n2\n2\n', 'h\n1\n3\n2\n')).toBe('h\n1\n2\n2\n3\n');
    expect(await union('t.csv', 'h\n1\n', 'h\n1\n4\n2\n', 'h\n1\n2\n2\n')).toBe('h\n1\n4\n2\n2\n');
    // A record's line ending is not its content; a newline inside quotes is, and a long record is matched whole.
    expect(await union('t.csv', 'h\n1\n', 'h\n1\n2\n3', 'h\n1\n3\r\n2\r\n')).toBe('h\n1\n2\n3');
    expect(await union('t.csv', 'h\n', 'h\n"a\nb"\n"c"\n', 'h\n"c"\n"a\nB"\n')).toBe('h\n"a\nb"\n"c"\n"a\nB"\n');
    const long = 'y'.repeat(150_000);
    expect(await union('t.jsonl', '{}\n', `{}\n${long}1\n${long}2\n`, `{}\n${long}2\n${long}1\n`)).toBe(`{}\n${long}1\n${long}2\n`);
    expect(await union('t.jsonl', '{}\n', `{}\n${long}1\n`, `{}\n${long}2\n`)).toBe(`{}\n${long}1\n${long}2\n`);
  });

  it('returns a side unchanged, writing nothing, when the other side did not change or both agree', async () => {
    const base = await file('h\n1\n');
    const ours = await file('h\n1\n2\n');
    const theirs = await file('h\n1\n3\n');
    const noWrites: ObjectSink = { put: () => Promise.reject(new Error('unexpected write')) };
    expect(await rowUnionMerge(store, noWrites, 'x.csv', base, ours, base)).toBe(ours);
    expect(await rowUnionMerge(store, noWrites, 'x.csv', base, base, theirs)).toBe(theirs);
    expect(await rowUnionMerge(store, noWrites, 'x.csv', base, ours, ours)).toBe(ours);
    const more = await file('h\n1\n2\n5\n');
    expect(await rowUnionMerge(store, noWrites, 'x.csv', base, ours, more)).toBe(more);
    expect(await rowUnionMerge(store, noWrites, 'x.csv', base, more, ours)).toBe(more);
  });
});

// Model: each file is a list of records; a side appends records; the union is base ++ ours' ++ theirs', where each
// of theirs' records alike one of ours' (matched one for one, in any order) counts once (ownModel).
const field = fc.oneof(
  fc.stringMatching(/^[a-z0-9 ]{0,5}$/),
  fc.array(fc.constantFrom('a', ',', '""', '\n', '\r\n'), { maxLength: 5 }).map((p) => `"${p.join('')}"`),
);
const record = fc.array(field, { minLength: 1, maxLength: 3 }).map((f) => f.join(','));
const appendedRecords = fc.array(record.filter((r) => r !== ''), { minLength: 1, maxLength: 5 });

/** The model of which of theirs' records are their own: the indices of those left when each of ours takes one alike. */
function ownModel(ours: string[], theirs: string[]): { own: number[]; oursAllMatched: boolean } {
  const left = [...ours];
  const own: number[] = [];
  theirs.forEach((r, i) => {
    const at = left.indexOf(r);
    if (at < 0) own.push(i);
    else left.splice(at, 1);
  });
  return { own, oursAllMatched: left.length === 0 };
}

const filler = Array.from({ length: 20_000 }, (_, i) => `r${i},${(i * 7919) % 1000003},${'y'.repeat(10 + (i % 31))}`);

describe('rowUnionMerge properties', () => {
  it('the union of two appends is base + our appended bytes + their own appended records', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          format: fc.constantFrom<RecordFormat>('csv', 'jsonl'),
          big: fc.boolean(),
          base: fc.array(record.filter((r) => r !== ''), { minLength: 1, maxLength: 6 }),
          baseNewline: fc.boolean(),
          alike: fc.array(record.filter((r) => r !== ''), { maxLength: 3 }),
          theirsAlikeFirst: fc.boolean(),
          theirsAlikeTurn: fc.nat(),
          ours: appendedRecords,
          oursNewline: fc.boolean(),
          theirs: appendedRecords,
          theirsNewline: fc.boolean(),
          crlf: fc.boolean(),
        }),
        async (c) => {
          const { format, big, base, baseNewline, alike, oursNewline, theirsNewline, crlf } = c;
          // Both sides may hold the same records (a batch both took): ours first, theirs first or last, in another
          // order (turned round by theirsAlikeTurn).
          const turn = alike.length === 0 ? 0 : c.theirsAlikeTurn % alike.length;
          const theirsAlike = [...alike.slice(turn), ...alike.slice(0, turn)];
          const clean = (rs: string[]) => (format === 'jsonl' ? rs.map((r) => r.replace(/[\r\n]/g, '') || '{}') : rs);
          const ours = clean([...alike, ...c.ours]);
          const theirs = clean(c.theirsAlikeFirst ? [...theirsAlike, ...c.theirs] : [...c.theirs, ...theirsAlike]);
          const nl = crlf ? '\r\n' : '\n';
          const baseRecords = [...clean(base), ...(big ? filler : [])];
          const baseText = baseRecords.join(nl) + (baseNewline ? nl : '');
          // A side's appended bytes: the newline that ends base's last record if base lacks one, then its records.
          const appended = (rs: string[], end: boolean) => (baseNewline ? '' : nl) + rs.join(nl) + (end ? nl : '');
          const oursAppended = appended(ours, oursNewline);
          const theirsAppended = appended(theirs, theirsNewline);
          const merged = await union(`p.${format}`, baseText, baseText + oursAppended, baseText + theirsAppended);
          // Their leading newline is dropped when ours already ended base's last record; so are the records ours
          // appended as well, taken once as any three-way merge takes a change made on both sides; one line ending,
          // the file's own, joins an open end.
          const { own, oursAllMatched } = ownModel(ours, theirs);
          const withEnd = (i: number) => theirs[i] + (i < theirs.length - 1 || theirsNewline ? nl : '');
          const expected =
            own.length === 0 ? baseText + oursAppended
            : oursAllMatched ? baseText + theirsAppended
            : baseText + oursAppended + (oursNewline ? '' : nl) + own.map(withEnd).join('');
          expect(merged).toBe(expected);
          // The records, as a reader sees them: base's, then ours', then theirs' own, nothing fused or lost.
          const records = (text: string) => {
            const splitter = new RecordSplitter(format);
            return [...splitter.push(Buffer.from(text)), ...splitter.finish()].map((b) => b.toString());
          };
          const kept = oursAllMatched && own.length > 0 ? theirs : [...ours, ...own.map((i) => theirs[i])];
          expect(records(merged!)).toEqual([...baseRecords, ...kept]);
          // Every record of the batch both took is there once for each time a side took it.
          for (const r of clean(alike)) {
            const times = (rs: string[]) => rs.filter((x) => x === r).length;
            expect(times(records(merged!).slice(baseRecords.length))).toBe(Math.max(times(ours), times(theirs)));
          }
        },
      ),
      { numRuns: 120 },
    );
  });
});
