import { createCipheriv } from 'node:crypto';
import { appendFileSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { diffRevisions, Repository } from '@tributary/repository';
import { lastLine, ok, tempDir } from './support/trib';

/**
 * The deterministic targets of issue 2 ("Speed and memory"), asserted at CI scale on the real CLI: bytes a commit
 * stores and objects a diff reads do not depend on the machine, so they are tested here; timings live in
 * `npm run bench` alone.
 */

const KiB = 1024;
const MiB = 1024 * KiB;

/** mulberry32: a tiny seeded PRNG, so every run writes the same rows. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const HEADER = 'record_id,timestamp,patient,sensor,value,label\n';
const SENSORS = ['ecg', 'spo2', 'resp', 'abp', 'temp'];

/** CSV rows numbered from `first`, about `bytes` of them. Returns the text and the next row number. */
function csvRows(rand: () => number, first: number, bytes: number): { text: string; next: number } {
  const rows: string[] = [];
  let n = 0;
  let i = first;
  while (n < bytes) {
    const row = `${i},${1_700_000_000_000 + i * 4},p${Math.floor(rand() * 5000)},${SENSORS[Math.floor(rand() * 5)]},${(rand() * 2000 - 1000).toFixed(3)},${'NLRVA'[Math.floor(rand() * 5)]}\n`;
    rows.push(row);
    n += row.length;
    i++;
  }
  return { text: rows.join(''), next: i };
}

/** Deterministic incompressible bytes. */
function randomish(n: number, seed: number): Buffer {
  return createCipheriv('aes-256-ctr', Buffer.alloc(32, seed), Buffer.alloc(16)).update(Buffer.alloc(n));
}

function commitJson(repo: string, message: string): { commit: string; storedBytes: number; hashedBytes: number } {
  const out = JSON.parse(ok(repo, ['commit', '-m', message, '--json']).stdout);
  expect(out.commit).toMatch(/^[0-9a-f]{64}$/);
  return out;
}

describe('issue 2 targets: bytes stored and objects read', () => {
  let t: ReturnType<typeof tempDir>;
  let repo: string;
  beforeEach(() => {
    t = tempDir('trib-targets-');
    repo = path.join(t.dir, 'ds');
    ok(t.dir, ['init', repo]);
  });
  afterEach(() => t.cleanup());

  it('1% rows appended to 20 CSV files store at most 1.1x the appended bytes + 4 KiB per file, reading only them', () => {
    const rand = prng(1);
    mkdirSync(path.join(repo, 'archive'));
    writeFileSync(path.join(repo, 'archive', 'signals.bin'), randomish(8 * MiB, 1));
    writeFileSync(path.join(repo, 'archive', 'old.csv'), HEADER + csvRows(rand, 900_000_000, 2 * MiB).text);
    const next: number[] = [];
    for (let f = 0; f < 20; f++) {
      // 1 to 2 MiB each, so the old last chunks differ in size from file to file.
      const { text, next: n } = csvRows(rand, f * 10_000_000, MiB + f * 50 * KiB);
      writeFileSync(path.join(repo, `table-${f}.csv`), HEADER + text);
      next.push(n);
    }
    commitJson(repo, 'tables');

    let appended = 0;
    let changedBytes = 0;
    for (let f = 0; f < 20; f++) {
      const file = path.join(repo, `table-${f}.csv`);
      const { text } = csvRows(rand, next[f], Math.ceil(statSync(file).size / 100));
      appendFileSync(file, text);
      appended += Buffer.byteLength(text);
      changedBytes += statSync(file).size;
    }
    const c = commitJson(repo, 'appended rows');
    expect(c.storedBytes).toBeGreaterThanOrEqual(appended);
    expect(c.storedBytes).toBeLessThanOrEqual(1.1 * appended + 4 * KiB * 20);
    // The commit's work follows the changed files: the unchanged 10 MiB are vouched for by the stat cache.
    expect(c.hashedBytes).toBe(changedBytes);
  });

  it('a 100-byte insertion in the middle of a 64 MiB file stores at most 256 KiB', () => {
    const file = path.join(repo, 'signal.bin');
    const data = randomish(64 * MiB, 2);
    writeFileSync(file, data);
    const first = commitJson(repo, 'signal');
    expect(first.storedBytes).toBeGreaterThanOrEqual(64 * MiB);

    const mid = 32 * MiB + 12_345;
    writeFileSync(file, Buffer.concat([data.subarray(0, mid), randomish(100, 3), data.subarray(mid)]));
    const c = commitJson(repo, 'edit');
    expect(c.hashedBytes).toBe(64 * MiB + 100);
    expect(c.storedBytes).toBeGreaterThanOrEqual(100);
    expect(c.storedBytes).toBeLessThanOrEqual(256 * KiB);
  });

  it('a diff of 10 changed files among 10,000 in 100 folders reads objects in proportion to the 10', () => {
    const rand = prng(3);
    for (let d = 0; d < 100; d++) {
      const dir = path.join(repo, `d${String(d).padStart(3, '0')}`);
      mkdirSync(dir);
      for (let f = 0; f < 100; f++) writeFileSync(path.join(dir, `f${String(f).padStart(3, '0')}.csv`), HEADER + csvRows(rand, d * 1000 + f, 200).text);
    }
    const a = lastLine(ok(repo, ['commit', '-m', 'tree']).stdout);
    const changed: string[] = [];
    for (let k = 0; k < 10; k++) {
      const rel = `d${String(k * 10 + 5).padStart(3, '0')}/f${String(k * 7).padStart(3, '0')}.csv`;
      appendFileSync(path.join(repo, rel), csvRows(rand, 9_000_000 + k, 1).text);
      changed.push(rel);
    }
    const b = lastLine(ok(repo, ['commit', '-m', 'ten rows']).stdout);

    const d = JSON.parse(ok(repo, ['diff', a, b, '--json']).stdout);
    expect(d.modified).toEqual(changed);
    expect(d.added).toEqual([]);
    expect(d.removed).toEqual([]);
    // Both sides read the tree nodes on the path to each changed file and no others: root index node, root
    // page, folder page -- at most 2 x 3 per changed file. Walking the tree would read over 200 nodes.
    expect(d.objectsRead).toBeGreaterThanOrEqual(2 * 10);
    expect(d.objectsRead).toBeLessThanOrEqual(6 * 10);

    const same = JSON.parse(ok(repo, ['diff', b, b, '--json']).stdout);
    expect(same.modified).toEqual([]);
    expect(same.objectsRead).toBeLessThanOrEqual(2);
  });

  it('a row diff of an appended 16 MiB CSV reads only about the appended part', async () => {
    const rand = prng(4);
    const file = path.join(repo, 'beats.csv');
    const base = csvRows(rand, 0, 16 * MiB);
    writeFileSync(file, HEADER + base.text);
    const a = lastLine(ok(repo, ['commit', '-m', 'beats']).stdout);
    const more = csvRows(rand, base.next, 160 * KiB);
    appendFileSync(file, more.text);
    const b = lastLine(ok(repo, ['commit', '-m', 'more beats']).stdout);
    const appendedRows = more.next - base.next;

    const d = JSON.parse(ok(repo, ['diff', a, b, '--rows', '--json', '--max-rows', '5']).stdout);
    expect(d.modified).toEqual(['beats.csv']);
    const rows = d.changes.find((c: { path: string }) => c.path === 'beats.csv')?.rows;
    expect(rows).toMatchObject({ addedCount: appendedRows, removedCount: 0 });
    // What a row diff of an append needs: the tree page of each side, the chunk-list nodes on the right edge of
    // each file (a 16 MiB file has ~256 chunks under 2 levels), the old file's last chunk or two, and the chunks
    // holding the new 160 KiB (at most 11: a chunk is at least 16 KiB) -- 2 + 6 + 2 + 11 <= 24. Reading either
    // file would take over 250 reads.
    expect(d.objectsRead).toBeLessThanOrEqual(24);

    // The same diff through the library reports bytes: the appended part plus the last chunk or two of each side
    // (a chunk is at most 256 KiB) and the nodes on the way, never the file.
    const r = await Repository.open(repo);
    try {
      const lib = await diffRevisions(r, a, b, { rows: true, maxRows: 5 });
      const libRows = lib.changes.find((c) => c.path === 'beats.csv')!.rows!;
      expect(libRows.addedCount).toBe(appendedRows);
      expect(libRows.bytesRead).toBeGreaterThanOrEqual(Buffer.byteLength(more.text));
      expect(libRows.bytesRead).toBeLessThanOrEqual(Buffer.byteLength(more.text) + 4 * 256 * KiB);
      expect(libRows.bytesRead).toBeLessThan(readFileSync(file).length / 8);
    } finally {
      await r.close();
    }
  });
});
