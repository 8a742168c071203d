import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ConditionalProxy, startConditionalProxy } from './s3-conditional-proxy';

/** s3rver's built-in account; it checks the access key id only (it does not verify V4 signatures). */
export const S3RVER_ACCESS_KEY = 'S3RVER';
export const S3RVER_SECRET_KEY = 'S3RVER';

export interface S3EmulatorOptions {
  /** Buckets to create at start (default none). */
  readonly buckets?: readonly string[];
  /** How the conditional proxy answers overlapping writes of one key (see ConditionalProxyOptions). */
  readonly mode?: 'serialize' | 'conflict';
}

export interface S3Emulator {
  /** The endpoint to use: the conditional proxy in front of s3rver. */
  readonly endpoint: string;
  /** The AWS variables that point an S3 client (or a `trib` child process) at `endpoint`. */
  readonly env: Record<string, string>;
  /** s3rver itself, which accepts conditional headers and ignores them. */
  readonly s3rverEndpoint: string;
  /** s3rver's data directory. */
  readonly directory: string;
  readonly pid: number;
  readonly proxy: ConditionalProxy;
  /** Kills s3rver by PID, closes the proxy and removes the data directory. Safe to call twice. */
  stop(): Promise<void>;
}

// Runs in the child. It exits when the parent goes away (the IPC channel closes), even if the parent was killed.
// s3rver 3.7.1 answers a PutObject once it has handed the bytes to a file stream, before they are written, so a GET
// right after could read an empty or partial object (a preflight once read a topic-log entry back as corrupt).
// Amazon S3 reads back every write it has acknowledged; the child's putObject waits for the file first.
const CHILD = `
const S3rver = require(process.env.S3RVER_MODULE);
const { createHash } = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { Readable, Transform } = require('node:stream');
const { pipeline } = require('node:stream/promises');
const FilesystemStore = require(path.join(path.dirname(process.env.S3RVER_MODULE), 'stores', 'filesystem.js'));
FilesystemStore.prototype.putObject = async function (object) {
  const objectPath = this.getResourcePath(object.bucket, object.key, 'object');
  await fs.promises.mkdir(path.dirname(objectPath), { recursive: true });
  const md5 = createHash('md5');
  let size = 0;
  const count = new Transform({ transform(chunk, encoding, callback) { md5.update(chunk); size += chunk.length; callback(null, chunk); } });
  const source = Buffer.isBuffer(object.content) ? Readable.from([object.content]) : object.content;
  await pipeline(source, count, fs.createWriteStream(objectPath));
  const digest = md5.digest('hex');
  await this.putMetadata(object.bucket, object.key, object.metadata, digest);
  return { size, md5: digest };
};
const buckets = JSON.parse(process.env.S3RVER_BUCKETS).map((name) => ({ name, configs: [] }));
const directory = process.env.S3RVER_DIR;
new S3rver({ address: '127.0.0.1', port: 0, directory, silent: true, configureBuckets: buckets })
  .run()
  .then(({ port }) => process.send({ port }), (e) => { console.error(e); process.exit(1); });
process.on('disconnect', () => process.exit(0));
`;

const READY_TIMEOUT_MS = 15_000;

/**
 * Starts s3rver in a child process on a free port with a fresh data directory, and the conditional-write proxy in
 * front of it (in this process). s3rver runs with `--openssl-legacy-provider`, without which its paginated
 * listing fails with a 500. Call `stop()` in teardown (an `afterAll` runs even when tests fail); the child is also
 * killed when this process exits.
 */
export async function startS3Emulator(options: S3EmulatorOptions = {}): Promise<S3Emulator> {
  const directory = mkdtempSync(path.join(tmpdir(), 'trib-s3rver-'));
  const child = spawn(process.execPath, ['-e', CHILD], {
    env: {
      ...process.env,
      NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --openssl-legacy-provider`.trim(),
      S3RVER_MODULE: require.resolve('s3rver'),
      S3RVER_DIR: directory,
      S3RVER_BUCKETS: JSON.stringify(options.buckets ?? []),
    },
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  const killOnExit = () => killNow(child);
  process.once('exit', killOnExit);
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));

  let proxy: ConditionalProxy | undefined;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await proxy?.close();
    await killAndWait(child);
    process.removeListener('exit', killOnExit);
    rmSync(directory, { recursive: true, force: true });
  };

  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`s3rver did not start in ${READY_TIMEOUT_MS} ms: ${stderr}`)),
        READY_TIMEOUT_MS,
      );
      child.once('message', (m: { port?: unknown }) => {
        clearTimeout(timer);
        if (typeof m?.port === 'number') resolve(m.port);
        else reject(new Error(`s3rver sent ${JSON.stringify(m)}`));
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`s3rver exited (${code ?? signal}) before it was ready: ${stderr}`));
      });
    });
    const s3rverEndpoint = `http://127.0.0.1:${port}`;
    proxy = await startConditionalProxy({ upstream: s3rverEndpoint, mode: options.mode });
    return {
      endpoint: proxy.endpoint,
      env: s3Env(proxy.endpoint),
      s3rverEndpoint,
      directory,
      pid: child.pid!,
      proxy,
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** The environment that points the S3 adapter (and the AWS SDK) at `endpoint` with s3rver's credentials. */
export function s3Env(endpoint: string): Record<string, string> {
  return {
    AWS_ENDPOINT_URL_S3: endpoint,
    AWS_ACCESS_KEY_ID: S3RVER_ACCESS_KEY,
    AWS_SECRET_ACCESS_KEY: S3RVER_SECRET_KEY,
    AWS_REGION: 'us-east-1',
  };
}

function killNow(child: ChildProcess): void {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  try {
    process.kill(child.pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

async function killAndWait(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  killNow(child);
  await exited;
}
