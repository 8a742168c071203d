'use strict';
const { KiB, MiB } = require('../datasets');
const { median } = require('../measure');
const { fmtBytes, fmtSecs } = require('../report');
const { engine } = require('../tools');

/** An in-memory object store that counts what is new (the bytes a real store would write). */
class CountingStore {
  constructor(sha256) {
    this.sha256 = sha256;
    this.objects = new Map();
    this.newBytes = 0;
  }
  async put(bytes) {
    const id = this.sha256(bytes);
    if (!this.objects.has(id)) {
      this.objects.set(id, Buffer.from(bytes));
      this.newBytes += bytes.length;
    }
    return id;
  }
  async get(id) {
    const b = this.objects.get(id);
    if (!b) throw new Error(`missing ${id}`);
    return b;
  }
}

/** CSV records `from`..`to` of one topic, in 1 MiB blocks, deterministic. */
function* rows(topic, from, to) {
  let out = [];
  let size = 0;
  for (let i = from; i < to; i++) {
    const line = `2026-03-04T10:${String((i / 60) % 60 | 0).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}Z,${topic},${60 + ((i * 7) % 41)},${(i * 13) % 997}\n`;
    out.push(line);
    size += line.length;
    if (size >= MiB) {
      yield Buffer.from(out.join(''));
      out = [];
      size = 0;
    }
  }
  if (out.length) yield Buffer.from(out.join(''));
}

/**
 * The hub's shared layout puts a topic's new records at the end of its own block, in the middle of the file when
 * later topics have records: insertIntoFile of 1000 records (~50 KiB) into the middle of a CSV file, against the same
 * records appended at the end (appendToFile, what the arrival-order hub did) and against rewriting the whole file
 * (writeFileContent of the result), in the same run. In-process, in-memory store: time and new bytes stored.
 */
async function sharedInsert(ctx) {
  const { report, runs } = ctx;
  const { writeFileContent, insertIntoFile, appendToFile, sha256 } = engine();
  const total = Math.max(20_000, Math.round(3_000_000 * ctx.scale));
  const store = new CountingStore(sha256);
  const head = Buffer.from('ts,topic,hr,seq\n');
  const file = await writeFileContent(store, (function* () {
    yield head;
    yield* rows('datasets/heart/eu-azure', 0, total / 2);
    yield* rows('datasets/heart/na-aws', 0, total / 2);
  })());
  report.section(`Shared layout: 1000 records (~50 KiB) inserted in the middle of a ${fmtBytes(file.size)} CSV file (in memory)`);
  let at = head.length;
  for (const b of rows('datasets/heart/eu-azure', 0, total / 2)) at += b.length;
  const results = [];
  for (let r = 0; r < runs; r++) {
    const insert = [...rows('datasets/heart/eu-azure', total / 2 + r * 1000, total / 2 + (r + 1) * 1000)];
    const inserted = insert.reduce((n, b) => n + b.length, 0);
    const measure = async (fn) => {
      const before = store.newBytes;
      const t = process.hrtime.bigint();
      const out = await fn();
      return { ms: Number(process.hrtime.bigint() - t) / 1e6, stored: store.newBytes - before, out };
    };
    const ins = await measure(() => insertIntoFile(store, store, file, at, insert));
    const app = await measure(() => appendToFile(store, store, file, insert));
    const fresh = new CountingStore(sha256);
    const t = process.hrtime.bigint();
    const whole = await writeFileContent(fresh, (function* () {
      yield head;
      yield* rows('datasets/heart/eu-azure', 0, total / 2);
      yield* insert;
      yield* rows('datasets/heart/na-aws', 0, total / 2);
    })());
    const rewriteMs = Number(process.hrtime.bigint() - t) / 1e6;
    if (whole.id !== ins.out.id) throw new Error('insertIntoFile and writeFileContent disagree');
    results.push({ inserted, ins, app, rewriteMs });
    report.note(
      `run ${r + 1}: insert ${fmtBytes(inserted)}: ${fmtSecs(ins.ms)}, stored ${fmtBytes(ins.stored)}; ` +
        `append ${fmtSecs(app.ms)}, stored ${fmtBytes(app.stored)}; rewrite ${fmtSecs(rewriteMs)}`,
    );
  }
  const med = (f) => median(results.map(f));
  report.figure({
    name: `insert 1000 records mid-file (${fmtBytes(file.size)})`,
    measured: `${fmtSecs(med((x) => x.ins.ms))}, stored ${fmtBytes(med((x) => x.ins.stored))}`,
    target: `stored <= inserted + 4 chunks (${fmtBytes(med((x) => x.inserted) + 4 * 256 * KiB)})`,
    pass: results.every((x) => x.ins.stored <= x.inserted + 4 * 256 * KiB),
    baseline: `append at the end ${fmtSecs(med((x) => x.app.ms))}, stored ${fmtBytes(med((x) => x.app.stored))}; rewrite whole file ${fmtSecs(med((x) => x.rewriteMs))}`,
  });
}

module.exports = { sharedInsert };
