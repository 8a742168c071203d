import * as http from 'node:http';
import { AddressInfo } from 'node:net';

/**
 * An HTTP proxy for tests that puts in front of an S3-compatible server which ignores conditional writes (s3rver
 * accepts `If-None-Match` and `If-Match` and then overwrites anyway) the behaviour Amazon S3 documents for them:
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html
 * (and, for DeleteObject, https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-deletes.html).
 *
 * - PutObject and CompleteMultipartUpload with `If-None-Match: *` when the key exists: 412 PreconditionFailed.
 * - PutObject and CompleteMultipartUpload with `If-Match: <etag>`: 404 NoSuchKey when the key has no object,
 *   412 PreconditionFailed when its ETag differs.
 * - DeleteObject with `If-Match: <etag>`: 404 NoSuchKey when absent, 412 when the ETag differs.
 * - GetObject with `If-Match: <etag>` (a download resumed from the byte it reached): 404 NoSuchKey when absent, 412
 *   when the ETag differs (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html).
 * - Concurrent writes of one key. Mode 'serialize' (the default) evaluates each write's condition only once the
 *   previous write of that key has finished, so the first to finish wins and the others get 412, as S3 does for
 *   writes that do not overlap. Mode 'conflict' answers a conditional write that arrives while another write of
 *   the same key is in progress with 409 ConditionalRequestConflict, which S3 may also send and clients must
 *   handle ("retry the upload").
 * - Mode 'ignore' stands for an S3-compatible store that accepts conditional headers and ignores them, but whose
 *   writes are atomic as S3's are: every write is forwarded (conditions unjudged), and reads of a key wait for the
 *   write of that key in progress. s3rver alone truncates an object in place before writing it, so a read racing a
 *   write can see a partial object, which no real store shows.
 *
 * - Listings see only finished objects, as S3's do. s3rver reads each listed object's metadata file, which it
 *   rewrites in place on every write of the object, so a listing that meets a write in progress fails with 500
 *   InternalError (a half-written file parsed as JSON). The proxy asks again, a few times, before it passes a 500 on.
 *
 * Requests are expected in path style (`/bucket/key`). Everything else passes through unchanged, byte for byte,
 * headers included, so the client's signature still matches.
 */
export interface ConditionalProxyOptions {
  /** The S3-compatible server, e.g. `http://127.0.0.1:4568`. */
  readonly upstream: string;
  readonly mode?: 'serialize' | 'conflict' | 'ignore';
}

/** One write the proxy judged, for tests that check what a client sent. */
export interface ProxiedWrite {
  readonly operation: 'PutObject' | 'CompleteMultipartUpload' | 'DeleteObject';
  readonly key: string;
  readonly ifNoneMatch: string | undefined;
  readonly ifMatch: string | undefined;
  /** The status the proxy answered itself (412, 404, 409), or undefined when it forwarded the request. */
  readonly refused: number | undefined;
}

/** One request as received, for tests that check which headers a client sends on which operation. */
export interface ProxiedRequest {
  readonly method: string;
  /** Path and query, as sent. */
  readonly url: string;
  readonly ifNoneMatch: string | undefined;
  readonly ifMatch: string | undefined;
}

export interface ConditionalProxy {
  /** `http://127.0.0.1:<port>`. */
  readonly endpoint: string;
  /** Every object write judged, oldest first. */
  readonly writes: ProxiedWrite[];
  /** Every request received, oldest first. */
  readonly requests: ProxiedRequest[];
  /**
   * Called for each write that passed its conditions, while it holds its key and before it is forwarded: a test
   * can hold a write here to make others overlap it.
   */
  beforeForward?: (write: ProxiedWrite) => Promise<void>;
  close(): Promise<void>;
}

type Operation = ProxiedWrite['operation'];

/** Times a listing is sent to s3rver while it answers 500 (about 1.3 s of waits in all). */
const LISTING_ATTEMPTS = 8;

