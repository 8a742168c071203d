/**
 * A small stand-in for the Google Cloud Storage JSON API, for tests, the demo and the bench. It is NOT Google's code
 * and not an emulator of all of GCS: it answers exactly the calls the `gs://` adapter and the bench make through
 * `@google-cloud/storage` 7, pinned to the status codes and resource shapes in Google's published reference:
 *
 * - Objects resource and methods: https://cloud.google.com/storage/docs/json_api/v1/objects
 *   (get, insert, list, delete: .../objects/get, .../objects/insert, .../objects/list, .../objects/delete)
 * - Buckets: https://cloud.google.com/storage/docs/json_api/v1/buckets/get and .../buckets/insert
 * - Uploads: https://cloud.google.com/storage/docs/uploading-objects (media, multipart) and
 *   https://cloud.google.com/storage/docs/performing-resumable-uploads (session URI, 308 + Range, status check)
 * - Preconditions: https://cloud.google.com/storage/docs/request-preconditions
 * - Status codes and error body: https://cloud.google.com/storage/docs/json_api/v1/status-codes
 * - Ranged downloads: https://cloud.google.com/storage/docs/json_api/v1/objects/get (alt=media, Range, 206/416)
 *
 * Objects live in a temp directory, one file per generation; metadata lives in memory. No auth is checked.
 * Precondition checks and the commit that follows them run in one synchronous step per request on Node's single
 * thread, so of racing writers exactly one wins, as on GCS.
 *
 * This file depends on Node built-ins only, so it can run in a child process after a plain transpile (see
 * startFakeGcs), or inside the caller's process (`inProcess: true`).
 */
import { ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

export interface FakeGcs {
  /** `http://127.0.0.1:PORT`, the value for STORAGE_EMULATOR_HOST. */
  readonly endpoint: string;
  /** Environment for a client: STORAGE_EMULATOR_HOST and a project id. */
  readonly env: Record<string, string>;
  /** The server's child process (benchmarks read its CPU time); undefined when it serves from this process. */
  readonly pid?: number;
  stop(): Promise<void>;
}

export interface FakeGcsOptions {
  /** Serve from this process instead of a child process (the default). */
  readonly inProcess?: boolean;
}

/** Starts the stand-in on a free loopback port. `stop()` kills it (by PID in child mode) and removes its data. */
export async function startFakeGcs(options: FakeGcsOptions = {}): Promise<FakeGcs> {
  if (options.inProcess) {
    const dataDir = await fs.mkdtemp(path.join(tmpdir(), 'fake-gcs-'));
    const server = createFakeGcsServer(dataDir);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return {
      endpoint,
      env: clientEnv(endpoint),
      stop: async () => {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await fs.rm(dataDir, { recursive: true, force: true });
      },
    };
  }
  return startChild();
}

function clientEnv(endpoint: string): Record<string, string> {
  return { STORAGE_EMULATOR_HOST: endpoint, GOOGLE_CLOUD_PROJECT: 'tributary-test' };
}

// ---------------------------------------------------------------------------------------------------------------
// Child-process mode

const READY_PREFIX = 'fake-gcs listening on ';

async function startChild(): Promise<FakeGcs> {
  const script = await runnableScript();
  const child = spawn(process.execPath, [script], {
    env: { ...process.env, FAKE_GCS_CHILD: '1' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => fail(new Error('fake GCS server did not start within 20 s')), 20_000);
    const fail = (e: Error) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${e.message}\n${stderr}`));
    };
    child.once('exit', (code, signal) => fail(new Error(`fake GCS server exited (${code ?? signal})`)));
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.startsWith(READY_PREFIX));
      if (line) {
        clearTimeout(timer);
        child.removeAllListeners('exit');
        resolve(Number(line.slice(READY_PREFIX.length)));
      }
    });
  });
  const endpoint = `http://127.0.0.1:${port}`;
  return { endpoint, env: clientEnv(endpoint), pid: child.pid, stop: () => stopChild(child, killOnExit) };
}

async function stopChild(child: ChildProcess, killOnExit: () => void): Promise<void> {
  process.removeListener('exit', killOnExit);
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}

/** This file as JavaScript: itself when already compiled, else a transpiled copy cached in the temp dir. */
async function runnableScript(): Promise<string> {
  if (__filename.endsWith('.js')) return __filename;
  const source = await fs.readFile(__filename, 'utf8');
  const hash = createHash('sha256').update(source).digest('hex').slice(0, 16);
  const out = path.join(tmpdir(), `fake-gcs-server-${hash}.js`);
  try {
    await fs.access(out);
    return out;
  } catch {
    // Not cached yet.
  }
  // typescript is a dev dependency of the repository; only the parent needs it.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ts = require('typescript') as typeof import('typescript');
  const { outputText } = ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    fileName: path.basename(__filename),
  });
  const temp = `${out}.${process.pid}.${randomBytes(4).toString('hex')}`;
  await fs.writeFile(temp, outputText);
  await fs.rename(temp, out);
  return out;
}

async function childMain(): Promise<void> {
  const dataDir = await fs.mkdtemp(path.join(tmpdir(), 'fake-gcs-'));
  const server = createFakeGcsServer(dataDir);
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    server.closeAllConnections();
    server.close();
    fs.rm(dataDir, { recursive: true, force: true }).finally(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // The parent holds our stdin; when it dies, stdin ends and we go too, so no server outlives its test.
  process.stdin.on('end', stop);
  process.stdin.resume();
  server.listen(Number(process.env.FAKE_GCS_PORT ?? 0), '127.0.0.1', () => {
    process.stdout.write(`${READY_PREFIX}${(server.address() as AddressInfo).port}\n`);
  });
}

if (require.main === module && process.env.FAKE_GCS_CHILD === '1') void childMain();

// ---------------------------------------------------------------------------------------------------------------
// The server

interface StoredObject {
  readonly name: string;
  readonly generation: number;
  readonly size: number;
  readonly md5: string;
  readonly crc32c: string;
  readonly contentType: string;
  /** The object resource's `metadata`: user-provided key/value pairs, as given at upload. */
  readonly metadata?: Readonly<Record<string, string>>;
  readonly created: Date;
  readonly file: string;
}

interface Bucket {
  readonly name: string;
  readonly created: Date;
  readonly objects: Map<string, StoredObject>;
}

interface Preconditions {
  readonly ifGenerationMatch?: number;
  readonly ifGenerationNotMatch?: number;
}

interface UploadSession {
  readonly id: string;
  readonly bucket: string;
  readonly name: string;
  readonly contentType: string;
  readonly metadata?: Readonly<Record<string, string>>;
  readonly preconditions: Preconditions;
  readonly file: string;
  readonly hash: RunningHash;
  received: number;
  /** Set once finalized: later requests on the session get the same answer. */
  result?: { status: number; body: unknown };
  /** One request at a time writes to a session. */
  busy: boolean;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly reason: string,
  ) {
    super(message);
  }
}

/** The error body shape from https://cloud.google.com/storage/docs/json_api/v1/status-codes. */
function errorBody(status: number, message: string, reason: string): unknown {
  return { error: { code: status, message, errors: [{ message, domain: 'global', reason }] } };
}

const notFoundObject = (bucket: string, name: string) =>
  new HttpError(404, `No such object: ${bucket}/${name}`, 'notFound');
const notFoundBucket = () => new HttpError(404, 'The specified bucket does not exist.', 'notFound');
const preconditionFailed = () =>
  new HttpError(412, 'At least one of the pre-conditions you specified did not hold.', 'conditionNotMet');
const badRequest = (message: string) => new HttpError(400, message, 'invalid');

const MULTIPART_LIMIT = 256 * 1024 * 1024;
const MAX_LIST_RESULTS = 1000;
const SUPPORTED_PRECONDITIONS = new Set(['ifGenerationMatch', 'ifGenerationNotMatch']);
const UNSUPPORTED_PRECONDITIONS = ['ifMetagenerationMatch', 'ifMetagenerationNotMatch', 'ifSourceGenerationMatch'];

/** Creates (does not start) the stand-in server, keeping object data under `dataDir`. */
export function createFakeGcsServer(dataDir: string): http.Server {
  const buckets = new Map<string, Bucket>();
  const sessions = new Map<string, UploadSession>();
  let lastGeneration = 0;

  // GCS generations are microsecond timestamps; here they also strictly increase, so a rewrite never reuses one.
  const nextGeneration = () => (lastGeneration = Math.max(lastGeneration + 1, Date.now() * 1000));

  const bucketOf = (name: string): Bucket => {
    const bucket = buckets.get(name);
    if (!bucket) throw notFoundBucket();
    return bucket;
  };

  const bucketResource = (b: Bucket, base: string) => ({
    kind: 'storage#bucket',
    selfLink: `${base}/storage/v1/b/${b.name}`,
    id: b.name,
    name: b.name,
    projectNumber: '0',
    metageneration: '1',
    location: 'US',
    storageClass: 'STANDARD',
    etag: 'CAE=',
    timeCreated: b.created.toISOString(),
    updated: b.created.toISOString(),
  });

  /**
   * Makes `file` the new generation of `bucket/name` if the preconditions hold. Synchronous on purpose: the check
   * and the commit cannot interleave with another request's, so exactly one of racing writers wins.
   */
  const commit = (
    bucketName: string,
    name: string,
    pre: Preconditions,
    file: string,
    size: number,
    hashes: { md5: string; crc32c: string },
    contentType: string,
    metadata?: Readonly<Record<string, string>>,
  ): StoredObject => {
    const bucket = bucketOf(bucketName);
    checkPreconditions(bucket.objects.get(name), pre);
    const object: StoredObject = {
      name,
      generation: nextGeneration(),
      size,
      contentType,
      ...(metadata ? { metadata } : {}),
      created: new Date(),
      file,
      ...hashes,
    };
    const previous = bucket.objects.get(name);
    bucket.objects.set(name, object);
    // Open readers of the previous generation keep their file descriptor; POSIX keeps the data until they close.
    if (previous) void fs.rm(previous.file, { force: true });
    return object;
  };

  const newDataFile = () => path.join(dataDir, `${Date.now()}-${randomBytes(8).toString('hex')}.bin`);

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake-gcs');
    const base = `http://${req.headers.host ?? 'localhost'}`;
    const q = url.searchParams;
    const upload = url.pathname.startsWith('/upload/storage/v1/');
    // With STORAGE_EMULATOR_HOST the client drops the /storage/v1 prefix of the JSON API, so accept both forms.
    const rest = upload
      ? url.pathname.slice('/upload/storage/v1'.length)
      : url.pathname.replace(/^\/storage\/v1(?=\/)/, '');
    const parts = rest.split('/').slice(1).map(decodeURIComponent);
    const method = req.method ?? 'GET';

    if (upload) {
      if (parts.length !== 3 || parts[0] !== 'b' || parts[2] !== 'o') throw new HttpError(404, 'Not Found', 'notFound');
      const bucket = parts[1];
      if (method === 'POST') return insertObject(req, res, bucket, q, base);
      if (method === 'PUT' && q.get('upload_id')) return resumablePut(req, res, q.get('upload_id')!, base);
      throw badRequest(`unsupported upload request ${method} ${url.pathname}`);
    }

    // POST /b?project=P: https://cloud.google.com/storage/docs/json_api/v1/buckets/insert
    if (parts.length === 1 && parts[0] === 'b' && method === 'POST') {
      const body = JSON.parse((await readBody(req, 1 << 20)).toString('utf8') || '{}') as { name?: string };
      const name = body.name ?? '';
      if (!/^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$/.test(name)) throw badRequest('Invalid bucket name');
      if (buckets.has(name)) {
        throw new HttpError(409, 'Your previous request to create the named bucket succeeded and you already own it.', 'conflict');
      }
      const bucket: Bucket = { name, created: new Date(), objects: new Map() };
      buckets.set(name, bucket);
      return sendJson(res, 200, bucketResource(bucket, base));
    }
    if (parts[0] !== 'b' || parts.length < 2) throw new HttpError(404, 'Not Found', 'notFound');
    const bucketName = parts[1];

    // GET /b/bucket: https://cloud.google.com/storage/docs/json_api/v1/buckets/get
    if (parts.length === 2 && method === 'GET') return sendJson(res, 200, bucketResource(bucketOf(bucketName), base));

    // GET /b/bucket/o: https://cloud.google.com/storage/docs/json_api/v1/objects/list
    if (parts.length === 3 && parts[2] === 'o' && method === 'GET') {
      return sendJson(res, 200, listObjects(bucketOf(bucketName), q, base));
    }

    if (parts.length === 4 && parts[2] === 'o') {
      const name = parts[3];
      const bucket = bucketOf(bucketName);
      const pre = preconditionsOf(q);
      const current = bucket.objects.get(name);
      // DELETE: https://cloud.google.com/storage/docs/json_api/v1/objects/delete (204 No Content, empty body)
      if (method === 'DELETE') {
        if (!current || (q.has('generation') && q.get('generation') !== String(current.generation))) {
          throw notFoundObject(bucketName, name);
        }
        checkPreconditions(current, pre);
        bucket.objects.delete(name);
        void fs.rm(current.file, { force: true });
        res.writeHead(204);
        res.end();
        return;
      }
      // GET: https://cloud.google.com/storage/docs/json_api/v1/objects/get
      if (method === 'GET') {
        if (!current || (q.has('generation') && q.get('generation') !== String(current.generation))) {
          throw notFoundObject(bucketName, name);
        }
        checkPreconditions(current, pre);
        if (q.get('alt') === 'media') return sendMedia(req, res, current);
        return sendJson(res, 200, objectResource(bucketName, current, base));
      }
    }
    throw new HttpError(404, 'Not Found', 'notFound');
  }

  /** POST /upload/storage/v1/b/bucket/o: https://cloud.google.com/storage/docs/json_api/v1/objects/insert */
  async function insertObject(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    bucketName: string,
    q: URLSearchParams,
    base: string,
  ): Promise<void> {
    bucketOf(bucketName);
    const pre = preconditionsOf(q);
    const uploadType = q.get('uploadType');
    if (uploadType === 'resumable') {
      // https://cloud.google.com/storage/docs/performing-resumable-uploads#initiate-session
      const meta = parseJsonObject(await readBody(req, 1 << 20));
      const name = q.get('name') ?? (typeof meta.name === 'string' ? meta.name : '');
      if (!name) throw badRequest('Required parameter: name');
      // Checked here to fail fast; the check at finalization is the one that decides.
      checkPreconditions(bucketOf(bucketName).objects.get(name), pre);
      const id = randomBytes(16).toString('hex');
      const file = newDataFile();
      await fs.writeFile(file, '');
      const contentType = String(req.headers['x-upload-content-type'] ?? meta.contentType ?? 'application/octet-stream');
      const hash = newRunningHash();
      const metadata = userMetadata(meta);
      sessions.set(id, { id, bucket: bucketName, name, contentType, metadata, preconditions: pre, file, hash, received: 0, busy: false });
      const location = `${base}/upload/storage/v1/b/${bucketName}/o?uploadType=resumable&name=${encodeURIComponent(name)}&upload_id=${id}`;
      res.writeHead(200, { Location: location, 'Content-Length': '0' });
      res.end();
      return;
    }
    if (uploadType === 'media') {
      const name = q.get('name');
      if (!name) throw badRequest('Required parameter: name');
      const file = newDataFile();
      const hash = newRunningHash();
      const received = await receiveToFile(req, file, 0, 0, hash);
      if (!received.complete) return void fs.rm(file, { force: true });
      const contentType = String(req.headers['content-type'] ?? 'application/octet-stream');
      return commitAndReply(res, bucketName, name, pre, file, { size: received.size, ...digests(hash) }, contentType, undefined, base);
    }
    if (uploadType === 'multipart') {
      const { meta, media, mediaType } = parseMultipart(req.headers['content-type'], await readBody(req, MULTIPART_LIMIT));
      const name = q.get('name') ?? (typeof meta.name === 'string' ? meta.name : '');
      if (!name) throw badRequest('Required parameter: name');
      const file = newDataFile();
      await fs.writeFile(file, media);
      const hash = newRunningHash();
      hash.update(media);
      const hashes = digests(hash);
      const expected = { md5: meta.md5Hash, crc32c: meta.crc32c };
      const contentType = String(meta.contentType ?? mediaType ?? 'application/octet-stream');
      return commitAndReply(res, bucketName, name, pre, file, { size: media.length, ...hashes }, contentType, expected, base, userMetadata(meta));
    }
    throw badRequest(`unsupported uploadType ${JSON.stringify(uploadType)}`);
  }

  async function commitAndReply(
    res: http.ServerResponse,
    bucketName: string,
    name: string,
    pre: Preconditions,
    file: string,
    received: { size: number; md5: string; crc32c: string },
    contentType: string,
    expected: { md5?: unknown; crc32c?: unknown } | undefined,
    base: string,
    metadata?: Readonly<Record<string, string>>,
  ): Promise<void> {
    try {
      checkExpectedHashes(received, expected);
      const object = commit(bucketName, name, pre, file, received.size, received, contentType, metadata);
      sendJson(res, 200, objectResource(bucketName, object, base));
    } catch (e) {
      await fs.rm(file, { force: true });
      throw e;
    }
  }

  /** PUT on a session URI: https://cloud.google.com/storage/docs/performing-resumable-uploads */
  async function resumablePut(req: http.IncomingMessage, res: http.ServerResponse, id: string, base: string) {
    const session = sessions.get(id);
    if (!session) throw new HttpError(404, 'No such upload session.', 'notFound');
    if (session.result) {
      req.resume();
      return sendJson(res, session.result.status, session.result.body);
    }
    if (session.busy) throw new HttpError(503, 'Another request is writing to this upload session.', 'backendError');
    const range = parseContentRange(req.headers['content-range']);
    session.busy = true;
    try {
      if (range.kind === 'query') {
        req.resume();
        if (range.total !== undefined && range.total === session.received) {
          return await finalize(res, session, req.headers['x-goog-hash'], base);
        }
        return sendIncomplete(res, session);
      }
      if (range.start > session.received) throw badRequest(`upload offset ${range.start} is past ${session.received}`);
      const received = await receiveToFile(req, session.file, session.received, session.received - range.start, session.hash);
      session.received += received.size;
      // A request that broke off keeps what arrived, but never finalizes the object.
      if (!received.complete) return;
      const total = range.total ?? (range.end === undefined ? session.received : undefined);
      if (total !== undefined && session.received === total) {
        return await finalize(res, session, req.headers['x-goog-hash'], base);
      }
      if (total !== undefined && session.received > total) throw badRequest('more bytes than the declared total');
      return sendIncomplete(res, session);
    } finally {
      session.busy = false;
    }
  }

  async function finalize(res: http.ServerResponse, session: UploadSession, hashHeader: unknown, base: string) {
    const hashes = digests(session.hash);
    try {
      checkExpectedHashes(hashes, parseGoogHash(hashHeader));
      const object = commit(session.bucket, session.name, session.preconditions, session.file, session.received, hashes, session.contentType, session.metadata);
      session.result = { status: 200, body: objectResource(session.bucket, object, base) };
    } catch (e) {
      if (!(e instanceof HttpError)) throw e;
      await fs.rm(session.file, { force: true });
      session.result = { status: e.status, body: errorBody(e.status, e.message, e.reason) };
    }
    sendJson(res, session.result.status, session.result.body);
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (res.headersSent) return void res.destroy();
      req.resume();
      if (e instanceof HttpError) {
        if (e.status === 304) {
          res.writeHead(304);
          return void res.end();
        }
        return sendJson(res, e.status, errorBody(e.status, e.message, e.reason));
      }
      sendJson(res, 500, errorBody(500, `fake GCS internal error: ${(e as Error)?.message ?? e}`, 'backendError'));
    });
  });
  server.keepAliveTimeout = 30_000;
  return server;
}

