'use strict';
const path = require('node:path');
const { flatFolderDataset, smallFilesDataset, touchSmallFiles } = require('../datasets');
const { median, RSS_METHOD } = require('../measure');
const { fmtMB, fmtSecs } = require('../report');
const { gitRepo, shell, trib, tribInit, tribJson, removeTree } = require('../tools');

const CHANGED = 10;
/**
 * Object reads allowed per changed file. Both sides of the diff read the tree nodes on the path to each changed
 * file, and only those: the root's index node, the root page holding the folder, and the folder's page (a 100-file
 * folder is one page; pages close after ~256 names on average). 2 sides x 3 levels = 6. A diff that walked the
 * tree would read at least 2 x (number of folders) nodes: 2,000 here.
 */
const READS_PER_CHANGED_FILE = 6;
/**
 * The 1,000,000-file folder. Memory cannot be independent of the file count: the stat cache, like git's index,
 * keeps a record per file (here 66 bytes plus the path and a map slot), and the folder's listing must be sorted.
 * "Bounded" is therefore a constant per file: 100 MB for the process and its buffers plus 600 bytes per file,
 * which allows the live records (~250 B) and the JS heap's slack, and rules out anything that holds a file's stat,
 * its tree entry or its chunks for the whole run. The engine before this bench measured 2,250 MB here (2.2 KB/file).
 */
const FLAT_BYTES_PER_FILE = 600;

/** trib diff between two commits of a 100,000-file tree that differ in 10 files: reads and time, beside git. */
async function treeDiff(ctx) {
  const { report, runs } = ctx;
  const count = Math.max(1000, Math.round(100_000 * ctx.scale));
  const folders = Math.max(10, Math.round(count / 100));
  report.section(`Diff: ${count} files in ${folders} folders, two commits ${CHANGED} files apart`);
  const dir = path.join(ctx.tmp, 'tree');
  smallFilesDataset(dir, count, folders);
  tribInit(dir);
  const first = await tribJson(dir, ['commit', '-m', 'tree']);
  const gitDir = path.join(ctx.tmp, 'tree.git');
  const env = gitRepo(dir, gitDir);
  const gitFirst = await shell('git add -A && git commit -q -m tree', { cwd: dir, env });
  report.figure({
    name: `first commit of ${count} small files`,
    measured: `${fmtSecs(first.ms)} (${((first.ms * 1000) / count).toFixed(0)} us per file)`,
    baseline: `git add -A && git commit ${fmtSecs(gitFirst.ms)}`,
  });
  const changed = touchSmallFiles(dir, folders, CHANGED, 7);
  await tribJson(dir, ['commit', '-m', 'ten rows']);
  await shell('git add -A && git commit -q -m "ten rows"', { cwd: dir, env });

  const rows = [];
  for (let r = 0; r < runs; r++) {
    const d = await tribJson(dir, ['diff', 'HEAD~1', 'HEAD']);
    const got = [...d.json.modified].sort();
    if (got.join() !== [...changed].sort().join() || d.json.added.length || d.json.removed.length) {
      throw new Error(`trib diff reported ${JSON.stringify(d.json)}, expected ${changed.length} modified files`);
    }
    const g = await shell('git diff --stat HEAD~1 HEAD >/dev/null', { cwd: dir, env });
    rows.push({ reads: d.json.objectsRead, ms: d.ms, gitMs: g.ms });
  }
  const reads = median(rows.map((x) => x.reads));
  const bound = READS_PER_CHANGED_FILE * CHANGED;
  report.figure({
    name: `diff of ${CHANGED} changed files among ${count}, objects read`,
    measured: `${reads} objects (${fmtSecs(median(rows.map((x) => x.ms)))})`,
    target: `<= ${bound} (2 sides x 3 tree levels x ${CHANGED} files)`,
    pass: rows.every((x) => x.reads <= bound),
    baseline: `git diff --stat ${fmtSecs(median(rows.map((x) => x.gitMs)))}; a tree walk reads >= ${2 * folders}`,
  });
  removeTree(dir);
  removeTree(gitDir);
}

/** First commit of one folder holding 1,000,000 files: peak RSS and time. */
async function flatFolder(ctx) {
  const { report, runs } = ctx;
  const count = Math.max(1000, Math.round(1_000_000 * ctx.scale));
  report.section(`One folder of ${count} files: first commit, peak RSS`, `RSS measured with ${RSS_METHOD}.`);
  const dir = path.join(ctx.tmp, 'flat');
  flatFolderDataset(path.join(dir, 'rows'), count);
  const rows = [];
  for (let r = 0; r < runs; r++) {
    tribInit(dir);
    const c = await trib(dir, ['commit', '-m', 'rows']);
    rows.push({ rss: c.rssBytes, ms: c.ms });
    report.note(`run ${r + 1}: ${fmtMB(c.rssBytes)}, ${fmtSecs(c.ms)}`);
  }
  const gitDir = path.join(ctx.tmp, 'flat.git');
  const env = gitRepo(dir, gitDir);
  const git = await shell('git add -A && git commit -q -m rows', { cwd: dir, env });
  const again = await trib(dir, ['commit', '-m', 'again']);
  const rss = median(rows.map((x) => x.rss));
  const limit = 100e6 + FLAT_BYTES_PER_FILE * count;
  report.figure({
    name: `first commit of one folder of ${count} files, peak RSS`,
    measured: `${fmtMB(rss)} = ${((rss - 100e6) / count).toFixed(0)} B/file over 100 MB (${fmtSecs(median(rows.map((x) => x.ms)))})`,
    target: `< ${fmtMB(limit)} (100 MB + ${FLAT_BYTES_PER_FILE} B/file)`,
    pass: rss < limit,
    baseline: `git add -A && git commit ${fmtSecs(git.ms)}, peak ${fmtMB(git.rssBytes)} (1 run); unchanged re-commit ${fmtSecs(again.ms)}, ${fmtMB(again.rssBytes)}`,
  });
  removeTree(dir);
  removeTree(gitDir);
}

module.exports = { treeDiff, flatFolder };
