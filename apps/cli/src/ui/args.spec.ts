import { parseArgs } from './args';

describe('parseArgs', () => {
  const log = { flags: ['--json'], values: ['-n'] };
  const commit = { flags: ['--json'], values: ['-m', '--author'], repeated: ['--meta'], aliases: { '--message': '-m' } };

  it('takes the value of a one-letter option attached, as git does: -n5, -mtext', () => {
    expect(parseArgs(['-n5', 'main'], log).values.get('-n')).toBe('5');
    expect(parseArgs(['-n', '5'], log).values.get('-n')).toBe('5');
    expect(parseArgs(['-mfix labels', '--json'], commit)).toMatchObject({ values: new Map([['-m', 'fix labels']]), flags: new Set(['--json']) });
    expect(parseArgs(['--message=x'], commit).values.get('-m')).toBe('x');
  });

  it('still refuses what it does not know, and a value given twice', () => {
    expect(() => parseArgs(['-x5'], log)).toThrow('unknown option -x5');
    expect(() => parseArgs(['--json5'], log)).toThrow('unknown option --json5');
    expect(() => parseArgs(['-n5', '-n', '6'], log)).toThrow('option -n is given twice');
    expect(() => parseArgs(['-n'], log)).toThrow('option -n needs a value');
  });
});
