import {
  ConflictError,
  FailedPreconditionError,
  NotFoundError,
  PermissionDeniedError,
  ResourceExhaustedError,
  TribError,
  UnavailableError,
  isTribError,
} from '@tributary/core';
import { foreignAnswer, isWebPage } from '../cloud/foreign-answer';

/** What an S3 SDK error says, read defensively: service errors, network errors and our own all pass here. */
export interface S3Failure {
  /** The service's error code (`NoSuchKey`, `PreconditionFailed`, ...) or the Node error code. */
  readonly code: string;
  /** HTTP status, when the service answered. */
  readonly status: number | undefined;
  readonly message: string;
}

/** Whether a failed answer was a web page, which S3 never sends: something at the endpoint is not S3. */
export function isS3WebPage(e: unknown): boolean {
  return isWebPage((e as { $response?: { headers?: unknown } } | null)?.$response?.headers);
}

export function describeS3Failure(e: unknown): S3Failure {
  const err = (e ?? {}) as {
    name?: unknown;
    Code?: unknown;
    code?: unknown;
    message?: unknown;
    $metadata?: { httpStatusCode?: unknown };
    $response?: { statusCode?: unknown };
  };
  const rawStatus = err.$metadata?.httpStatusCode ?? err.$response?.statusCode;
  const status = typeof rawStatus === 'number' ? rawStatus : undefined;
  const code = [err.Code, err.code, err.name].find((c): c is string => typeof c === 'string' && c !== '') ?? 'Error';
  const text = (typeof err.message === 'string' ? err.message : String(e)).replace(/^AWS SDK error wrapper for /, '');
  // Bodiless responses (HEAD) leave the SDK with codes and messages such as "Unknown" that say nothing.
  const vague = text === '' || text === code || text === 'UnknownError' || text === 'Unknown';
  const message = vague ? (status === undefined ? code : VAGUE_STATUS[status] ?? code) : text;
  return { code, status, message: status === undefined ? message : `${message} (HTTP ${status})` };
}

const VAGUE_STATUS: Record<number, string> = {
  400: 'bad request',
  401: 'not authenticated',
  403: 'access denied',
  404: 'not found',
  409: 'conflict',
  412: 'precondition failed',
  416: 'range not satisfiable',
  500: 'internal server error',
  503: 'service unavailable',
};

export function isS3NotFound(e: unknown): boolean {
  const { code, status } = describeS3Failure(e);
  return status === 404 || code === 'NoSuchKey' || code === 'NotFound' || code === 'NoSuchBucket';
}

export function isS3PreconditionFailed(e: unknown): boolean {
  const { code, status } = describeS3Failure(e);
  return status === 412 || code === 'PreconditionFailed';
}

/** A concurrent conditional operation on the same key was in progress (S3 answers 409 ConditionalRequestConflict). */
export function isS3ConditionalConflict(e: unknown): boolean {
  const { code, status } = describeS3Failure(e);
  return code === 'ConditionalRequestConflict' || (status === 409 && code !== 'BucketAlreadyOwnedByYou');
}

const DENIED = new Set([
  'AccessDenied',
  'Forbidden',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'InvalidToken',
  'TokenRefreshRequired',
  'CredentialsProviderError',
  'AccountProblem',
  'AllAccessDisabled',
]);
const WRONG_PLACE = new Set([
  'PermanentRedirect',
  'AuthorizationHeaderMalformed',
  'IllegalLocationConstraintException',
]);
const NETWORK = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'EPIPE',
  'TimeoutError',
]);

/**
 * Maps an S3 SDK (or network) error to the project's categories. `what` completes "cannot ...", for example
 * `read packs/x in s3://bucket/repo`; `endpoint` is named when the store could not be reached. TribErrors pass
 * through unchanged.
 */
export function s3Error(e: unknown, what: string, endpoint: string, details: Record<string, unknown> = {}): TribError {
  if (isTribError(e)) return e;
  const failure = describeS3Failure(e);
  const { code, status } = failure;
  const all = { ...details, s3Code: code, httpStatus: status };
  const message = `cannot ${what}: ${failure.message}`;
  if (isS3WebPage(e)) {
    return new UnavailableError(`cannot ${what}: ${foreignAnswer(what, endpoint, status, 'S3')}`, { ...all, endpoint }, { cause: e });
  }
  if (code === 'NoSuchBucket') {
    return new NotFoundError(`cannot ${what}: the bucket does not exist at ${endpoint}`, all, { cause: e });
  }
  if (status === 404 || code === 'NoSuchKey' || code === 'NotFound') {
    return new NotFoundError(message, all, { cause: e });
  }
  // No credentials found is a setting to fix, as Azure's and GCS's are: not a refusal by the service.
  if (code === 'CredentialsProviderError') {
    const hint = /AWS_ACCESS_KEY_ID/.test(message) ? '' : '; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)';
    return new FailedPreconditionError(`${message}${hint}`, all, { cause: e });
  }
  if (DENIED.has(code) || status === 401 || status === 403) {
    return new PermissionDeniedError(`${message}; check the credentials for ${endpoint}`, all, { cause: e });
  }
  if (status === 412 || status === 409 || code === 'PreconditionFailed') {
    return new ConflictError(message, all, { cause: e });
  }
  if (WRONG_PLACE.has(code) || status === 301 || status === 307) {
    return new FailedPreconditionError(`${message}; is AWS_REGION right for this bucket?`, all, { cause: e });
  }
  if (code === 'EntityTooLarge' || code === 'QuotaExceeded' || status === 507) {
    return new ResourceExhaustedError(message, all, { cause: e });
  }
  if (status === undefined && (NETWORK.has(code) || /ECONN|ETIMEDOUT|socket|timed out/i.test(failure.message))) {
    return new UnavailableError(`cannot ${what}: ${endpoint} is unreachable: ${failure.message}`, all, { cause: e });
  }
  if (status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429) {
    return new FailedPreconditionError(message, all, { cause: e });
  }
  return new UnavailableError(message, all, { cause: e });
}
