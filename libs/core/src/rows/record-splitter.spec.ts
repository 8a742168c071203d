import fc from 'fast-check';
import {
  lastRecordStart,
  RecordBoundaryScanner,
  RecordFormat,
  recordFormatOf,
  RecordSplitter,
} from './record-splitter';

function split(input: string | Buffer, format: RecordFormat, cuts: number[] = [], skipHeader = false, keepTerminators = false): string[] {
  const bytes = Buffer.isBuffer(input) ? input : Buffer.from(input, 'utf8');
  const s = new RecordSplitter(format, { skipHeader, keepTerminators });
  const out: Buffer[] = [];
  let prev = 0;
  for (const c of [...cuts].sort((a, b) => a - b)) {
    out.push(...s.push(bytes.subarray(prev, Math.max(prev, c))));
    prev = Math.max(prev, c);
  }
  out.push(...s.push(bytes.subarray(prev)));
  out.push(...s.finish());
  return out.map((b) => b.toString('utf8'));
}

// CSV-ish records: fields plain or quoted; quoted fields may hold `""`, commas, `\n` and `\r\n`.
const plainField = fc.stringMatching(/^[a-z0-9 .;-]{0,6}$/);
const quotedField = fc
  .array(fc.constantFrom('a', 'b', ',', '""', '\n', '\r\n', ' ', 'é'), { maxLength: 8 })
  .map((parts) => `"${parts.join('')}"`);
