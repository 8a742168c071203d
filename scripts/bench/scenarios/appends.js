'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { MiB, appendRows, csvFilesDataset } = require('../datasets');
const { median } = require('../measure');
const { fmtBytes, fmtRatio, fmtSecs } = require('../report');
const { chunkIds, gitRepo, newChunkBytes, shell, tribInit, tribJson } = require('../tools');

const TABLES = 20;
const PER_FILE_ALLOWANCE = 4096;

/**
 * 1% new rows appended to each of 20 CSV files, committed; each round appends again to the result of the last.
 * Stored bytes against the target (1.1x the appended bytes + 4 KiB per changed file), against what plain CDC would
 * store (every chunk whose id is new), and the commit time beside git's.
 */
module.exports = async function appends(ctx) {
  const { report, runs } = ctx;
  const total = Math.round(500 * MiB * ctx.scale);
  const each = Math.floor(total / TABLES);
  report.section(`Appends: 1% new rows to ${TABLES} CSV files of ${fmtBytes(each)} (${fmtBytes(total)} in all)`);
  const dir = path.join(ctx.tmp, 'appends');
  const tables = csvFilesDataset(dir, TABLES, each);
  tribInit(dir);
  const first = await tribJson(dir, ['commit', '-m', 'tables']);
  const gitDir = path.join(ctx.tmp, 'appends.git');
  const env = gitRepo(dir, gitDir);
  const gitFirst = await shell('git add -A && git commit -q -m tables', { cwd: dir, env });
  report.note(`setup: first commit of the ${fmtBytes(total)}: trib ${fmtSecs(first.ms)}, git ${fmtSecs(gitFirst.ms)}`);

  let before = tables.map((t) => chunkIds(t.file));
  const rows = [];
  for (let r = 0; r < runs; r++) {
    const appended = appendRows(tables, 0.01, 1000 + r);
    const after = tables.map((t) => chunkIds(t.file));
    const cdc = after.reduce((n, ids, i) => n + newChunkBytes(before[i], ids), 0);
    before = after;
    const c = await tribJson(dir, ['commit', '-m', `append ${r + 1}`]);
    const git = await shell(`git add -A && git commit -q -m "append ${r + 1}"`, { cwd: dir, env });
    const bound = 1.1 * appended + PER_FILE_ALLOWANCE * TABLES;
    rows.push({ appended, stored: c.json.storedBytes, cdc, bound, ms: c.ms, gitMs: git.ms, hashed: c.json.hashedBytes });
    report.note(
      `run ${r + 1}: appended ${fmtBytes(appended)}, stored ${fmtBytes(c.json.storedBytes)} (${fmtRatio(c.json.storedBytes / appended)}), ` +
        `plain CDC ${fmtBytes(cdc)} (${fmtRatio(cdc / appended)}), trib ${fmtSecs(c.ms)} (read ${fmtBytes(c.json.hashedBytes)}), git ${fmtSecs(git.ms)}`,
    );
  }
  const med = (k) => median(rows.map((x) => x[k]));
  const ratio = median(rows.map((x) => x.stored / x.appended));
  report.figure({
    name: `append commit stored bytes (${TABLES} files)`,
    measured: `${fmtBytes(med('stored'))} = ${fmtRatio(ratio)} appended (${fmtBytes(med('appended'))})`,
    target: `<= 1.1x appended + 4 KiB/file = ${fmtBytes(med('bound'))}`,
    pass: rows.every((x) => x.stored <= x.bound),
    baseline: `plain CDC ${fmtBytes(med('cdc'))} = ${fmtRatio(median(rows.map((x) => x.cdc / x.appended)))} appended`,
  });
  report.figure({
    name: 'append commit time',
    measured: `${fmtSecs(med('ms'))} (re-reads the ${TABLES} changed files: ${fmtBytes(med('hashed'))})`,
    baseline: `git add -A && git commit ${fmtSecs(med('gitMs'))}; first commit of all files: trib ${fmtSecs(first.ms)}`,
  });
  fs.rmSync(dir, { recursive: true, force: true });
  fs.rmSync(gitDir, { recursive: true, force: true });
};
