import { parseS3Url } from './s3-location';

describe('parseS3Url', () => {
  it.each([
    ['s3://bucket', 'bucket', '', 's3://bucket'],
    ['s3://bucket/', 'bucket', '', 's3://bucket'],
    ['s3://my.bucket-1/team/repo', 'my.bucket-1', 'team/repo', 's3://my.bucket-1/team/repo'],
    ['s3://bkt/team/repo/', 'bkt', 'team/repo', 's3://bkt/team/repo'],
    ['S3://bkt/team/repo/', 'bkt', 'team/repo', 's3://bkt/team/repo'],
  ])('parses %s', (url, bucket, prefix, normalized) => {
    expect(parseS3Url(url)).toEqual({ url: normalized, bucket, prefix });
  });

  it.each([
    ['s3://', 'bucket name'],
    ['s3://ab', 'bucket name'],
    ['s3://Upper/x', 'bucket name'],
    ['s3://a..b/x', 'bucket name'],
    [`s3://${'b'.repeat(64)}`, 'bucket name'],
    ['s3://bkt/../x', 'prefix'],
    ['s3://bkt/a//b', 'prefix'],
    ['s3://bkt//', 'prefix'],
    ['S3://bkt/x?endpoint=http://h', 'query'],
    ['s3://bkt/a b', 'prefix'],
    ['s3://bkt/x?endpoint=http://h', 'query'],
    ['s3://bkt/x#frag', 'query'],
    ['s3://key:secret@bkt/x', 'credentials'],
    ['gs://bkt/x', 'expected s3://'],
    ['/abs/path', 'expected s3://'],
  ])('rejects %s, naming it', (url, why) => {
    expect(() => parseS3Url(url)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => parseS3Url(url)).toThrow(JSON.stringify(url));
    expect(() => parseS3Url(url)).toThrow(why);
  });
});
