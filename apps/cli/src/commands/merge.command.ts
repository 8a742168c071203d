import { InvalidArgumentError, quotePath } from '@tributary/core';
import { mergeIntoWorktree } from '@tributary/repository';
import { maxPositionals } from '../ui/args';
import { withProgressBar } from '../ui/progress-bar';
import { CliCommand } from './command';
import { mergeSmallPacksIfMany, withRepository } from './open-repo';

export const mergeCommand: CliCommand = {
  name: 'merge',
  summary: 'merge REF into the current branch',
  usage: 'trib merge REF [-m MSG] [--no-ff] [--strategy ours|theirs] [--json]',
  options: { flags: ['--no-ff', '--json'], values: ['-m', '--strategy'], aliases: { '--message': '-m' } },
  async run(args, ctx) {
    maxPositionals(args, 1, this.usage);
    const ref = args.positionals[0];
    if (!ref) throw new InvalidArgumentError(`usage: ${this.usage}`);
    const strategy = args.values.get('--strategy');
    if (strategy !== undefined && strategy !== 'ours' && strategy !== 'theirs') throw new InvalidArgumentError('--strategy must be ours or theirs');
    return withRepository(ctx, async (repo) => {
      const [message, noFf] = [args.values.get('-m'), args.flags.has('--no-ff')];
      const r = await withProgressBar('merge', (onProgress) =>
        mergeIntoWorktree(repo, ref, { message, noFf, strategy, onProgress }),
      );
      if (r.kind === 'merge') await mergeSmallPacksIfMany(repo, ctx);
      if (args.flags.has('--json')) {
        ctx.json({ result: r.kind, commit: r.commit ?? null, conflicts: r.conflicts, settled: r.settled });
      }
      if (r.kind === 'conflict') {
        ctx.err(`merge of ${ref} stopped: ${r.conflicts.length} conflicting path(s); nothing was changed`);
        if (!args.flags.has('--json')) for (const c of r.conflicts) ctx.out(quotePath(c.path));
        return 1;
      }
      if (args.flags.has('--json')) return 0;
      for (const c of r.settled) ctx.err(`settled ${quotePath(c.path)} (${c.kind}): took ${strategy}`);
      if (r.kind === 'up-to-date') ctx.err('Already up to date.');
      else ctx.err(r.kind === 'fast-forward' ? `Fast-forward to ${r.commit!.slice(0, 12)}` : `Merge commit ${r.commit!.slice(0, 12)}`);
      if (r.commit && r.kind !== 'up-to-date') ctx.out(r.commit);
      return 0;
    });
  },
};
