import { InvalidArgumentError, isSubscriberName, NotFoundError, parseTopicName, SUBSCRIBER_NAME_RULE } from '@tributary/core';
import { peerHostPort } from '@tributary/config';
import { PackMaintenance } from '@tributary/repository';
import type { SyncClient as SyncClientType, SyncResult } from '@tributary/sync';
import { ParsedArgs, maxPositionals } from '../ui/args';
import { formatBytes, ProgressBar } from '../ui/progress-bar';
import { CliCommand, CliContext } from './command';
import { withRepository } from './open-repo';
import { stopOnInterrupt } from '../ui/interrupt';

const BROKER_OPTION = { values: ['--broker'] } as const;

/** `--broker HOST:PORT`, else `$TRIB_BROKER`, validated here because the CLI is a boundary. */
function brokerAddress(args: ParsedArgs): string {
  const given = args.values.get('--broker');
  if (given === '') throw new InvalidArgumentError('--broker is empty: pass HOST:PORT');
  const raw = given ?? process.env.TRIB_BROKER;
  if (!raw) throw new InvalidArgumentError('no broker: pass --broker HOST:PORT or set TRIB_BROKER');
  try {
    return peerHostPort(raw).address;
  } catch (e) {
    throw new InvalidArgumentError(`${args.values.has('--broker') ? '--broker' : 'TRIB_BROKER'}=${JSON.stringify(raw)}: ${(e as Error).message}`);
  }
}

/** gRPC is loaded only by the commands that talk to a broker, so `trib commit` and friends start as fast as git. */
async function connect(address: string): Promise<SyncClientType> {
  const { SyncClient } = await import('@tributary/sync');
  return new SyncClient(address);
}

function topicArg(raw: string | undefined, usage: string): string {
  if (!raw) throw new InvalidArgumentError(`usage: ${usage}`);
  return parseTopicName(raw);
}

function report(ctx: CliContext, verb: string, r: SyncResult, json: boolean): void {
  if (json) {
    // seqFrom..seqTo is the range moved; when nothing moved, seqTo is where the topic (or cursor) stands.
    const seqFrom = r.commits > 0 ? r.seqFrom : null;
    ctx.json({ topic: r.topic, commits: r.commits, seqFrom, seqTo: r.seqTo, head: r.head, wireBytes: r.wireBytes, datasetBytes: r.datasetBytes });
    return;
  }
  const range = r.commits ? `seq ${r.seqFrom}..${r.seqTo}` : `at seq ${r.seqTo}`;
  ctx.err(`${verb} ${r.commits} commit(s) on ${r.topic} (${range}): ${formatBytes(r.wireBytes)} on the wire for a ${formatBytes(r.datasetBytes)} dataset`);
  if (r.head) ctx.out(r.head);
}

export const publishCommand: CliCommand = {
  name: 'publish',
  summary: "publish REF's new commits to a topic (only missing chunks travel)",
  usage: 'trib publish TOPIC [REF] [--broker HOST:PORT] [--json]',
  options: { flags: ['--json'], ...BROKER_OPTION },
  async run(args, ctx) {
    maxPositionals(args, 2, this.usage);
    const topic = topicArg(args.positionals[0], this.usage);
    const client = await connect(brokerAddress(args));
    try {
      return await withRepository(ctx, async (repo) => {
        const bar = new ProgressBar('publish');
        const r = await client
          .publish(repo, topic, args.positionals[1] ?? 'HEAD', { onProgress: (bytes) => bar.count(bytes, 'sent') })
          .finally(() => bar.done());
        report(ctx, 'published', r, args.flags.has('--json'));
        return 0;
      });
    } finally {
      client.close();
    }
  },
};

