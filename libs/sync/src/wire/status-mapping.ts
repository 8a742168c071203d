import * as grpc from '@grpc/grpc-js';
import {
  AlreadyExistsError,
  ConflictError,
  ErrorCode,
  FailedPreconditionError,
  IntegrityError,
  InvalidArgumentError,
  NotFoundError,
  PermissionDeniedError,
  ResourceExhaustedError,
  TribError,
  UnavailableError,
} from '@tributary/core';

const TO_GRPC: Record<ErrorCode, grpc.status> = {
  NOT_FOUND: grpc.status.NOT_FOUND,
  ALREADY_EXISTS: grpc.status.ALREADY_EXISTS,
  CONFLICT: grpc.status.FAILED_PRECONDITION,
  INVALID_ARGUMENT: grpc.status.INVALID_ARGUMENT,
  FAILED_PRECONDITION: grpc.status.FAILED_PRECONDITION,
  INTEGRITY: grpc.status.DATA_LOSS,
  PERMISSION_DENIED: grpc.status.PERMISSION_DENIED,
  RESOURCE_EXHAUSTED: grpc.status.RESOURCE_EXHAUSTED,
  UNAVAILABLE: grpc.status.UNAVAILABLE,
  INTERNAL: grpc.status.INTERNAL,
};

const FROM_GRPC: Record<grpc.status, ErrorCode> = {
  [grpc.status.OK]: 'INTERNAL',
  [grpc.status.CANCELLED]: 'UNAVAILABLE',
  [grpc.status.UNKNOWN]: 'INTERNAL',
  [grpc.status.INVALID_ARGUMENT]: 'INVALID_ARGUMENT',
  [grpc.status.DEADLINE_EXCEEDED]: 'UNAVAILABLE',
  [grpc.status.NOT_FOUND]: 'NOT_FOUND',
  [grpc.status.ALREADY_EXISTS]: 'ALREADY_EXISTS',
  [grpc.status.PERMISSION_DENIED]: 'PERMISSION_DENIED',
  [grpc.status.RESOURCE_EXHAUSTED]: 'RESOURCE_EXHAUSTED',
  [grpc.status.FAILED_PRECONDITION]: 'FAILED_PRECONDITION',
  [grpc.status.ABORTED]: 'CONFLICT',
  [grpc.status.OUT_OF_RANGE]: 'INVALID_ARGUMENT',
  // A peer that does not serve the call (an HTTP/2 server answering 404) is no broker to talk to: unavailable.
  [grpc.status.UNIMPLEMENTED]: 'UNAVAILABLE',
  [grpc.status.INTERNAL]: 'INTERNAL',
  [grpc.status.UNAVAILABLE]: 'UNAVAILABLE',
  [grpc.status.DATA_LOSS]: 'INTEGRITY',
  [grpc.status.UNAUTHENTICATED]: 'PERMISSION_DENIED',
};

/** What a handler ends a call with: a status code and a one-line message. */
export interface GrpcStatusError {
  readonly code: grpc.status;
  readonly details: string;
}

/**
 * The one mapping from the project's error categories to gRPC status codes (INTEGRITY -> DATA_LOSS,
 * CONFLICT and FAILED_PRECONDITION -> FAILED_PRECONDITION, ...). Anything that is not a TribError becomes INTERNAL
 * with its message only: a peer never sees a stack trace.
 */
export function toGrpcStatus(e: unknown): GrpcStatusError {
  if (e instanceof TribError) return { code: TO_GRPC[e.code] ?? grpc.status.INTERNAL, details: oneLine(e.message) };
  if (isServiceError(e)) return { code: e.code, details: oneLine(e.details || e.message) };
  const message = e instanceof Error ? e.message : String(e);
  return { code: grpc.status.INTERNAL, details: oneLine(`internal error: ${message}`) };
}

/** The grpc-js status code a TribError code maps to. */
export function grpcCodeOf(code: ErrorCode): grpc.status {
  return TO_GRPC[code];
}

/**
 * Back from a gRPC status (a grpc-js ServiceError or a plain {code, details}) to a TribError of the matching
 * category, keeping the peer's message and the status in `details.grpcCode`. A TribError passes through unchanged.
 */
export function fromGrpcError(e: unknown): TribError {
  if (e instanceof TribError) return e;
  if (isServiceError(e)) {
    const code = FROM_GRPC[e.code as grpc.status] ?? 'INTERNAL';
    // grpc-js ends a failed connection's text with "Resolution note: " and, for an address, nothing after it.
    const text = e.details || e.message || grpc.status[e.code] || 'gRPC call failed';
    let message = text.replace(/\s*Resolution note:\s*$/, '');
    if (e.code === grpc.status.UNIMPLEMENTED) message = `it does not serve this call: not a Tributary broker, or another version (${message})`;
    if (e.code === grpc.status.DEADLINE_EXCEEDED) message = deadlineInWords(message);
    return tribError(code, message, { grpcCode: grpc.status[e.code] ?? e.code }, e);
  }
  return new TribError('INTERNAL', e instanceof Error ? e.message : String(e), {}, { cause: e });
}

/**
 * grpc-js's text for a deadline passed ("Deadline exceeded after 10.001s,metadata filters: 0.001s,Waiting for LB
 * pick") in words: how long, and, when the call never got a connection (still waiting for a pick or a name), that
 * none could be set up, as with a port that takes TCP connections but does not speak gRPC.
 */
function deadlineInWords(text: string): string {
  const after = /after (\d+(?:\.\d+)?)s/.exec(text);
  const within = after ? ` within ${Math.round(Number(after[1]) * 10) / 10} s` : '';
  const unconnected = /LB pick|name resolution/i.test(text);
  return `no answer${within}${unconnected ? ', and no gRPC connection could be set up meanwhile (is it a Tributary broker?)' : ''}`;
}

type ErrorClass = new (message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) => TribError;

const CLASSES: Partial<Record<ErrorCode, ErrorClass>> = {
  NOT_FOUND: NotFoundError,
  ALREADY_EXISTS: AlreadyExistsError,
  CONFLICT: ConflictError,
  INVALID_ARGUMENT: InvalidArgumentError,
  FAILED_PRECONDITION: FailedPreconditionError,
  INTEGRITY: IntegrityError,
  PERMISSION_DENIED: PermissionDeniedError,
  RESOURCE_EXHAUSTED: ResourceExhaustedError,
  UNAVAILABLE: UnavailableError,
};

/** A TribError of the subclass for `code` (NotFoundError for NOT_FOUND, ...), so callers can use instanceof. */
export function tribError(code: ErrorCode, message: string, details: Record<string, unknown> = {}, cause?: unknown): TribError {
  const Class = CLASSES[code];
  return Class ? new Class(message, details, { cause }) : new TribError(code, message, details, { cause });
}

function isServiceError(e: unknown): e is { code: number; details: string; message: string } {
  return typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'number';
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').slice(0, 2000);
}
