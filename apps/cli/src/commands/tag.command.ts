import { createTag, deleteTag, listTags } from '@tributary/repository';
import { InvalidArgumentError } from '@tributary/core';
import { maxPositionals, parseAnnotations } from '../ui/args';
import { CliCommand } from './command';
import { tagJson } from './log.command';
import { withRepository } from './open-repo';

export const tagCommand: CliCommand = {
  name: 'tag',
  summary: 'list, create or delete tags (create-once)',
  usage: 'trib tag [-d] [NAME [REF]] [-m MSG] [--annotate KEY=VALUE ...] [--json]',
  options: { flags: ['-d', '--json'], values: ['-m'], repeated: ['--annotate'], aliases: { '--delete': '-d', '--message': '-m', '--meta': '--annotate' } },
  async run(args, ctx) {
    maxPositionals(args, 2, this.usage);
    const [name, ref] = args.positionals;
    return withRepository(ctx, async (repo) => {
      if (args.flags.has('-d')) {
        if (!name || ref) throw new InvalidArgumentError('usage: trib tag -d NAME');
        await deleteTag(repo, name);
        if (args.flags.has('--json')) ctx.json({ deleted: name });
        else ctx.err(`Deleted tag ${name}`);
        return 0;
      }
      if (name !== undefined) {
        const commit = await createTag(repo, name, ref ?? 'HEAD', { message: args.values.get('-m'), annotations: parseAnnotations(args.repeated.get('--annotate')) });
        if (args.flags.has('--json')) ctx.json({ name, commit });
        else ctx.err(`Tagged ${commit.slice(0, 12)} as ${name}`);
        return 0;
      }
      if (args.values.has('-m') || args.repeated.has('--annotate')) {
        throw new InvalidArgumentError(`-m and --annotate need a tag NAME; usage: ${this.usage}`);
      }
      const tags = await listTags(repo);
      // An annotated tag as `trib show --json` gives it, so a script can find a model's data without a show per tag.
      if (args.flags.has('--json')) ctx.json(tags.map((t) => ({ name: t.name, commit: t.commit, ...(t.tag ? { tag: tagJson(t.tag) } : {}) })));
      else for (const t of tags) ctx.out(`${t.name} ${t.commit.slice(0, 12)}`);
      return 0;
    });
  },
};
