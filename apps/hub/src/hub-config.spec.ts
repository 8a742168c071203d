import { ConfigError, loadConfig } from '@tributary/config';
import { HUB_ENV } from './hub-config';

describe('HUB_ENV', () => {
  const env = (topics: string) => ({ TRIB_STORE: '/var/lib/trib', TRIB_BROKER: '127.0.0.1:7070', TRIB_TOPICS: topics });

  it('takes topics whose regions are distinct folder names', () => {
    expect(loadConfig(HUB_ENV, env('datasets/heart/na-aws,datasets/heart/eu-azure')).topics).toEqual([
      'datasets/heart/na-aws',
      'datasets/heart/eu-azure',
    ]);
  });

  it('refuses a topic whose region cannot be a folder, naming TRIB_TOPICS and the topic', () => {
    let err: unknown;
    try {
      loadConfig(HUB_ENV, env('datasets/heart/na-aws,datasets/x/.trib'));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const problem = /^TRIB_TOPICS=".*": topic datasets\/x\/\.trib: .*\.trib/;
    expect((err as ConfigError).problems).toEqual([expect.stringMatching(problem)]);
  });

  it('refuses two topics that land in the same region', () => {
    expect(() => loadConfig(HUB_ENV, env('datasets/a/na,datasets/b/na'))).toThrow(
      /TRIB_TOPICS=.*datasets\/a\/na and datasets\/b\/na would both land in regions\/na\//,
    );
  });
});
