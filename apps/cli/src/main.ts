import { configureHeapGrowth, silenceSdkNodeVersionNotice } from '@tributary/config';
import { ErrorCode, EXIT, exitCodeFor, InvalidArgumentError, isObjectId, isTribError } from '@tributary/core';
import { parseArgs } from './ui/args';
import { cleanUpBeforeExit, stopGracefully } from './ui/interrupt';
import { CliCommand, CliContext } from './commands/command';
import { initCommand } from './commands/init.command';
import { commitCommand } from './commands/commit.command';
import { logCommand, showCommand } from './commands/log.command';
import { statusCommand } from './commands/status.command';
import { diffCommand } from './commands/diff.command';
import { branchCommand } from './commands/branch.command';
import { tagCommand } from './commands/tag.command';
import { checkoutCommand, switchCommand } from './commands/switch.command';
import { mergeCommand } from './commands/merge.command';
import { gcCommand, verifyCommand } from './commands/verify.command';
import { publishCommand, subscribeCommand, topicsCommand } from './commands/sync.command';

const COMMANDS: readonly CliCommand[] = [
  initCommand,
  commitCommand,
  logCommand,
  showCommand,
  statusCommand,
  diffCommand,
  branchCommand,
  tagCommand,
  switchCommand,
  checkoutCommand,
  mergeCommand,
  verifyCommand,
  gcCommand,
  publishCommand,
  subscribeCommand,
  topicsCommand,
];

function help(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'usage: trib <command> [options]',
    '',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Run `trib <command> --help` for a command\'s usage.',
  ].join('\n');
}

const context = (): CliContext => ({
  cwd: process.cwd(),
  out: (line) => process.stdout.write(line + '\n'),
  err: (line) => process.stderr.write(line + '\n'),
  json: (value) => process.stdout.write(JSON.stringify(value, null, 2) + '\n'),
});

/** Runs one CLI invocation and returns its exit code. Failures become one line on stderr, never a stack trace. */
export async function runCli(argv: readonly string[], ctx: CliContext = context()): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    ctx.out(help());
    return name === undefined ? EXIT.USAGE : EXIT.OK;
  }
  if (name === '--version') {
    ctx.out('trib 0.1.0');
    return EXIT.OK;
  }
  const cmd = COMMANDS.find((c) => c.name === name);
  if (!cmd) {
    const what = name.startsWith('-') ? `no command before ${JSON.stringify(name)}` : `unknown command ${JSON.stringify(name)}`;
    return report(ctx, 'trib', new InvalidArgumentError(`${what}; see trib --help`), argv.includes('--json'));
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    ctx.out(`usage: ${cmd.usage}`);
    return EXIT.OK;
  }
  try {
    return await cmd.run(parseArgs(rest, cmd.options), ctx);
  } catch (e) {
    return report(ctx, `trib ${name}`, e, rest.includes('--json'));
  }
}

/** Says why a run failed in one line on stderr, `who: message`, and returns its exit code. */
function report(ctx: CliContext, who: string, e: unknown, json: boolean): number {
  const failure = describeFailure(e);
  ctx.err(`${who}: ${failure.message}${failure.code === 'INTERNAL' && process.env.TRIB_DEBUG ? `\n${(e as Error)?.stack}` : ''}`);
  if (json) printJsonFailure(ctx, failure);
  return failure.exit;
}

/** A failure's category: a TribError code, or how a stop signal ended the command. */
interface Failure {
  code: ErrorCode | 'INTERRUPTED' | 'TERMINATED';
  message: string;
  exit: number;
}

/** A script that asked for JSON gets a failure as JSON too, on stdout where it reads the result. */
function printJsonFailure(ctx: CliContext, failure: Failure): void {
  ctx.json({ error: { code: failure.code, message: failure.message, exitCode: failure.exit } });
}

/** A failed command's error category (the TribError code, or what an OS error amounts to), message and exit code. */
function describeFailure(e: unknown): Failure & { code: ErrorCode } {
  // The store's "object <id> not found" (details.id) comes only from following what a ref, commit or tree names, as
  // a revision unknown is refused before any object is read: damage (exit 1, as verify reports it), not a bad name.
  if (isTribError(e) && e.code === 'NOT_FOUND' && typeof e.details.id === 'string' && isObjectId(e.details.id)) {
    return { code: 'INTEGRITY', message: `${e.message}, though the repository refers to it: it is damaged (trib verify lists what else is)`, exit: exitCodeFor('INTEGRITY') };
  }
  if (isTribError(e)) return { code: e.code, message: e.message, exit: exitCodeFor(e.code) };
  const err = e as NodeJS.ErrnoException;
  const errno = err?.code ?? '';
  if (['ENOENT', 'ENOTDIR', 'EISDIR'].includes(errno)) return { code: 'INVALID_ARGUMENT', message: err.message, exit: EXIT.USAGE };
  if (['EACCES', 'EPERM', 'ENOSPC', 'EIO'].includes(errno)) return { code: 'UNAVAILABLE', message: err.message, exit: EXIT.UNAVAILABLE };
  return { code: 'INTERNAL', message: `internal error: ${err?.message ?? String(e)}`, exit: EXIT.PROBLEM };
}

/** How long a finished command waits for lingering sockets before it exits anyway. */
const EXIT_GRACE_MS = 2000;

export function main(): void {
  configureHeapGrowth();
  silenceSdkNodeVersionNotice();
  // `trib log | head` closes the pipe early: that is the reader's choice, not an error.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
  // Ctrl-C and a supervisor's SIGTERM both mean "stop": a command that can stop cleanly is asked to, and otherwise
  // (or on the second signal) the process exits at once, after the registered clean-ups.
  let stopping = false;
  const ctx = context();
  const json = process.argv.slice(2).includes('--json');
  const onStopSignal = (exitCode: number, code: 'INTERRUPTED' | 'TERMINATED') => () => {
    const word = code.toLowerCase();
    const exitNow = () => {
      cleanUpBeforeExit();
      if (json) printJsonFailure(ctx, { code, message: word, exit: exitCode });
      process.exit(exitCode);
    };
    if (stopping) exitNow();
    stopping = true;
    if (stopGracefully()) {
      process.stderr.write(`\ntrib: stopping after what is durable (${exitCode === EXIT.INTERRUPTED ? 'Ctrl-C' : 'the signal'} again to quit at once)\n`);
      return;
    }
    process.stderr.write(`\ntrib: ${word}\n`);
    exitNow();
  };
  process.on('SIGINT', onStopSignal(EXIT.INTERRUPTED, 'INTERRUPTED'));
  process.on('SIGTERM', onStopSignal(EXIT.TERMINATED, 'TERMINATED'));
  runCli(process.argv.slice(2), ctx)
    .then(
      (code) => {
        process.exitCode = code;
      },
      (e) => {
        process.stderr.write(`trib: internal error: ${(e as Error).message}\n`);
        process.exitCode = EXIT.PROBLEM;
      },
    )
    .then(() => {
      // The command is done. A request it gave up on (an endpoint that never answered) may still hold a socket
      // until the SDK's own timeout: leave output a moment to drain, then go.
      setTimeout(() => process.exit(), EXIT_GRACE_MS).unref();
    });
}

if (require.main === module) main();
