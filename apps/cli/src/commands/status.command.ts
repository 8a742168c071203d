import { TreeChange, quotePath } from '@tributary/core';
import { worktreeStatus } from '@tributary/repository';
import { maxPositionals } from '../ui/args';
import { withProgressBar } from '../ui/progress-bar';
import { CliCommand } from './command';
import { withReadingRepository } from './open-repo';

const MARK: Record<TreeChange['status'], string> = { added: 'A', removed: 'D', modified: 'M' };

export const statusCommand: CliCommand = {
  name: 'status',
  summary: 'show the working tree against HEAD',
  usage: 'trib status [--json]',
  options: { flags: ['--json'] },
  async run(args, ctx) {
    maxPositionals(args, 0, this.usage);
    return withReadingRepository(ctx, async (repo) => {
      const { head, at, atBranch, stale, changes } = await withProgressBar('status', (onProgress) => worktreeStatus(repo, { onProgress }));
      if (args.flags.has('--json')) {
        ctx.json({
          branch: head.branch ?? null,
          head: head.commit ?? null,
          base: at ?? null,
          baseBranch: atBranch ?? null,
          behind: stale !== undefined,
          behindReason: stale ?? null,
          clean: changes.length === 0,
          changes: changes.map((c) => ({ path: c.path, status: c.status })),
        });
        return 0;
      }
      ctx.out(head.branch ? `On branch ${head.branch}` : `HEAD detached at ${head.commit?.slice(0, 12)}`);
      if (stale) ctx.out(stale);
      else if (!head.commit) ctx.out('No commits yet');
      if (changes.length === 0) ctx.out('nothing to commit, working tree clean');
      for (const c of changes) ctx.out(`${MARK[c.status]} ${quotePath(c.path)}`);
      return 0;
    });
  },
};
