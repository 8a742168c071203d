import { InvalidArgumentError } from '@tributary/core';

/** How a command's options are declared: boolean flags, single values, repeatable values, and short aliases. */
export interface OptionSpec {
  readonly flags?: readonly string[];
  readonly values?: readonly string[];
  readonly repeated?: readonly string[];
  readonly aliases?: Readonly<Record<string, string>>;
}

export interface ParsedArgs {
  readonly positionals: string[];
  readonly flags: Set<string>;
  readonly values: Map<string, string>;
  readonly repeated: Map<string, string[]>;
}

/**
 * Parses `argv` strictly: an unknown option is a usage error, `--` ends options, `--x=v` and `--x v` both work, and
 * a one-letter option that takes a value takes it attached too (`-n5`, as git and getopt do).
 */
export function parseArgs(argv: readonly string[], spec: OptionSpec): ParsedArgs {
  const out: ParsedArgs = { positionals: [], flags: new Set(), values: new Map(), repeated: new Map() };
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i];
    if (a === '--') {
      out.positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith('-') || a === '-') {
      out.positionals.push(a);
      continue;
    }
    let inline: string | undefined;
    const eq = a.indexOf('=');
    if (a.startsWith('--') && eq > 0) {
      inline = a.slice(eq + 1);
      a = a.slice(0, eq);
    } else if (!a.startsWith('--') && a.length > 2 && takesValue(spec, a.slice(0, 2))) {
      inline = a.slice(2);
      a = a.slice(0, 2);
    }
    const name = spec.aliases?.[a] ?? a;
    const take = () => {
      if (inline !== undefined) return inline;
      if (i + 1 >= argv.length) throw new InvalidArgumentError(`option ${a} needs a value`);
      return argv[++i];
    };
    if (spec.flags?.includes(name)) {
      if (inline !== undefined) throw new InvalidArgumentError(`option ${a} takes no value`);
      out.flags.add(name);
    } else if (spec.values?.includes(name)) {
      // The last would win silently: `-m title -m body` would lose the title, `--from 1 --from 2` a choice.
      if (out.values.has(name)) throw new InvalidArgumentError(`option ${a} is given twice`);
      out.values.set(name, take());
    }
    else if (spec.repeated?.includes(name)) out.repeated.set(name, [...(out.repeated.get(name) ?? []), take()]);
    else throw new InvalidArgumentError(`unknown option ${a}`);
  }
  return out;
}

/** A commit's or tag's annotations, from repeated `--annotate KEY=VALUE` options (`--meta` is the same option). */
export function parseAnnotations(items: readonly string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items ?? []) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new InvalidArgumentError(`an annotation wants KEY=VALUE, got ${JSON.stringify(item)}`);
    const key = item.slice(0, eq);
    if (!/^[A-Za-z0-9._:/-]+$/.test(key)) throw new InvalidArgumentError(`annotation key ${JSON.stringify(key)} may only use letters, digits and . _ : / -`);
    // As a key of a plain object it would set the prototype and be lost.
    if (key === '__proto__') throw new InvalidArgumentError('annotation key __proto__ is reserved');
    // The last would win silently, as for an option given twice.
    if (Object.prototype.hasOwnProperty.call(out, key)) throw new InvalidArgumentError(`annotation key ${key} is given twice`);
    out[key] = item.slice(eq + 1);
  }
  return out;
}

/**
 * The whole number given to `option` (digits only), at least `min`; undefined when the option is absent. Anything
 * else (a sign, a fraction, an empty value) is a usage error naming the option.
 */
export function parseCount(args: ParsedArgs, option: string, min = 0): number | undefined {
  const raw = args.values.get(option);
  if (raw === undefined) return undefined;
  const n = /^\d{1,15}$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= min)) {
    throw new InvalidArgumentError(`${option} wants a whole number from ${min}, got ${JSON.stringify(raw)}`);
  }
  return n;
}

export function maxPositionals(args: ParsedArgs, n: number, usage: string): void {
  if (args.positionals.length > n) throw new InvalidArgumentError(`too many arguments; usage: ${usage}`);
}

function takesValue(spec: OptionSpec, option: string): boolean {
  const name = spec.aliases?.[option] ?? option;
  return Boolean(spec.values?.includes(name) || spec.repeated?.includes(name));
}
