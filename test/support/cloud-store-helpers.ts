import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { ObjectStore } from '../../libs/storage/src/object-store.port';
import { pattern } from '../../libs/storage/src/testing/store-contract';

/** Helpers the cloud adapters' test suites (S3, GCS, Azure) share. */

/** A loopback port with nothing listening on it. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * Runs `fn` with the URL of a web server that answers every request with `status` and an HTML page, as a gateway
 * or a web server named by mistake does.
 */
export async function withWebServer<T>(status: number, fn: (url: string) => Promise<T>): Promise<T> {
  const server = createServer((req, res) => {
    req.resume();
    res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' }).end('<html><body><h1>Welcome to nginx!</h1></body></html>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    return await fn(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** Sets environment variables (undefined: unset); returns a function that puts the previous values back. */
export function setEnv(vars: Record<string, string | undefined>): () => void {
  const before = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  const apply = (v: Record<string, string | undefined>) => {
    for (const [k, value] of Object.entries(v)) {
      if (value === undefined) delete process.env[k];
      else process.env[k] = value;
    }
  };
  apply(vars);
  return () => apply(before);
}

/** Runs `fn` with environment variables set (undefined: unset), restoring them afterwards. */
export async function withEnv<T>(vars: Record<string, string | undefined>, fn: () => Promise<T>): Promise<T> {
  const restore = setEnv(vars);
  try {
    return await fn();
  } finally {
    restore();
  }
}

/**
 * `pattern(0, size)` that stops after `2 * chunk` bytes until `open()` is called; `started` resolves when it
 * stops, by which time the upload is under way.
 */
export function gatedStream(size: number, chunk: number): { stream: Readable; open(): void; started: Promise<void> } {
  let open!: () => void;
  let markStarted!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const started = new Promise<void>((resolve) => (markStarted = resolve));
  async function* body(): AsyncGenerator<Buffer> {
    for (let pos = 0; pos < size; pos += chunk) {
      if (pos === 2 * chunk) {
        markStarted();
        await gate;
      }
      yield pattern(pos, Math.min(chunk, size - pos));
    }
  }
  return { stream: Readable.from(body(), { objectMode: false }), open, started };
}

/**
 * Checks a store's compare-and-swap against lost answers: `loseNext(n)` makes the next n writes of a ref take
 * effect with their answers lost, so the store retries and finds its own value. A create and a move are then done,
 * returning the version they wrote, while another writer's value still conflicts.
 */
export async function expectLostAnswersTakenAsDone(store: ObjectStore, loseNext: (n: number) => void): Promise<void> {
  loseNext(1);
  const created = await store.compareAndSwap('refs/heads/main', undefined, Buffer.from('a'));
  expect(await store.readVersioned('refs/heads/main')).toEqual({ version: created, data: Buffer.from('a') });
  loseNext(1);
  const moved = await store.compareAndSwap('refs/heads/main', created, Buffer.from('b'));
  expect(await store.readVersioned('refs/heads/main')).toEqual({ version: moved, data: Buffer.from('b') });
  await expect(store.compareAndSwap('refs/heads/main', created, Buffer.from('c'))).rejects.toMatchObject({ code: 'CONFLICT' });
  await expect(store.compareAndSwap('refs/heads/main', undefined, Buffer.from('c'))).rejects.toMatchObject({ code: 'CONFLICT' });
  expect((await store.readVersioned('refs/heads/main'))?.data.toString()).toBe('b');
}

/**
 * Checks a store opened through a gateway that now answers every object request with a web page of `status`: no
 * read, stat or swap takes the page for an answer (data, a version, an absent key, a conflict); each fails
 * UNAVAILABLE saying the endpoint answered, but not as `service` does.
 */
export async function expectWebPagesRefused(store: ObjectStore, service: string): Promise<void> {
  const attempts: [string, () => Promise<unknown>][] = [
    ['read', () => store.readVersioned('refs/heads/main')],
    ['read', () => store.get('config')],
    ['stat', () => store.head('config')],
    ['update', () => store.compareAndSwap('refs/heads/main', undefined, Buffer.from('c'))],
    ['update', () => store.compareAndSwap('refs/heads/main', '12', Buffer.from('c'))],
  ];
  for (const [action, attempt] of attempts) {
    const outcome = await attempt().then(
      (value) => ({ value }),
      (e: unknown) => ({ code: (e as { code?: unknown }).code, message: (e as Error).message }),
    );
    expect({ action, outcome }).toMatchObject({
      action,
      outcome: { code: 'UNAVAILABLE', message: expect.stringMatching(new RegExp(`^cannot ${action} .* but not as ${service} does`)) },
    });
  }
}

/**
 * Checks a store whose service has just stopped answering (connections stay open, nothing comes back): each small
 * request fails UNAVAILABLE within the store's quickRequestMs, saying no answer came in time. `version` is the
 * current version of `refs/heads/main`; `more` adds requests the backend also bounds.
 */
export async function expectSmallRequestsGiveUp(store: ObjectStore, version: string, more: [string, () => Promise<unknown>][] = []): Promise<void> {
  const attempts: [string, () => Promise<unknown>][] = [
    ['stat', () => store.head('refs/heads/main')],
    ['read', () => store.readVersioned('refs/heads/main')],
    ['update', () => store.compareAndSwap('refs/heads/main', version, Buffer.from('b'))],
    ['update', () => store.compareAndSwap('refs/heads/other', undefined, Buffer.from('b'))],
    ['delete', () => store.delete('refs/heads/main')],
    ...more,
  ];
  for (const [action, attempt] of attempts) {
    const error = await attempt().catch((e: unknown) => ({ code: (e as { code?: unknown }).code, message: (e as Error).message }));
    expect({ action, error }).toMatchObject({
      action,
      error: { code: 'UNAVAILABLE', message: expect.stringMatching(new RegExp(`^cannot ${action} .* no answer from .* in time`)) },
    });
  }
}
