'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { GiB, KiB, insertInMiddle, largeFile } = require('../datasets');
const { median, run, RSS_METHOD, syncDisk } = require('../measure');
const { fmtBytes, fmtMB, fmtSecs } = require('../report');
const { chunkIds, newChunkBytes, shell, trib, tribInit, tribJson, removeTree } = require('../tools');

const EDIT_LIMIT = 256 * KiB;
const RSS_LIMIT = 200e6;

/** A 100-byte insertion in the middle of a 1 GiB file: bytes the commit stores, against plain CDC. */
async function largeEdit(ctx) {
  const { report, runs } = ctx;
  const size = Math.round(GiB * ctx.scale);
  report.section(`Large file: 100 bytes inserted in the middle of a ${fmtBytes(size)} file`);
  const dir = path.join(ctx.tmp, 'large-edit');
  const file = path.join(dir, 'signal.bin');
  largeFile(file, size);
  tribInit(dir);
  const first = await tribJson(dir, ['commit', '-m', 'signal']);
  report.note(`setup: first commit ${fmtSecs(first.ms)}, stored ${fmtBytes(first.json.storedBytes)}`);
  let before = chunkIds(file);
  const rows = [];
  for (let r = 0; r < runs; r++) {
    insertInMiddle(file, 100, r);
    const after = chunkIds(file);
    const cdc = newChunkBytes(before, after);
    before = after;
    const c = await tribJson(dir, ['commit', '-m', `edit ${r + 1}`]);
    rows.push({ stored: c.json.storedBytes, cdc, ms: c.ms });
    report.note(`run ${r + 1}: stored ${fmtBytes(c.json.storedBytes)}, plain CDC ${fmtBytes(cdc)}, ${fmtSecs(c.ms)}`);
  }
  const med = (k) => median(rows.map((x) => x[k]));
  report.figure({
    name: `100-byte edit in a ${fmtBytes(size)} file, stored bytes`,
    measured: `${fmtBytes(med('stored'))} (commit ${fmtSecs(med('ms'))})`,
    target: `<= ${fmtBytes(EDIT_LIMIT)}`,
    pass: rows.every((x) => x.stored <= EDIT_LIMIT),
    baseline: `plain CDC ${fmtBytes(med('cdc'))}; git stores a new ${fmtBytes(size)} blob`,
  });
  removeTree(dir);
}

/** Peak RSS of committing and of checking out a single 2 GiB file. */
async function largeMemory(ctx) {
  const { report, runs } = ctx;
  const size = Math.round(2 * GiB * ctx.scale);
  report.section(`Large file: commit and checkout of one ${fmtBytes(size)} file, peak RSS`, `RSS measured with ${RSS_METHOD}.`);
  const dir = path.join(ctx.tmp, 'large-rss');
  const out = path.join(ctx.tmp, 'large-rss-out');
  largeFile(path.join(dir, 'recording.bin'), size, 5);
  const node = await run(process.execPath, ['-e', '0']);
  const rows = [];
  for (let r = 0; r < runs; r++) {
    tribInit(dir);
    syncDisk();
    const c = await trib(dir, ['commit', '-m', 'recording']);
    removeTree(out);
    syncDisk();
    const k = await trib(dir, ['checkout', 'HEAD', '--to', out]);
    if (fs.statSync(path.join(out, 'recording.bin')).size !== size) throw new Error('checkout wrote the wrong size');
    removeTree(out);
    syncDisk();
    const cp = await shell(`cp "${path.join(dir, 'recording.bin')}" "${out}.bin" && sync`);
    fs.rmSync(`${out}.bin`, { force: true });
    rows.push({ commitRss: c.rssBytes, commitMs: c.ms, checkoutRss: k.rssBytes, checkoutMs: k.ms, cpMs: cp.ms });
    report.note(`run ${r + 1}: commit ${fmtMB(c.rssBytes)} ${fmtSecs(c.ms)}, checkout ${fmtMB(k.rssBytes)} ${fmtSecs(k.ms)}, cp + sync ${fmtSecs(cp.ms)}`);
  }
  const med = (k) => median(rows.map((x) => x[k]));
  const max = (k) => Math.max(...rows.map((x) => x[k]));
  report.figure({
    name: `commit of one ${fmtBytes(size)} file, peak RSS`,
    measured: `${fmtMB(med('commitRss'))} (max ${fmtMB(max('commitRss'))}; ${fmtSecs(med('commitMs'))})`,
    target: `< ${fmtMB(RSS_LIMIT)}`,
    pass: med('commitRss') < RSS_LIMIT,
    baseline: `node -e 0 ${fmtMB(node.rssBytes)}; cp + sync ${fmtSecs(med('cpMs'))}`,
  });
  report.figure({
    name: `checkout of one ${fmtBytes(size)} file, peak RSS`,
    measured: `${fmtMB(med('checkoutRss'))} (max ${fmtMB(max('checkoutRss'))}; ${fmtSecs(med('checkoutMs'))})`,
    target: `< ${fmtMB(RSS_LIMIT)}`,
    pass: med('checkoutRss') < RSS_LIMIT,
    baseline: `node -e 0 ${fmtMB(node.rssBytes)}; cp + sync ${fmtSecs(med('cpMs'))}`,
  });
  removeTree(dir);
}

module.exports = { largeEdit, largeMemory };
