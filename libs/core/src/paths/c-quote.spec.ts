import { cQuote, cQuoteBytes, quotePath, quoteRecord, shortenPath } from './c-quote';

describe('C-quoting for text output', () => {
  it('escapes as git does: named escapes, quote and backslash, other control characters in octal', () => {
    expect(cQuote('a\nM b')).toBe('"a\\nM b"');
    expect(cQuote('\x07\b\t\v\f\r')).toBe('"\\a\\b\\t\\v\\f\\r"');
    expect(cQuote('say "hi" \\ bye')).toBe('"say \\"hi\\" \\\\ bye"');
    expect(cQuote('\x00\x1b[31m\x7f')).toBe('"\\000\\033[31m\\177"');
    expect(cQuote('ünïcödé')).toBe('"ünïcödé"');
  });

  // What `git -c core.quotePath=true status --porcelain` prints for these names, but for valid UTF-8 characters,
  // which cQuote keeps as they are and git with quotePath on writes in octal too.
  it('quotes raw name bytes as git does: bytes that are not UTF-8 in octal, the rest as cQuote', () => {
    const bytes = (s: string) => Buffer.from(s, 'latin1');
    expect(cQuoteBytes(bytes('a"b\xff'))).toBe('"a\\"b\\377"');
    expect(cQuoteBytes(bytes('d\tq/\xfe\\z'))).toBe('"d\\tq/\\376\\\\z"');
    expect(cQuoteBytes(bytes('\x07\x01\x7f\n'))).toBe('"\\a\\001\\177\\n"');
    // A valid character is kept, and so is U+FEFF at the start; a lone lead byte, a stray continuation byte, an
    // overlong form, a surrogate and a character cut short are each byte in octal.
    expect(cQuoteBytes(Buffer.concat([Buffer.from('\uFEFFcafé', 'utf8'), bytes('\xe9')]))).toBe('"\uFEFFcafé\\351"');
    expect(cQuoteBytes(bytes('\x80\xc0\xaf\xed\xa0\x80\xe2\x82'))).toBe('"\\200\\300\\257\\355\\240\\200\\342\\202"');
    expect(cQuoteBytes(Buffer.from('ünï "x"\\', 'utf8'))).toBe(cQuote('ünï "x"\\'));
  });

  it('quotes a path only when it holds a control character, a double quote or a backslash', () => {
    expect(quotePath('data/beats 1.csv')).toBe('data/beats 1.csv');
    expect(quotePath('ünïcödé')).toBe('ünïcödé');
    expect(quotePath('a\nM b')).toBe('"a\\nM b"');
    expect(quotePath('"a\\nM b"')).toBe('"\\"a\\\\nM b\\""');
    expect(quotePath('a\\b')).toBe('"a\\\\b"');
  });

  it('shortens a long path for a message to its start and end, never splitting a character', () => {
    expect(shortenPath('a/b.csv')).toBe('a/b.csv');
    const long = `${'x/'.repeat(150)}end.csv`;
    expect(shortenPath(long, 23)).toBe('x/x/x/x/x/.../x/end.csv');
    expect(shortenPath(long).length).toBe(199);
    expect(shortenPath('😀'.repeat(10), 9)).toBe('😀😀😀...😀😀😀');
  });

  it('quotes a record only when it holds a control character or begins with a double quote', () => {
    expect(quoteRecord('{"a":1}')).toBe('{"a":1}');
    expect(quoteRecord('1,"x, y"')).toBe('1,"x, y"');
    expect(quoteRecord('1,"a\nb"')).toBe('"1,\\"a\\nb\\""');
    expect(quoteRecord('"x",1')).toBe('"\\"x\\",1"');
  });
});
