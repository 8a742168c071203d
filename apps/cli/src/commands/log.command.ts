import { Annotations, Commit, CommitId, hasControlCharacters, Tag, treeSize } from '@tributary/core';
import { walkCommits } from '@tributary/repository';
import { maxPositionals, parseCount } from '../ui/args';
import { CliCommand, CliContext } from './command';
import { withRepository } from './open-repo';

export function tagJson(t: Tag) {
  return { name: t.name, tagger: t.tagger, time: t.time, message: t.message, annotations: t.annotations };
}

export function commitJson(id: CommitId, c: Commit) {
  return { id, tree: c.tree, parents: c.parents, author: c.author, time: c.time, message: c.message, annotations: c.annotations };
}

export function printCommit(ctx: CliContext, id: CommitId, c: Commit): void {
  ctx.out(`commit ${id}`);
  if (c.parents.length > 1) ctx.out(`Merge: ${c.parents.map((p) => p.slice(0, 12)).join(' ')}`);
  ctx.out(`Author: ${c.author}`);
  ctx.out(`Date:   ${c.time}`);
  printBody(ctx, c);
}

/** An annotated tag, as `git show` prints one before its commit. */
function printTag(ctx: CliContext, t: Tag): void {
  ctx.out(`tag ${t.name}`);
  ctx.out(`Tagger: ${t.tagger}`);
  ctx.out(`Date:   ${t.time}`);
  printBody(ctx, t);
}

function printBody(ctx: CliContext, o: { annotations: Annotations; message: string }): void {
  // A value may hold newlines; quoted, it stays on its line and cannot pass for more of the log.
  for (const [k, v] of Object.entries(o.annotations)) {
    ctx.out(`Annotation: ${k}=${hasControlCharacters(v) ? JSON.stringify(v) : v}`);
  }
  ctx.out('');
  for (const line of o.message.split('\n')) ctx.out(`    ${line}`);
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
  summary: 'show one commit (and the annotated tag that names it)',
  usage: 'trib show [REF] [--json]',
  options: { flags: ['--json'] },
  async run(args, ctx) {
    maxPositionals(args, 1, this.usage);
    return withRepository(ctx, async (repo) => {
      const spec = args.positionals[0] ?? 'HEAD';
      const id = await repo.resolve(spec);
      const c = await repo.readCommit(id);
      const size = await treeSize(repo.objects, c.tree);
      const tag = await repo.annotatedTag(spec);
      if (args.flags.has('--json')) ctx.json({ ...commitJson(id, c), size, ...(tag ? { tag: tagJson(tag) } : {}) });
      else {
        if (tag) printTag(ctx, tag);
        printCommit(ctx, id, c);
        ctx.out(`tree ${c.tree} (${size} bytes)`);
      }
      return 0;
    });
  },
};
