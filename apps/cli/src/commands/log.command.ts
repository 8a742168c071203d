import { Commit, CommitId, hasControlCharacters } from '@tributary/core';
import { lookupTreeSize, walkCommits } from '@tributary/repository';
import { maxPositionals, parseCount } from '../ui/args';
import { CliCommand, CliContext } from './command';
import { withRepository } from './open-repo';

export function commitJson(id: CommitId, c: Commit) {
  return { id, tree: c.tree, parents: c.parents, author: c.author, time: c.time, message: c.message, annotations: c.annotations };
}

export function printCommit(ctx: CliContext, id: CommitId, c: Commit): void {
  ctx.out(`commit ${id}`);
  if (c.parents.length > 1) ctx.out(`Merge: ${c.parents.map((p) => p.slice(0, 12)).join(' ')}`);
  ctx.out(`Author: ${c.author}`);
  ctx.out(`Date:   ${c.time}`);
  // A value may hold newlines; quoted, it stays on its line and cannot pass for more of the log.
  for (const [k, v] of Object.entries(c.annotations)) {
    ctx.out(`Meta:   ${k}=${hasControlCharacters(v) ? JSON.stringify(v) : v}`);
  }
  ctx.out('');
  for (const line of c.message.split('\n')) ctx.out(`    ${line}`);
  ctx.out('');
}

export const logCommand: CliCommand = {
  name: 'log',
  summary: 'list commits, newest first',
  usage: 'trib log [REF] [-n N] [--json]',
  options: { flags: ['--json'], values: ['-n'] },
  async run(args, ctx) {
    maxPositionals(args, 1, this.usage);
    const limit = parseCount(args, '-n') ?? Infinity;
    return withRepository(ctx, async (repo) => {
      const head = await repo.head();
      if (!args.positionals[0] && !head.commit) {
        ctx.err(`branch ${head.branch ?? 'HEAD'} has no commits yet`);
        if (args.flags.has('--json')) ctx.json([]);
        return 0;
      }
      const start = await repo.resolve(args.positionals[0] ?? 'HEAD');
      const rows: ReturnType<typeof commitJson>[] = [];
      let n = 0;
      for await (const { id, commit } of walkCommits(repo, [start])) {
        if (n++ >= limit) break;
        if (args.flags.has('--json')) rows.push(commitJson(id, commit));
        else printCommit(ctx, id, commit);
      }
      if (args.flags.has('--json')) ctx.json(rows);
      return 0;
    });
  },
};

export const showCommand: CliCommand = {
  name: 'show',
  summary: 'show one commit',
  usage: 'trib show [REF] [--json]',
  options: { flags: ['--json'] },
  async run(args, ctx) {
    maxPositionals(args, 1, this.usage);
    return withRepository(ctx, async (repo) => {
      const id = await repo.resolve(args.positionals[0] ?? 'HEAD');
      const c = await repo.readCommit(id);
      const size = await lookupTreeSize(repo, c.tree);
      if (args.flags.has('--json')) ctx.json({ ...commitJson(id, c), size });
      else {
        printCommit(ctx, id, c);
        ctx.out(`tree ${c.tree} (${size} bytes)`);
      }
      return 0;
    });
  },
};
