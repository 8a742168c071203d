import * as grpc from '@grpc/grpc-js';
// grpc-js exports setLogger but no getter for the logger it has; package.json pins its version, so this path holds.
import { getLogger } from '@grpc/grpc-js/build/src/logging';

/** The line grpc-js logs itself, at ERROR, just before it rejects a bind that added no address. */
const NO_ADDRESS_ADDED = /^No address added out of total \d+ resolved$/;

/**
 * `server.bindAsync` without grpc-js's own log line for a bind that added no address: the rejection carries the same
 * words and each address's error, and the broker reports it once, naming TRIB_LISTEN. Only that line is dropped, and
 * only while this bind is in flight: grpc-js's logger is wrapped, not silenced (setLogVerbosity would hide every
 * other error too, and could not be put back, having no getter either), and it is restored when the bind settles, so
 * every other grpc-js message reaches the logger it had, for the rest of the process's life.
 */
export function bindQuietly(server: grpc.Server, url: string, credentials: grpc.ServerCredentials): Promise<number> {
  const previous = getLogger();
  const forward = (level: 'error' | 'info' | 'debug') => (message?: unknown, ...rest: unknown[]) =>
    (previous[level] ?? previous.error)?.call(previous, message, ...rest);
  const error = forward('error');
  grpc.setLogger({
    error: (message?: unknown, ...rest: unknown[]) => (typeof message === 'string' && NO_ADDRESS_ADDED.test(message) ? undefined : error(message, ...rest)),
    info: forward('info'),
    debug: forward('debug'),
  });
  return new Promise<number>((resolve, reject) =>
    server.bindAsync(url, credentials, (e, port) => {
      grpc.setLogger(previous);
      if (e) reject(e);
      else resolve(port);
    }),
  );
}
