import { TribError, UnavailableError } from '@tributary/core';
import { redisError, redisReason } from './redis-errors';

/** An ioredis error as it names them (the classes are ioredis's; only name and message matter here). */
function ioredisError(name: string, message: string): Error {
  const e = new Error(message);
  e.name = name;
  return e;
}

describe('Redis errors in words', () => {
  it("says what happened instead of naming ioredis's options, or asking to be reported", () => {
    const retries = ioredisError('MaxRetriesPerRequestError', 'Reached the max retries per request limit (which is 2). Refer to "maxRetriesPerRequest" option for details.');
    expect(redisReason(retries)).toBe('the connection was lost and did not come back while the request was retried');
    const notRedis = ioredisError('ParserError', 'Protocol error, got "\\u0000" as reply type byte. Please report this.');
    expect(redisReason(notRedis)).toBe('what answers there does not speak the Redis protocol (is it a Redis server?)');
    expect(redisReason(new Error('connect ECONNREFUSED 127.0.0.1:1'))).toBe('connect ECONNREFUSED 127.0.0.1:1');
  });

  it('makes a refused command INTERNAL and anything else UNAVAILABLE, naming the use when given', () => {
    const refused = redisError(ioredisError('ReplyError', 'WRONGTYPE Operation against a key holding the wrong kind of value'), 'topic log fence');
    expect([refused.code, refused.message]).toEqual(['INTERNAL', 'redis (topic log fence): WRONGTYPE Operation against a key holding the wrong kind of value']);
    const lost = redisError(ioredisError('MaxRetriesPerRequestError', 'Reached the max retries per request limit (which is 2).'), 'topic log fence');
    expect(lost).toBeInstanceOf(UnavailableError);
    expect(lost.message).toBe('redis unavailable (topic log fence): the connection was lost and did not come back while the request was retried');
    expect(redisError(new Error('connect ECONNREFUSED 127.0.0.1:1')).message).toBe('redis unavailable: connect ECONNREFUSED 127.0.0.1:1');
    const mine = new TribError('CONFLICT', 'already a TribError');
    expect(redisError(mine)).toBe(mine);
  });
});
