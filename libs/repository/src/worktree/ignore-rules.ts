/**
 * `.tribignore` patterns, with the gitignore rules people already know: blank lines and `#` comments skipped,
 * `!` re-includes, a trailing `/` matches directories only, a pattern containing `/` (other than at the end) is
 * anchored at the root, `*` and `?` stay within a segment and `**` spans segments.
 */
export class IgnoreRules {
  private readonly rules: { re: RegExp; negate: boolean; dirOnly: boolean }[] = [];

  constructor(text = '') {
    for (const raw of text.split(/\r?\n/)) {
      let line = raw.replace(/\s+$/, '');
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
    if (c === '*') {
      if (glob[i + 1] === '*') {
        const slash = glob[i + 2] === '/';
        out += slash ? '(?:.*/)?' : '.*';
        i += slash ? 2 : 1;
      } else out += '[^/]*';
    } else if (c === '?') out += '[^/]';
    else out += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return out;
}
