import * as path from 'node:path';
import { quotePath } from '@tributary/core';
import { Repository } from '@tributary/repository';
import { maxPositionals } from '../ui/args';
import { CliCommand } from './command';

export const initCommand: CliCommand = {
  name: 'init',
  summary: 'create a repository',
  usage: 'trib init [DIR] [--store URL] [--json]',
  options: { flags: ['--json'], values: ['--store'] },
  async run(args, ctx) {
    maxPositionals(args, 1, this.usage);
    const dir = path.resolve(ctx.cwd, args.positionals[0] ?? '.');
    const repo = await Repository.init(dir, { storeUrl: args.values.get('--store') });
    await repo.close();
    if (args.flags.has('--json')) ctx.json({ path: dir, store: repo.store.url, branch: 'main' });
    else ctx.out(`Initialized empty trib repository in ${quotePath(path.join(dir, '.trib'))}`);
    return 0;
  },
};
