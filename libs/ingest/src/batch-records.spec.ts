import fc from 'fast-check';
import { csvBody, CsvHeader, quotesClosed, recordsToAppend } from './batch-records';

async function* pieces(data: Buffer, cuts: number[]): AsyncGenerator<Buffer> {
  let at = 0;
  for (const c of [...new Set(cuts)].filter((c) => c > 0 && c < data.length).sort((a, b) => a - b)) {
    yield data.subarray(at, c);
    at = c;
  }
  yield data.subarray(at);
}

async function body(data: string, cuts: number[] = []): Promise<{ header?: CsvHeader; rest: string }> {
  let header: CsvHeader | undefined;
  const out: Buffer[] = [];
  for await (const b of csvBody(pieces(Buffer.from(data), cuts), (h) => (header = h))) out.push(b);
  return { header, rest: Buffer.concat(out).toString() };
}

describe('csvBody', () => {
  it('splits off the header, honouring quotes and CRLF', async () => {
    expect(await body('a,b\n1,2\n')).toEqual({ header: { record: Buffer.from('a,b'), terminated: true }, rest: '1,2\n' });
    expect(await body('"a\nb",c\r\n1,2')).toEqual({ header: { record: Buffer.from('"a\nb",c'), terminated: true }, rest: '1,2' });
    expect(await body('only-header')).toEqual({ header: { record: Buffer.from('only-header'), terminated: false }, rest: '' });
    expect(await body('')).toEqual({ header: { record: Buffer.alloc(0), terminated: false }, rest: '' });
  });

  it('property: the result does not depend on how the stream is cut', async () => {
    const text = fc.string({ unit: fc.constantFrom('a', ',', '"', '\n', '\r', 'x'), maxLength: 60 });
    await fc.assert(
      fc.asyncProperty(text, fc.array(fc.nat(60)), async (data, cuts) => {
        expect(await body(data, cuts)).toEqual(await body(data));
      }),
    );
  });
});

describe('recordsToAppend', () => {
  async function collect(it: AsyncIterable<Buffer>): Promise<string> {
    const out: Buffer[] = [];
    for await (const b of it) out.push(b);
    return Buffer.concat(out).toString();
  }
  const opts = { batchName: 'b.csv', target: 't.csv' };

  it('drops the CSV header, checks it, and adds one newline only when something follows', async () => {
    const batch = () => pieces(Buffer.from('h1,h2\n1,2\n'), [3]);
    expect(await collect(recordsToAppend('csv', batch(), { ...opts, existingHeader: Buffer.from('h1,h2'), needsNewline: true }))).toBe('\n1,2\n');
    expect(await collect(recordsToAppend('csv', pieces(Buffer.from('h1,h2\n'), []), { ...opts, needsNewline: true }))).toBe('');
    await expect(collect(recordsToAppend('csv', batch(), { ...opts, existingHeader: Buffer.from('h1'), needsNewline: false }))).rejects.toThrow(
      /header "h1,h2", but t.csv has "h1"/,
    );
    expect(await collect(recordsToAppend('jsonl', pieces(Buffer.from('{}\n'), []), { ...opts, needsNewline: false }))).toBe('{}\n');
  });

  it('shows what does not show in a refused header escaped: a BOM, a control or format character, an odd space', async () => {
    const refusal = (batch: string, existing: string) =>
      collect(recordsToAppend('csv', pieces(Buffer.from(`${batch}\n1\n`), []), { ...opts, existingHeader: Buffer.from(existing), needsNewline: false }));
    await expect(refusal('\uFEFFid,label', 'id,label')).rejects.toThrow('has CSV header "\\uFEFFid,label", but t.csv has "id,label"');
    await expect(refusal('id,\u00A0la\u200Bbel\t"x"\\\x7F\u{E0001}', 'id, label')).rejects.toThrow(
      'has CSV header "id,\\u00A0la\\u200Bbel\\t\\"x\\"\\\\\\u007F\\u{E0001}", but t.csv has "id, label"',
    );
    await expect(refusal(`${'é'.repeat(100)}`, 'x')).rejects.toThrow(`has CSV header "${'é'.repeat(77)}...", but`);
  });

  it('names the batch and the file C-quoted in a refusal, so that a newline in a name cannot make a second log line', async () => {
    const named = { batchName: 'x\n2026-01-01T00:00:00.000Z edge-agent na: committed fake.csv', target: 'data/"b".csv' };
    const refusal = collect(recordsToAppend('csv', pieces(Buffer.from('a\n1\n'), []), { ...named, existingHeader: Buffer.from('b'), needsNewline: false }));
    await expect(refusal).rejects.toThrow('batch "x\\n2026-01-01T00:00:00.000Z edge-agent na: committed fake.csv" has CSV header "a", but "data/\\"b\\".csv" has "b"');
  });
});

describe('quotesClosed', () => {
  it('property: passes the bytes through, and refuses at their end exactly those with an odd number of quotes', async () => {
    const text = fc.string({ unit: fc.constantFrom('a', ',', '"', '\n'), maxLength: 40 });
    await fc.assert(
      fc.asyncProperty(text, fc.array(fc.nat(40)), async (data, cuts) => {
        const out: Buffer[] = [];
        const passed = (async () => {
          for await (const b of quotesClosed(pieces(Buffer.from(data), cuts), { batchName: 'b.csv', target: 't.csv' })) out.push(Buffer.from(b));
        })();
        if (data.split('"').length % 2 === 0) await expect(passed).rejects.toThrow(/^batch b.csv leaves a quoted CSV field open/);
        else await passed;
        expect(Buffer.concat(out).toString()).toBe(data);
      }),
    );
  });
});
