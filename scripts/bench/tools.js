'use strict';
/** The commands the bench measures: the real `bin/trib`, git as a baseline, and plain-CDC estimates. */
const fs = require('node:fs');
const path = require('node:path');
const { run, sh } = require('./measure');

const ROOT = path.resolve(__dirname, '../..');
const TRIB = path.join(ROOT, 'bin/trib');
const TRIB_ENV = { TRIB_AUTHOR: 'Bench <bench@example.org>', CI: '1' };

/** `trib ARGS` in `cwd`, measured. */
function trib(cwd, args, opts = {}) {
  return run(process.execPath, [TRIB, ...args], { cwd, env: TRIB_ENV, okCodes: opts.okCodes });
}

/** `trib ARGS --json`, measured, with its JSON output parsed into `json`. */
async function tribJson(cwd, args) {
  const r = await trib(cwd, [...args, '--json']);
  return { ...r, json: JSON.parse(r.stdout) };
}

/** `trib init DIR`, unmeasured; removes an earlier `.trib` first. */
function tribInit(dir) {
  fs.rmSync(path.join(dir, '.trib'), { recursive: true, force: true });
  sh(process.execPath, [TRIB, 'init', dir], { env: TRIB_ENV });
}

/**
 * A git repository whose work tree is `workTree` and whose .git lives in `gitDir` (outside it, so trib never sees
 * it; `.trib/` is excluded so git never sees trib's store). Returns an env for `git` calls.
 */
function gitRepo(workTree, gitDir) {
  fs.rmSync(gitDir, { recursive: true, force: true });
  const env = {
    GIT_DIR: gitDir,
    GIT_WORK_TREE: workTree,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_AUTHOR_NAME: 'Bench',
    GIT_AUTHOR_EMAIL: 'bench@example.org',
    GIT_COMMITTER_NAME: 'Bench',
    GIT_COMMITTER_EMAIL: 'bench@example.org',
  };
  sh('git', ['init', '-q'], { env, cwd: workTree });
  sh('git', ['config', 'gc.auto', '0'], { env, cwd: workTree });
  fs.mkdirSync(path.join(gitDir, 'info'), { recursive: true });
  fs.writeFileSync(path.join(gitDir, 'info', 'exclude'), '/.trib/\n');
  return env;
}

/** `sh -c SCRIPT` measured (for baselines made of several commands). */
function shell(script, opts = {}) {
  return run('sh', ['-c', script], opts);
}

/** The compiled engine, for the in-process baselines (hash loop, plain-CDC estimates). */
function engine() {
  return require(path.join(ROOT, 'libs/core/dist'));
}

/**
 * Chunk ids and sizes of a file by the engine's own chunker (content-defined, 16/64/256 KiB), read in 4 MiB blocks:
 * the basis of the "plain CDC" estimate, which stores every chunk whose id is new.
 */
function chunkIds(file) {
  const { Chunker, sha256 } = engine();
  const chunker = new Chunker();
  const ids = new Map();
  const fd = fs.openSync(file, 'r');
  const block = Buffer.allocUnsafe(4 << 20);
  try {
    for (;;) {
      const n = fs.readSync(fd, block, 0, block.length, null);
      if (n === 0) break;
      for (const c of chunker.push(block.subarray(0, n))) ids.set(sha256(c), c.length);
    }
    for (const c of chunker.finish()) ids.set(sha256(c), c.length);
  } finally {
    fs.closeSync(fd);
  }
  return ids;
}

/** Bytes of the chunks of `after` whose ids are not among `before`'s (what plain CDC stores again). */
function newChunkBytes(before, after) {
  let n = 0;
  for (const [id, size] of after) if (!before.has(id)) n += size;
  return n;
}

/** Removes a tree with `rm -rf`: much faster than fs.rmSync for a million files. */
function removeTree(p) {
  sh('rm', ['-rf', p]);
}

module.exports = { ROOT, TRIB, trib, tribJson, tribInit, gitRepo, shell, engine, chunkIds, newChunkBytes, removeTree };
