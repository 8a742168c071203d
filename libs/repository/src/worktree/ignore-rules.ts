/**
 * `.tribignore` patterns, with the gitignore rules people already know: blank lines and `#` comments skipped,
 * `!` re-includes, a trailing `/` matches directories only, a pattern containing `/` (other than at the end) is
 * anchored at the root, `*`, `?` and `[...]` classes (`[abc]`, `[a-z]`, `[!a]` or `[^a]`) stay within a segment,
 * `**` spans segments, and `\` makes the next character literal (`\#`, `\!` at the start, `\ ` at the end).
 */
export class IgnoreRules {
  private readonly rules: { re: RegExp; negate: boolean; dirOnly: boolean }[] = [];

  constructor(text = '') {
    for (const raw of text.split(/\r?\n/)) {
      let line = raw.replace(/(?<!\\)\s+$/, '');
      if (!line || line.startsWith('#')) continue;
      let negate = false;
      if (line.startsWith('!')) {
        negate = true;
        line = line.slice(1);
      }
      let dirOnly = false;
      if (line.endsWith('/')) {
        dirOnly = true;
        line = line.slice(0, -1);
      }
      const anchored = line.includes('/');
      if (line.startsWith('/')) line = line.slice(1);
      if (!line) continue;
      const body = globToRegex(line);
      this.rules.push({ re: new RegExp(anchored ? `^${body}$` : `^(?:.*/)?${body}$`), negate, dirOnly });
    }
  }

  /** Whether a path relative to the root (`a/b.csv`) is ignored. The last matching rule wins. */
  ignores(relPath: string, isDir: boolean): boolean {
    let ignored = false;
    for (const r of this.rules) {
      if (r.dirOnly && !isDir) continue;
      if (r.re.test(relPath)) ignored = !r.negate;
    }
    return ignored;
  }

  get empty(): boolean {
    return this.rules.length === 0;
  }
}

function globToRegex(glob: string): string {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '\\' && i + 1 < glob.length) out += literal(glob[++i]);
    else if (c === '*') {
      if (glob[i + 1] === '*') {
        const slash = glob[i + 2] === '/';
        out += slash ? '(?:.*/)?' : '.*';
        i += slash ? 2 : 1;
      } else out += '[^/]*';
    } else if (c === '?') out += '[^/]';
    else if (c === '[') {
      const cls = bracketClass(glob, i);
      if (cls) {
        out += cls.re;
        i = cls.end;
      } else out += literal(c);
    } else out += literal(c);
  }
  return out;
}

/** The `[...]` class opening at `start`, read as fnmatch does, or undefined when it is never closed (`[` is then literal). */
function bracketClass(glob: string, start: number): { re: string; end: number } | undefined {
  let i = start + 1;
  const negate = glob[i] === '!' || glob[i] === '^';
  if (negate) i++;
  const first = i;
  let body = '';
  for (; i < glob.length; i++) {
    // A `]` right after the opening (or its negation) is a member, not the close.
    if (glob[i] === ']' && i > first) return { re: `(?!/)[${negate ? '^' : ''}${body}]`, end: i };
    let lo = glob[i];
    if (lo === '\\' && i + 1 < glob.length) lo = glob[++i];
    if (glob[i + 1] === '-' && i + 2 < glob.length && glob[i + 2] !== ']') {
      let hi = glob[i + 2];
      i += 2;
      if (hi === '\\' && i + 1 < glob.length) hi = glob[++i];
      // A reversed range matches nothing, as in git; a RegExp would refuse it.
      if (lo <= hi) body += `${classChar(lo)}-${classChar(hi)}`;
    } else body += classChar(lo);
  }
  return undefined;
}

function literal(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function classChar(c: string): string {
  return c.replace(/[\]\\^-]/g, '\\$&');
}