export const subscribeCommand: CliCommand = {
  name: 'subscribe',
  summary: 'fetch every commit after your cursor into refs topics/<TOPIC>',
  usage: 'trib subscribe TOPIC --as NAME [--broker HOST:PORT] [--from SEQ|latest] [--follow] [--json]',
  options: { flags: ['--json', '--follow'], values: ['--broker', '--as', '--from'] },
  async run(args, ctx) {
    maxPositionals(args, 1, this.usage);
    const topic = topicArg(args.positionals[0], this.usage);
    const name = args.values.get('--as');
    if (!name) throw new InvalidArgumentError(`--as NAME is required (${SUBSCRIBER_NAME_RULE}); usage: ${this.usage}`);
    if (!isSubscriberName(name)) throw new InvalidArgumentError(`--as ${JSON.stringify(name)}: expected ${SUBSCRIBER_NAME_RULE}`);
    const fromRaw = args.values.get('--from');
    let from: number | 'latest' | undefined;
    if (fromRaw === 'latest') from = 'latest';
    else if (fromRaw !== undefined) {
      // Past 2^53 a number is rounded, and the broker would be asked for another seq than the one typed.
      if (!/^[1-9]\d{0,15}$/.test(fromRaw) || !Number.isSafeInteger(Number(fromRaw))) {
        throw new InvalidArgumentError(`--from wants a sequence number from 1 to ${Number.MAX_SAFE_INTEGER}, or "latest"; got ${fromRaw}`);
      }
      from = Number(fromRaw);
    }
    const follow = args.flags.has('--follow');
    const abort = new AbortController();
    // With --follow, Ctrl-C means "stop after what is durable": the client acks and returns, and we exit 0, unless
    // the broker fails before confirming those acks (the user should hear that those entries will come again).
    const unregister = follow ? stopOnInterrupt(() => abort.abort()) : undefined;
    const client = await connect(brokerAddress(args));
    try {
      return await withRepository(ctx, async (repo) => {
        // A following subscriber prints a line per entry instead.
        const bar = follow ? undefined : new ProgressBar('subscribe');
        const json = args.flags.has('--json');
        // Each entry is flushed as a pack of its own: a long catch-up or a --follow would pile them up. The merges
        // are summed up in one line at the end; of failed ones (each retried at the next check) the first is told.
        let warned = false;
        const packs = new PackMaintenance(repo.objects, repo.store, {
          log: (level, message) => {
            if (level !== 'warn' || warned || json) return;
            warned = true;
            bar?.done();
            ctx.err(message);
          },
        });
        try {
          const r = await client.subscribe(repo, topic, name, {
            from,
            follow,
            signal: abort.signal,
            onEntry: async (e) => {
              packs.afterWrite();
              if (follow && !json) ctx.err(`${topic} seq ${e.seq}: ${e.commit}`);
            },
            onProgress: bar && ((bytes) => bar.count(bytes, 'received')),
            // A following subscription retries a broker that went away by itself: say so, once each way.
            onLinkChange:
              follow && !json
                ? (change) => ctx.err(change.down ? `${change.down.message}; retrying until it answers` : `broker ${change.broker} answers`)
                : undefined,
          });
          bar?.done();
          report(ctx, 'fetched', r, json);
          return 0;
        } finally {
          bar?.done();
          await packs.close();
          const merged = packs.merged;
          if (merged.packs > 0 && !json) ctx.err(`merged ${merged.packs} small packs the entries left; ${repo.objects.packs().length} packs now`);
        }
      });
    } finally {
      unregister?.();
      client.close();
    }
  },
};

export const topicsCommand: CliCommand = {
  name: 'topics',
  summary: 'list topics with their head, last sequence and subscribers (cursor, lag, conflicts)',
  usage: 'trib topics [TOPIC] [--broker HOST:PORT] [--json]',
  options: { flags: ['--json'], ...BROKER_OPTION },
  async run(args, ctx) {
    maxPositionals(args, 1, this.usage);
    const client = await connect(brokerAddress(args));
    try {
      const topics = await client.listTopics(args.positionals[0]);
      if (topics.length === 0 && args.positionals[0] !== undefined) throw new NotFoundError(`topic ${args.positionals[0]} does not exist`);
      if (args.flags.has('--json')) {
        ctx.json(topics);
        return 0;
      }
      if (topics.length === 0) ctx.err('no topics yet');
      for (const t of topics) {
        ctx.out(`${t.topic}  seq ${t.seq}  head ${t.head.slice(0, 12)}`);
        for (const s of t.subscribers) {
          ctx.out(`    ${s.name}  cursor ${s.cursor}  lag ${s.lag}`);
          for (const c of s.conflicts) ctx.out(`        conflict seq ${c.seq}: ${c.note}`);
        }
        if (t.subscribersOmitted > 0) ctx.out(`    ... and ${t.subscribersOmitted} more subscribers (the broker lists the first by name)`);
      }
      return 0;
    } finally {
      client.close();
    }
  },
};
