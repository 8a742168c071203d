import { createBranch, deleteBranch, listBranches } from '@tributary/repository';
import { InvalidArgumentError } from '@tributary/core';
import { maxPositionals } from '../ui/args';
import { suggestForce } from '../ui/force-hint';
import { CliCommand } from './command';
import { withRepository } from './open-repo';

export const branchCommand: CliCommand = {
  name: 'branch',
  summary: 'list, create or delete branches',
  usage: 'trib branch [-d|-D] [NAME [START]] [--json]',
  options: { flags: ['-d', '-D', '--json'], aliases: { '--delete': '-d' } },
  async run(args, ctx) {
    maxPositionals(args, 2, this.usage);
    const [name, start] = args.positionals;
    return withRepository(ctx, async (repo) => {
      const force = args.flags.has('-D');
      if (args.flags.has('-d') || force) {
        if (!name || start) throw new InvalidArgumentError('usage: trib branch -d NAME');
        await deleteBranch(repo, name, { force }).catch(suggestForce(`; delete it anyway with trib branch -D ${name}`));
        if (args.flags.has('--json')) ctx.json({ deleted: name });
        else ctx.err(`Deleted branch ${name}`);
        return 0;
      }
      if (name !== undefined) {
        const commit = await createBranch(repo, name, start ?? 'HEAD');
        if (args.flags.has('--json')) ctx.json({ name, commit });
        else ctx.err(`Created branch ${name} at ${commit.slice(0, 12)}`);
        return 0;
      }
      const branches = await listBranches(repo);
      if (args.flags.has('--json')) ctx.json(branches.map((b) => ({ name: b.name, commit: b.commit, current: Boolean(b.current) })));
      else for (const b of branches) ctx.out(`${b.current ? '*' : ' '} ${b.name} ${b.commit.slice(0, 12)}`);
      return 0;
    });
  },
};
