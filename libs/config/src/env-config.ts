import { InvalidArgumentError, redactUrl } from '@tributary/core';

/** One environment variable: its name, what it is for, its default, and how to parse it. */
export interface EnvVar<T> {
  readonly name: string;
  readonly description: string;
  /** Used when the variable is unset or empty; omit for required variables. */
  readonly default?: string;
  /** Returns the typed value, or throws an Error whose message says what was expected. */
  parse(raw: string): T;
}

export type ConfigOf<S extends Record<string, EnvVar<unknown>>> = { readonly [K in keyof S]: S[K] extends EnvVar<infer T> ? T : never };

/** A bad configuration: every problem found, each naming its variable, in one message. */
export class ConfigError extends InvalidArgumentError {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`, { problems });
  }
}

/**
 * Reads and validates every variable of `schema` once, at start-up. Throws ConfigError naming each bad or missing
 * variable; nothing is read from the environment afterwards.
 */
export function loadConfig<S extends Record<string, EnvVar<unknown>>>(schema: S, env: NodeJS.ProcessEnv = process.env): ConfigOf<S> {
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [key, v] of Object.entries(schema)) {
    const raw = env[v.name];
    const value = raw === undefined || raw.trim() === '' ? v.default : raw.trim();
    if (value === undefined) {
      problems.push(`${v.name} is required: ${v.description}`);
      continue;
    }
    try {
      out[key] = v.parse(value);
    } catch (e) {
      problems.push(`${v.name}=${JSON.stringify(redactUrl(value))}: ${(e as Error).message}`);
    }
  }
  if (problems.length) throw new ConfigError(problems);
  return out as ConfigOf<S>;
}

export function envVar<T>(name: string, description: string, parse: (raw: string) => T, defaultValue?: string): EnvVar<T> {
  return { name, description, parse, default: defaultValue };
}
