'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { MiB, appendRows, csvFilesDataset, mixedDataset } = require('../datasets');
const { median } = require('../measure');
const { fmtBytes, fmtRatio, fmtSecs } = require('../report');
const { chunkIds, gitRepo, newChunkBytes, shell, tribInit, tribJson, removeTree } = require('../tools');

const TABLES = 20;
/** As measured for ../shared/FACTS.md: 20 CSV files of ~1.5 MiB in a 500 MiB dataset, 1% appended = ~315 KB. */
const TABLE_BYTES = 1.5 * MiB;
const PER_FILE_ALLOWANCE = 4096;

/**
 * A 500 MiB dataset in which 20 CSV files get 1% new rows, committed; each round appends again to the result of
 * the last. Stored bytes against the target (1.1x the appended bytes + 4 KiB per changed file) and against what
 * plain CDC would store (every chunk whose id is new); the commit's time and the bytes it read (only the changed
 * files, whatever the dataset's size) beside git's.
 */
module.exports = async function appends(ctx) {
  const { report, runs } = ctx;
  const total = Math.round(500 * MiB * ctx.scale);
  const each = Math.min(TABLE_BYTES, Math.floor(total / 2 / TABLES));
  report.section(`Appends: 1% new rows to ${TABLES} CSV files of ${fmtBytes(each)} in a ${fmtBytes(total)} dataset`);
  const dir = path.join(ctx.tmp, 'appends');
  const tables = csvFilesDataset(path.join(dir, 'tables'), TABLES, each);
  mixedDataset(path.join(dir, 'archive'), total - TABLES * each, 11);
  tribInit(dir);
  const first = await tribJson(dir, ['commit', '-m', 'dataset']);
  const gitDir = path.join(ctx.tmp, 'appends.git');
  const env = gitRepo(dir, gitDir);
  const gitFirst = await shell('git add -A && git commit -q -m dataset', { cwd: dir, env });
  report.note(`setup: first commit of ${fmtBytes(first.json.hashedBytes)}: trib ${fmtSecs(first.ms)}, git ${fmtSecs(gitFirst.ms)}`);

  let before = tables.map((t) => chunkIds(t.file));
  const rows = [];
  for (let r = 0; r < runs; r++) {
    const appended = appendRows(tables, 0.01, 1000 + r);
    const tableBytes = tables.reduce((n, t) => n + fs.statSync(t.file).size, 0);
    const after = tables.map((t) => chunkIds(t.file));
    const cdc = after.reduce((n, ids, i) => n + newChunkBytes(before[i], ids), 0);
    before = after;
    const c = await tribJson(dir, ['commit', '-m', `append ${r + 1}`]);
    const git = await shell(`git add -A && git commit -q -m "append ${r + 1}"`, { cwd: dir, env });
    const bound = 1.1 * appended + PER_FILE_ALLOWANCE * TABLES;
    rows.push({ appended, stored: c.json.storedBytes, cdc, bound, ms: c.ms, gitMs: git.ms, hashed: c.json.hashedBytes, tableBytes });
    report.note(
      `run ${r + 1}: appended ${fmtBytes(appended)}, stored ${fmtBytes(c.json.storedBytes)} (${fmtRatio(c.json.storedBytes / appended)}), ` +
        `plain CDC ${fmtBytes(cdc)} (${fmtRatio(cdc / appended)}), trib ${fmtSecs(c.ms)} reading ${fmtBytes(c.json.hashedBytes)}, git ${fmtSecs(git.ms)}`,
    );
  }
  const med = (k) => median(rows.map((x) => x[k]));
  report.figure({
    name: `append commit stored bytes (${TABLES} files)`,
    measured: `${fmtBytes(med('stored'))} = ${fmtRatio(median(rows.map((x) => x.stored / x.appended)))} appended (${fmtBytes(med('appended'))})`,
    target: `<= 1.1x appended + 4 KiB/file = ${fmtBytes(med('bound'))}`,
    pass: rows.every((x) => x.stored <= x.bound),
    baseline: `plain CDC ${fmtBytes(med('cdc'))} = ${fmtRatio(median(rows.map((x) => x.cdc / x.appended)))} appended`,
  });
  report.figure({
    name: 'append commit time, bytes read',
    measured: `${fmtSecs(med('ms'))}, read ${fmtBytes(med('hashed'))} of ${fmtBytes(first.json.hashedBytes)}`,
    target: 'reads only the changed files',
    pass: rows.every((x) => x.hashed === x.tableBytes),
    baseline: `git add -A && git commit ${fmtSecs(med('gitMs'))}; first commit of the dataset: trib ${fmtSecs(first.ms)}`,
  });
  removeTree(dir);
  removeTree(gitDir);
};
