import { IgnoreRules } from './ignore-rules';

describe('.tribignore rules', () => {
  const r = new IgnoreRules(['# comment', '', '*.tmp', 'cache/', '/top.log', 'raw/**/*.bin', '!keep.tmp'].join('\n'));
  it.each([
    ['a.tmp', false, true],
    ['deep/x/a.tmp', false, true],
    ['keep.tmp', false, false],
    ['cache', true, true],
    ['cache', false, false],
    ['sub/cache', true, true],
    ['top.log', false, true],
    ['sub/top.log', false, false],
    ['raw/a/b/c.bin', false, true],
    ['raw/c.bin', false, true],
    ['other/c.bin', false, false],
    ['data.csv', false, false],
  ])('%s (dir=%s) ignored=%s', (p, isDir, expected) => {
    expect(r.ignores(p, isDir)).toBe(expected);
  });
});

describe('.tribignore character classes and escapes, as in gitignore', () => {
  const r = new IgnoreRules(
    [
      '*.sw[op]',
      'run[0-9].csv',
      'v[!0-9].txt',
      'w[^a].txt',
      '[]x]y',
      'open[.csv',
      '\\#h.csv',
      '\\!b.csv',
      'lit\\*.csv',
      'sp\\ ',
      'a[/]b',
      'back[z-a]ward',
    ].join('\n'),
  );
  it.each([
    ['.a.swp', true],
    ['.a.swo', true],
    ['sub/.a.swp', true],
    ['.a.swx', false],
    ['.a.sw[op]', false],
    ['run1.csv', true],
    ['run9.csv', true],
    ['runx.csv', false],
    ['run10.csv', false],
    ['vx.txt', true],
    ['v1.txt', false],
    ['wb.txt', true],
    ['wa.txt', false],
    [']y', true],
    ['xy', true],
    ['zy', false],
    ['open[.csv', true],
    ['#h.csv', true],
    ['!b.csv', true],
    ['b.csv', false],
    ['lit*.csv', true],
    ['litx.csv', false],
    ['sp ', true],
    ['sp', false],
    ['a/b', false],
    ['backzward', false],
  ])('%s ignored=%s', (p, expected) => {
    expect(r.ignores(p, false)).toBe(expected);
  });

  it('keeps a class from matching a slash, even negated', () => {
    expect(new IgnoreRules('x[!a]y').ignores('x/y', false)).toBe(false);
  });
});
