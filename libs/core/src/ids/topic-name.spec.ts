import fc from 'fast-check';
import { parseSubscriberId } from './subscriber-name';
import { parseTopicName, TOPIC_NAME_RULE } from './topic-name';

describe('topic names', () => {
  it.each(['datasets/heart/na-aws', 'models/ecg', 'a', 'a.b_c-d/0', '1/2/3/4/5/6/7/8'])('accepts %s', (t) => {
    expect(parseTopicName(t)).toBe(t);
  });

  it.each([
    ['', /empty/],
    ['Datasets/x', /a-z/],
    ['a//b', /empty segment/],
    ['/a', /empty segment/],
    ['a/', /empty segment/],
    ['a/../b', /\.\./],
    ['a/./b', /reserved/],
    ['x.lock', /reserved/],
    ['-x', /starts with/],
    ['1/2/3/4/5/6/7/8/9', /8 segments/],
    ['a b', /a-z/],
    ['a:b', /a-z/],
  ])('rejects %j', (t, why) => {
    expect(() => parseTopicName(t)).toThrow(why);
    expect(() => parseTopicName(t)).toThrow(/invalid topic/);
  });

  it('accepts exactly the names made of 1-8 safe segments', () => {
    const segment = fc.stringMatching(/^[a-z0-9_][a-z0-9._-]{0,8}$/).filter((s) => !s.includes('..') && !s.endsWith('.lock'));
    fc.assert(
      fc.property(fc.array(segment, { minLength: 1, maxLength: 8 }), (segs) => {
        expect(parseTopicName(segs.join('/'))).toBe(segs.join('/'));
      }),
    );
    fc.assert(
      fc.property(fc.string(), (s) => {
        let ok = true;
        try {
          parseTopicName(s);
        } catch {
          ok = false;
        }
        if (ok) expect(s).toMatch(/^[a-z0-9._-]+(\/[a-z0-9._-]+){0,7}$/);
      }),
    );
  });

  it('checks subscriber names', () => {
    expect(parseSubscriberId('hub')).toBe('hub');
    expect(parseSubscriberId('Edge-1.a_b')).toBe('Edge-1.a_b');
    expect(() => parseSubscriberId('')).toThrow(/invalid subscriber/);
    expect(() => parseSubscriberId('a:b')).toThrow(/invalid subscriber/);
    expect(() => parseSubscriberId('x'.repeat(65))).toThrow(/invalid subscriber/);
  });

  it('cuts a long name in its message, so the reason still shows', () => {
    const long = `a/${'b'.repeat(10_000)}`;
    const message = (() => {
      try {
        parseTopicName(long);
      } catch (e) {
        return (e as Error).message;
      }
    })();
    // The name once, cut; why; and the whole rule, the length limit and the ".." ban included.
    expect(message).toBe(`invalid topic "a/${'b'.repeat(78)}…": longer than 200 characters; ${TOPIC_NAME_RULE}`);
    expect(TOPIC_NAME_RULE).toMatch(/at most 200 characters, with no "\.\."/);
  });
});
