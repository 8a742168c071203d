import { resolve as resolvePath } from 'node:path';
import { InvalidArgumentError, quotePath } from '@tributary/core';
import { checkoutTo, removeUnfinishedTempFiles, switchBranch } from '@tributary/repository';
import { maxPositionals } from '../ui/args';
import { cleanUpOnInterrupt } from '../ui/interrupt';
import { count } from '../ui/count';
import { suggestForce } from '../ui/force-hint';
import { withProgressBar } from '../ui/progress-bar';
import { CliCommand } from './command';
import { withRepository } from './open-repo';

export const switchCommand: CliCommand = {
  name: 'switch',
  summary: "change the working tree to a branch's tree",
  usage: 'trib switch NAME [--force] [--json]',
  options: { flags: ['--force', '--json'], aliases: { '-f': '--force' } },
  async run(args, ctx) {
    maxPositionals(args, 1, this.usage);
    const name = args.positionals[0];
    if (!name) throw new InvalidArgumentError(`usage: ${this.usage}`);
    return withRepository(ctx, async (repo) => {
      const force = args.flags.has('--force');
      const r = await withProgressBar('switch', (onProgress) => switchBranch(repo, name, { force, onProgress })).catch(
        suggestForce(', or use --force'),
      );
      if (args.flags.has('--json')) ctx.json({ branch: name, commit: r.commit, written: r.written, removed: r.removed });
      else ctx.err(`Switched to branch ${name} (${r.written} written, ${r.removed} removed)`);
      return 0;
    });
  },
};

export const checkoutCommand: CliCommand = {
  name: 'checkout',
  summary: 'write any commit into a directory',
  usage: 'trib checkout REF --to DIR [--force] [--json]',
  options: { flags: ['--force', '--json'], values: ['--to'], aliases: { '-f': '--force' } },
  async run(args, ctx) {
    maxPositionals(args, 1, this.usage);
    const ref = args.positionals[0];
    const to = args.values.get('--to');
    if (!ref || !to) throw new InvalidArgumentError(`usage: ${this.usage}`);
    return withRepository(ctx, async (repo) => {
      const force = args.flags.has('--force');
      const dest = resolvePath(ctx.cwd, to);
      // Nothing records a checkout to undo it later, as a switch's move is: Ctrl-C takes its temp files along.
      const stopCleaning = cleanUpOnInterrupt(removeUnfinishedTempFiles);
      const r = await withProgressBar('checkout', (onProgress) => checkoutTo(repo, ref, dest, { force, onProgress }))
        .catch(suggestForce(' (use --force)'))
        .finally(stopCleaning);
      if (args.flags.has('--json')) ctx.json({ commit: r.commit, files: r.files, bytes: r.bytes, to, extra: r.extra });
      else ctx.err(`Checked out ${r.commit.slice(0, 12)} into ${quotePath(to)}: ${count(r.files, 'file')}, ${count(r.bytes, 'byte')}`);
      if (r.extra.length && !args.flags.has('--json')) {
        const more = r.extra.length > 5 ? `, and ${r.extra.length - 5} more` : '';
        const shown = r.extra.slice(0, 5).map(quotePath).join(', ') + more;
        const commit = r.commit.slice(0, 12);
        const what = `${r.extra.length} file(s) that ${commit} does not`;
        ctx.err(`warning: ${quotePath(to)} also holds ${what}, left as they were: ${shown}`);
      }
      return 0;
    });
  },
};
