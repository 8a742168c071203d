import { isSubscriberName, parseSubscriberId } from './subscriber-name';

describe('subscriber names', () => {
  it('takes 1 to 64 of A-Z a-z 0-9 . _ -, capitals included, as the broker always has', () => {
    for (const name of ['hub', 'Alice', 'Edge-1.a_b', 'hub..1', 'x'.repeat(64)]) expect(parseSubscriberId(name)).toBe(name);
  });

  it('refuses anything else, naming the name and the rule', () => {
    for (const bad of ['', 'a:b', 'a b', 'x'.repeat(65), 'é', 'a/b']) {
      expect(isSubscriberName(bad)).toBe(false);
      expect(() => parseSubscriberId(bad)).toThrow(`invalid subscriber name ${JSON.stringify(bad)}: use 1 to 64 of A-Z a-z 0-9 . _ -`);
    }
    expect(() => parseSubscriberId(undefined)).toThrow(/invalid subscriber name/);
    expect(() => parseSubscriberId('x'.repeat(1000))).toThrow(/^invalid subscriber name "x{80}…": use/);
  });
});