// ---------------------------------------------------------------------------------------------------------------
// Pieces of the protocol

/**
 * https://cloud.google.com/storage/docs/request-preconditions: a failed ifGenerationMatch is 412 Precondition
 * Failed; a failed ifGenerationNotMatch is 304 Not Modified. ifGenerationMatch=0 means "only if no live object";
 * ifGenerationNotMatch fails when no live object exists (objects/insert reference), which we answer with 412.
 */
function checkPreconditions(current: StoredObject | undefined, pre: Preconditions): void {
  if (pre.ifGenerationMatch !== undefined) {
    const ok = pre.ifGenerationMatch === 0 ? current === undefined : current?.generation === pre.ifGenerationMatch;
    if (!ok) throw preconditionFailed();
  }
  if (pre.ifGenerationNotMatch !== undefined) {
    if (!current) throw preconditionFailed();
    if (current.generation === pre.ifGenerationNotMatch) throw new HttpError(304, 'Not Modified', 'notModified');
  }
}

function preconditionsOf(q: URLSearchParams): Preconditions {
  for (const name of UNSUPPORTED_PRECONDITIONS) {
    if (q.has(name)) throw badRequest(`${name} is not supported by this stand-in`);
  }
  const out: { ifGenerationMatch?: number; ifGenerationNotMatch?: number } = {};
  for (const name of SUPPORTED_PRECONDITIONS) {
    const raw = q.get(name);
    if (raw === null) continue;
    if (!/^\d+$/.test(raw)) throw badRequest(`Invalid value for ${name}: ${raw}`);
    out[name as keyof Preconditions] = Number(raw);
  }
  return out;
}