export async function startConditionalProxy(options: ConditionalProxyOptions): Promise<ConditionalProxy> {
  const upstream = new URL(options.upstream);
  const mode = options.mode ?? 'serialize';
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const busy = new Map<string, Promise<void>>();
  const writes: ProxiedWrite[] = [];
  const requests: ProxiedRequest[] = [];

  /** Runs `fn` after every earlier holder of `key` has finished. */
  async function withKey<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = busy.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => mine);
    busy.set(key, tail);
    await previous;
    try {
      return await fn();
    } finally {
      release();
      if (busy.get(key) === tail) busy.delete(key);
    }
  }

  function forward(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    return new Promise<void>((resolve) => {
      const headers = { ...req.headers };
      // Hop-by-hop: Node answers the client's 100-continue itself, and connections are per hop.
      delete headers.expect;
      delete headers.connection;
      const up = http.request(
        { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers, agent },
        (upRes) => {
          res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage, upRes.headers);
          upRes.pipe(res);
          upRes.on('end', resolve);
          upRes.on('error', () => {
            res.destroy();
            resolve();
          });
        },
      );
      up.on('error', (e) => {
        if (!res.headersSent) sendError(res, 502, 'BadGateway', `upstream failed: ${e.message}`);
        else res.destroy();
        resolve();
      });
      // A client that goes away mid-body must not leave the upstream to store what it got so far.
      req.on('aborted', () => up.destroy(new Error('client aborted')));
      res.on('close', () => {
        if (!res.writableFinished) up.destroy(new Error('client went away'));
        resolve();
      });
      req.pipe(up);
    });
  }

  /**
   * A bucket listing, asked again while s3rver answers 500 (see the header: a write in progress it tripped on).
   * Listings are small: the answer is held whole, so a retry is invisible to the client.
   */
  async function forwardListing(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const headers = { ...req.headers };
    delete headers.expect;
    delete headers.connection;
    for (let attempt = 0; ; attempt++) {
      const answer = await new Promise<{ status: number; message?: string; headers: http.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
        const up = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers, agent }, (upRes) => {
          const parts: Buffer[] = [];
          upRes.on('data', (b: Buffer) => parts.push(b));
          upRes.on('end', () => resolve({ status: upRes.statusCode ?? 502, message: upRes.statusMessage, headers: upRes.headers, body: Buffer.concat(parts) }));
          upRes.on('error', reject);
        });
        up.on('error', reject);
        up.end();
      });
      if (answer.status !== 500 || attempt >= LISTING_ATTEMPTS - 1) {
        res.writeHead(answer.status, answer.message, answer.headers);
        res.end(answer.body);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 10 * 2 ** attempt));
    }
  }

  /** The current ETag of the object at `path` (`/bucket/key`), or undefined when there is none. */
  function currentEtag(path: string): Promise<string | undefined> {
    return new Promise((resolve, reject) => {
      const head = http.request(
        { host: upstream.hostname, port: upstream.port, method: 'HEAD', path, agent },
        (res) => {
          res.resume();
          if (res.statusCode === 404) resolve(undefined);
          else if (res.statusCode === 200) resolve(String(res.headers.etag ?? ''));
          else reject(new Error(`HEAD ${path} answered ${res.statusCode}`));
        },
      );
      head.on('error', reject);
      head.end();
    });
  }

  async function judge(req: http.IncomingMessage, res: http.ServerResponse, op: Operation, path: string) {
    const key = decodeURIComponent(path);
    const ifNoneMatch = header(req, 'if-none-match');
    const ifMatch = header(req, 'if-match');
    const conditional = ifNoneMatch !== undefined || ifMatch !== undefined;
    const record = (refused: number | undefined) => {
      const write = { operation: op, key: key.split('/').slice(2).join('/'), ifNoneMatch, ifMatch, refused };
      writes.push(write);
      return write;
    };
    if (conditional && mode === 'conflict' && busy.has(key)) {
      record(409);
      const message =
        'A conflicting conditional operation is currently in progress against this resource. Please try again.';
      return refuse(req, res, 409, 'ConditionalRequestConflict', message);
    }
    await withKey(key, async () => {
      if (conditional && mode !== 'ignore') {
        let etag: string | undefined;
        try {
          etag = await currentEtag(path);
        } catch (e) {
          record(503);
          return refuse(req, res, 503, 'ServiceUnavailable', (e as Error).message);
        }
        const failure = precondition(op, etag, ifNoneMatch, ifMatch);
        if (failure) {
          record(failure.status);
          return refuse(req, res, failure.status, failure.code, failure.message);
        }
      }
      await handle.beforeForward?.(record(undefined));
      await forward(req, res);
    });
  }

  /** A GET with `If-Match`, judged against the object's current ETag before it is forwarded. */
  async function readIfMatch(req: http.IncomingMessage, res: http.ServerResponse, path: string) {
    let etag: string | undefined;
    try {
      etag = await currentEtag(path);
    } catch (e) {
      return refuse(req, res, 503, 'ServiceUnavailable', (e as Error).message);
    }
    const failure = precondition('GetObject', etag, undefined, header(req, 'if-match'));
    if (failure) return refuse(req, res, failure.status, failure.code, failure.message);
    await forward(req, res);
  }

  let endpoint = '';
  const handle: ConditionalProxy = {
    get endpoint() {
      return endpoint;
    },
    writes,
    requests,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };

  const server = http.createServer((req, res) => {
    requests.push({
      method: req.method ?? '',
      url: req.url ?? '',
      ifNoneMatch: header(req, 'if-none-match'),
      ifMatch: header(req, 'if-match'),
    });
    const [path, query = ''] = (req.url ?? '/').split('?', 2);
    const params = new URLSearchParams(query);
    const isObject = /^\/[^/]+\/.+/.test(path);
    // The SDK tags requests with `x-id=<Operation>`; any other parameter names a sub-resource (uploads, tagging).
    const plain = [...params.keys()].every((name) => name === 'x-id');
    let op: Operation | undefined;
    if (isObject && req.method === 'PUT' && plain && !req.headers['x-amz-copy-source']) op = 'PutObject';
    else if (isObject && req.method === 'POST' && params.has('uploadId')) op = 'CompleteMultipartUpload';
    else if (isObject && req.method === 'DELETE' && plain) op = 'DeleteObject';
    const atomicRead = mode === 'ignore' && isObject && plain && (req.method === 'GET' || req.method === 'HEAD');
    const pinnedRead = mode !== 'ignore' && isObject && plain && req.method === 'GET' && header(req, 'if-match') !== undefined;
    const listing = !isObject && req.method === 'GET' && /^\/[^/]+\/?$/.test(path);
    const done = op
      ? judge(req, res, op, path)
      : atomicRead
        ? withKey(decodeURIComponent(path), () => forward(req, res))
        : pinnedRead
          ? readIfMatch(req, res, path)
          : listing
            ? forwardListing(req, res)
            : forward(req, res);
    done.catch((e: unknown) => {
      if (!res.headersSent) sendError(res, 500, 'InternalError', String(e));
      else res.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  endpoint = `http://127.0.0.1:${port}`;

  return handle;
}

interface Refusal {
  readonly status: number;
  readonly code: string;
  readonly message: string;
}

function precondition(
  op: Operation | 'GetObject',
  etag: string | undefined,
  ifNoneMatch: string | undefined,
  ifMatch: string | undefined,
): Refusal | undefined {
  if (ifNoneMatch !== undefined) {
    if (op === 'DeleteObject' || ifNoneMatch.trim() !== '*') {
      const message = 'A header you provided implies functionality that is not implemented';
      return { status: 501, code: 'NotImplemented', message };
    }
    if (etag !== undefined) return preconditionFailed('If-None-Match');
  }
  if (ifMatch !== undefined) {
    if (etag === undefined) return { status: 404, code: 'NoSuchKey', message: 'The specified key does not exist.' };
    const wanted = ifMatch.split(',').map((t) => normalizeEtag(t));
    if (!wanted.includes('*') && !wanted.includes(normalizeEtag(etag))) return preconditionFailed('If-Match');
  }
  return undefined;
}

function preconditionFailed(condition: string): Refusal {
  return {
    status: 412,
    code: 'PreconditionFailed',
    message: `At least one of the pre-conditions you specified did not hold (${condition})`,
  };
}

function normalizeEtag(tag: string): string {
  return tag.trim().replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
}

function header(req: http.IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/** Answers without forwarding, discarding the request body (S3 also reads and drops it). */
function refuse(req: http.IncomingMessage, res: http.ServerResponse, status: number, code: string, message: string) {
  return new Promise<void>((resolve) => {
    res.on('close', resolve);
    req.resume();
    sendError(res, status, code, message);
  });
}

function sendError(res: http.ServerResponse, status: number, code: string, message: string): void {
  const body =
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<Error><Code>${code}</Code><Message>${escapeXml(message)}</Message><RequestId>tributary-proxy</RequestId></Error>`;
  res.writeHead(status, { 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
