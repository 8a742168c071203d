import * as path from 'node:path';
import { relativeStoreResolved } from '@tributary/config';
import { InvalidArgumentError, quotePath } from '@tributary/core';
import { Repository } from '@tributary/repository';
import { maxPositionals } from '../ui/args';
import { CliCommand } from './command';

export const initCommand: CliCommand = {
  name: 'init',
  summary: 'create a repository',
  usage: 'trib init [DIR] [--store URL|./DIR] [--json]',
  options: { flags: ['--json'], values: ['--store'] },
  async run(args, ctx) {
    maxPositionals(args, 1, this.usage);
    const dir = path.resolve(ctx.cwd, args.positionals[0] ?? '.');
    const store = args.values.get('--store');
    let storeUrl: string | undefined;
    try {
      // A folder relative to where the command runs, as the apps take TRIB_STORE.
      storeUrl = store === undefined ? undefined : relativeStoreResolved(store, ctx.cwd);
    } catch (e) {
      throw new InvalidArgumentError(`--store ${JSON.stringify(store)}: ${(e as Error).message}`);
    }
    const repo = await Repository.init(dir, { storeUrl });
    await repo.close();
    if (args.flags.has('--json')) ctx.json({ path: dir, store: repo.store.url, branch: 'main' });
    else ctx.out(`Initialized empty trib repository in ${quotePath(path.join(dir, '.trib'))}`);
    return 0;
  },
};
