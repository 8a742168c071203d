'use strict';
/** Collects the bench's figures, prints each as it is measured and a summary table at the end. */

function fmtBytes(n) {
  if (!Number.isFinite(n)) return String(n);
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let u = 0;
  let v = n;
  while (Math.abs(v) >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2)} ${units[u]}`;
}

/** Megabytes (10^6 bytes), the unit of the RSS targets. */
function fmtMB(n) {
  return `${(n / 1e6).toFixed(0)} MB`;
}

function fmtSecs(ms) {
  if (!Number.isFinite(ms)) return String(ms);
  return ms < 1000 ? `${ms.toFixed(0)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

function fmtRatio(x) {
  return `${x.toFixed(2)}x`;
}

function fmtRate(bytes, ms) {
  return `${(bytes / (ms / 1000) / 1e9).toFixed(2)} GB/s`;
}

class Report {
  constructor(out = process.stdout) {
    this.out = out;
    this.figures = [];
  }

  section(title, note) {
    this.line('');
    this.line(`== ${title}`);
    if (note) for (const l of note.split('\n')) this.line(`   ${l}`);
  }

  line(s) {
    this.out.write(`${s}\n`);
  }

  /** Free text under the current figure (run values, explanations). */
  note(s) {
    this.line(`     ${s}`);
  }

  /**
   * One figure: `measured` (text), `target` (text), `pass` (true, false, or undefined for a figure without a
   * target), `baseline` (text measured in the same run).
   */
  figure({ name, measured, target = '', pass, baseline = '' }) {
    const result = pass === undefined ? 'info' : pass ? 'PASS' : 'MISS';
    this.figures.push({ name, measured, target, baseline, result });
    this.line(`   ${result.padEnd(4)}  ${name}: ${measured}${target ? `  (target ${target})` : ''}${baseline ? `  [baseline: ${baseline}]` : ''}`);
  }

  /** A figure that could not be measured (the scenario failed). */
  failed(name, error) {
    this.figures.push({ name, measured: 'error', target: '', baseline: '', result: 'FAIL' });
    this.line(`   FAIL  ${name}: ${String(error && error.message ? error.message : error).split('\n').slice(0, 4).join(' | ')}`);
  }

  summary() {
    const rows = [['figure', 'measured', 'target', 'baseline (same run)', 'result'], ...this.figures.map((f) => [f.name, f.measured, f.target, f.baseline, f.result])];
    const widths = rows[0].map((_, i) => Math.min(i === 3 ? 60 : 70, Math.max(...rows.map((r) => r[i].length))));
    const cell = (s, w) => (s.length > w ? s.slice(0, w - 1) + '~' : s.padEnd(w));
    this.line('');
    this.line('== Summary');
    rows.forEach((r, k) => {
      this.line(`| ${r.map((c, i) => cell(c, widths[i])).join(' | ')} |`);
      if (k === 0) this.line(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
    });
    const count = (r) => this.figures.filter((f) => f.result === r).length;
    this.line('');
    this.line(`${count('PASS')} PASS, ${count('MISS')} MISS, ${count('FAIL')} FAIL, ${count('info')} info`);
  }
}

module.exports = { Report, fmtBytes, fmtMB, fmtSecs, fmtRatio, fmtRate };
