import fc from 'fast-check';
import { InvalidArgumentError } from '../errors/trib-error';
import { sha256 } from '../hashing/sha256';
import { ObjectId } from '../ids/ids';
import { writeFileContent } from '../objects/file-content';
import { ObjectSink, ObjectSource } from '../objects/object-source';
import { FileRef } from '../objects/object-types';
import { RecordFormat, RecordSplitter } from './record-splitter';
import { rowDiff, RowDiff } from './row-diff';

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
const file = (text: string | Buffer): Promise<FileRef> =>
  writeFileContent(store, blocks(Buffer.isBuffer(text) ? text : Buffer.from(text)));

type Text = string | Buffer | undefined;

async function diff(path: string, oldText: Text, newText: Text, maxDistinct?: number, maxPendingRecords?: number) {
  const oldFile = oldText === undefined ? undefined : await file(oldText);
  const newFile = newText === undefined ? undefined : await file(newText);
  return rowDiff(store, path, oldFile, newFile, { maxDistinct, maxPendingRecords });
}

const rows = (d: RowDiff) => ({
  added: d.added.map((r) => [r.record, r.count]),
  removed: d.removed.map((r) => [r.record, r.count]),
});

/**
 * Distinct CSV rows of about 60 bytes, every third with a newline in a quoted field; enough make a multi-chunk file.
 */
function filler(n: number, tag = 'f'): string[] {
  return Array.from(
    { length: n },
    (_, i) => `${tag}${i},${(i * 7919) % 1000003},${'x'.repeat(20 + (i % 23))},"q${i % 3 === 0 ? '\n' : ' '}""${i}"""`,
  );
}

