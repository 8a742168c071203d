/**
 * The AWS SDK announces on every start that its later releases will need Node 22. We pin releases that run on Node
 * 20 (see README), so the notice tells a user or an operator nothing they can act on: on the CLI's stderr, where
 * scripts expect one line per failure, and in an app's log, where it takes eight lines. Every other warning still
 * shows. The CLI and every app call this first thing.
 */
export function silenceSdkNodeVersionNotice(): void {
  const emit = process.emitWarning.bind(process) as (...a: unknown[]) => void;
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    if (isSdkNodeVersionNotice(warning, rest[0])) return;
    emit(warning, ...rest);
  }) as typeof process.emitWarning;
}

/** True for the SDK's NodeVersionSupportWarning, given emitWarning's first two arguments. */
export function isSdkNodeVersionNotice(warning: string | Error, typeOrOptions: unknown): boolean {
  const options = typeOrOptions as { type?: string } | undefined;
  const type = typeof typeOrOptions === 'string' ? typeOrOptions : options?.type;
  const name = warning instanceof Error ? warning.name : type;
  return name === 'NodeVersionSupportWarning' || /will require node >=22/.test(String(warning));
}
