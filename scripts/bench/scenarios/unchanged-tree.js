'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { smallFilesDataset } = require('../datasets');
const { median } = require('../measure');
const { fmtSecs } = require('../report');
const { gitRepo, shell, trib, tribInit, tribJson, removeTree } = require('../tools');

/**
 * Re-committing an unchanged tree of 10,000 files, CLI start-up included, beside git status and git commit; then a
 * checkout of those files into an empty folder (the agents' many small batch files are this project's common case)
 * beside git writing the same commit from its own store and cp -r of the files.
 */
module.exports = async function unchangedTree(ctx) {
  const { report, runs } = ctx;
  const count = Math.max(100, Math.round(10_000 * ctx.scale));
  const folders = Math.max(1, Math.round(count / 100));
  report.section(`Unchanged tree of ${count} files in ${folders} folders`, 'whole `trib commit` process (Node start-up included) when nothing changed; git on the same tree.');
  const dir = path.join(ctx.tmp, 'unchanged');
  smallFilesDataset(dir, count, folders);
  tribInit(dir);
  const first = await tribJson(dir, ['commit', '-m', 'first']);
  const gitDir = path.join(ctx.tmp, 'unchanged.git');
  const env = gitRepo(dir, gitDir);
  await shell('git add -A && git commit -q -m first', { cwd: dir, env });
  report.note(`setup: first trib commit ${fmtSecs(first.ms)}`);

  const t = { trib: [], status: [], commit: [] };
  for (let r = 0; r < runs; r++) {
    const c = await tribJson(dir, ['commit', '-m', 'again']);
    if (c.json.commit !== null) throw new Error('trib made a commit of an unchanged tree');
    t.trib.push(c.ms);
    t.status.push((await shell('git status --porcelain >/dev/null', { cwd: dir, env })).ms);
    // Exits 1: nothing to commit.
    t.commit.push((await shell('git add -A && git commit -q -m again', { cwd: dir, env, okCodes: [0, 1] })).ms);
  }
  const version = (await trib(dir, ['--version'])).ms;
  const m = median(t.trib);
  report.figure({
    name: `re-commit of unchanged ${count} files (CLI start-up included)`,
    measured: fmtSecs(m),
    target: '< 1 s',
    pass: m < 1000,
    baseline: `git status ${fmtSecs(median(t.status))}, git add -A && git commit ${fmtSecs(median(t.commit))}, trib --version ${fmtSecs(version)}`,
  });

  const co = { trib: [], git: [], cp: [] };
  const out = path.join(ctx.tmp, 'unchanged-out');
  for (let r = 0; r < runs; r++) {
    co.trib.push((await trib(dir, ['checkout', 'main', '--to', out])).ms);
    removeTree(out);
    fs.mkdirSync(out);
    co.git.push((await shell(`git archive HEAD | tar -x -C '${out}'`, { cwd: dir, env })).ms);
    removeTree(out);
    fs.mkdirSync(out);
    co.cp.push((await shell(`cp -r d* '${out}/'`, { cwd: dir })).ms);
    removeTree(out);
  }
  report.figure({
    name: `checkout of those ${count} files into an empty folder (CLI start-up included)`,
    measured: fmtSecs(median(co.trib)),
    target: '',
    baseline: `git archive | tar -x ${fmtSecs(median(co.git))}, cp -r ${fmtSecs(median(co.cp))}`,
  });
  removeTree(dir);
  removeTree(gitDir);
};
