import { redactUrl } from './redact-url';

describe('redactUrl', () => {
  it('hides a password, keeps the user and the rest as written, and leaves a URL without one alone', () => {
    expect(redactUrl('redis://:s3cr3t@127.0.0.1:6379')).toBe('redis://:***@127.0.0.1:6379');
    expect(redactUrl('rediss://user:p%40ss@cache.example.org:6380/2')).toBe('rediss://user:***@cache.example.org:6380/2');
    expect(redactUrl('http://u:s3cr3t@127.0.0.1:1')).toBe('http://u:***@127.0.0.1:1');
    for (const plain of ['redis://127.0.0.1:6379', 'redis://user@host:1', 'not a url', 'redis://host/0?x=a:b@c']) expect(redactUrl(plain)).toBe(plain);
  });
});