function listObjects(bucket: Bucket, q: URLSearchParams, base: string) {
  const prefix = q.get('prefix') ?? '';
  const delimiter = q.get('delimiter') ?? '';
  const max = Math.min(MAX_LIST_RESULTS, Math.max(1, Number(q.get('maxResults') ?? MAX_LIST_RESULTS) || MAX_LIST_RESULTS));
  const token = q.get('pageToken');
  const after = token ? Buffer.from(token, 'base64url').toString('utf8') : undefined;
  const names = [...bucket.objects.keys()].filter((n) => n.startsWith(prefix)).sort();
  const items: unknown[] = [];
  const prefixes: string[] = [];
  let last: string | undefined;
  let more = false;
  for (const name of names) {
    if (after !== undefined && (name <= after || (after.endsWith(delimiter) && delimiter && name.startsWith(after)))) {
      continue;
    }
    const cut = delimiter ? name.indexOf(delimiter, prefix.length) : -1;
    const entry = cut >= 0 ? name.slice(0, cut + delimiter.length) : name;
    if (entry === last) continue;
    if (items.length + prefixes.length === max) {
      more = true;
      break;
    }
    if (cut >= 0) prefixes.push(entry);
    else items.push(objectResource(bucket.name, bucket.objects.get(name)!, base));
    last = entry;
  }
  const out: Record<string, unknown> = { kind: 'storage#objects' };
  if (more && last !== undefined) out.nextPageToken = Buffer.from(last).toString('base64url');
  if (prefixes.length) out.prefixes = prefixes;
  if (items.length) out.items = items;
  return out;
}

