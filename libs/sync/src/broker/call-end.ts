import type * as grpc from '@grpc/grpc-js';
import { toGrpcStatus } from '../wire/status-mapping';
import { BrokerLogger } from './broker-context';

type AnyCall = grpc.ServerDuplexStream<unknown, unknown>;

/**
 * Ends a streaming call with the status `e` maps to (see status-mapping), unless the call is already over. A peer
 * that cancelled its call (a subscriber stopping, a client killed) is how calls normally end: an info line, not a
 * warning; so is a call the broker's own stop cancelled (`stopping`), which grpc-js marks cancelled too.
 */
export function failCall(call: AnyCall, e: unknown, log: BrokerLogger, what: string, stopping = false): void {
  const status = toGrpcStatus(e);
  if (call.cancelled) {
    log('info', `${what}: ${stopping ? 'ended as the broker stops' : 'ended by the peer'}`);
    return;
  }
  log(status.code === 13 ? 'error' : 'warn', `${what}: ${status.details}`);
  if (call.destroyed || call.writableEnded) return;
  call.emit('error', { code: status.code, details: status.details });
}

/** Ends a streaming call with OK once every written message is flushed. */
export function endCall(call: AnyCall): void {
  if (!call.cancelled && !call.destroyed && !call.writableEnded) call.end();
}
