import {
  FailedPreconditionError,
  IntegrityError,
  InvalidArgumentError,
  NotFoundError,
  PermissionDeniedError,
  TribError,
  UnavailableError,
  isTribError,
} from '@tributary/core';
import { foreignAnswer, isWebPage } from '../cloud/foreign-answer';

/** HTTP status of a failed Azure call (RestError.statusCode), or undefined for network and client failures. */
export function azureStatus(e: unknown): number | undefined {
  const status = (e as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

/** The service's error code (`x-ms-error-code`, e.g. BlobNotFound, ContainerNotFound), or the errno code. */
export function azureCode(e: unknown): string | undefined {
  const err = e as { code?: unknown; details?: { errorCode?: unknown } } | null;
  const code = err?.details?.errorCode ?? err?.code;
  return typeof code === 'string' ? code : undefined;
}

export function isMissingContainer(e: unknown): boolean {
  return azureStatus(e) === 404 && azureCode(e) === 'ContainerNotFound';
}

/**
 * Azure's 404 for a blob (BlobNotFound, or another code that is not the container's). Every answer of Azure Storage
 * carries an error code, HEAD's too (`x-ms-error-code`); a 404 without one is a page from something else.
 */
export function isBlobAbsent(e: unknown): boolean {
  const code = azureCode(e);
  return azureStatus(e) === 404 && code !== undefined && code !== 'ContainerNotFound';
}

/** A one-line reason without the SDK's multi-line request dump. */
export function azureReason(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  return message.split('\n')[0].trim();
}

/**
 * Maps any Azure SDK failure to the project's categories. `what` completes "cannot ...", e.g.
 * `read packs/x in az://container/prefix`; `endpoint` is named when the service could not be reached.
 * Statuses with an operation-specific meaning (404 on reads, 409/412 on conditional writes) are handled by the
 * caller first.
 */
export function azureError(e: unknown, what: string, endpoint: string, details: Record<string, unknown>): TribError {
  if (isTribError(e)) return e;
  const status = azureStatus(e);
  const code = azureCode(e);
  const reason = azureReason(e);
  const all = { ...details, ...(status !== undefined ? { status } : {}), ...(code ? { azureCode: code } : {}) };
  if (status === undefined || status === 0) {
    if ((e as { name?: unknown } | null)?.name === 'AbortError') {
      // The SDK aborts both a request past its deadline and a download whose connection broke off mid-way.
      return new UnavailableError(`cannot ${what}: no answer from ${endpoint} in time, or the connection dropped`, { ...all, endpoint }, { cause: e });
    }
    // The SDK trips over a successful answer it cannot parse (an HTML page from a proxy or another server).
    if (e instanceof TypeError) {
      return new UnavailableError(`cannot ${what}: ${foreignAnswer(what, endpoint, undefined, 'Azure Blob Storage')}`, { ...all, endpoint }, { cause: e });
    }
    return new UnavailableError(`cannot ${what}: cannot reach ${endpoint}: ${reason}`, { ...all, endpoint }, { cause: e });
  }
  // An answer without an Azure error code did not come from Azure Storage (a gateway's page, or a BlobEndpoint that
  // names some other server): say who answered rather than print an empty reason or a page's first line.
  const message = code
    ? `cannot ${what}: ${code} (HTTP ${status})`
    : `cannot ${what}: ${what.includes(endpoint) ? 'it' : endpoint} answered HTTP ${status} without an Azure error code (a proxy or another server?)`;
  // A web page, whatever its status, is no answer of Azure Storage's: UNAVAILABLE, as on S3 and GCS.
  if (!code && isWebPage(headersOf(e))) return new UnavailableError(message, { ...all, endpoint }, { cause: e });
  if (status === 404) return new NotFoundError(message, all, { cause: e });
  if (status === 401 || status === 403) return new PermissionDeniedError(message, all, { cause: e });
  if (code === 'Md5Mismatch' || code === 'Crc64Mismatch') return new IntegrityError(message, all, { cause: e });
  if (status === 409 || status === 412) return new FailedPreconditionError(message, all, { cause: e });
  if (status === 400 || status === 413 || status === 416) return new InvalidArgumentError(message, all, { cause: e });
  return new UnavailableError(message, { ...all, endpoint }, { cause: e });
}

/** The answer's headers as a plain map of the one isWebPage reads (the SDK keeps them behind a `get`). */
function headersOf(e: unknown): Record<string, unknown> | undefined {
  const headers = (e as { response?: { headers?: { get?: (name: string) => string | undefined } } } | null)?.response?.headers;
  return typeof headers?.get === 'function' ? { 'content-type': headers.get('content-type') } : undefined;
}
