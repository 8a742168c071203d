import { ChildProcess, spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

// The blob service's entry point (the `azurite-blob` bin), run with this Node so no PATH or shell is involved.
const AZURITE_BLOB = require.resolve('azurite/dist/src/blob/main.js');
const GC_INTERVAL_PRELOAD = path.join(__dirname, 'azurite-gc-interval.js');

/** Azurite's documented development account and key (public, for the emulator only). */
export const AZURITE_ACCOUNT = 'devstoreaccount1';
export const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface Azurite {
  /** A connection string for the development account on this instance. */
  readonly connectionString: string;
  /** `http://127.0.0.1:PORT/devstoreaccount1`. */
  readonly blobEndpoint: string;
  /** Environment for a client: AZURE_STORAGE_CONNECTION_STRING. */
  readonly env: Record<string, string>;
  /** The Azurite process (benchmarks read its CPU time). */
  readonly pid: number;
  stop(): Promise<void>;
}

/**
 * Starts the Azurite blob service (`azurite-blob` from the `azurite` package) in a child process on a free loopback port,
 * with data in memory, and waits until it answers HTTP. `stop()` kills it by PID; so does the exit of this
 * process, so a failing test cannot leave it running. `gcIntervalMs` makes Azurite free deleted blobs' bytes that
 * often instead of every 10 minutes (see azurite-gc-interval.ts): for a benchmark that deletes what it wrote.
 */
export async function startAzurite(opts: { gcIntervalMs?: number } = {}): Promise<Azurite> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await startOnce(await freePort(), opts.gcIntervalMs);
    } catch (e) {
      // Another process may take the free port between our probe and Azurite's bind.
      if (attempt >= 2 || !/EADDRINUSE/.test(String(e))) throw e;
    }
  }
}

async function startOnce(port: number, gcIntervalMs: number | undefined): Promise<Azurite> {
  // In-memory data, but Azurite may still write small files in its working directory; keep them out of the repo.
  const workspace = await fs.mkdtemp(path.join(tmpdir(), 'azurite-'));
  const child = spawn(
    process.execPath,
    [
      ...(gcIntervalMs ? ['-r', GC_INTERVAL_PRELOAD] : []),
      AZURITE_BLOB,
      '--blobHost', '127.0.0.1',
      '--blobPort', String(port),
      '--skipApiVersionCheck',
      '--silent',
      '--inMemoryPersistence',
      '--disableTelemetry',
    ],
    {
      cwd: workspace,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: gcIntervalMs ? { ...process.env, AZURITE_GC_INTERVAL_MS: String(gcIntervalMs) } : process.env,
    },
  );
  const killOnExit = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  let output = '';
  const collect = (d: Buffer) => (output = (output + d.toString()).slice(-4000));
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const blobEndpoint = `http://127.0.0.1:${port}/${AZURITE_ACCOUNT}`;
  const stop = async () => {
    process.removeListener('exit', killOnExit);
    await kill(child);
    await fs.rm(workspace, { recursive: true, force: true });
  };
  try {
    await waitUntilServing(child, port, () => output);
  } catch (e) {
    await stop();
    throw e;
  }
  const connectionString =
    `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};` +
    `BlobEndpoint=${blobEndpoint};`;
  const env = { AZURE_STORAGE_CONNECTION_STRING: connectionString };
  return { connectionString, blobEndpoint, env, pid: child.pid!, stop };
}

async function waitUntilServing(child: ChildProcess, port: number, output: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`azurite-blob exited (${child.exitCode ?? child.signalCode}): ${output()}`);
    }
    if (await answersHttp(port)) return;
    if (Date.now() > deadline) throw new Error(`azurite-blob did not answer on port ${port} within 30 s: ${output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function answersHttp(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: `/${AZURITE_ACCOUNT}?comp=list`, timeout: 1000 }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = http.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
