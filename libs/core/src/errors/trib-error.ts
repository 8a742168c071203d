/**
 * Error categories. Each maps to exactly one gRPC status and one CLI exit code (see the mappings next to the
 * transports). Adapters translate SDK and OS errors into these; nothing else crosses a layer.
 */
export type ErrorCode =
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'CONFLICT'
  | 'INVALID_ARGUMENT'
  | 'FAILED_PRECONDITION'
  | 'INTEGRITY'
  | 'PERMISSION_DENIED'
  | 'RESOURCE_EXHAUSTED'
  | 'UNAVAILABLE'
  | 'INTERNAL';

export class TribError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }

  toJSON(): { code: ErrorCode; message: string; details: Record<string, unknown> } {
    return { code: this.code, message: this.message, details: this.details };
  }
}

export class NotFoundError extends TribError {
  constructor(message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super('NOT_FOUND', message, details, options);
  }
}
export class AlreadyExistsError extends TribError {
  constructor(message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super('ALREADY_EXISTS', message, details, options);
  }
}
/** A compare-and-swap lost a race, or two changes collide. */
export class ConflictError extends TribError {
  constructor(message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super('CONFLICT', message, details, options);
  }
}
export class InvalidArgumentError extends TribError {
  constructor(message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super('INVALID_ARGUMENT', message, details, options);
  }
}
export class FailedPreconditionError extends TribError {
  constructor(message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super('FAILED_PRECONDITION', message, details, options);
  }
}
/** Stored or received bytes do not hash to their id, or an object is malformed. */
export class IntegrityError extends TribError {
  constructor(message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super('INTEGRITY', message, details, options);
  }
}
export class PermissionDeniedError extends TribError {
  constructor(message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super('PERMISSION_DENIED', message, details, options);
  }
}
export class ResourceExhaustedError extends TribError {
  constructor(message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super('RESOURCE_EXHAUSTED', message, details, options);
  }
}
/** A store or service could not be reached or kept failing after retries. */
export class UnavailableError extends TribError {
  constructor(message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super('UNAVAILABLE', message, details, options);
  }
}

export function isTribError(e: unknown): e is TribError {
  return e instanceof TribError;
}

/** An error in one line for a log: `CODE: message` for a TribError, else its message. */
export function describeError(e: unknown): string {
  if (isTribError(e)) return `${e.code}: ${e.message}`;
  return e instanceof Error ? e.message : String(e);
}
