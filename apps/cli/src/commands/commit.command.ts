import { InvalidArgumentError } from '@tributary/core';
import { commitWorktree } from '@tributary/repository';
import { maxPositionals, parseAnnotations } from '../ui/args';
import { count } from '../ui/count';
import { withProgressBar } from '../ui/progress-bar';
import { CliCommand } from './command';
import { mergeSmallPacksIfMany, withRepository } from './open-repo';

export const commitCommand: CliCommand = {
  name: 'commit',
  summary: 'snapshot the working tree as a new commit',
  usage: 'trib commit -m MSG [--author NAME] [--annotate KEY=VALUE ...] [--json]',
  options: { flags: ['--json'], values: ['-m', '--author'], repeated: ['--annotate'], aliases: { '--message': '-m', '--meta': '--annotate' } },
  async run(args, ctx) {
    maxPositionals(args, 0, this.usage);
    const message = args.values.get('-m');
    if (message === undefined) throw new InvalidArgumentError(`a message is required; usage: ${this.usage}`);
    const annotations = parseAnnotations(args.repeated.get('--annotate'));
    const author = args.values.get('--author');
    // Blank would quietly become the default author: whoever typed it meant someone else.
    if (author !== undefined && author.trim() === '') throw new InvalidArgumentError('--author is empty');
    const outcome = await withRepository(ctx, async (repo) => {
      const made = await withProgressBar('commit', (onProgress) =>
        commitWorktree(repo, { message, author, annotations, onProgress }),
      );
      if (made.commit) await mergeSmallPacksIfMany(repo, ctx);
      return made;
    });
    const s = outcome.snapshot;
    if (!outcome.commit) {
      ctx.err('nothing to commit, working tree clean');
      if (args.flags.has('--json')) ctx.json({ commit: null, tree: outcome.tree, files: s.files });
      return 0;
    }
    // A file status or diff hashed already is known by its stat: say so, or '0 hashed' reads as 'nothing taken'.
    const known = s.files - s.hashedFiles;
    ctx.err(`${count(s.files, 'file')}, ${s.hashedFiles} read and hashed (${count(s.hashedBytes, 'byte')})${known > 0 ? `, ${known} known unchanged since last hashed` : ''}`);
    if (args.flags.has('--json')) ctx.json({ commit: outcome.commit, tree: outcome.tree, files: s.files, hashedFiles: s.hashedFiles, hashedBytes: s.hashedBytes, storedBytes: outcome.storedBytes });
    else ctx.out(outcome.commit);
    return 0;
  },
};
