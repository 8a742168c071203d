import * as http from 'node:http';
import * as https from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  BlobServiceClient,
  HttpOperationResponse,
  RequestPolicy,
  RequestPolicyFactory,
  StorageSharedKeyCredential,
  WebResource,
  newPipeline,
} from '@azure/storage-blob';
import { FailedPreconditionError, InvalidArgumentError } from '@tributary/core';
import { jitteredRetryPolicy } from './azure-retry';

export interface AzureTransportOptions {
  /** TCP connect timeout in ms (default 5 s). */
  readonly connectTimeoutMs: number;
  /** Longest a connection may go without traffic, waiting for an answer or mid-transfer, in ms (default 30 s). */
  readonly requestTimeoutMs: number;
  /** Attempts per request, the first included (default 3). */
  readonly maxTries: number;
  /** The first retry waits up to this long, each later one up to twice as long as the one before (default 1 s). */
  readonly retryDelayMs: number;
}

export interface AzureServiceClient {
  readonly service: BlobServiceClient;
  /** The blob endpoint, without credentials, for messages. */
  readonly endpoint: string;
  /** Releases pooled connections. */
  close(): void;
}

/**
 * A BlobServiceClient for the account named by AZURE_STORAGE_CONNECTION_STRING (or AZURE_STORAGE_ACCOUNT with
 * AZURE_STORAGE_KEY, the Azure CLI's variables), with client-side timeouts and bounded retries.
 *
 * Why the extra policy and agent: in @azure/storage-blob 12.32 the retry option `tryTimeoutInMs` only becomes the
 * server-side `timeout` query parameter; nothing on the client stops waiting. The per-request `timeout` of the
 * HTTP client would, but it leaves its timer running when a request fails (keeping a process alive for the whole
 * timeout after, say, a refused connection). So every request gets an agent whose sockets give up connecting
 * after `connectTimeoutMs` and are dropped after `requestTimeoutMs` without traffic, which covers waiting for an
 * answer and a stalled transfer alike (AzureBlobStore.getStream then resumes a download where it stopped); a
 * pooled connection gets the limit again each time it is reused.
 * Retries are this adapter's own, with jitter (azure-retry.ts); the SDK's policy is left one try.
 * Throws FailedPreconditionError when no credentials are configured.
 */
export function createAzureServiceClient(options: AzureTransportOptions): AzureServiceClient {
  const parsed = clientFromEnvironment();
  const agents = {
    http: timeoutAgent(http.Agent, options),
    https: timeoutAgent(https.Agent, options),
  };
  const pipeline = newPipeline(parsed.credential, {
    retryOptions: { maxTries: 1, tryTimeoutInMs: options.requestTimeoutMs },
    keepAliveOptions: { enable: true },
  });
  // Outermost first: each retry goes through the SDK's policies again, so it is signed afresh.
  pipeline.factories.push(
    jitteredRetryPolicy({ maxTries: options.maxTries, baseDelayMs: options.retryDelayMs, maxDelayMs: 8 * options.retryDelayMs }),
    agentPolicy(agents),
  );
  const service = new BlobServiceClient(parsed.url, pipeline);
  return {
    service,
    endpoint: withoutQuery(parsed.url),
    close: () => {
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}

function clientFromEnvironment(): BlobServiceClient {
  const connectionString = process.env.AZURE_STORAGE_CONNECTION_STRING;
  if (connectionString) {
    try {
      return BlobServiceClient.fromConnectionString(connectionString);
    } catch (e) {
      // The SDK's own words ("Invalid URL") name neither the variable nor the value's problem.
      throw new InvalidArgumentError(`AZURE_STORAGE_CONNECTION_STRING is not a connection string the Azure SDK can read: ${(e as Error).message}`);
    }
  }
  const account = process.env.AZURE_STORAGE_ACCOUNT;
  const key = process.env.AZURE_STORAGE_KEY;
  if (account && key) {
    return new BlobServiceClient(
      `https://${account}.blob.core.windows.net`,
      new StorageSharedKeyCredential(account, key),
    );
  }
  throw new FailedPreconditionError(
    'no Azure credentials: set AZURE_STORAGE_CONNECTION_STRING (or AZURE_STORAGE_ACCOUNT and AZURE_STORAGE_KEY)',
  );
}

/** A legacy-style policy, the public way to reach every request of a 12.x pipeline. */
function agentPolicy(agents: { http: http.Agent; https: https.Agent }): RequestPolicyFactory {
  return {
    create(next: RequestPolicy): RequestPolicy {
      return {
        sendRequest(request: WebResource): Promise<HttpOperationResponse> {
          if (!request.agent) request.agent = request.url.startsWith('https:') ? agents.https : agents.http;
          return next.sendRequest(request);
        },
      };
    },
  };
}

function guard(socket: Socket, options: AzureTransportOptions, host: string): void {
  const timer = setTimeout(() => {
    socket.destroy(errnoError('ETIMEDOUT', `connect ETIMEDOUT ${host} (no answer within ${options.connectTimeoutMs} ms)`));
  }, options.connectTimeoutMs);
  timer.unref();
  socket.once('connect', () => {
    clearTimeout(timer);
    socket.setTimeout(options.requestTimeoutMs);
  });
  socket.once('close', () => clearTimeout(timer));
  socket.on('timeout', () => {
    socket.destroy(errnoError('ETIMEDOUT', `connection to ${host} idle for ${options.requestTimeoutMs} ms`));
  });
}

/** A keep-alive agent of class `Base` (http's or https's) whose connections carry the timeouts, pooled ones too. */
function timeoutAgent<A extends http.Agent>(Base: new (options: http.AgentOptions) => A, timeouts: AzureTransportOptions): A {
  const TimeoutAgent = class extends (Base as new (options: http.AgentOptions) => http.Agent) {
    override createConnection(options: http.ClientRequestArgs, cb?: (err: Error | null, s: Duplex) => void): Duplex {
      const socket = (Base.prototype as unknown as AgentInternals).createConnection.call(this, options, cb);
      guard(socket, timeouts, `${options.host ?? options.hostname}:${options.port}`);
      return socket;
    }

    /** A pooled connection had its idle limit cleared when it went back to the pool; it gets it again here. */
    override reuseSocket(socket: Socket, request: http.ClientRequest): void {
      super.reuseSocket(socket, request);
      socket.setTimeout(timeouts.requestTimeoutMs);
    }
  };
  return new TimeoutAgent({ keepAlive: true }) as A;
}

interface AgentInternals {
  createConnection(this: http.Agent, options: http.ClientRequestArgs, cb?: (err: Error | null, s: Duplex) => void): Socket;
}

function errnoError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

function withoutQuery(url: string): string {
  const i = url.indexOf('?');
  return i < 0 ? url : url.slice(0, i);
}
