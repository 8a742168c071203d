import { FileRef, readFileBytes, writeFileContent } from '@tributary/core';
import { MemoryObjects } from '../../core/src/testing/memory-objects';
import { appendRegionalRecords } from './record-append';

describe('appendRegionalRecords', () => {
  const objects = new MemoryObjects();
  const file = (s: string) => writeFileContent(objects, [Buffer.from(s)]);
  async function text(f: FileRef | undefined): Promise<string | undefined> {
    if (!f) return undefined;
    const parts: Buffer[] = [];
    for await (const b of readFileBytes(objects, f)) parts.push(b);
    return Buffer.concat(parts).toString();
  }
  async function run(p: string, base: string | undefined, ours: string, theirs: string): Promise<string | undefined> {
    const merged = await appendRegionalRecords(objects, objects, p, base === undefined ? undefined : await file(base), await file(ours), await file(theirs));
    if (merged) expect(merged).toEqual(await writeFileContent(new MemoryObjects(), [Buffer.from((await text(merged))!)]));
    return text(merged);
  }

  it("appends the region's new records to the hub's version, which need not extend the base", async () => {
    expect(await run('a.csv', 'h\n1\n', 'h\n1\n7\n', 'h\n1\n2\n')).toBe('h\n1\n7\n2\n');
    expect(await run('a.csv', 'h\n1', 'h\n1\n7', 'h\n1\n2\n')).toBe('h\n1\n7\n2\n');
    expect(await run('a.csv', 'h\r\n1', 'h\r\n1\r\n7\r\n', 'h\r\n1\r\n2\r\n')).toBe('h\r\n1\r\n7\r\n2\r\n');
    expect(await run('a.jsonl', undefined, '{"a":1}\n', '{"b":2}\n')).toBe('{"a":1}\n{"b":2}\n');
    expect(await run('a.csv', undefined, 'h\n1\n', 'h\n2\n')).toBe('h\n1\n2\n');
    expect(await run('a.csv', '', 'h\n1\n', 'h\n')).toBe('h\n1\n');
    expect(await run('A.CSV', 'h\n', 'h\n1\n', 'h\n"x\ny"\n')).toBe('h\n1\n"x\ny"\n');
  });

  it('calls anything but whole appended records a conflict', async () => {
    expect(await run('a.csv', 'h\n1\n', 'h\n1\n7\n', 'h\n9\n')).toBeUndefined();
    expect(await run('a.csv', 'h\n1', 'h\n1\n7\n', 'h\n12\n')).toBeUndefined();
    expect(await run('a.csv', 'h\n1\n', 'h\n1\n7\n', 'h\n1\n"open\n')).toBeUndefined();
    expect(await run('a.csv', undefined, 'h\n1\n', 'g\n2\n')).toBeUndefined();
    expect(await run('a.bin', 'x', 'xy', 'xz')).toBeUndefined();
  });
});