const csvRecord = fc.array(fc.oneof(plainField, quotedField), { minLength: 1, maxLength: 4 }).map((f) => f.join(','));
const jsonlRecord = fc.stringMatching(/^[a-z0-9{}":, \[\]]{0,12}$/);

/** A file from records: joined with `\n` or `\r\n`, with or without a final terminator. */
const csvFile = fc.record({
  records: fc.array(csvRecord, { minLength: 0, maxLength: 12 }),
  crlf: fc.boolean(),
  finalNewline: fc.boolean(),
});

function render(records: string[], crlf: boolean, finalNewline: boolean): string {
  const nl = crlf ? '\r\n' : '\n';
  // Without a final terminator, an empty last record cannot be told from a missing one.
  const last = records[records.length - 1];
  const withEnd = finalNewline || (records.length > 0 && last === '');
  return records.join(nl) + (withEnd && records.length > 0 ? nl : '');
}

describe('recordFormatOf', () => {
  it('recognizes .csv and .jsonl in any case and nothing else', () => {
    expect(recordFormatOf('data/heart.csv')).toBe('csv');
    expect(recordFormatOf('a/B.CSV')).toBe('csv');
    expect(recordFormatOf('x.JsonL')).toBe('jsonl');
    expect(recordFormatOf('x.json')).toBeUndefined();
    expect(recordFormatOf('csv')).toBeUndefined();
    expect(recordFormatOf('dir.csv/file')).toBeUndefined();
    expect(recordFormatOf('x.csv.gz')).toBeUndefined();
  });
});

describe('RecordSplitter', () => {
  it('splits on \\n and \\r\\n and drops only the empty remainder after the final terminator', () => {
    expect(split('a\nb\r\nc', 'jsonl')).toEqual(['a', 'b', 'c']);
    expect(split('a\nb\n', 'jsonl')).toEqual(['a', 'b']);
    expect(split('a\n\nb\n\n', 'jsonl')).toEqual(['a', '', 'b', '']);
    expect(split('', 'jsonl')).toEqual([]);
    expect(split('\n', 'csv')).toEqual(['']);
  });

  it('keeps newlines inside quoted CSV fields and treats "" as an escaped quote', () => {
    const csv = 'id,note\n1,"line one\nline two"\n2,"say ""hi""\r\nbye"\n3,plain\n';
    expect(split(csv, 'csv')).toEqual(['id,note', '1,"line one\nline two"', '2,"say ""hi""\r\nbye"', '3,plain']);
    expect(split(csv, 'jsonl')).toHaveLength(6);
  });

  it('holds the CSV header back with skipHeader and exposes it', () => {
    const s = new RecordSplitter('csv', { skipHeader: true });
    expect(s.push(Buffer.from('h1,h2\r\n1,2\n3'))).toEqual([Buffer.from('1,2')]);
    expect(s.finish()).toEqual([Buffer.from('3')]);
    expect(s.header).toEqual(Buffer.from('h1,h2'));
    const j = new RecordSplitter('jsonl', { skipHeader: true });
    expect(j.push(Buffer.from('{}\n'))).toEqual([Buffer.from('{}')]);
    expect(j.header).toBeUndefined();
  });

  it('strips a \\r that arrives in the chunk before its \\n', () => {
    expect(split('a\r\nb\r\n', 'csv', [2, 3])).toEqual(['a', 'b']);
    expect(split('a\r\nb\r\n', 'jsonl', [2])).toEqual(['a', 'b']);
  });

  it('returns a final record whose quote never closed', () => {
    expect(split('a\n"open\nstill', 'csv')).toEqual(['a', '"open\nstill']);
  });

  it('property: the records of a CSV file joined with \\n give the file back, however the bytes are cut', () => {
    fc.assert(
      fc.property(csvFile, fc.array(fc.nat(400)), ({ records, crlf, finalNewline }, cuts) => {
        const text = render(records, crlf, finalNewline);
        const got = split(text, 'csv', cuts);
        expect(got).toEqual(records);
        const nl = crlf ? '\r\n' : '\n';
        expect(got.join(nl) + (text.endsWith('\n') ? nl : '')).toBe(text);
      }),
      { numRuns: 500 },
    );
  });

  it('with keepTerminators, gives each record with its own terminator: joined, the bytes fed, however cut', () => {
    expect(split('h\r\n"a\nb"\n\n2', 'csv', [], false, true)).toEqual(['h\r\n', '"a\nb"\n', '\n', '2']);
    expect(split('{}\n\r\n{"a":1}\r\n', 'jsonl', [3], false, true)).toEqual(['{}\n', '\r\n', '{"a":1}\r\n']);
    fc.assert(
      fc.property(csvFile, fc.array(fc.nat(400)), fc.array(fc.boolean()), ({ records, finalNewline }, cuts, crlfs) => {
        // Each record ends its own way, \n or \r\n.
        const text = records.map((r, i) => r + (i < records.length - 1 || finalNewline || r === '' ? (crlfs[i] ? '\r\n' : '\n') : '')).join('');
        const got = split(text, 'csv', cuts, false, true);
        expect(got.join('')).toBe(text);
        expect(got.map((r) => r.replace(/\r?\n$/, ''))).toEqual(split(text, 'csv'));
      }),
      { numRuns: 300 },
    );
  });

  it('property: JSONL records round-trip, however the bytes are cut', () => {
    fc.assert(
      fc.property(
        fc.array(jsonlRecord, { maxLength: 12 }),
        fc.boolean(),
        fc.array(fc.nat(200)),
        (records, fin, cuts) => {
          const text = render(records, false, fin);
          expect(split(text, 'jsonl', cuts)).toEqual(records);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('property: with skipHeader the first record becomes the header and the rest are unchanged', () => {
    fc.assert(
      fc.property(csvFile, fc.array(fc.nat(400)), ({ records, crlf, finalNewline }, cuts) => {
        const text = render(records, crlf, finalNewline);
        const s = new RecordSplitter('csv', { skipHeader: true });
        const bytes = Buffer.from(text);
        const cut = cuts[0] ?? 0;
        const out = [...s.push(bytes.subarray(0, cut)), ...s.push(bytes.subarray(cut)), ...s.finish()];
        expect(out.map((b) => b.toString())).toEqual(records.slice(1));
        expect(s.header?.toString()).toEqual(records[0]);
      }),
    );
  });
});

describe('lastRecordStart', () => {
  it('finds the start of the last record, ignoring a final terminator', () => {
    expect(lastRecordStart(Buffer.from('a\nbc'), 'jsonl')).toBe(2);
    expect(lastRecordStart(Buffer.from('a\nbc\n'), 'jsonl')).toBe(2);
    expect(lastRecordStart(Buffer.from('a\n\n'), 'jsonl')).toBe(2);
    expect(lastRecordStart(Buffer.from('abc'), 'jsonl')).toBe(-1);
    expect(lastRecordStart(Buffer.from(''), 'csv')).toBe(-1);
    expect(lastRecordStart(Buffer.from('h\r\n1,"x\ny"\r\n'), 'csv')).toBe(3);
    expect(lastRecordStart(Buffer.from('1,"x\ny"'), 'csv')).toBe(-1);
    expect(lastRecordStart(Buffer.from('y"'), 'csv')).toBe(-1);
  });

  it('property: agrees with the splitter on every suffix of a well-formed CSV or JSONL file', () => {
    fc.assert(
      fc.property(csvFile, fc.nat(), fc.boolean(), ({ records, crlf, finalNewline }, k, jsonl) => {
        const recs = jsonl ? records.map((r) => r.replace(/[\r\n]/g, '')) : records;
        if (recs.length === 0) return;
        const format: RecordFormat = jsonl ? 'jsonl' : 'csv';
        const bytes = Buffer.from(render(recs, crlf, finalNewline));
        const lastStart = Buffer.byteLength(recs.slice(0, -1).map((r) => r + (crlf ? '\r\n' : '\n')).join(''));
        const from = k % (bytes.length + 1);
        const expected = from < lastStart ? lastStart - from : -1;
        expect(lastRecordStart(bytes.subarray(from), format)).toBe(expected);
      }),
      { numRuns: 500 },
    );
  });
});

describe('RecordBoundaryScanner', () => {
  it('reports where the record in progress started', () => {
    const s = new RecordBoundaryScanner('csv');
    s.push(Buffer.from('h\n1,"a\nb'));
    expect(s.recordStart).toBe(2);
    s.push(Buffer.from('"\n2'));
    expect(s.recordStart).toBe(10);
    const j = new RecordBoundaryScanner('jsonl');
    j.push(Buffer.from('{"a":"\n'));
    expect(j.recordStart).toBe(7);
  });

  it('property: after any prefix of a file, agrees with the record boundaries the splitter sees', () => {
    fc.assert(
      fc.property(
        csvFile,
        fc.nat(),
        fc.array(fc.nat(400)),
        fc.boolean(),
        ({ records, crlf, finalNewline }, k, cuts, jsonl) => {
          const recs = jsonl ? records.map((r) => r.replace(/[\r\n]/g, '')) : records;
          const format: RecordFormat = jsonl ? 'jsonl' : 'csv';
          const bytes = Buffer.from(render(recs, crlf, finalNewline));
          const nl = crlf ? '\r\n' : '\n';
          // Offsets just after each record's terminator, plus 0.
          const boundaries = [0];
          for (const r of recs) boundaries.push(boundaries[boundaries.length - 1] + Buffer.byteLength(r + nl));
          const n = k % (bytes.length + 1);
          const scanner = new RecordBoundaryScanner(format);
          let prev = 0;
          for (const c of [...cuts.filter((c) => c < n), n].sort((a, b) => a - b)) {
            scanner.push(bytes.subarray(prev, c));
            prev = c;
          }
          expect(scanner.recordStart).toBe(Math.max(...boundaries.filter((b) => b <= n)));
        },
      ),
      { numRuns: 500 },
    );
  });
});
