'use strict';
/**
 * Deterministic dataset generators for the bench: the same seed gives the same bytes on every machine, so runs
 * can be compared. Text (CSV, JSONL) comes from a small xoshiro128** generator; binary bytes come from AES-256-CTR
 * over zeros keyed by the seed, which is deterministic and runs at several GB/s.
 */
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

/** xoshiro128**: 32-bit, fast, seeded through splitmix32. */
class Prng {
  constructor(seed) {
    let s = seed >>> 0;
    const next = () => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
  }

  /** Uniform 32-bit unsigned integer. */
  u32() {
    const r = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return r;
  }

  /** Uniform integer in [0, n). */
  int(n) {
    return Math.floor((this.u32() / 4294967296) * n);
  }

  /** Uniform float in [0, 1). */
  float() {
    return this.u32() / 4294967296;
  }
}

function rotl(x, k) {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** A deterministic stream of pseudo-random bytes (AES-256-CTR keystream). */
function byteStream(seed) {
  const key = crypto.createHash('sha256').update(`trib-bench-${seed}`).digest();
  const cipher = crypto.createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  const zeros = Buffer.alloc(4 * MiB);
  return (n) => {
    const parts = [];
    for (let left = n; left > 0; left -= zeros.length) parts.push(cipher.update(zeros.subarray(0, Math.min(left, zeros.length))));
    return parts.length === 1 ? parts[0] : Buffer.concat(parts);
  };
}

const SENSORS = ['ecg-lead-ii', 'ecg-v1', 'spo2', 'resp', 'abp', 'temp', 'hr'];
const LABELS = ['N', 'L', 'R', 'V', 'A', 'F', '/', 'f', 'Q'];
const CSV_HEADER = 'record_id,timestamp,patient,sensor,value,quality,label\n';

/** One CSV row (with its newline); `i` makes it unique. */
function csvRow(rng, i) {
  const ts = 1700000000000 + i * 4 + rng.int(4);
  const v = rng.int(2000000) - 1000000;
  const sign = v < 0 ? '-' : '';
  const a = Math.abs(v);
  const frac = String(a % 1000).padStart(3, '0');
  return `${i},${ts},p${String(rng.int(5000)).padStart(4, '0')},${SENSORS[rng.int(SENSORS.length)]},${sign}${Math.floor(a / 1000)}.${frac},${rng.int(101)},${LABELS[rng.int(LABELS.length)]}\n`;
}

/** One JSONL line (with its newline). */
function jsonlRow(rng, i) {
  const n = 1 + rng.int(4);
  const beats = [];
  for (let k = 0; k < n; k++) beats.push(rng.int(200000));
  return `{"id":${i},"site":"site-${rng.int(40)}","patient":"p${String(rng.int(5000)).padStart(4, '0')}","ts":${1700000000 + i},"hr":${40 + rng.int(140)},"spo2":${80 + rng.int(21)}.${rng.int(10)},"label":"${LABELS[rng.int(LABELS.length)]}","beats":[${beats.join(',')}]}\n`;
}

/**
 * Writes `bytes` (about: whole rows, at least `bytes`) of text rows to `file`; returns the next row number.
 * `header` is written first when given.
 */
function writeRows(file, bytes, rowFn, rng, firstRow, header, flag = 'w') {
  const fd = fs.openSync(file, flag);
  try {
    let written = 0;
    let i = firstRow;
    if (header) written += fs.writeSync(fd, header);
    while (written < bytes) {
      let s = '';
      while (s.length < 1 * MiB && written + s.length < bytes) s += rowFn(rng, i++);
      written += fs.writeSync(fd, s);
    }
    return i;
  } finally {
    fs.closeSync(fd);
  }
}

/** Writes `bytes` pseudo-random bytes to `file`. */
function writeBinary(file, bytes, seed) {
  const next = byteStream(seed);
  const fd = fs.openSync(file, 'w');
  try {
    for (let left = bytes; left > 0; left -= 8 * MiB) fs.writeSync(fd, next(Math.min(left, 8 * MiB)));
  } finally {
    fs.closeSync(fd);
  }
}

function mkdirp(d) {
  fs.mkdirSync(d, { recursive: true });
}

/**
 * The mixed dataset of the first-commit figure: about `total` bytes, 40% CSV, 30% JSONL, 30% binary, in files
 * whose sizes are drawn log-uniformly between 4 KiB and 64 MiB (capped at a tenth of the total), 50 to a folder.
 * Returns { files, bytes }.
 */
function mixedDataset(dir, total, seed = 1) {
  const rng = new Prng(seed);
  const kinds = [
    { name: 'csv', share: 0.4 },
    { name: 'jsonl', share: 0.3 },
    { name: 'bin', share: 0.3 },
  ];
  const maxFile = Math.max(64 * KiB, Math.min(64 * MiB, Math.floor(total / 10)));
  let files = 0;
  let bytes = 0;
  for (const kind of kinds) {
    let budget = Math.floor(total * kind.share);
    for (let n = 0; budget > 0; n++) {
      const size = Math.min(budget, Math.floor(Math.exp(Math.log(4 * KiB) + rng.float() * (Math.log(maxFile) - Math.log(4 * KiB)))));
      const sub = path.join(dir, kind.name, `part-${String(Math.floor(n / 50)).padStart(3, '0')}`);
      mkdirp(sub);
      const file = path.join(sub, `${kind.name}-${String(n).padStart(5, '0')}.${kind.name}`);
      if (kind.name === 'csv') writeRows(file, size, csvRow, rng, n * 10_000_000, CSV_HEADER);
      else if (kind.name === 'jsonl') writeRows(file, size, jsonlRow, rng, n * 10_000_000);
      else writeBinary(file, size, `${seed}-${n}`);
      const real = fs.statSync(file).size;
      budget -= real;
      bytes += real;
      files++;
    }
  }
  return { files, bytes };
}

/**
 * `count` small files (64 B to 4 KiB of CSV rows), spread over `folders` folders. Returns { files, bytes }.
 * Folder and file names are zero-padded so they sort the same everywhere.
 */
function smallFilesDataset(dir, count, folders, seed = 2) {
  const rng = new Prng(seed);
  let bytes = 0;
  const perFolder = Math.ceil(count / folders);
  for (let f = 0, n = 0; f < folders && n < count; f++) {
    const sub = path.join(dir, `d${String(f).padStart(5, '0')}`);
    mkdirp(sub);
    for (let k = 0; k < perFolder && n < count; k++, n++) {
      const want = 64 + rng.int(4 * KiB - 64);
      let s = CSV_HEADER;
      for (let i = 0; s.length < want; i++) s += csvRow(rng, n * 1000 + i);
      fs.writeFileSync(path.join(sub, `f${String(k).padStart(6, '0')}.csv`), s);
      bytes += s.length;
    }
  }
  return { files: count, bytes };
}

/** `count` tiny distinct files in one folder. */
function flatFolderDataset(dir, count) {
  mkdirp(dir);
  for (let n = 0; n < count; n++) fs.writeFileSync(path.join(dir, `r${String(n).padStart(7, '0')}.txt`), `row ${n}\n`);
  return { files: count, bytes: undefined };
}

/** `n` CSV files of about `each` bytes. Returns the list of paths and the next row number of each. */
function csvFilesDataset(dir, n, each, seed = 3) {
  const rng = new Prng(seed);
  mkdirp(dir);
  const out = [];
  for (let k = 0; k < n; k++) {
    const file = path.join(dir, `table-${String(k).padStart(2, '0')}.csv`);
    const nextRow = writeRows(file, each, csvRow, rng, k * 100_000_000, CSV_HEADER);
    out.push({ file, nextRow });
  }
  return out;
}

/** Appends about `bytes` of new CSV rows to each file in `tables` (updating `nextRow`); returns the bytes appended. */
function appendRows(tables, fraction, seed) {
  const rng = new Prng(seed);
  let appended = 0;
  for (const t of tables) {
    const before = fs.statSync(t.file).size;
    t.nextRow = writeRows(t.file, Math.ceil(before * fraction), csvRow, rng, t.nextRow, undefined, 'a');
    appended += fs.statSync(t.file).size - before;
  }
  return appended;
}

/** One file of `bytes` pseudo-random bytes. */
function largeFile(file, bytes, seed = 4) {
  mkdirp(path.dirname(file));
  writeBinary(file, bytes, `large-${seed}`);
}

/**
 * Inserts `n` bytes in the middle of `file` (rewriting it through a temp file, streaming). Returns the offset.
 */
function insertInMiddle(file, n, seed) {
  const size = fs.statSync(file).size;
  const at = Math.floor(size / 2);
  const tmp = `${file}.edit-tmp`;
  const src = fs.openSync(file, 'r');
  const dst = fs.openSync(tmp, 'w');
  try {
    const buf = Buffer.allocUnsafe(8 * MiB);
    const copy = (from, to) => {
      for (let pos = from; pos < to; ) {
        const k = fs.readSync(src, buf, 0, Math.min(buf.length, to - pos), pos);
        fs.writeSync(dst, buf, 0, k);
        pos += k;
      }
    };
    copy(0, at);
    fs.writeSync(dst, byteStream(`insert-${seed}`)(n));
    copy(at, size);
  } finally {
    fs.closeSync(src);
    fs.closeSync(dst);
  }
  fs.renameSync(tmp, file);
  return at;
}

/** Rewrites `count` files of a smallFilesDataset (spread over different folders) with one extra row each. */
function touchSmallFiles(dir, folders, count, seed) {
  const rng = new Prng(seed);
  const names = fs.readdirSync(dir).filter((d) => d.startsWith('d')).sort();
  const changed = [];
  for (let k = 0; k < count; k++) {
    const folder = names[Math.floor(((k + 0.5) * names.length) / count)];
    const files = fs.readdirSync(path.join(dir, folder)).sort();
    const f = path.join(folder, files[rng.int(files.length)]);
    fs.appendFileSync(path.join(dir, f), csvRow(rng, 900_000_000 + seed * 100 + k));
    changed.push(f);
  }
  return changed;
}

module.exports = {
  KiB,
  MiB,
  GiB,
  Prng,
  byteStream,
  mixedDataset,
  smallFilesDataset,
  flatFolderDataset,
  csvFilesDataset,
  appendRows,
  largeFile,
  insertInMiddle,
  touchSmallFiles,
};
