import { Repository } from '@tributary/repository';
import { CliContext } from './command';

/** Opens the repository around the current directory, runs `fn`, and always closes it. */
export async function withRepository<T>(ctx: CliContext, fn: (repo: Repository) => Promise<T>): Promise<T> {
  const repo = await Repository.open(ctx.cwd);
  try {
    return await fn(repo);
  } finally {
    await repo.close();
  }
}