describe('rowDiff', () => {
  it('adds only the new record when an old file without a final newline is appended to', async () => {
    const d = await diff('t.csv', 'h\na,b', 'h\na,b\nc,d\n');
    expect(rows(d)).toEqual({ added: [['c,d', 1]], removed: [] });
    expect(d.headerChanged).toBeUndefined();
    const j = await diff('t.jsonl', '{"a":1}', '{"a":1}\n{"b":2}\n');
    expect(rows(j)).toEqual({ added: [['{"b":2}', 1]], removed: [] });
  });

  it('reports an extended last record as removed and added', async () => {
    const d = await diff('t.csv', 'h\na,b', 'h\na,bc\n');
    expect(rows(d)).toEqual({ added: [['a,bc', 1]], removed: [['a,b', 1]] });
    expect([d.addedCount, d.removedCount]).toEqual([1, 1]);
  });

  it('treats a missing final newline, CRLF against LF, and row order as no change', async () => {
    expect(rows(await diff('t.csv', 'h\na\nb', 'h\na\nb\n'))).toEqual({ added: [], removed: [] });
    expect(rows(await diff('t.csv', 'h\nb\na', 'h\na\nb\n'))).toEqual({ added: [], removed: [] });
    expect(rows(await diff('t.jsonl', '1\r\n2\r\n', '1\n2'))).toEqual({ added: [], removed: [] });
  });

  it('counts duplicates as a multiset and ignores blank lines', async () => {
    const d = await diff('t.csv', 'h\nx\nx\ny\n', 'h\nx\ny\n\ny\nz\n');
    expect(rows(d)).toEqual({ added: [['y', 1], ['z', 1]], removed: [['x', 1]] });
  });

  it('keeps a quoted field with newlines in one row and never counts the header', async () => {
    const d = await diff('t.csv', 'id,note\n1,"a\nb"\n', 'id,note\n1,"a\nb"\n2,"c\r\n""d"""\n');
    expect(rows(d)).toEqual({ added: [['2,"c\r\n""d"""', 1]], removed: [] });
    const added = await diff('t.csv', undefined, 'id\n1\n1\n');
    expect(rows(added)).toEqual({ added: [['1', 2]], removed: [] });
    expect(added.headerChanged).toEqual({ old: undefined, new: 'id' });
    const deleted = await diff('t.csv', 'id\n1\n', undefined);
    expect(rows(deleted)).toEqual({ added: [], removed: [['1', 1]] });
  });

  it('reports a changed CSV header separately and compares rows as text', async () => {
    const renamed = await diff('t.csv', 'a,b\n1,2\n', 'a,c\n1,2\n3,4\n');
    expect(rows(renamed)).toEqual({ added: [['3,4', 1]], removed: [] });
    expect(renamed.headerChanged).toEqual({ old: 'a,b', new: 'a,c' });
    const extended = await diff('t.csv', 'a,b', 'a,bc\n1,2\n');
    expect(extended.headerChanged).toEqual({ old: 'a,b', new: 'a,bc' });
    expect(rows(extended)).toEqual({ added: [['1,2', 1]], removed: [] });
    const headerOnly = await diff('t.csv', 'a,b', 'a,b\n1,2\n');
    expect(headerOnly.headerChanged).toBeUndefined();
    expect(rows(headerOnly)).toEqual({ added: [['1,2', 1]], removed: [] });
  });

  it('caps the lists with maxDistinct and keeps the counts exact, sorted by record', async () => {
    const d = await diff('t.jsonl', 'keep\n', 'keep\nc\na\nb\nb\n', 2);
    expect(rows(d)).toEqual({ added: [['a', 1], ['b', 2]], removed: [] });
    expect(d.addedCount).toBe(4);
  });

  it('reads nothing for identical files and rejects other formats', async () => {
    const f = await file('h\n1\n');
    expect((await rowDiff(store, 'x.csv', f, f)).bytesRead).toBe(0);
    await expect(rowDiff(store, 'x.parquet', f, f)).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('reads about the appended bytes, not the file, for an append to a multi-chunk file', async () => {
    const base = ['id,v,pad,q', ...filler(40_000)].join('\n') + '\n';
    const appendedRows = filler(300, 'new');
    const appended = appendedRows.join('\n') + '\n';
    const oldFile = await file(base);
    const newFile = await file(base + appended);
    expect(oldFile.chunked).toBe(true);
    const d = await rowDiff(store, 'big.csv', oldFile, newFile);
    expect(d.addedCount).toBe(300);
    expect(d.removedCount).toBe(0);
    expect(d.added).toHaveLength(300);
    // Appended bytes plus the old and new last chunks (<= 256 KiB each) plus a few chunk-list nodes.
    expect(d.bytesRead).toBeLessThan(appended.length + 2 * 256 * 1024 + 64 * 1024);
    expect(d.bytesRead).toBeLessThan(base.length / 3);

    const truncated = await rowDiff(store, 'big.csv', newFile, oldFile);
    expect([truncated.addedCount, truncated.removedCount]).toEqual([0, 300]);
    expect(truncated.bytesRead).toBe(d.bytesRead);

    // Not an append: from the record holding the first differing chunk both files are streamed; before it, CSV
    // reads one file's equal chunks once for quote state and JSONL reads none of them.
    const edited = base.replace('f20000,', 'f20000x,') + appended;
    const general = await rowDiff(store, 'big.csv', oldFile, await file(edited));
    expect(rows(general).removed).toEqual([[filler(20_001)[20_000], 1]]);
    expect(general.addedCount).toBe(301);
    const e = base.indexOf('f20000,');
    const tails = 2 * (base.length - e) + appended.length;
    const slack = 4 * 256 * 1024;
    expect(general.bytesRead).toBeGreaterThan(e + tails - slack);
    expect(general.bytesRead).toBeLessThan(e + tails + slack);
    const jsonl = await rowDiff(store, 'big.jsonl', oldFile, await file(edited));
    expect(jsonl.removedCount).toBeGreaterThan(0);
    expect(jsonl.bytesRead).toBeGreaterThan(tails - slack);
    expect(jsonl.bytesRead).toBeLessThan(tails + slack);
  });

  it('reads a mid-file edit and not the identical chunks after it', async () => {
    const base = ['id,v,pad,q', ...filler(40_000)].join('\n') + '\n';
    const e = base.indexOf('f20000,');
    const edited = base.replace('f20000,', 'f20000x,');
    const [oldFile, newFile] = [await file(base), await file(edited)];
    const slack = 4 * 256 * 1024;

    const jsonl = await rowDiff(store, 'big.jsonl', oldFile, newFile);
    expect(rows(jsonl)).toEqual({ added: [[edited.slice(e, edited.indexOf('\n', e)), 1]], removed: [[base.slice(e, base.indexOf('\n', e)), 1]] });
    expect(jsonl.bytesRead).toBeLessThan(slack);
    // CSV reads the equal leading chunks once for quote state, and then only about the edit.
    const csv = await rowDiff(store, 'big.csv', oldFile, newFile);
    expect(rows(csv)).toEqual({ added: [[filler(20_001)[20_000].replace('f20000,', 'f20000x,'), 1]], removed: [[filler(20_001)[20_000], 1]] });
    expect(csv.bytesRead).toBeLessThan(e + slack);
    expect(csv.bytesRead).toBeLessThan(base.length / 2 + slack);
  });

  it('reads to the end when an edit mid-file leaves a CSV quote open, as every record after it differs', async () => {
    const base = ['id,v,pad,q', ...filler(20_000)].join('\n') + '\n';
    const edited = base.replace('f10000,', 'f10000,"open,');
    const d = await diff('big.csv', base, edited);
    expect(rows(d)).toEqual(splitterDiff('csv', base, edited));
    expect(d.removedCount).toBeGreaterThan(9000);
  });

  it('starts mid-file at a record boundary when the equal chunks end inside a quoted field', async () => {
    // Almost every byte is inside a quoted multi-line field, so the first differing chunk starts inside one.
    const lines = (i: number) => Array.from({ length: 12 }, (_, k) => `l${k} ${(i * 31 + k) % 997}`);
    const row = (i: number) => `${i},"${lines(i).join('\n')}"`;
    const oldRows = Array.from({ length: 30_000 }, (_, i) => row(i));
    const newRows = [...oldRows];
    newRows[20_000] = row(-1);
    const d = await diff('q.csv', ['h', ...oldRows].join('\n') + '\n', ['h', ...newRows].join('\n') + '\n');
    expect(rows(d)).toEqual({ added: [[row(-1), 1]], removed: [[row(20_000), 1]] });
    expect(d.bytesRead).toBeLessThan(1.5 * (oldRows.join('\n').length + 1));
  });

  it('finds a last record longer than the kept tail by reading backwards', async () => {
    const long = `{"blob":"${'z'.repeat(700_000)}"}`;
    const base = ['{"a":1}', long].join('\n');
    const d = await diff('t.jsonl', base, base + '\n{"b":2}\n');
    expect(rows(d)).toEqual({ added: [['{"b":2}', 1]], removed: [] });
    const fused = await diff('t.jsonl', base, base + 'x\n');
    expect(fused.removed.map((r) => r.record)).toEqual([long]);
    expect(fused.added.map((r) => r.record)).toEqual([long + 'x']);
  });
});

/** The row diff of two texts as RecordSplitter cuts each whole (any bytes, well-formed or not), as a model. */
function splitterDiff(format: RecordFormat, oldText: string, newText: string) {
  const records = (t: string) => {
    const sp = new RecordSplitter(format, { skipHeader: true });
    return [...sp.push(Buffer.from(t)), ...sp.finish()].map((r) => r.toString('utf8'));
  };
  return modelDiff(records(oldText), records(newText));
}

// Reference model: the records of a file given as a list, rendered to text with or without a final newline.
const field = fc.oneof(
  fc.stringMatching(/^[a-z0-9 ]{0,5}$/),
  fc.array(fc.constantFrom('a', ',', '""', '\n', '\r\n'), { maxLength: 5 }).map((p) => `"${p.join('')}"`),
);
const record = fc.array(field, { minLength: 1, maxLength: 3 }).map((f) => f.join(','));

function multiset(records: string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const r of records) if (r !== '') m.set(r, (m.get(r) ?? 0) + 1);
  return m;
}

function modelDiff(oldRecords: string[], newRecords: string[]) {
  const a = multiset(oldRecords);
  const b = multiset(newRecords);
  const added: [string, number][] = [];
  const removed: [string, number][] = [];
  for (const [r, n] of b) if (n > (a.get(r) ?? 0)) added.push([r, n - (a.get(r) ?? 0)]);
  for (const [r, n] of a) if (n > (b.get(r) ?? 0)) removed.push([r, n - (b.get(r) ?? 0)]);
  const byBytes = (x: [string, number], y: [string, number]) => Buffer.compare(Buffer.from(x[0]), Buffer.from(y[0]));
  return { added: added.sort(byBytes), removed: removed.sort(byBytes) };
}

const text = (records: string[], finalNewline: boolean) =>
  records.join('\n') + (records.length > 0 && (finalNewline || records[records.length - 1] === '') ? '\n' : '');

describe('rowDiff memory', () => {
  // 60,000 records in 7 blocks of the test store (100 KB), 52,000 of them different.
  const records = Array.from({ length: 60_000 }, (_, i) => `r${(i * 7) % 52_000},${i % 3}`);
  const csv = (rs: string[]) => ['id,n', ...rs].join('\n') + '\n';

  it('lists a file added, removed or appended to whole holding only what it may list, with exact counts', async () => {
    const expected = modelDiff([], records);
    const firstThree = expected.added.slice(0, 3);
    // Room for 20,000 at once: enough for the records of the block read before the other side ends (an append's
    // other side is its last record), not for all that differ; only the three listed are held after that.
    const added = await diff('a.csv', undefined, csv(records), 3, 20_000);
    expect([rows(added), added.addedCount, added.removedCount]).toEqual([{ added: firstThree, removed: [] }, 60_000, 0]);
    const removed = await diff('a.csv', csv(records), undefined, 3, 20_000);
    expect([rows(removed), removed.addedCount, removed.removedCount]).toEqual([{ added: [], removed: firstThree }, 0, 60_000]);
    const appended = await diff('a.csv', csv(['x,1']), csv(['x,1', ...records]), 3, 20_000);
    expect([rows(appended), appended.addedCount]).toEqual([{ added: firstThree, removed: [] }, 60_000]);
    // A list asked for longer than that room is listed, as asked: the room bounds what waits on both sides.
    const long = await diff('a.csv', undefined, csv(records), 30_000, 20_000);
    expect([long.added.length, long.added.slice(0, 3).map((r) => [r.record, r.count]), long.addedCount]).toEqual([30_000, firstThree, 60_000]);
  });

  it('refuses, FAILED_PRECONDITION, when more records differ at once than it may hold', async () => {
    const edited = records.map((r) => `${r}!`);
    await expect(diff('a.csv', csv(records), csv(edited), 3, 20_000)).rejects.toMatchObject({
      code: 'FAILED_PRECONDITION',
      message: 'a.csv: more than 20,000 different records differ, too many to diff by rows; diff without --rows',
    });
  });
});

describe('rowDiff properties', () => {
  it('an edit mid-file, the two files ending alike, equals what a splitter reading both whole finds', async () => {
    const base = ['h', ...filler(6_000)].join('\n') + '\n';
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          format: fc.constantFrom<RecordFormat>('csv', 'jsonl'),
          // The last 1000 bytes stay, so the files end alike. (An edit that cuts into the last record is an append
          // or a truncation, whose CSV tail is read on the assumption that its quoted fields close: see lastRecordStart.)
          at: fc.nat(base.length - 4000),
          removed: fc.nat(3000),
          // Any bytes: quotes that close later or never, line ends, blank lines.
          inserted: fc.array(fc.constantFrom('a', ',', '"', '\n', '\r\n', 'x1'), { maxLength: 12 }).map((p) => p.join('')),
        }),
        async ({ format, at, removed, inserted }) => {
          const edited = base.slice(0, at) + inserted + base.slice(at + removed);
          const d = await diff(`p.${format}`, base, edited);
          expect(rows(d)).toEqual(splitterDiff(format, base, edited));
        },
      ),
      { numRuns: 120 },
    );
  });

  it('an append-only change (either way) equals the reference multiset model, small and multi-chunk', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          format: fc.constantFrom<RecordFormat>('csv', 'jsonl'),
          big: fc.boolean(),
          base: fc.array(record, { maxLength: 8 }),
          baseNewline: fc.boolean(),
          // How the appended bytes meet a base without a final newline: a new line, or a suffix fused onto its
          // last record.
          fuse: fc.option(fc.stringMatching(/^[a-z]{1,3}$/), { nil: undefined }),
          appended: fc.array(record, { maxLength: 8 }),
          appendedNewline: fc.boolean(),
          // Diff the longer file against the shorter: trailing records removed.
          reverse: fc.boolean(),
          // How many distinct records each list may show (counts stay exact).
          cap: fc.option(fc.nat(4), { nil: undefined }),
        }),
        async ({ format, big, base, baseNewline, fuse, appended, appendedNewline, reverse, cap }) => {
          const clean = (rs: string[]) => (format === 'jsonl' ? rs.map((r) => r.replace(/[\r\n]/g, '')) : rs);
          const baseRecords = clean([...base, ...(big ? filler(15_000) : [])]);
          const more = clean(appended);
          const oldText = text(baseRecords, baseNewline);
          const oldEndsOpen = oldText.length > 0 && !oldText.endsWith('\n');
          let newRecords: string[];
          let newText: string;
          if (oldEndsOpen && fuse !== undefined) {
            newRecords = [...baseRecords.slice(0, -1), baseRecords[baseRecords.length - 1] + fuse, ...more];
            newText = oldText + fuse + (more.length > 0 ? '\n' : '') + text(more, appendedNewline);
          } else {
            newRecords = [...baseRecords, ...more];
            newText = oldText + (oldEndsOpen && more.length > 0 ? '\n' : '') + text(more, appendedNewline);
          }
          const d = reverse ? await diff(`p.${format}`, newText, oldText, cap) : await diff(`p.${format}`, oldText, newText, cap);
          const header = format === 'csv' ? 1 : 0;
          const [from, to] = reverse ? [newRecords, baseRecords] : [baseRecords, newRecords];
          const expected = modelDiff(from.slice(header), to.slice(header));
          expect(rows(d)).toEqual({ added: expected.added.slice(0, cap), removed: expected.removed.slice(0, cap) });
          expect(d.removedCount).toBe(expected.removed.reduce((s, [, n]) => s + n, 0));
          expect(d.addedCount).toBe(expected.added.reduce((s, [, n]) => s + n, 0));
          if (big) {
            const appendedBytes = Buffer.byteLength(newText) - Buffer.byteLength(oldText);
            expect(d.bytesRead).toBeLessThan(appendedBytes + 2 * 256 * 1024 + 64 * 1024);
          }
          if (format === 'csv' && from[0] !== to[0]) {
            expect(d.headerChanged).toEqual({ old: from[0], new: to[0] });
          } else {
            expect(d.headerChanged).toBeUndefined();
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('any change equals the reference multiset model', async () => {
    const fillerRows = filler(12_000);
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          format: fc.constantFrom<RecordFormat>('csv', 'jsonl'),
          // Records drawn from one small pool, so both sides share rows and hold duplicates.
          pool: fc.array(record, { minLength: 1, maxLength: 6 }),
          a: fc.array(fc.nat(5), { maxLength: 12 }),
          b: fc.array(fc.nat(5), { maxLength: 12 }),
          an: fc.boolean(),
          bn: fc.boolean(),
          // Big: both sides share thousands of rows; the new side has its records at `at` and the old side's tail
          // shifted by `shift`, so the two streams start to differ mid-file and drift apart.
          big: fc.oneof(
            { arbitrary: fc.constant(undefined), weight: 3 },
            { arbitrary: fc.record({ at: fc.nat(12_000), shift: fc.nat(2000) }), weight: 1 },
          ),
        }),
        async ({ format, pool, a, b, an, bn, big }) => {
          const clean = (rs: string[]) => (format === 'jsonl' ? rs.map((r) => r.replace(/[\r\n]/g, '')) : rs);
          const recs = clean(pool);
          const bigRows = clean(fillerRows);
          const pick = (ix: number[]) => ix.map((i) => recs[i % recs.length]);
          const oldRecords = big === undefined ? pick(a) : ['h', ...bigRows, ...pick(a)];
          const newRecords =
            big === undefined
              ? pick(b)
              : ['h', ...bigRows.slice(0, big.at), ...pick(b), ...bigRows.slice(big.at + big.shift)];
          const d = await diff(`p.${format}`, text(oldRecords, an), text(newRecords, bn));
          const header = format === 'csv' ? 1 : 0;
          expect(rows(d)).toEqual(modelDiff(oldRecords.slice(header), newRecords.slice(header)));
        },
      ),
      { numRuns: 200 },
    );
  });
});