/**
 * The `metadata` of an object resource an upload names: user-provided key/value pairs, values strings
 * (https://cloud.google.com/storage/docs/json_api/v1/objects#resource); undefined when there is none.
 */
function userMetadata(meta: Record<string, unknown>): Readonly<Record<string, string>> | undefined {
  const given = meta.metadata;
  if (given === undefined || given === null) return undefined;
  if (typeof given !== 'object' || Array.isArray(given) || !Object.values(given).every((v) => typeof v === 'string')) {
    throw badRequest('metadata must be an object of string values');
  }
  return { ...(given as Record<string, string>) };
}

/** The object resource of https://cloud.google.com/storage/docs/json_api/v1/objects#resource (the fields we keep). */
function objectResource(bucket: string, o: StoredObject, base: string) {
  const enc = encodeURIComponent(o.name);
  const time = o.created.toISOString();
  return {
    kind: 'storage#object',
    id: `${bucket}/${o.name}/${o.generation}`,
    selfLink: `${base}/storage/v1/b/${bucket}/o/${enc}`,
    mediaLink: `${base}/download/storage/v1/b/${bucket}/o/${enc}?generation=${o.generation}&alt=media`,
    name: o.name,
    bucket,
    generation: String(o.generation),
    metageneration: '1',
    contentType: o.contentType,
    ...(o.metadata ? { metadata: o.metadata } : {}),
    storageClass: 'STANDARD',
    size: String(o.size),
    md5Hash: o.md5,
    crc32c: o.crc32c,
    etag: Buffer.from(`${o.generation}/1`).toString('base64'),
    timeCreated: time,
    updated: time,
    timeStorageClassUpdated: time,
    timeFinalized: time,
  };
}

