import { NotFoundError } from '@tributary/core';
import { isS3ConditionalConflict, isS3NotFound, isS3PreconditionFailed, s3Error } from './s3-errors';

/** The shape of an SDK service exception. */
function service(name: string, status: number, message = ''): Error {
  return Object.assign(new Error(message), { name, $metadata: { httpStatusCode: status } });
}

function network(code: string): Error {
  return Object.assign(new Error(`connect ${code} 127.0.0.1:9`), { code });
}

describe('s3Error', () => {
  const at = 'http://127.0.0.1:9000';
  it.each([
    [service('NoSuchKey', 404, 'The specified key does not exist.'), 'NOT_FOUND'],
    [service('NotFound', 404), 'NOT_FOUND'],
    [service('NoSuchBucket', 404), 'NOT_FOUND'],
    [service('AccessDenied', 403, 'Access Denied'), 'PERMISSION_DENIED'],
    [service('Unknown', 403), 'PERMISSION_DENIED'],
    [service('InvalidAccessKeyId', 403), 'PERMISSION_DENIED'],
    [Object.assign(new Error('no keys'), { name: 'CredentialsProviderError' }), 'FAILED_PRECONDITION'],
    [service('PreconditionFailed', 412), 'CONFLICT'],
    [service('ConditionalRequestConflict', 409), 'CONFLICT'],
    [service('PermanentRedirect', 301), 'FAILED_PRECONDITION'],
    [service('InvalidRequest', 400), 'FAILED_PRECONDITION'],
    [service('EntityTooLarge', 400), 'RESOURCE_EXHAUSTED'],
    [service('SlowDown', 503), 'UNAVAILABLE'],
    [service('InternalError', 500), 'UNAVAILABLE'],
    [network('ECONNREFUSED'), 'UNAVAILABLE'],
    [Object.assign(new Error('socket timed out'), { name: 'TimeoutError' }), 'UNAVAILABLE'],
    [new Error('something else'), 'UNAVAILABLE'],
  ])('maps %p to %s, saying what failed and where', (error, code) => {
    const mapped = s3Error(error, 'read k in s3://bkt/p', at, { url: 's3://bkt/p' });
    expect(mapped.code).toBe(code);
    expect(mapped.message).toMatch(/^cannot read k in s3:\/\/bkt\/p/);
    expect(mapped.details).toMatchObject({ url: 's3://bkt/p' });
    expect(mapped.cause).toBe(error);
  });

  it('names the endpoint when it cannot be reached, without the SDK wrapper text', () => {
    const wrapped = Object.assign(new Error('AWS SDK error wrapper for Error: connect ECONNREFUSED 127.0.0.1:9'), {
      code: 'ECONNREFUSED',
    });
    const mapped = s3Error(wrapped, 'open store s3://bkt', at);
    expect(mapped.message).toBe(
      `cannot open store s3://bkt: ${at} is unreachable: Error: connect ECONNREFUSED 127.0.0.1:9`,
    );
  });

  it('says what a bodiless status means instead of "Unknown"', () => {
    expect(s3Error(service('Unknown', 403, 'Unknown'), 'open store s3://bkt', at).message).toContain('access denied');
  });

  it('passes the project errors through', () => {
    const own = new NotFoundError('mine');
    expect(s3Error(own, 'x', at)).toBe(own);
  });
});

describe('S3 failure predicates', () => {
  it('tell a missing key, a failed precondition and a concurrent conditional write apart', () => {
    expect(isS3NotFound(service('NoSuchKey', 404))).toBe(true);
    expect(isS3NotFound(service('PreconditionFailed', 412))).toBe(false);
    expect(isS3PreconditionFailed(service('PreconditionFailed', 412))).toBe(true);
    expect(isS3PreconditionFailed(service('ConditionalRequestConflict', 409))).toBe(false);
    expect(isS3ConditionalConflict(service('ConditionalRequestConflict', 409))).toBe(true);
    expect(isS3ConditionalConflict(service('BucketAlreadyOwnedByYou', 409))).toBe(false);
    expect(isS3ConditionalConflict(network('ECONNRESET'))).toBe(false);
  });
});
