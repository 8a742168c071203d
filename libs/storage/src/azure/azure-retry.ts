import type { HttpOperationResponse, RequestPolicy, RequestPolicyFactory, WebResource } from '@azure/storage-blob';
import { sleep } from '@tributary/core';

/**
 * How the Azure adapter retries, in place of the SDK's own retry policy.
 *
 * Why not the SDK's: in @azure/storage-blob 12.32 (the newest that runs on Node 20) its exponential delays carry no
 * jitter, so every client throttled at the same moment comes back at the same moments (0 s, 1 s, 3 s), and it does
 * not retry 429 at all.
 */
export interface AzureRetryOptions {
  /** Attempts per request, the first included. */
  readonly maxTries: number;
  /** The wait before try n+1 is drawn uniformly from [0, min(maxDelayMs, baseDelayMs x 2^(n-1))]. */
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

/** Throttling (429, and 503 ServerBusy, Azure's usual answer), the service's own failures and gateways'. */
const RETRIED_STATUSES = new Set([408, 429, 500, 502, 503, 504]);

/**
 * Failures to reach the service or to hear its answer, by errno or the SDK's own code. PARSE_ERROR without a status
 * is an answer whose body broke off mid-way (a dropped connection).
 */
const RETRIED_CODES = new Set([
  'PARSE_ERROR',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'REQUEST_SEND_ERROR',
]);

/**
 * The wait before try `attempt + 1`, after `attempt` tries failed: "full jitter" (uniform between zero and the
 * capped exponential step), which spreads clients that failed together the most for the least total wait.
 * A `Retry-After` the service sent, when longer, is honoured up to `maxDelayMs`.
 */
export function retryDelayMs(attempt: number, options: AzureRetryOptions, retryAfterMs = 0, random: () => number = Math.random): number {
  const step = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** (attempt - 1));
  return Math.max(Math.floor(random() * step), Math.min(retryAfterMs, options.maxDelayMs));
}

/**
 * Whether a try that failed with `error` is worth another. In 12.32 the SDK's own policies, inside this one, turn
 * every failed answer into a thrown RestError carrying its status, so no answer needs judging here.
 */
export function isRetriable(error: unknown): boolean {
  const e = error as { name?: unknown; code?: unknown; statusCode?: unknown } | null;
  if (e?.name === 'AbortError') return false;
  // Unparsable answers (a gateway's HTML 503) carry their status too.
  if (typeof e?.statusCode === 'number' && e.statusCode > 0) return RETRIED_STATUSES.has(e.statusCode);
  return typeof e?.code === 'string' && RETRIED_CODES.has(e.code);
}

/** A pipeline policy that tries each request up to `maxTries` times, waiting `retryDelayMs` in between. */
export function jitteredRetryPolicy(options: AzureRetryOptions): RequestPolicyFactory {
  return {
    create(next: RequestPolicy): RequestPolicy {
      return {
        async sendRequest(request: WebResource): Promise<HttpOperationResponse> {
          for (let attempt = 1; ; attempt++) {
            try {
              return await next.sendRequest(request);
            } catch (e) {
              if (attempt >= options.maxTries || !isRetriable(e)) throw e;
              const signal = request.abortSignal as AbortSignal | undefined;
              await sleep(retryDelayMs(attempt, options, retryAfterMs(e)), signal);
              if (signal?.aborted) throw Object.assign(new Error('The operation was aborted.'), { name: 'AbortError' });
            }
          }
        },
      };
    },
  };
}

/** `Retry-After` in seconds (the form Azure sends) of the answer a failure carries, in ms; 0 without one. */
export function retryAfterMs(failure: unknown): number {
  const headers = (failure as { response?: { headers?: { get?: (name: string) => string | undefined } } } | undefined)?.response?.headers;
  const value = typeof headers?.get === 'function' ? headers.get('retry-after') : undefined;
  const seconds = value === undefined ? NaN : Number(value);
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 0;
}
