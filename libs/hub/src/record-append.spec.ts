import { FileRef, ObjectSource, readFileBytes, writeFileContent } from '@tributary/core';
import { MemoryObjects } from '../../core/src/testing/memory-objects';
import { insertRegionalRecords, normaliseRecordFile, recordBlock, TopicBlocks } from './record-append';

describe('shared record files', () => {
  const objects = new MemoryObjects();
  const file = (s: string) => writeFileContent(objects, [Buffer.from(s)]);
  async function text(f: FileRef | undefined): Promise<string | undefined> {
    if (!f) return undefined;
    const parts: Buffer[] = [];
    for await (const b of readFileBytes(objects, f)) parts.push(b);
    return Buffer.concat(parts).toString();
  }
  async function canonical(f: FileRef | undefined): Promise<void> {
    if (f) expect(f).toEqual(await writeFileContent(new MemoryObjects(), [Buffer.from((await text(f))!)]));
  }
  async function run(p: string, base: string | undefined, ours: string, theirs: string, blocks: Partial<TopicBlocks> = {}): Promise<string | undefined> {
    const merged = await insertRegionalRecords(objects, objects, p, base === undefined ? undefined : await file(base), await file(ours), await file(theirs), { before: 0, after: 0, headerBefore: false, ...blocks });
    await canonical(merged);
    return text(merged);
  }

  it("insertRegionalRecords puts the topic's new records at the end of its own block", async () => {
    // Another topic's block after this one's (topic order), or before it (then it is an append).
    expect(await run('a.csv', 'h\n1\n', 'h\n1\n7\n', 'h\n1\n2\n', { before: 0, after: 2 })).toBe('h\n1\n2\n7\n');
    expect(await run('a.csv', 'h\n1\n', 'h\n7\n1\n', 'h\n1\n2\n', { before: 2, after: 0 })).toBe('h\n7\n1\n2\n');
    expect(await run('a.csv', 'h\n1\n', 'h\n6\n1\n7\n8\n', 'h\n1\n2\n3\n', { before: 2, after: 4 })).toBe('h\n6\n1\n2\n3\n7\n8\n');
    // The topic's first version of the file: its records without its header, or the whole file into an empty one.
    expect(await run('a.csv', undefined, 'h\n9\n', 'h\n1\n', { before: 0, after: 2 })).toBe('h\n1\n9\n');
    expect(await run('a.csv', '', 'h\n0\n9\n', 'h\n1\n', { before: 2, after: 2 })).toBe('h\n0\n1\n9\n');
    expect(await run('a.jsonl', undefined, '{"u":1}\n', '{"t":1}', { before: 0, after: 8 })).toBe('{"t":1}\n{"u":1}\n');
    expect(await run('a.csv', undefined, 'h', 'h\n1\n')).toBe('h\n1\n');
  });

  it('keeps every block ending with a newline: one is added after a last record that lacks it, and stays last', async () => {
    expect(await run('a.csv', 'h\n1\n', 'h\n1\n7\n', 'h\n1\n2', { before: 0, after: 2 })).toBe('h\n1\n2\n7\n');
    // Base lacked it: its block ends with the added `\n`, and the new bytes (terminator first) go just before it.
    expect(await run('a.csv', 'h\n1', 'h\n1\n7\n', 'h\n1\n2\n', { before: 0, after: 2 })).toBe('h\n1\n2\n7\n');
    expect(await run('a.csv', 'h\r\n1', 'h\r\n1\n7\r\n', 'h\r\n1\r\n2', { before: 0, after: 3 })).toBe('h\r\n1\r\n2\n7\r\n');
    expect(await run('a.csv', 'h\n1', 'h\n1\n7\n', 'h\n1\r\n', { before: 0, after: 2 })).toBe('h\n1\r\n7\n');
    expect(await run('a.csv', 'h\n1', 'h\n1\n7\n', 'h\n1\n', { before: 0, after: 2 })).toBe('h\n1\n7\n');
  });

  it("appends at the end, as before, when the hub's version does not add up to the blocks", async () => {
    expect(await run('a.csv', 'h\n1\n', 'h\n1\n7\n', 'h\n1\n2\n')).toBe('h\n1\n7\n2\n');
    expect(await run('a.csv', 'h\n1', 'h\n1\n7', 'h\n1\n2\n')).toBe('h\n1\n7\n2\n');
    expect(await run('a.csv', 'h\r\n1', 'h\r\n1\r\n7\r\n', 'h\r\n1\r\n2\r\n')).toBe('h\r\n1\r\n7\r\n2\r\n');
    expect(await run('a.jsonl', undefined, '{"a":1}\n', '{"b":2}\n')).toBe('{"a":1}\n{"b":2}\n');
    expect(await run('a.csv', '', 'h\n1\n', 'h\n')).toBe('h\n1\n');
    expect(await run('A.CSV', 'h\n', 'h\n1\n', 'h\n"x\ny"\n')).toBe('h\n1\n"x\ny"\n');
  });

  it('appends at the end when the sizes add up but the block would not end a line (records that came in another order)', async () => {
    // Laid out, eu's block ('5,7000\n', 7 bytes) would end at 9; na's record '1,60\n' came first.
    expect(await run('a.csv', 'h\n5,7000\n', 'h\n1,60\n5,7000\n', 'h\n5,7000\n6,1\n', { after: 5 })).toBe('h\n1,60\n5,7000\n6,1\n');
  });

  it('calls anything but whole appended records a conflict', async () => {
    expect(await run('a.csv', 'h\n1\n', 'h\n1\n7\n', 'h\n9\n', { before: 0, after: 2 })).toBeUndefined();
    expect(await run('a.csv', 'h\n1', 'h\n1\n7\n', 'h\n12\n', { before: 0, after: 2 })).toBeUndefined();
    expect(await run('a.csv', 'h\n1\n', 'h\n1\n7\n', 'h\n1\n"open\n', { before: 0, after: 2 })).toBeUndefined();
    expect(await run('a.csv', undefined, 'h\n1\n', 'g\n2\n', { before: 2, after: 0 })).toBeUndefined();
    expect(await run('a.bin', 'x', 'xy', 'xz')).toBeUndefined();
  });

  it("takes the header's bytes from the first topic with a terminated header", async () => {
    expect(await run('a.csv', undefined, 'h\r\n9\r\n', 'h\n1\n', { after: 3 })).toBe('h\n1\n9\r\n');
    expect(await run('a.csv', undefined, 'h\r\n9\r\n', 'h\n', { after: 3 })).toBe('h\n9\r\n');
    expect(await run('a.csv', undefined, 'h\r\n9\r\n', 'h\n1\n', { after: 3, headerBefore: true })).toBe('h\r\n1\n9\r\n');
    expect(await run('a.csv', undefined, 'h\r\n9\r\n', 'h\n1\n', { before: 3, headerBefore: true })).toBe('h\r\n9\r\n1\n');
    expect(await run('a.csv', undefined, 'h', 'h\r\n1\n', { headerBefore: true })).toBe('h\r\n1\n');
    expect(await run('a.csv', undefined, 'h\r\n1\n', 'h', { before: 2, headerBefore: true })).toBe('h\r\n1\n');
  });

  it('recordBlock: the version without its header, plus the newline it lacks', async () => {
    const block = async (p: string, s: string | undefined) => recordBlock(objects, p, s === undefined ? undefined : await file(s));
    expect(await block('a.csv', undefined)).toEqual({ size: 0, header: false, held: false });
    expect(await block('a.csv', '')).toEqual({ size: 0, header: false, held: false });
    expect(await block('a.csv', 'h')).toEqual({ size: 0, header: false, held: true });
    expect(await block('a.csv', 'h\r\n')).toEqual({ size: 0, header: true, held: true });
    expect(await block('a.csv', 'h\r\n1\r\n')).toEqual({ size: 3, header: true, held: true });
    expect(await block('a.csv', 'h\n1')).toEqual({ size: 2, header: true, held: true });
    expect(await block('a.jsonl', '{}\n{}')).toEqual({ size: 6, header: false, held: true });
  });

  it('normaliseRecordFile adds the final newline a file with records lacks, and nothing else', async () => {
    const norm = async (p: string, s: string) => {
      const f = await normaliseRecordFile(objects, objects, p, await file(s));
      await canonical(f);
      return text(f);
    };
    expect(await norm('a.csv', 'h\n1')).toBe('h\n1\n');
    expect(await norm('a.csv', 'h\n1\n')).toBe('h\n1\n');
    expect(await norm('a.csv', 'h')).toBe('h');
    expect(await norm('a.jsonl', '{}')).toBe('{}\n');
    expect(await norm('a.bin', 'x')).toBe('x');
  });

  it('an empty version adds nothing, in either order: no spurious header conflict', async () => {
    expect(await run('a.csv', undefined, 'h\n1\n', '', { before: 0, after: 2 })).toBe('h\n1\n');
    expect(await run('a.csv', '', 'h\n1\n', '', { before: 2, after: 0 })).toBe('h\n1\n');
    expect(await run('a.csv', undefined, '', 'h\n1\n')).toBe('h\n1\n');
    // A version that is one unterminated header has no records to end with a newline, as normaliseRecordFile has it.
    expect(await run('a.csv', undefined, '', 'h')).toBe('h');
    expect(await run('a.csv', undefined, '', 'h\r\n')).toBe('h\r\n');
    // Emptying a version that had records is still no append.
    expect(await run('a.csv', 'h\n1\n', 'h\n1\n', '')).toBeUndefined();
  });

  it('a CSV whose first line opens a quote that never closes is a conflict, read only up to the header bound', async () => {
    const open = Buffer.concat([Buffer.from('"id,val\n'), Buffer.alloc(3 << 20, 'x'), Buffer.from('\n')]);
    const theirs = await writeFileContent(objects, [open]);
    let read = 0;
    const counting: ObjectSource = {
      get: async (id) => {
        const b = await objects.get(id);
        read += b.length;
        return b;
      },
    };
    const merged = await insertRegionalRecords(counting, objects, 'a.csv', undefined, await file('h\n1\n'), theirs, { before: 0, after: 0, headerBefore: false });
    expect(merged).toBeUndefined();
    expect(read).toBeLessThan(2 << 20);
  });
});
