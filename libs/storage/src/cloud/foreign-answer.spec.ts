import { foreignAnswer, isWebPage } from './foreign-answer';

describe('isWebPage', () => {
  it('is true for an HTML content type, whatever its case and parameters', () => {
    expect(isWebPage({ 'content-type': 'text/html' })).toBe(true);
    expect(isWebPage({ 'content-type': 'Text/HTML; charset=utf-8' })).toBe(true);
  });

  it('is false for what storage services send, and for no headers at all', () => {
    expect(isWebPage({ 'content-type': 'application/xml' })).toBe(false);
    expect(isWebPage({ 'content-type': 'application/json; charset=UTF-8' })).toBe(false);
    expect(isWebPage({ 'content-type': 'text/htmlx' })).toBe(false);
    expect(isWebPage({})).toBe(false);
    expect(isWebPage(undefined)).toBe(false);
  });
});

describe('foreignAnswer', () => {
  it('names the endpoint (unless what failed names it), the status when there is one, and the service', () => {
    expect(foreignAnswer('read k in s3://b', 'http://h:1', 502, 'S3')).toBe('http://h:1 answered HTTP 502, but not as S3 does (a proxy or another server?)');
    expect(foreignAnswer('read k in s3://b', 'http://h:1', undefined, 'S3')).toBe('http://h:1 answered, but not as S3 does (a proxy or another server?)');
    expect(foreignAnswer('open store s3://b at http://h:1', 'http://h:1', 404, 'S3')).toBe('it answered HTTP 404, but not as S3 does (a proxy or another server?)');
  });
});