/**
 * alt=media, with an optional single `Range: bytes=a-b | a- | -n`: 206 with Content-Range, 416 when the start is
 * at or past the end. Headers as GCS sends them, including x-goog-hash of the whole object, which the client
 * checks on full reads.
 */
async function sendMedia(req: http.IncomingMessage, res: http.ServerResponse, o: StoredObject): Promise<void> {
  const headers: http.OutgoingHttpHeaders = {
    'Content-Type': o.contentType,
    'Accept-Ranges': 'bytes',
    ETag: Buffer.from(`${o.generation}/1`).toString('base64'),
    'Last-Modified': o.created.toUTCString(),
    'x-goog-generation': String(o.generation),
    'x-goog-metageneration': '1',
    'x-goog-stored-content-encoding': 'identity',
    'x-goog-stored-content-length': String(o.size),
    'x-goog-hash': `crc32c=${o.crc32c},md5=${o.md5}`,
    'x-goog-storage-class': 'STANDARD',
  };
  const rangeHeader = req.headers.range;
  let start = 0;
  let end = o.size - 1;
  let status = 200;
  if (rangeHeader) {
    const m = /^bytes=(\d*)-(\d*)$/.exec(rangeHeader.trim());
    if (!m || (m[1] === '' && m[2] === '')) throw badRequest(`unsupported Range ${rangeHeader}`);
    if (m[1] === '') {
      start = Math.max(0, o.size - Number(m[2]));
    } else {
      start = Number(m[1]);
      if (m[2] !== '') end = Math.min(end, Number(m[2]));
    }
    if (start >= o.size || start > end) {
      const body = JSON.stringify(errorBody(416, 'The requested range cannot be satisfied.', 'requestedRangeNotSatisfiable'));
      res.writeHead(416, {
        'Content-Type': 'application/json; charset=UTF-8',
        'Content-Range': `bytes */${o.size}`,
        'Content-Length': Buffer.byteLength(body),
      });
      return void res.end(body);
    }
    status = 206;
    headers['Content-Range'] = `bytes ${start}-${end}/${o.size}`;
  }
  headers['Content-Length'] = String(Math.max(0, end - start + 1));
  res.writeHead(status, headers);
  if (end < start) return void res.end();
  const stream = createReadStream(o.file, { start, end, highWaterMark: 256 * 1024 });
  stream.on('error', () => res.destroy());
  res.on('close', () => stream.destroy());
  stream.pipe(res);
}

