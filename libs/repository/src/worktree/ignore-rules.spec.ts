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
