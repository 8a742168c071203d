import { count } from './count';

/**
 * A one-line progress bar on stderr, drawn only when stderr is a terminal (scripts and CI see nothing), at most
 * ten times a second.
 */
export class ProgressBar {
  private last = 0;
  private drawn = false;
  private readonly enabled: boolean;

  constructor(private readonly label: string, stream: NodeJS.WriteStream = process.stderr) {
    this.enabled = Boolean(stream.isTTY) && !process.env.CI;
    this.stream = stream;
  }
  private readonly stream: NodeJS.WriteStream;

  /**
   * `done` of `total` bytes as a bar. With `scannedFiles` (a working tree being scanned): the files found so far,
   * alone while nothing needs hashing, else after the bar.
   */
  update(done: number, total: number, scannedFiles?: number): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (now - this.last < 100 && (done < total || scannedFiles !== undefined)) return;
    this.last = now;
    const files = scannedFiles === undefined ? '' : count(scannedFiles, 'file');
    if (files && total === 0) {
      this.stream.write(`\r${this.label}: ${files} scanned\x1b[K`);
    } else {
      const width = 30;
      const frac = total > 0 ? Math.min(1, done / total) : 1;
      const bar = '#'.repeat(Math.round(frac * width)).padEnd(width, '.');
      this.stream.write(`\r${this.label} [${bar}] ${(frac * 100).toFixed(0).padStart(3)}% ${formatBytes(done)}/${formatBytes(total)}${files && `, ${files}`}\x1b[K`);
    }
    this.drawn = true;
  }

  /**
   * For work whose total is not known up front (a transfer's missing bytes, objects checked): the amount so far, no
   * bar, shown as bytes unless `format` says otherwise.
   */
  count(done: number, what: string, format: (n: number) => string = formatBytes): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (now - this.last < 100) return;
    this.last = now;
    this.stream.write(`\r${this.label} ${format(done)} ${what}\x1b[K`);
    this.drawn = true;
  }

  done(): void {
    if (this.drawn) this.stream.write('\r\x1b[K');
    this.drawn = false;
  }
}

/**
 * Runs `work` with a bar's `update` as its progress callback (done and total bytes, and files scanned while a working
 * tree is), and clears the bar after.
 */
export async function withProgressBar<T>(
  label: string,
  work: (onProgress: (done: number, total: number, scannedFiles?: number) => void) => Promise<T>,
): Promise<T> {
  const bar = new ProgressBar(label);
  try {
    return await work((done, total, scannedFiles) => bar.update(done, total, scannedFiles));
  } finally {
    bar.done();
  }
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let u = 0;
  let v = n;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(1)} ${units[u]}`;
}
