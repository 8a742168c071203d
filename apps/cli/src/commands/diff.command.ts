import { InvalidArgumentError, quotePath, quoteRecord } from '@tributary/core';
import { diffRevisions } from '@tributary/repository';
import { maxPositionals, parseCount } from '../ui/args';
import { withProgressBar } from '../ui/progress-bar';
import { CliCommand } from './command';
import { withReadingRepository, withRepository } from './open-repo';

const MARK = { added: 'A', removed: 'D', modified: 'M', renamed: 'R' } as const;

export const diffCommand: CliCommand = {
  name: 'diff',
  summary: 'compare the working tree, or two commits',
  usage: 'trib diff [A [B]] [--rows [--max-rows N]] [--json]',
  options: { flags: ['--rows', '--json'], values: ['--max-rows'] },
  async run(args, ctx) {
    maxPositionals(args, 2, this.usage);
    const [a, b] = args.positionals;
    const maxRows = parseCount(args, '--max-rows') ?? 1000;
    if (args.values.has('--max-rows') && !args.flags.has('--rows')) throw new InvalidArgumentError('--max-rows needs --rows');
    // Two commits need no writes; against the working files, the files' new objects are stored
    // (see withReadingRepository).
    return (b === undefined ? withReadingRepository : withRepository)(ctx, async (repo) => {
      const rows = args.flags.has('--rows');
      const d = await withProgressBar('diff', (onProgress) =>
        diffRevisions(repo, a, b, { rows, maxRows, onProgress }),
      );
      if (args.flags.has('--json')) {
        ctx.json({
          from: d.from,
          to: d.to,
          objectsRead: d.objectsRead,
          added: d.changes.filter((c) => c.status === 'added').map((c) => c.path),
          removed: d.changes.filter((c) => c.status === 'removed').map((c) => c.path),
          modified: d.changes.filter((c) => c.status === 'modified').map((c) => c.path),
          renamed: d.changes.filter((c) => c.status === 'renamed').map((c) => ({ from: c.oldPath, to: c.path })),
          changes: d.changes.map((c) => ({
            path: c.path,
            status: c.status,
            ...(c.oldPath !== undefined ? { oldPath: c.oldPath } : {}),
            oldSize: c.oldSize ?? null,
            newSize: c.newSize ?? null,
            oldMode: c.oldMode ?? null,
            newMode: c.newMode ?? null,
            ...(c.rows
              ? {
                  rows: {
                    format: c.rows.format,
                    addedCount: c.rows.addedCount,
                    removedCount: c.rows.removedCount,
                    added: c.rows.added,
                    removed: c.rows.removed,
                    // The CSV header is not a row, so a changed one shows only here: old and new, null when absent.
                    headerChanged: c.rows.headerChanged
                      ? { old: c.rows.headerChanged.old ?? null, new: c.rows.headerChanged.new ?? null }
                      : null,
                  },
                }
              : {}),
          })),
        });
        return 0;
      }
      for (const c of d.changes) {
        const what = c.oldPath !== undefined ? `R ${quotePath(c.oldPath)} -> ${quotePath(c.path)}` : `${MARK[c.status]} ${quotePath(c.path)}`;
        ctx.out(`${what} (${sizes(c.oldSize, c.newSize)})`);
        // As git's "old mode / new mode": an executable bit set or cleared, or a file that became a symlink.
        if (c.oldMode && c.newMode && c.oldMode !== c.newMode) ctx.out(`    mode: ${c.oldMode} -> ${c.newMode}`);
        if (!c.rows) continue;
        ctx.out(`    rows: +${c.rows.addedCount} -${c.rows.removedCount}`);
        const header = c.rows.headerChanged;
        if (header) ctx.out(`    header: ${shownHeader(header.old)} -> ${shownHeader(header.new)}`);
        for (const r of c.rows.removed) ctx.out(recordLine('-', r));
        for (const r of c.rows.added) ctx.out(recordLine('+', r));
        const unlisted = c.rows.addedCount + c.rows.removedCount - listed(c.rows.added) - listed(c.rows.removed);
        if (unlisted > 0) ctx.out(`    ... ${unlisted} more not listed (--max-rows ${maxRows})`);
      }
      return 0;
    });
  },
};

/** Each side's size, or the one side there is (an added or removed path) or one size for both (a rename). */
function sizes(oldSize: number | undefined, newSize: number | undefined): string {
  if (oldSize === undefined || newSize === undefined || oldSize === newSize) {
    const size = (oldSize ?? newSize)!;
    return `${size} ${size === 1 ? 'byte' : 'bytes'}`;
  }
  return `${oldSize} -> ${newSize} bytes`;
}

/** The records a capped list shows, copies counted. */
function listed(records: readonly { count: number }[]): number {
  return records.reduce((n, r) => n + r.count, 0);
}

function recordLine(sign: '+' | '-', r: { record: string; count: number }): string {
  return `    ${sign}${r.count > 1 ? ` (x${r.count})` : ''} ${quoteRecord(r.record)}`;
}

function shownHeader(header: string | undefined): string {
  return header === undefined ? '(none)' : quoteRecord(header);
}
