import { randomBytes } from 'node:crypto';
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ByteRange, MemoryStore, poolRequestsDuring } from '@tributary/storage';
import { FileRef, readChunkRefs, writeFileContent } from '@tributary/core';
import { ObjectDatabase } from '../objects/object-database';
import { EntryToWrite, removeEntry, writeEntries, writeEntry } from './materialize';

/** Counts the ranged reads a cloud store would see as separate requests. */
class CountingStore extends MemoryStore {
  ranged = 0;
  override async getRange(key: string, range: ByteRange): Promise<Buffer> {
    this.ranged++;
    return super.getRange(key, range);
  }
}

describe('writeEntry (checkout of one file)', () => {
  it('reads neighbouring chunks with a few ranged reads, not one per chunk, and writes the exact bytes', async () => {
    const store = new CountingStore('materialize-spec');
    const db = await ObjectDatabase.open(store);
    const bytes = randomBytes(12 * 1024 * 1024);
    const file = await writeFileContent(db, [bytes]);
    await db.flush();
    const fresh = await ObjectDatabase.open(store);
    const dir = mkdtempSync(path.join(tmpdir(), 'materialize-'));
    try {
      store.ranged = 0;
      await writeEntry(fresh, dir, 'big.bin', { kind: 'file', executable: false, size: file.size, id: file.id, chunked: file.chunked });
      expect(readFileSync(path.join(dir, 'big.bin')).equals(bytes)).toBe(true);
      const chunks = Math.ceil(bytes.length / (64 * 1024));
      // ~190 chunks; one request per chunk would be ~190 reads. A local store is read 1 MiB at a time (12 reads),
      // plus the chunk-list nodes: about 20 to 25 reads, whatever the random chunk boundaries.
      expect(store.ranged).toBeLessThan(chunks / 5);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** Bytes as a stream of 64 KiB blocks that yields between blocks, so files written at once interleave their chunks. */
async function* blocks(bytes: Buffer): AsyncGenerator<Buffer> {
  for (let at = 0; at < bytes.length; at += 64 * 1024) {
    await new Promise((r) => setImmediate(r));
    yield bytes.subarray(at, at + 64 * 1024);
  }
}

const fileEntry = (path: string, file: FileRef, executable = false): EntryToWrite => ({
  path,
  entry: { kind: 'file', executable, size: file.size, id: file.id, chunked: file.chunked },
});

describe('writeEntries (checkout of many entries)', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(tmpdir(), 'materialize-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** Three files chunked at once, so their chunks interleave in one pack, as a commit of several files leaves them. */
  async function interleaved(store: MemoryStore): Promise<{ contents: Buffer[]; files: FileRef[] }> {
    const db = await ObjectDatabase.open(store);
    const contents = [0, 1, 2].map(() => randomBytes(3 * 1024 * 1024));
    const files = await Promise.all(contents.map((c) => writeFileContent(db, blocks(c))));
    await db.flush();
    return { contents, files };
  }

  it('reads chunks interleaved in the pack in pack order, a few ranged reads for all files', async () => {
    const store = new CountingStore('materialize-spec');
    const { contents, files } = await interleaved(store);
    const fresh = await ObjectDatabase.open(store);
    // The premise: file 0's chunks do not sit together in the pack.
    const refs: { id: string }[] = [];
    for await (const r of readChunkRefs(fresh, files[0])) refs.push(r);
    const offsets = refs.map((r) => fresh.placeOf(r.id as never)!.offset);
    const span = Math.max(...offsets) - Math.min(...offsets);
    expect(span).toBeGreaterThan(files[0].size * 2);

    store.ranged = 0;
    const written: string[] = [];
    await writeEntries(fresh, dir, files.map((f, i) => fileEntry(`d/f${i}.bin`, f)), { onWritten: (w) => written.push(w.path) });
    for (let i = 0; i < 3; i++) expect(readFileSync(path.join(dir, 'd', `f${i}.bin`)).equals(contents[i])).toBe(true);
    expect(written.sort()).toEqual(['d/f0.bin', 'd/f1.bin', 'd/f2.bin']);
    // 9 MiB in pack order is two or three coalesced reads plus the chunk-list nodes; file order was over a hundred.
    expect(store.ranged).toBeLessThan(30);
  });

  it('stops at a damaged chunk: no half-written file in place and no temp file left', async () => {
    const store = new CountingStore('materialize-spec');
    const { contents, files } = await interleaved(store);
    const fresh = await ObjectDatabase.open(store);
    const refs: { id: string }[] = [];
    for await (const r of readChunkRefs(fresh, files[1])) refs.push(r);
    const place = fresh.placeOf(refs[Math.floor(refs.length / 2)].id as never)!;
    const key = fresh.packs().find((p) => p.name === place.pack)!.packKey;
    const packBytes = await store.get(key);
    packBytes[place.offset + 10] ^= 0xff;
    await store.delete(key);
    await store.putIfAbsent(key, packBytes);

    const again = await ObjectDatabase.open(store);
    const entries = files.map((f, i) => fileEntry(`f${i}.bin`, f));
    await expect(writeEntries(again, dir, entries)).rejects.toMatchObject({ code: 'INTEGRITY' });
    const left = readdirSync(dir);
    expect(left.filter((f) => f.startsWith('.trib-tmp'))).toEqual([]);
    expect(left).not.toContain('f1.bin');
    for (const f of left) expect(readFileSync(path.join(dir, f)).equals(contents[Number(f[1])])).toBe(true);
  });

  it('writes many small files without a round trip through the thread pool per file', async () => {
    const store = new MemoryStore('materialize-spec');
    const db = await ObjectDatabase.open(store);
    const entries: EntryToWrite[] = [];
    const contents: Buffer[] = [];
    for (let i = 0; i < 200; i++) {
      contents.push(Buffer.from(`ts,v\n${i},${i * 7}\n`.repeat(20)));
      entries.push(fileEntry(`batches/day-${i % 5}/b${i}.csv`, await writeFileContent(db, [contents[i]])));
    }
    await db.flush();
    const fresh = await ObjectDatabase.open(store);
    const requests = await poolRequestsDuring(() => writeEntries(fresh, dir, entries));
    entries.forEach((e, i) => expect(readFileSync(path.join(dir, e.path)).equals(contents[i])).toBe(true));
    // Opening, writing, closing and renaming each file through the pool was four requests a file (800 here).
    expect(requests.length).toBeLessThan(20);
  });

  it('writes empty files, symlinks and executables', async () => {
    const store = new CountingStore('materialize-spec');
    const db = await ObjectDatabase.open(store);
    const empty = await writeFileContent(db, []);
    const script = await writeFileContent(db, [Buffer.from('#!/bin/sh\necho hi\n')]);
    const target = Buffer.from('d/script.sh');
    const linkId = await db.put(target);
    await db.flush();
    const fresh = await ObjectDatabase.open(store);
    await writeEntries(fresh, dir, [
      fileEntry('empty', empty),
      { path: 'link', entry: { kind: 'symlink', executable: false, size: target.length, id: linkId, chunked: false } },
      fileEntry('d/script.sh', script, true),
    ]);
    expect(lstatSync(path.join(dir, 'empty')).size).toBe(0);
    expect(readlinkSync(path.join(dir, 'link'))).toBe('d/script.sh');
    expect(lstatSync(path.join(dir, 'd/script.sh')).mode & 0o111).toBe(0o111);
    expect(readFileSync(path.join(dir, 'd/script.sh'), 'utf8')).toBe('#!/bin/sh\necho hi\n');
  });

  // As git: the umask decides who else may read or run them; only the owner's run bit is the entry's own.
  it('writes files under the umask, executables with the run bits it allows and the owner\'s always', async () => {
    const db = await ObjectDatabase.open(new MemoryStore('materialize-spec'));
    const data = await writeFileContent(db, [Buffer.from('a,b\n')]);
    const previous = process.umask(0o077);
    try {
      await writeEntries(db, dir, [fileEntry('plain.csv', data), fileEntry('run.sh', data, true)]);
      process.umask(0o177);
      await writeEntries(db, dir, [fileEntry('run2.sh', data, true)]);
    } finally {
      process.umask(previous);
    }
    expect(lstatSync(path.join(dir, 'plain.csv')).mode & 0o777).toBe(0o600);
    expect(lstatSync(path.join(dir, 'run.sh')).mode & 0o777).toBe(0o700);
    expect(lstatSync(path.join(dir, 'run2.sh')).mode & 0o777).toBe(0o700);
  });

  it('writes a symlink target that is not UTF-8 byte for byte', async () => {
    const db = await ObjectDatabase.open(new MemoryStore('materialize-spec'));
    const target = Buffer.from('tgt\xff', 'latin1');
    const id = await db.put(target);
    await writeEntries(db, dir, [
      { path: 'link', entry: { kind: 'symlink', executable: false, size: target.length, id, chunked: false } },
    ]);
    expect(readlinkSync(path.join(dir, 'link'), { encoding: 'buffer' })).toEqual(target);
  });
});

describe('removeEntry', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(tmpdir(), 'materialize-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('removes nothing beneath a symlink, which may point out of the working tree', async () => {
    const root = path.join(dir, 'root');
    const shared = path.join(dir, 'shared');
    mkdirSync(root);
    mkdirSync(shared);
    writeFileSync(path.join(shared, 'x.csv'), 'PRECIOUS');
    symlinkSync(shared, path.join(root, 'data'));
    await removeEntry(root, 'data/x.csv');
    expect(readFileSync(path.join(shared, 'x.csv'), 'utf8')).toBe('PRECIOUS');
    expect(lstatSync(path.join(root, 'data')).isSymbolicLink()).toBe(true);
  });

  it('leaves a folder that stands where the file was', async () => {
    mkdirSync(path.join(dir, 'model', 'empty'), { recursive: true });
    await removeEntry(dir, 'model');
    expect(readdirSync(path.join(dir, 'model'))).toEqual(['empty']);
  });
});
