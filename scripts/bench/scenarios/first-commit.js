'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { GiB, mixedDataset } = require('../datasets');
const { median, syncDisk, timeFn } = require('../measure');
const { fmtBytes, fmtRate, fmtRatio, fmtSecs } = require('../report');
const { engine, gitRepo, shell, tribInit, tribJson, removeTree } = require('../tools');

function listFiles(dir) {
  const out = [];
  const walk = (d) => {
    for (const name of fs.readdirSync(d).sort()) {
      if (name === '.trib') continue;
      const p = path.join(d, name);
      if (fs.lstatSync(p).isDirectory()) walk(p);
      else out.push(p);
    }
  };
  walk(dir);
  return out;
}

/** Reads every file in 4 MiB blocks and feeds each block to `onBlock` (null at each file's end). */
function readAll(files, onBlock) {
  const block = Buffer.allocUnsafe(4 << 20);
  let total = 0;
  for (const f of files) {
    const fd = fs.openSync(f, 'r');
    try {
      for (;;) {
        const n = fs.readSync(fd, block, 0, block.length, null);
        if (n === 0) break;
        onBlock(block.subarray(0, n));
        total += n;
      }
    } finally {
      fs.closeSync(fd);
    }
    onBlock(null);
  }
  return total;
}

/**
 * First commit of a generated mixed dataset, against `cp -r` + `sync` (the disk's own limit) and `git add -A &&
 * git commit`, plus the raw hash loops that bound what one core can do. Rounds interleave the three commands so
 * that noise on the machine hits them alike.
 */
module.exports = async function firstCommit(ctx) {
  const { report, runs } = ctx;
  const total = Math.round(GiB * ctx.scale);
  report.section(
    `First commit of ${fmtBytes(total)} of mixed CSV, JSONL and binary files`,
    'trib commit (its packs fsynced) vs cp -r + sync of the same files and git add -A && git commit; page cache warm for all.',
  );
  const dir = path.join(ctx.tmp, 'mixed');
  const ds = mixedDataset(dir, total);
  report.note(`dataset: ${ds.files} files, ${fmtBytes(ds.bytes)}`);
  const files = listFiles(dir);

  // Raw loops over the same bytes, one core, in this process.
  const { Chunker, sha256 } = engine();
  const shaMs = [];
  const cdcMs = [];
  for (let r = 0; r < runs; r++) {
    let h = crypto.createHash('sha256');
    shaMs.push(timeFn(() => readAll(files, (b) => (b ? h.update(b) : (h.digest(), (h = crypto.createHash('sha256')))))).ms);
    let chunker = new Chunker();
    cdcMs.push(
      timeFn(() =>
        readAll(files, (b) => {
          for (const c of b ? chunker.push(b) : chunker.finish()) sha256(c);
          if (!b) chunker = new Chunker();
        }),
      ).ms,
    );
  }
  report.figure({ name: 'raw sha256 loop, 1 core', measured: `${fmtRate(ds.bytes, median(shaMs))} (${fmtSecs(median(shaMs))})` });
  report.figure({ name: 'raw chunk + sha256 loop (engine chunker), 1 core', measured: `${fmtRate(ds.bytes, median(cdcMs))} (${fmtSecs(median(cdcMs))})` });

  const copy = path.join(ctx.tmp, 'mixed-copy');
  const gitDir = path.join(ctx.tmp, 'mixed.git');
  const t = { trib: [], cpu: [], cp: [], git: [] };
  let stored = 0;
  for (let r = 0; r < runs; r++) {
    fs.rmSync(path.join(dir, '.trib'), { recursive: true, force: true });
    removeTree(copy);
    syncDisk();
    t.cp.push((await shell(`cp -r "${dir}" "${copy}" && sync`)).ms);
    removeTree(copy);

    tribInit(dir);
    syncDisk();
    const c = await tribJson(dir, ['commit', '-m', 'first']);
    if (c.json.hashedBytes !== ds.bytes) throw new Error(`trib hashed ${c.json.hashedBytes} bytes, expected ${ds.bytes}`);
    t.trib.push(c.ms);
    t.cpu.push(c.cpuMs);
    stored = c.json.storedBytes;

    const env = gitRepo(dir, gitDir);
    syncDisk();
    t.git.push((await shell('git add -A && git commit -q -m first', { cwd: dir, env })).ms);
    removeTree(gitDir);
    report.note(`run ${r + 1}: trib ${fmtSecs(c.ms)} (cpu ${fmtSecs(c.cpuMs)}), cp -r + sync ${fmtSecs(t.cp[r])}, git ${fmtSecs(t.git[r])}`);
  }
  const trib = median(t.trib);
  const cp = median(t.cp);
  const git = median(t.git);
  report.figure({
    name: `first commit ${fmtBytes(ds.bytes)}, vs cp -r + sync`,
    measured: `${fmtSecs(trib)} = ${fmtRatio(trib / cp)} cp (${fmtRate(ds.bytes, trib)}, cpu ${fmtSecs(median(t.cpu))}, stored ${fmtBytes(stored)})`,
    target: '<= 1.25x cp -r + sync',
    pass: trib <= 1.25 * cp,
    baseline: `cp -r + sync ${fmtSecs(cp)} (${fmtRate(ds.bytes, cp)})`,
  });
  report.figure({
    name: `first commit ${fmtBytes(ds.bytes)}, vs git`,
    measured: `${fmtRatio(git / trib)} faster than git (${fmtSecs(trib)})`,
    target: '>= 5x faster than git add -A && git commit',
    pass: git >= 5 * trib,
    baseline: `git add -A && git commit ${fmtSecs(git)}`,
  });
  removeTree(dir);
};