function sendIncomplete(res: http.ServerResponse, session: UploadSession): void {
  // 308 with `Range: bytes=0-N`, or no Range when nothing has been persisted yet.
  const headers: http.OutgoingHttpHeaders = { 'Content-Length': '0' };
  if (session.received > 0) headers.Range = `bytes=0-${session.received - 1}`;
  res.writeHead(308, headers);
  res.end();
}

type ContentRange =
  | { kind: 'query'; total?: number }
  | { kind: 'data'; start: number; end?: number; total?: number };

/** `bytes a-b/T`, `bytes a-b/*`, `bytes a-* /*` (the Node client's single-request form), `bytes * /T`, `bytes * /*`. */
function parseContentRange(header: string | string[] | undefined): ContentRange {
  const value = String(header ?? '').trim();
  let m = /^bytes \*\/(\d+|\*)$/.exec(value);
  if (m) return { kind: 'query', total: m[1] === '*' ? undefined : Number(m[1]) };
  m = /^bytes (\d+)-(\d+|\*)\/(\d+|\*)$/.exec(value);
  if (!m) throw badRequest(`bad Content-Range ${JSON.stringify(value)}`);
  return {
    kind: 'data',
    start: Number(m[1]),
    end: m[2] === '*' ? undefined : Number(m[2]),
    total: m[3] === '*' ? undefined : Number(m[3]),
  };
}

/**
 * Appends the request body to `file` from `offset`, dropping its first `skip` bytes (a resent overlap). Reports
 * whether the body arrived whole: a client that disconnects mid-body leaves `complete` false.
 */
async function receiveToFile(
  req: http.IncomingMessage,
  file: string,
  offset: number,
  skip: number,
  hash: RunningHash,
): Promise<{ complete: boolean; size: number }> {
  let size = 0;
  let toSkip = skip;
  const out = createWriteStream(file, { flags: offset === 0 ? 'w' : 'r+', start: offset });
  const complete = await new Promise<boolean>((resolve, reject) => {
    let done = false;
    const finish = (ok: boolean) => {
      if (done) return;
      done = true;
      out.end(() => resolve(ok));
    };
    req.on('data', (chunk: Buffer) => {
      let c = chunk;
      if (toSkip > 0) {
        const n = Math.min(toSkip, c.length);
        toSkip -= n;
        c = c.subarray(n);
        if (c.length === 0) return;
      }
      size += c.length;
      hash.update(c);
      if (!out.write(c)) {
        req.pause();
        out.once('drain', () => req.resume());
      }
    });
    req.on('end', () => finish(true));
    req.on('aborted', () => finish(false));
    req.on('error', () => finish(false));
    req.on('close', () => finish(req.complete));
    out.on('error', reject);
  });
  return { complete, size };
}

/** MD5 and CRC32C of everything written so far, kept across the requests of a resumable session. */
interface RunningHash {
  update(data: Buffer): void;
  readonly md5: ReturnType<typeof createHash>;
  crc: number;
}

function newRunningHash(): RunningHash {
  const state: RunningHash = {
    md5: createHash('md5'),
    crc: 0,
    update(data: Buffer) {
      state.md5.update(data);
      state.crc = crc32cUpdate(state.crc, data);
    },
  };
  return state;
}

function digests(hash: RunningHash): { md5: string; crc32c: string } {
  return { md5: hash.md5.copy().digest('base64'), crc32c: crc32cBase64(hash.crc) };
}

async function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new HttpError(413, 'Request body too large for this stand-in', 'uploadTooLarge');
    chunks.push(chunk as Buffer);
  }
  if (!req.complete) throw new HttpError(400, 'request body broke off', 'invalid');
  return Buffer.concat(chunks, size);
}

