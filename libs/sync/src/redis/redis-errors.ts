import { TribError, UnavailableError } from '@tributary/core';

/**
 * What went wrong with Redis, in words an operator can act on. ioredis words some failures after its own options
 * ("Reached the max retries per request limit ...") or asks to be reported when the other end is not Redis at all.
 */
export function redisReason(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  if (e instanceof Error && e.name === 'MaxRetriesPerRequestError') {
    return 'the connection was lost and did not come back while the request was retried';
  }
  if (/^Protocol error\b/.test(message)) return 'what answers there does not speak the Redis protocol (is it a Redis server?)';
  return message;
}

/**
 * Turns an ioredis failure into the project's error: a refused command is INTERNAL, anything else (unreachable,
 * lost, not Redis) UnavailableError. `what` names the use, for messages: `redis unavailable (topic log fence): ...`.
 */
export function redisError(e: unknown, what?: string): TribError {
  if (e instanceof TribError) return e;
  const message = e instanceof Error ? e.message : String(e);
  if (e instanceof Error && e.name === 'ReplyError') return new TribError('INTERNAL', `redis${what ? ` (${what})` : ''}: ${message}`, {}, { cause: e });
  return new UnavailableError(`redis unavailable${what ? ` (${what})` : ''}: ${redisReason(e)}`, {}, { cause: e });
}
