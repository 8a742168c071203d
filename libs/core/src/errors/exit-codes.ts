import { ErrorCode } from './trib-error';

/** The exit codes of the CLI and of the apps when they stop on an error: a contract other tools depend on. */
export const EXIT = {
  OK: 0,
  /** The command ran and found a problem: a merge conflict, or damage. (A refusal, CONFLICT included, is USAGE.) */
  PROBLEM: 1,
  /** Usage error or bad input. */
  USAGE: 2,
  /** A needed service or store is unreachable or failing, after retries. */
  UNAVAILABLE: 3,
  /** Stopped by Ctrl-C (SIGINT). */
  INTERRUPTED: 130,
  /** Stopped by SIGTERM (a supervisor, `kill`). */
  TERMINATED: 143,
} as const;

/** One mapping from error categories to exit codes; the switch is exhaustive so a new category cannot be missed. */
export function exitCodeFor(code: ErrorCode): number {
  switch (code) {
    case 'NOT_FOUND':
    case 'ALREADY_EXISTS':
    case 'INVALID_ARGUMENT':
    case 'FAILED_PRECONDITION':
    case 'CONFLICT':
      return EXIT.USAGE;
    case 'INTEGRITY':
    case 'INTERNAL':
      return EXIT.PROBLEM;
    case 'PERMISSION_DENIED':
    case 'RESOURCE_EXHAUSTED':
    case 'UNAVAILABLE':
      return EXIT.UNAVAILABLE;
    default: {
      const unreachable: never = code;
      return unreachable;
    }
  }
}