function parseJsonObject(body: Buffer): Record<string, unknown> {
  if (body.length === 0) return {};
  try {
    const v = JSON.parse(body.toString('utf8')) as unknown;
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // Reported below.
  }
  throw new HttpError(400, 'Invalid JSON payload received.', 'parseError');
}

/** multipart/related with a JSON metadata part then a media part (https://cloud.google.com/storage/docs/uploading-objects). */
function parseMultipart(
  contentType: string | undefined,
  body: Buffer,
): { meta: Record<string, unknown>; media: Buffer; mediaType?: string } {
  const m = /boundary="?([^";]+)"?/i.exec(contentType ?? '');
  if (!/^multipart\/related/i.test(contentType ?? '') || !m) throw badRequest('multipart upload needs multipart/related');
  const delimiter = Buffer.from(`--${m[1]}`);
  const parts: { headers: string; body: Buffer }[] = [];
  let at = body.indexOf(delimiter);
  while (at >= 0) {
    const start = at + delimiter.length;
    if (body.subarray(start, start + 2).toString() === '--') break;
    const headerEnd = body.indexOf('\r\n\r\n', start);
    if (headerEnd < 0) break;
    const next = body.indexOf(Buffer.concat([Buffer.from('\r\n'), delimiter]), headerEnd + 4);
    if (next < 0) break;
    parts.push({ headers: body.subarray(start, headerEnd).toString('utf8'), body: body.subarray(headerEnd + 4, next) });
    at = next + 2;
  }
  if (parts.length !== 2) throw badRequest('multipart upload needs exactly a metadata part and a media part');
  const mediaType = /content-type:\s*([^\r\n]+)/i.exec(parts[1].headers)?.[1]?.trim();
  return { meta: parseJsonObject(parts[0].body), media: parts[1].body, mediaType };
}

function parseGoogHash(header: unknown): { md5?: string; crc32c?: string } {
  const out: { md5?: string; crc32c?: string } = {};
  for (const item of String(header ?? '').split(',')) {
    const i = item.indexOf('=');
    if (i < 0) continue;
    const kind = item.slice(0, i).trim();
    if (kind === 'md5' || kind === 'crc32c') out[kind] = item.slice(i + 1).trim();
  }
  return out;
}

/** A checksum the client sent that does not match the data is 400, and nothing is stored. */
function checkExpectedHashes(actual: { md5: string; crc32c: string }, expected?: { md5?: unknown; crc32c?: unknown }) {
  if (expected?.md5 !== undefined && expected.md5 !== actual.md5) {
    throw badRequest(`Provided MD5 hash "${expected.md5}" doesn't match calculated MD5 hash "${actual.md5}".`);
  }
  if (expected?.crc32c !== undefined && expected.crc32c !== actual.crc32c) {
    throw badRequest(`Provided CRC32C "${expected.crc32c}" doesn't match calculated CRC32C "${actual.crc32c}".`);
  }
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=UTF-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

// CRC32C (Castagnoli), slicing-by-8, written here so the stand-in checks the client's checksums independently.
const CRC_TABLE = (() => {
  const t = new Int32Array(256 * 8);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[i] = c;
  }
  for (let i = 0; i < 256; i++) {
    for (let s = 1; s < 8; s++) t[s * 256 + i] = (t[(s - 1) * 256 + i] >>> 8) ^ t[t[(s - 1) * 256 + i] & 0xff];
  }
  return t;
})();

function crc32cUpdate(crc: number, b: Uint8Array): number {
  const t = CRC_TABLE;
  let c = ~crc;
  let i = 0;
  for (const n = b.length; n - i >= 8; i += 8) {
    c ^= b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24);
    const hi = b[i + 4] | (b[i + 5] << 8) | (b[i + 6] << 16) | (b[i + 7] << 24);
    c =
      t[1792 + (c & 0xff)] ^
      t[1536 + ((c >>> 8) & 0xff)] ^
      t[1280 + ((c >>> 16) & 0xff)] ^
      t[1024 + (c >>> 24)] ^
      t[768 + (hi & 0xff)] ^
      t[512 + ((hi >>> 8) & 0xff)] ^
      t[256 + ((hi >>> 16) & 0xff)] ^
      t[hi >>> 24];
  }
  for (; i < b.length; i++) c = t[(c ^ b[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

/** GCS encodes CRC32C as base64 of the big-endian 32-bit value. */
function crc32cBase64(crc: number): string {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(crc >>> 0);
  return out.toString('base64');
}
