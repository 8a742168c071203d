import { InvalidArgumentError, quotePath } from '@tributary/core';
import { collectRepositoryGarbage, verifyRepository } from '@tributary/repository';
import { maxPositionals } from '../ui/args';
import { count } from '../ui/count';
import { ProgressBar } from '../ui/progress-bar';
import { CliCommand } from './command';
import { withRepository } from './open-repo';

export const verifyCommand: CliCommand = {
  name: 'verify',
  summary: 'check every reachable object (and with --read-data every byte)',
  usage: 'trib verify [--read-data] [--json]',
  options: { flags: ['--read-data', '--json'] },
  async run(args, ctx) {
    maxPositionals(args, 0, this.usage);
    const bar = new ProgressBar('verify');
    return withRepository(ctx, async (repo) => {
      const r = await verifyRepository(repo, {
        readData: args.flags.has('--read-data'),
        onProgress: (n) => bar.count(n, 'objects checked', String),
      }).finally(() => bar.done());
      if (args.flags.has('--json')) ctx.json({ ok: r.damage.length === 0, objects: r.objects, damaged: r.damage });
      else for (const d of r.damage) ctx.out(`${d.id} ${quotePath(d.path)}`);
      if (r.damage.length) {
        ctx.err(`verify: ${r.damage.length} damaged object(s) of ${r.objects}`);
        return 1;
      }
      ctx.err(`verify: ${r.objects} objects OK${args.flags.has('--read-data') ? ', all bytes hashed' : ''}`);
      return 0;
    });
  },
};

export const gcCommand: CliCommand = {
  name: 'gc',
  summary: 'delete unreachable data older than the grace period and merge small packs',
  usage: 'trib gc [--dry-run] [--grace SECONDS] [--json]',
  options: { flags: ['--dry-run', '--json'], values: ['--grace'] },
  async run(args, ctx) {
    maxPositionals(args, 0, this.usage);
    const graceArg = args.values.get('--grace');
    let graceMs: number | undefined;
    if (graceArg !== undefined) {
      // Checked by pattern: Number('') is 0, the grace that deletes the most.
      if (!/^\d{1,12}(\.\d+)?$/.test(graceArg)) {
        throw new InvalidArgumentError(`--grace wants a number of seconds, got ${JSON.stringify(graceArg)}`);
      }
      graceMs = Number(graceArg) * 1000;
    }
    return withRepository(ctx, async (repo) => {
      // A pause of minutes with no word would look like a hang.
      const onOrphanWait = (packs: number, ms: number) =>
        ctx.err(`gc: waiting ${Math.ceil(ms / 1000)} s for the index of ${count(packs, 'pack')} found without one (this store dates an upload by its start)`);
      const r = await collectRepositoryGarbage(repo, { dryRun: args.flags.has('--dry-run'), graceMs, onOrphanWait });
      if (args.flags.has('--json')) ctx.json({ dryRun: args.flags.has('--dry-run'), ...r });
      else if (r.deferred) ctx.err('gc: another process changed the packs while gc ran (stored objects, or merged packs: an app, another gc), so it deleted nothing; run it again');
      else {
        const merged = r.mergedPacks > 0 ? `; merged ${r.mergedPacks} small packs into ${r.writtenPacks}` : '';
        const dry = args.flags.has('--dry-run');
        // Negative when kept deltas lost their bases and are stored whole: the store then grows.
        const net = r.freedBytes >= 0 ? `${dry ? 'would free' : 'freed'} ${r.freedBytes} bytes` : `${dry ? 'would grow' : 'grew'} by ${-r.freedBytes} bytes`;
        ctx.err(`${net}: ${r.deletedObjects} objects, ${r.deletedPacks} packs (${r.keptPacks} kept)${merged}`);
      }
      return 0;
    });
  },
};
