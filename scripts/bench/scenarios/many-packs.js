'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { MiB } = require('../datasets');
const { median } = require('../measure');
const { fmtBytes, fmtSecs } = require('../report');
const { ROOT } = require('../tools');

const PACKS = 1000;
const OBJECTS_PER_PACK = 16;
const PROBES = 20_000;
/** Ids in the filter-building figure: at 64 KiB a chunk, some 100 GiB of data. */
const FILTER_IDS = 1_600_000;
/** Bytes of a pack index entry per id (pack-format.ts). */
const IDX_ENTRY_BYTES = 50;

/**
 * History must not slow down new data. Every commit, publish and subscribe asks, for each chunk it brings, whether
 * the repository holds it already; a chunk that is new is the usual answer. Measures, on local disk, putting new
 * 64 KiB chunks into an ObjectDatabase that holds one pack and into one that holds 1,000, and `has` of ids that no
 * pack holds, beside a raw SHA-256 loop over the same bytes (the least any writer must do with them). And what
 * opening a large repository pays for its id filter, built once from every index: beside the SHA-256 its index
 * bytes already get when they are checked. In-process, on the compiled library.
 */
async function manyPacks(ctx) {
  const { report, runs } = ctx;
  const { ObjectDatabase } = require(path.join(ROOT, 'libs/repository/dist'));
  const { LocalStore } = require(path.join(ROOT, 'libs/storage/dist'));
  const bytes = Math.max(4 * MiB, Math.round(64 * MiB * ctx.scale));
  const packs = Math.max(10, Math.round(PACKS * Math.min(1, ctx.scale)));
  report.section(`History: new chunks into a database of 1 pack and of ${packs} packs (local disk)`);

  const open = async (name, packCount) => {
    const dir = path.join(ctx.tmp, 'many-packs', name);
    fs.mkdirSync(dir, { recursive: true });
    const store = await LocalStore.open(dir, { create: true });
    const db = await ObjectDatabase.open(store);
    for (let p = 0; p < packCount; p++) {
      for (let i = 0; i < OBJECTS_PER_PACK; i++) await db.put(crypto.randomBytes(256));
      await db.flush();
    }
    // A fresh open, as a new process would: every index loaded from the store.
    return ObjectDatabase.open(store);
  };
  const small = await open('one', 1);
  const large = await open('many', packs);

  const chunks = () => Array.from({ length: bytes / (64 * 1024) }, () => crypto.randomBytes(64 * 1024));
  const putAll = async (db, list) => {
    const t = process.hrtime.bigint();
    for (const c of list) await db.put(c);
    await db.flush();
    return Number(process.hrtime.bigint() - t) / 1e6;
  };
  const absentIds = Array.from({ length: PROBES }, () => crypto.randomBytes(32).toString('hex'));
  const probe = (db) => {
    const searches = db.stats.indexSearches;
    const t = process.hrtime.bigint();
    let found = 0;
    for (const id of absentIds) if (db.has(id)) found++;
    if (found) throw new Error(`has() found ${found} ids that were never stored`);
    const nsPerId = Number(process.hrtime.bigint() - t) / absentIds.length;
    return { nsPerId, searches: db.stats.indexSearches - searches };
  };

  const rows = [];
  for (let r = 0; r < runs; r++) {
    // Fresh chunks each time for each database, so every one is new to it; the order alternates against drift.
    const [a, b] = [chunks(), chunks()];
    const times = {};
    for (const which of r % 2 ? ['many', 'one'] : ['one', 'many']) {
      times[which] = which === 'one' ? await putAll(small, a) : await putAll(large, b);
    }
    const t = process.hrtime.bigint();
    for (const c of b) crypto.createHash('sha256').update(c).digest();
    const hashMs = Number(process.hrtime.bigint() - t) / 1e6;
    rows.push({ oneMs: times.one, manyMs: times.many, hashMs, probeOne: probe(small), probeMany: probe(large) });
  }
  const med = (f) => median(rows.map(f));
  const [oneMs, manyMs, hashMs] = [med((x) => x.oneMs), med((x) => x.manyMs), med((x) => x.hashMs)];
  report.figure({
    name: `put ${fmtBytes(bytes)} of new 64 KiB chunks into ${packs} packs`,
    measured: `${fmtSecs(manyMs)} = ${(manyMs / oneMs).toFixed(2)}x the same into 1 pack`,
    baseline: `into 1 pack ${fmtSecs(oneMs)}; raw SHA-256 loop over the same bytes ${fmtSecs(hashMs)}`,
  });
  const searches = med((x) => x.probeMany.searches) / PROBES;
  report.figure({
    name: `has() of ids no pack holds, ${packs} packs`,
    measured: `${med((x) => x.probeMany.nsPerId).toFixed(0)} ns per id, ${searches.toFixed(3)} index searches per id`,
    baseline: `1 pack ${med((x) => x.probeOne.nsPerId).toFixed(0)} ns per id`,
  });
  filterBuild(ctx);
}

/** The id filter of a large repository, built as ObjectDatabase builds it on open, beside the index check's hash. */
function filterBuild(ctx) {
  const { IdFilter } = require(path.join(ROOT, 'libs/repository/dist/packs/id-filter.js'));
  const ids = Math.round(FILTER_IDS * Math.min(1, ctx.scale));
  const index = crypto.randomBytes(ids * IDX_ENTRY_BYTES);
  const rows = [];
  for (let r = 0; r < ctx.runs; r++) {
    let t = process.hrtime.bigint();
    const filter = new IdFilter(2 * ids);
    for (let i = 0; i < ids; i++) filter.add(index, i * IDX_ENTRY_BYTES);
    const buildMs = Number(process.hrtime.bigint() - t) / 1e6;
    t = process.hrtime.bigint();
    crypto.createHash('sha256').update(index).digest();
    rows.push({ buildMs, hashMs: Number(process.hrtime.bigint() - t) / 1e6 });
  }
  ctx.report.figure({
    name: `id filter of ${ids.toLocaleString('en')} ids, built once when a database opens`,
    measured: fmtSecs(median(rows.map((x) => x.buildMs))),
    baseline: `SHA-256 of their ${fmtBytes(index.length)} of index bytes ${fmtSecs(median(rows.map((x) => x.hashMs)))}`,
  });
}

module.exports = { manyPacks };
