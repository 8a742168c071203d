import {
  IntegrityError,
  InvalidArgumentError,
  NotFoundError,
  PermissionDeniedError,
  TribError,
  UnavailableError,
  isTribError,
} from '@tributary/core';
import { foreignAnswer, isWebPage } from '../cloud/foreign-answer';

/*
 * The Node client fails in several shapes: ApiError (JSON API, `code` = HTTP status), GaxiosError (resumable
 * uploads, status in `response.status`), a plain Error with a numeric `code` (a failed resumable chunk),
 * RequestError with a string code (checksum mismatch), and fetch errors with an errno code (network).
 */

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
]);

/** The service as messages name it. */
export const GCS_SERVICE = 'the GCS JSON API';

/** The HTTP status of a failed GCS call, or undefined for a network or client-side failure. */
export function gcsStatus(e: unknown): number | undefined {
  const err = e as { code?: unknown; status?: unknown; response?: { status?: unknown; statusCode?: unknown } } | null;
  for (const v of [err?.code, err?.response?.status, err?.response?.statusCode, err?.status]) {
    if (typeof v === 'number' && v >= 100 && v < 600) return v;
    if (typeof v === 'string' && /^[1-5]\d\d$/.test(v)) return Number(v);
  }
  return undefined;
}

/** Whether a failed answer was a web page, which the JSON API never sends: something at the endpoint is not GCS. */
export function isGcsWebPage(e: unknown): boolean {
  return isWebPage((e as { response?: { headers?: unknown } } | null)?.response?.headers);
}

/** True when GCS said the bucket itself is missing (as opposed to an object in it). */
export function isMissingBucket(e: unknown): boolean {
  return gcsStatus(e) === 404 && /bucket does not exist/i.test(gcsReason(e));
}

/** A one-line reason: the JSON API message when there is one, else the error's own message. */
export function gcsReason(e: unknown): string {
  const err = e as { message?: unknown; errors?: { message?: unknown }[]; code?: unknown; type?: unknown } | null;
  let message = typeof err?.message === 'string' ? err.message : String(e);
  // Stream errors carry the raw JSON error body as their message.
  if (message.startsWith('{')) {
    try {
      const parsed = JSON.parse(message) as { error?: { message?: unknown } };
      if (typeof parsed.error?.message === 'string') message = parsed.error.message;
    } catch {
      // Keep the raw text.
    }
  }
  const inner = err?.errors?.find((x) => typeof x?.message === 'string')?.message;
  if (typeof inner === 'string' && inner !== message && !message.includes(inner)) message = `${message}: ${inner}`;
  return message.split('\n')[0];
}

/**
 * Maps any GCS client failure to the project's categories. `what` completes "cannot ...", e.g.
 * `read packs/x in gs://bucket/prefix`; `endpoint` is named when the service could not be reached.
 * Statuses with an operation-specific meaning (404 on reads, 412) are handled by the caller first.
 */
export function gcsError(e: unknown, what: string, endpoint: string, details: Record<string, unknown>): TribError {
  if (isTribError(e)) return e;
  const status = gcsStatus(e);
  const reason = gcsReason(e);
  const code = (e as { code?: unknown } | null)?.code;
  const all = { ...details, ...(status !== undefined ? { status } : {}) };
  if (isGcsWebPage(e)) {
    return new UnavailableError(`cannot ${what}: ${foreignAnswer(what, endpoint, status, GCS_SERVICE)}`, { ...all, endpoint }, { cause: e });
  }
  if (status === undefined) {
    if (code === 'FILE_NO_UPLOAD' || code === 'CONTENT_DOWNLOAD_MISMATCH' || code === 'FILE_NO_UPLOAD_DELETE') {
      return new IntegrityError(`cannot ${what}: checksum mismatch (${reason})`, all, { cause: e });
    }
    const network = typeof code === 'string' && NETWORK_CODES.has(code);
    const timeout = (e as { type?: unknown } | null)?.type === 'request-timeout' || /timeout/i.test(reason);
    if (network || timeout) {
      return new UnavailableError(`cannot ${what}: cannot reach ${endpoint}: ${reason}`, { ...all, endpoint }, { cause: e });
    }
    return new UnavailableError(`cannot ${what}: ${reason}`, { ...all, endpoint }, { cause: e });
  }
  const message = `cannot ${what}: ${reason} (HTTP ${status})`;
  if (status === 404) return new NotFoundError(message, all, { cause: e });
  if (status === 401 || status === 403) return new PermissionDeniedError(message, all, { cause: e });
  if (status === 400 && /hash|crc32c|md5/i.test(reason)) return new IntegrityError(message, all, { cause: e });
  if (status === 400 || status === 411 || status === 413) return new InvalidArgumentError(message, all, { cause: e });
  return new UnavailableError(message, { ...all, endpoint }, { cause: e });
}
