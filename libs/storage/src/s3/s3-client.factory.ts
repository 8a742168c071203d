import { S3Client } from '@aws-sdk/client-s3';
import { InvalidArgumentError } from '@tributary/core';
import { isWebPage } from '../cloud/foreign-answer';

/** Attempts per request, the first included; the SDK's standard mode backs off with full jitter between them. */
export const S3_MAX_ATTEMPTS = 3;

/** Per-attempt limits, in milliseconds. */
export interface S3Timeouts {
  /** To establish a connection (default 3 s): an unreachable endpoint fails within seconds. */
  readonly connectMs: number;
  /** A socket with no bytes either way for this long, even while a body streams, is abandoned (default 30 s). */
  readonly idleMs: number;
  /** From sending a request with a body (a part, an object) to its response headers (default 300 s). */
  readonly requestMs: number;
  /**
   * The same for requests without a body or with a tiny one (HEAD, GET up to the headers, LIST, DELETE, a ref
   * update), default 10 s.
   */
  readonly quickRequestMs: number;
}

export const S3_DEFAULT_TIMEOUTS: S3Timeouts = {
  connectMs: 3_000,
  idleMs: 30_000,
  requestMs: 300_000,
  quickRequestMs: 10_000,
};

/** A configured client and where it points, for messages. */
export interface S3Connection {
  readonly client: S3Client;
  /** The endpoint override, or undefined for AWS itself. */
  readonly endpoint: string | undefined;
}

/**
 * Builds an S3 client from the standard AWS environment variables in `env`:
 * - endpoint: `AWS_ENDPOINT_URL_S3`, else `AWS_ENDPOINT_URL`; with an override, path-style addressing is used;
 * - credentials: `AWS_ACCESS_KEY_ID` + `AWS_SECRET_ACCESS_KEY` (+ `AWS_SESSION_TOKEN`); without them the SDK's
 *   default chain, except with an endpoint override, where the chain would end by probing the cloud metadata
 *   service: there the missing keys are reported instead;
 * - region: `AWS_REGION`, else `AWS_DEFAULT_REGION`, else `us-east-1` with an override (emulators ignore it) or
 *   the SDK's default chain (the shared config file) without one.
 *
 * Checksums are computed only when an operation requires them: with the SDK's default (`WHEN_SUPPORTED`) streamed
 * puts are sent with aws-chunked framing, which S3-compatible stores such as s3rver store verbatim, corrupting the
 * object. Timeouts (see S3Timeouts; requests without a body should pass `quickRequestMs` as their
 * `requestTimeout`) and bounded, jittered retries are always set. Throws InvalidArgumentError for a malformed
 * endpoint.
 */
export function connectS3(
  env: NodeJS.ProcessEnv = process.env,
  timeouts: S3Timeouts = S3_DEFAULT_TIMEOUTS,
): S3Connection {
  const endpoint = endpointFrom(env);
  const region = nonEmpty(env.AWS_REGION) ?? nonEmpty(env.AWS_DEFAULT_REGION) ?? (endpoint ? 'us-east-1' : undefined);
  const accessKeyId = nonEmpty(env.AWS_ACCESS_KEY_ID);
  const secretAccessKey = nonEmpty(env.AWS_SECRET_ACCESS_KEY);
  const keys = accessKeyId && secretAccessKey
    ? { accessKeyId, secretAccessKey, sessionToken: nonEmpty(env.AWS_SESSION_TOKEN) }
    : undefined;
  const credentials = keys ?? (endpoint ? missingKeys(endpoint) : undefined);
  const client = new S3Client({
    endpoint,
    forcePathStyle: endpoint !== undefined,
    region,
    credentials,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: S3_MAX_ATTEMPTS,
    retryMode: 'standard',
    followRegionRedirects: endpoint === undefined,
    // With `Expect: 100-continue` (the SDK's default above 2 MB) the SDK sends each part on a new connection
    // without keep-alive and waits a round trip before the body: a TCP (and TLS) handshake per part on long links.
    expectContinueHeader: false,
    requestHandler: {
      connectionTimeout: timeouts.connectMs,
      socketTimeout: timeouts.idleMs,
      requestTimeout: timeouts.requestMs,
      throwOnRequestTimeout: true,
    },
  });
  client.middlewareStack.add(refuseWebPages, { step: 'deserialize', name: 'tribRefuseWebPages' });
  return { client, endpoint };
}

/**
 * A 2xx answer that is a web page came from something in front of S3 or in its place (S3 never sends one; this
 * store writes no HTML): the SDK would take it for a bucket that exists or an object's bytes. It fails as an error
 * carrying the answer, which s3Error names as such.
 */
const refuseWebPages = ((next: (args: unknown) => Promise<{ response: unknown; output: unknown }>) => async (args: unknown) => {
  const out = await next(args);
  const response = out.response as { statusCode?: number; headers?: Record<string, string> } | undefined;
  if (response && isWebPage(response.headers)) {
    (out.output as { Body?: { destroy?: () => void } } | undefined)?.Body?.destroy?.();
    throw Object.assign(new Error('a web page'), { $response: response, $metadata: { httpStatusCode: response.statusCode } });
  }
  return out;
}) as unknown as Parameters<S3Client['middlewareStack']['add']>[0];

function endpointFrom(env: NodeJS.ProcessEnv): string | undefined {
  for (const name of ['AWS_ENDPOINT_URL_S3', 'AWS_ENDPOINT_URL']) {
    const value = nonEmpty(env[name]);
    if (value === undefined) continue;
    let parsed: URL;
    try {
      parsed = new URL(value);
    } catch {
      throw new InvalidArgumentError(`${name}=${JSON.stringify(value)} is not a URL`, { variable: name });
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new InvalidArgumentError(`${name}=${JSON.stringify(value)} must be an http:// or https:// URL`, {
        variable: name,
      });
    }
    return value.replace(/\/+$/, '');
  }
  return undefined;
}

/** A credential provider that fails at once, so the SDK never falls through to instance metadata. */
function missingKeys(endpoint: string): () => Promise<never> {
  return async () => {
    throw Object.assign(
      new Error(`no credentials for ${endpoint}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY`),
      { name: 'CredentialsProviderError' },
    );
  };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}
