import { OptionSpec, ParsedArgs } from '../ui/args';

/** What every command gets: where it runs and where its output goes. Results go to stdout, messages to stderr. */
export interface CliContext {
  readonly cwd: string;
  out(line: string): void;
  err(line: string): void;
  /** Prints a value as JSON on stdout. */
  json(value: unknown): void;
}

export interface CliCommand {
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
  readonly options: OptionSpec;
  /** Returns the exit code; throws TribError for failures, which main maps to an exit code and one line. */
  run(args: ParsedArgs, ctx: CliContext): Promise<number>;
}
