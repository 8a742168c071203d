import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { GcsStore } from '../libs/storage/src/gcs.store';
import {
  describeObjectStoreContract,
  expectBytes,
  listKeys,
  pattern,
  patternStream,
  readStream,
} from '../libs/storage/src/testing/store-contract';
import { FakeGcs, startFakeGcs } from './support/fake-gcs-server';
import { runAdapterFigure } from './support/bench-adapter-figure';
import {
  closedPort,
  expectLostAnswersTakenAsDone,
  expectSmallRequestsGiveUp,
  expectWebPagesRefused,
  gatedStream,
  setEnv,
  withEnv,
  withWebServer,
} from './support/cloud-store-helpers';
import { HttpFaultProxy } from './support/http-fault-proxy';

let fake: FakeGcs;
let restoreEnv: () => void = () => undefined;

beforeAll(async () => {
  fake = await startFakeGcs();
  restoreEnv = setEnv(fake.env);
});
afterAll(async () => {
  restoreEnv();
  await fake?.stop();
});

function uniqueBucket(): string {
  return `b-${randomBytes(6).toString('hex')}`;
}

describeObjectStoreContract('GcsStore (prefix in a shared bucket)', async () => {
  const store = await GcsStore.open(`gs://contract-bucket/runs/${randomBytes(6).toString('hex')}`, { create: true });
  return { store, cleanup: async () => undefined };
});

describeObjectStoreContract('GcsStore (bucket root, small resumable chunks)', async () => {
  // Small thresholds so the contract's 8 MiB stream and the races go through resumable uploads too.
  const store = await GcsStore.open(`gs://${uniqueBucket()}`, {
    create: true,
    singleRequestMax: 64 * 1024,
    chunkSize: 1024 * 1024,
    listPageSize: 2,
  });
  return { store, cleanup: async () => undefined };
});

describe('GcsStore', () => {
  it('refuses STORAGE_EMULATOR_HOST without a scheme at once, naming it', async () => {
    const host = new URL(fake.endpoint).host;
    await withEnv({ STORAGE_EMULATOR_HOST: host }, async () => {
      await expect(GcsStore.open('gs://anything/x')).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
        message: `STORAGE_EMULATOR_HOST=${host} wants a scheme, as in http://${host}`,
      });
    });
  });

  // Missing credentials are a setting to fix (FAILED_PRECONDITION, exit 2), as on S3 and Azure; without this the
  // client sent its requests without any, and GCS's refusal read as credentials rejected.
  it('says which variable to set when it finds no credentials, or none in GOOGLE_APPLICATION_CREDENTIALS', async () => {
    const home = mkdtempSync(path.join(tmpdir(), 'trib-no-gcloud-'));
    // Application Default Credentials: the variable, gcloud's file under HOME, and (not on this machine) GCE's metadata server.
    const none = { STORAGE_EMULATOR_HOST: undefined, GOOGLE_APPLICATION_CREDENTIALS: undefined, CLOUDSDK_CONFIG: undefined, HOME: home, METADATA_SERVER_DETECTION: 'none' };
    try {
      await withEnv(none, async () => {
        await expect(GcsStore.open('gs://any-bucket/p')).rejects.toMatchObject({
          code: 'FAILED_PRECONDITION',
          message: expect.stringMatching(/^cannot open store gs:\/\/any-bucket\/p: no Google Cloud credentials: set GOOGLE_APPLICATION_CREDENTIALS/),
        });
      });
      await withEnv({ ...none, GOOGLE_APPLICATION_CREDENTIALS: path.join(home, 'missing.json') }, async () => {
        await expect(GcsStore.open('gs://any-bucket/p')).rejects.toMatchObject({
          code: 'FAILED_PRECONDITION',
          message: expect.stringContaining(`GOOGLE_APPLICATION_CREDENTIALS=${path.join(home, 'missing.json')} gives no credentials`),
        });
      });
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  it('refuses a missing bucket with NotFound naming the URL, and creates it only when asked', async () => {
    const bucket = uniqueBucket();
    const url = `gs://${bucket}/data`;
    await expect(GcsStore.open(url)).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: expect.stringContaining(url),
    });
    const created = await GcsStore.open(url, { create: true });
    await created.putIfAbsent('x', Buffer.from('1'));
    const again = await GcsStore.open(url);
    expect((await again.get('x')).toString()).toBe('1');
    // Creating an existing bucket is fine too.
    await GcsStore.open(url, { create: true });
  });

  it('rejects malformed URLs and bucket names', async () => {
    await expect(GcsStore.open('gs://Upper_Case/x')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(GcsStore.open('s3://bucket/x')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(GcsStore.open('gs://bucket-ok/x?endpoint=http://x')).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
  });

  it('fails within seconds with Unavailable naming the URL when the endpoint is unreachable', async () => {
    const port = await closedPort();
    await withEnv({ STORAGE_EMULATOR_HOST: `http://127.0.0.1:${port}` }, async () => {
      const error = await GcsStore.open('gs://any-bucket/p').catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'UNAVAILABLE' });
      expect((error as Error).message).toContain('gs://any-bucket/p');
      expect((error as Error).message).toContain(`127.0.0.1:${port}`);
    });
  });

  it('says the endpoint answered, but not as the GCS JSON API does, when a web server answers there', async () => {
    for (const status of [200, 404, 502]) {
      await withWebServer(status, (endpoint) =>
        withEnv({ STORAGE_EMULATOR_HOST: endpoint }, async () => {
          for (const create of [false, true]) {
            const error = await GcsStore.open('gs://any-bucket/p', { create, maxRetries: 0 }).catch((e: unknown) => e);
            const answered = status === 200 ? 'answered' : `answered HTTP ${status}`;
            expect(error).toMatchObject({
              code: 'UNAVAILABLE',
              message: `cannot open store gs://any-bucket/p at ${endpoint}: it ${answered}, but not as the GCS JSON API does (a proxy or another server?)`,
            });
          }
        }),
      );
    }
  });

  /** A store behind a fault proxy that cuts the next `cuts` downloads after `cutAt` bytes of their body. */
  async function cutting(url: string, change?: () => Promise<void>) {
    const faults = { cuts: 0, cutAt: 300_000, change, downloads: [] as string[] };
    const { hostname, port } = new URL(fake.env.STORAGE_EMULATOR_HOST);
    const proxy = await HttpFaultProxy.start({ host: hostname, port: Number(port) }, async (req) => {
      if (req.method !== 'GET' || !req.url?.includes('alt=media')) return undefined;
      faults.downloads.push(req.url);
      // Another writer replaces the object between the cut and the resumed download.
      if (req.url.includes('generation=') && faults.change) await faults.change();
      return faults.cuts > 0 ? (faults.cuts--, { afterBytes: faults.cutAt, then: 'cut' as const }) : undefined;
    });
    await (await GcsStore.open(url, { create: true })).close();
    const restore = setEnv({ STORAGE_EMULATOR_HOST: `http://127.0.0.1:${proxy.port}` });
    try {
      return { store: await GcsStore.open(url, { requestTimeoutMs: 2000 }), proxy, faults };
    } finally {
      restore();
    }
  }

  // The GCS client's read stream neither ends nor fails when its connection closes mid-body: a reader waited on it
  // forever, and a CLI with nothing else pending exited 0 as if its checkout or verify had passed. Only the idle
  // limit shows it; the read is then resumed, and fails once the resumes run out.
  it('resumes a download whose connection closes mid-body, pinned to its generation, and fails with Unavailable naming the URL, not a hang, when it keeps closing', async () => {
    const url = `gs://${uniqueBucket()}/p`;
    const { store, proxy, faults } = await cutting(url);
    try {
      await store.putIfAbsent('packs/a.pack', pattern(0, 1 << 20));
      const { version } = (await store.readVersioned('packs/a.pack'))!;
      faults.downloads.length = 0;
      faults.cuts = 1;
      expectBytes(await store.get('packs/a.pack'), pattern(0, 1 << 20));
      faults.cuts = 1;
      expectBytes(await store.getRange('packs/a.pack', { offset: 1000, length: 800_000 }), pattern(1000, 800_000));
      // Each cut download was asked for once, then its rest once, of the same generation.
      expect(faults.downloads).toHaveLength(4);
      for (const resumed of [faults.downloads[1], faults.downloads[3]]) expect(resumed).toContain(`generation=${version}`);
      [faults.cuts, faults.cutAt] = [100, 100_000];
      const error = await store.get('packs/a.pack').catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'UNAVAILABLE', message: expect.stringContaining(`cannot read packs/a.pack in ${url}`) });
      expect(faults.downloads).toHaveLength(8);
      expect(proxy.requests.filter((r) => r.faulted)).toHaveLength(6);
      // Whole again once the connection holds.
      faults.cuts = 0;
      expectBytes(await store.get('packs/a.pack'), pattern(0, 1 << 20));
    } finally {
      await store.close();
      await proxy.close();
    }
  });

  it('fails a resumed download whose object was replaced meanwhile, never splicing two generations', async () => {
    const url = `gs://${uniqueBucket()}/p`;
    const direct = await GcsStore.open(url, { create: true });
    const replace = async () => {
      const { version } = (await direct.readVersioned('packs/a.pack'))!;
      await direct.compareAndSwap('packs/a.pack', version, pattern(7, 1 << 20));
    };
    const { store, proxy, faults } = await cutting(url, replace);
    try {
      await store.putIfAbsent('packs/a.pack', pattern(0, 1 << 20));
      faults.cuts = 1;
      await expect(store.get('packs/a.pack')).rejects.toMatchObject({
        code: 'CONFLICT',
        message: expect.stringMatching(new RegExp(`^cannot read packs/a.pack in ${url}: it changed while it was read`)),
      });
      expect(faults.downloads).toHaveLength(2);
    } finally {
      await store.close();
      await proxy.close();
    }
  });

  it('takes a compare-and-swap that took effect though its answer was lost as done, not as a conflict', async () => {
    let lose = 0;
    const { hostname, port } = new URL(fake.env.STORAGE_EMULATOR_HOST);
    const proxy = await HttpFaultProxy.start({ host: hostname, port: Number(port) }, (req) =>
      lose > 0 && req.method === 'POST' && req.url?.includes('refs%2F') ? (lose--, 'lose-answer' as const) : undefined,
    );
    try {
      const url = `gs://${uniqueBucket()}/p`;
      await (await GcsStore.open(url, { create: true })).close();
      await withEnv({ STORAGE_EMULATOR_HOST: `http://127.0.0.1:${proxy.port}` }, async () => {
        const store = await GcsStore.open(url);
        await expectLostAnswersTakenAsDone(store, (n) => (lose = n));
      });
      expect(proxy.requests.filter((r) => r.faulted)).toHaveLength(2);
    } finally {
      await proxy.close();
    }
  });

  it('fails small requests within quickRequestMs when the service stops answering after the store opened', async () => {
    let silent = false;
    const { hostname, port } = new URL(fake.env.STORAGE_EMULATOR_HOST);
    const proxy = await HttpFaultProxy.start({ host: hostname, port: Number(port) }, () => (silent ? 'silence' : undefined));
    try {
      const url = `gs://${uniqueBucket()}/p`;
      await (await GcsStore.open(url, { create: true })).close();
      await withEnv({ STORAGE_EMULATOR_HOST: `http://127.0.0.1:${proxy.port}` }, async () => {
        // Each try would be given up only after 60 s, three times over.
        const store = await GcsStore.open(url, { requestTimeoutMs: 60_000, quickRequestMs: 300 });
        const version = await store.compareAndSwap('refs/heads/main', undefined, Buffer.from('a'));
        silent = true;
        await expectSmallRequestsGiveUp(store, version, [
          ['delete', () => store.deleteVersioned('refs/heads/main', version)],
          ['read', () => store.get('refs/heads/main')],
          ['read', () => store.getRange('refs/heads/main', { offset: 0, length: 1 })],
          ['list', () => listKeys(store, 'refs/')],
        ]);
      });
    } finally {
      await proxy.close();
    }
  });

  it('never takes a web page answering in place of GCS after the store opened for data, an absent key or a conflict', async () => {
    for (const status of [200, 404]) {
      let page = false;
      const { hostname, port } = new URL(fake.env.STORAGE_EMULATOR_HOST);
      const proxy = await HttpFaultProxy.start({ host: hostname, port: Number(port) }, () =>
        page ? { status, headers: { 'content-type': 'text/html' }, body: '<html>Sign in to the gateway</html>' } : undefined,
      );
      try {
        const url = `gs://${uniqueBucket()}/p`;
        await (await GcsStore.open(url, { create: true })).close();
        await withEnv({ STORAGE_EMULATOR_HOST: `http://127.0.0.1:${proxy.port}` }, async () => {
          const store = await GcsStore.open(url, { maxRetries: 0 });
          page = true;
          await expectWebPagesRefused(store, 'the GCS JSON API');
          await expect(listKeys(store, 'refs/')).rejects.toMatchObject({ code: 'UNAVAILABLE' });
        });
      } finally {
        await proxy.close();
      }
    }
  });

  it('gives up on a server that accepts connections but never answers', async () => {
    const silent = net.createServer((socket) => socket.resume());
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as AddressInfo;
    try {
      await withEnv({ STORAGE_EMULATOR_HOST: `http://127.0.0.1:${port}` }, async () => {
        const error = await GcsStore.open('gs://any-bucket/p', { requestTimeoutMs: 300, maxRetries: 0 }).catch(
          (e: unknown) => e,
        );
        expect(error).toMatchObject({ code: 'UNAVAILABLE', message: expect.stringContaining('gs://any-bucket/p') });
      });
    } finally {
      silent.close();
      await new Promise((resolve) => setImmediate(resolve));
    }
  });

  it('never asks the metadata server when an emulator endpoint is set', async () => {
    const hits: string[] = [];
    const metadata = http.createServer((req, res) => {
      hits.push(req.url ?? '');
      res.writeHead(404, { 'Metadata-Flavor': 'Google' });
      res.end();
    });
    await new Promise<void>((resolve) => metadata.listen(0, '127.0.0.1', resolve));
    const host = `127.0.0.1:${(metadata.address() as AddressInfo).port}`;
    try {
      await withEnv({ GCE_METADATA_HOST: host, GCE_METADATA_IP: host, GOOGLE_CLOUD_PROJECT: undefined }, async () => {
        const store = await GcsStore.open(`gs://${uniqueBucket()}`, { create: true, singleRequestMax: 1024 });
        await store.putIfAbsent('a', Buffer.from('small'));
        await store.putIfAbsent('b', patternStream(300_000, 50_000));
        const v = await store.compareAndSwap('r', undefined, Buffer.from('1'));
        await store.readVersioned('r');
        await store.deleteVersioned('r', v);
        expect(await listKeys(store, '')).toEqual(['a', 'b']);
        expectBytes(await store.get('b'), pattern(0, 300_000));
      });
    } finally {
      metadata.closeAllConnections();
      await new Promise((resolve) => metadata.close(resolve));
    }
    expect(hits).toEqual([]);
  });

  it('leaves nothing visible when a resumable upload breaks off after several chunks', async () => {
    const store = await GcsStore.open(`gs://${uniqueBucket()}/p`, {
      create: true,
      singleRequestMax: 256 * 1024,
      chunkSize: 1024 * 1024,
    });
    await store.putIfAbsent('keep', Buffer.from('kept'));
    const size = 6 * 1024 * 1024;
    let sent = 0;
    const failing = new Readable({
      read() {
        if (sent >= size / 2) return void this.destroy(new Error('writer died'));
        const chunk = pattern(sent, 256 * 1024);
        sent += chunk.length;
        this.push(chunk);
      },
    });
    await expect(store.putIfAbsent('packs/big.pack', failing)).rejects.toThrow('writer died');
    expect(sent).toBeGreaterThan(2 * 1024 * 1024);
    expect(await store.head('packs/big.pack')).toBeUndefined();
    await expect(store.get('packs/big.pack')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await listKeys(store, '')).toEqual(['keep']);
    await store.putIfAbsent('packs/big.pack', patternStream(size, 256 * 1024));
    expectBytes(await store.get('packs/big.pack'), pattern(0, size));
  });

  it('checks create-if-absent when a resumable upload finalizes, not only when it starts', async () => {
    const store = await GcsStore.open(`gs://${uniqueBucket()}`, {
      create: true,
      singleRequestMax: 256 * 1024,
      chunkSize: 1024 * 1024,
    });
    const size = 4 * 1024 * 1024;
    const { stream, open, started } = gatedStream(size, 1024 * 1024);
    const big = store.putIfAbsent('obj', stream);
    await started; // the upload has passed its existence check and is sending chunks
    await store.putIfAbsent('obj', Buffer.from('the small writer won'));
    open();
    await expect(big).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
    expect((await store.get('obj')).toString()).toBe('the small writer won');
  });

  it('lists across pages and skips names that are not store keys', async () => {
    const store = await GcsStore.open(`gs://${uniqueBucket()}/p`, { create: true, listPageSize: 3 });
    const keys = Array.from({ length: 10 }, (_, i) => `k/${String(i).padStart(2, '0')}`);
    for (const key of keys) await store.putIfAbsent(key, Buffer.from(key));
    expect(await listKeys(store, '')).toEqual(keys);
    expect(await listKeys(store, 'k/0')).toEqual(keys.slice(0, 10));
    let seen = 0;
    for await (const info of store.list('k/')) {
      expect(info.size).toBe(4);
      if (++seen === 4) break;
    }
    expect(seen).toBe(4);
  });

  it('reads a range that crosses resumable chunk boundaries', async () => {
    const store = await GcsStore.open(`gs://${uniqueBucket()}`, {
      create: true,
      singleRequestMax: 256 * 1024,
      chunkSize: 256 * 1024,
    });
    const size = 3 * 1024 * 1024 + 17;
    await store.putIfAbsent('p', patternStream(size, 100_000));
    const offset = 256 * 1024 - 10;
    expectBytes(await store.getRange('p', { offset, length: 600_000 }), pattern(offset, 600_000));
    expectBytes(await readStream(await store.getStream('p', { offset: size - 5, length: 100 })), pattern(size - 5, 5));
  });
});

describe("the cloud bench's adapter figure (scripts/bench/adapter-throughput.js)", () => {
  it('runs the plain SDK and the adapter on the same bytes, reports both, and leaves nothing behind', async () => {
    const { rates, left } = await runAdapterFigure('gs', 'bench');
    for (const rate of rates) expect(rate).toBeGreaterThan(0);
    expect(left).toEqual([]);
  });
});

/** The stand-in itself, against the behaviour Google documents, for the calls the adapter does not make. */
describe('fake GCS server', () => {
  const bucket = 'conformance';
  const request = async (method: string, path: string, body?: string, headers: Record<string, string> = {}) => {
    const res = await fetch(`${fake.endpoint}${path}`, { method, body, headers });
    return { status: res.status, body: await res.text(), headers: res.headers };
  };
  const put = (name: string, data: string, query = '') =>
    request('POST', `/upload/storage/v1/b/${bucket}/o?uploadType=media&name=${encodeURIComponent(name)}${query}`, data);

  beforeAll(async () => {
    const r = await request('POST', '/storage/v1/b?project=p', JSON.stringify({ name: bucket }));
    expect(r.status).toBe(200);
    expect((await request('POST', '/b?project=p', JSON.stringify({ name: bucket }))).status).toBe(409);
  });

  it('answers ifGenerationMatch with 412 and ifGenerationNotMatch with 304', async () => {
    const created = await put('pre', 'v1', '&ifGenerationMatch=0');
    expect(created.status).toBe(200);
    const gen = (JSON.parse(created.body) as { generation: string }).generation;
    expect((await put('pre', 'v2', '&ifGenerationMatch=0')).status).toBe(412);
    expect(JSON.parse((await put('pre', 'v2', '&ifGenerationMatch=1')).body)).toMatchObject({
      error: { code: 412, errors: [{ reason: 'conditionNotMet' }] },
    });
    expect((await request('GET', `/b/${bucket}/o/pre?ifGenerationNotMatch=${gen}`)).status).toBe(304);
    expect((await request('GET', `/b/${bucket}/o/pre?ifGenerationNotMatch=1`)).status).toBe(200);
    expect((await put('pre', 'v2', `&ifGenerationNotMatch=${gen}`)).status).toBe(304);
    expect((await put('absent', 'x', '&ifGenerationNotMatch=0')).status).toBe(412);
    expect((await put('pre', 'v2', `&ifGenerationMatch=${gen}`)).status).toBe(200);
    expect((await request('DELETE', `/b/${bucket}/o/pre?ifGenerationMatch=${gen}`)).status).toBe(412);
  });

  it('keeps the metadata of a multipart or resumable upload and returns it in the object resource', async () => {
    const multipart = [
      '--b',
      'Content-Type: application/json; charset=UTF-8',
      '',
      JSON.stringify({ name: 'with-meta', metadata: { tribwrite: 'w1' } }),
      '--b',
      'Content-Type: application/octet-stream',
      '',
      'data',
      '--b--',
      '',
    ].join('\r\n');
    const up = await request('POST', `/upload/storage/v1/b/${bucket}/o?uploadType=multipart`, multipart, { 'content-type': 'multipart/related; boundary=b' });
    expect(up.status).toBe(200);
    expect(JSON.parse(up.body)).toMatchObject({ name: 'with-meta', metadata: { tribwrite: 'w1' } });
    expect(JSON.parse((await request('GET', `/storage/v1/b/${bucket}/o/with-meta`)).body)).toMatchObject({ metadata: { tribwrite: 'w1' } });
    const session = await request('POST', `/upload/storage/v1/b/${bucket}/o?uploadType=resumable&name=resumed`, JSON.stringify({ metadata: { a: 'b' } }));
    const done = await fetch(session.headers.get('location')!, { method: 'PUT', body: 'xyz', headers: { 'content-range': 'bytes 0-2/3' } });
    expect(await done.json()).toMatchObject({ name: 'resumed', metadata: { a: 'b' } });
    expect(JSON.parse((await put('without-meta', 'x')).body).metadata).toBeUndefined();
    const bad = multipart.replace('{"tribwrite":"w1"}', '{"n":1}');
    expect((await request('POST', `/upload/storage/v1/b/${bucket}/o?uploadType=multipart`, bad, { 'content-type': 'multipart/related; boundary=b' })).status).toBe(400);
  });

  it('lists with prefix, delimiter and page tokens', async () => {
    for (const name of ['d/a', 'd/b/1', 'd/b/2', 'd/c/1', 'd/e']) expect((await put(name, name)).status).toBe(200);
    const pages: unknown[] = [];
    let token = '';
    do {
      const r = await request('GET', `/b/${bucket}/o?prefix=d/&delimiter=/&maxResults=2${token && `&pageToken=${token}`}`);
      const page = JSON.parse(r.body) as { items?: { name: string }[]; prefixes?: string[]; nextPageToken?: string };
      pages.push({ items: page.items?.map((i) => i.name), prefixes: page.prefixes });
      token = page.nextPageToken ?? '';
    } while (token);
    expect(pages).toEqual([
      { items: ['d/a'], prefixes: ['d/b/'] },
      { items: ['d/e'], prefixes: ['d/c/'] },
    ]);
  });

  it('serves ranges with 206 and answers 416 past the end', async () => {
    await put('r', '0123456789');
    const partial = await request('GET', `/b/${bucket}/o/r?alt=media`, undefined, { Range: 'bytes=2-4' });
    expect(partial).toMatchObject({ status: 206, body: '234' });
    expect(partial.headers.get('content-range')).toBe('bytes 2-4/10');
    expect((await request('GET', `/b/${bucket}/o/r?alt=media`, undefined, { Range: 'bytes=10-' })).status).toBe(416);
    expect((await request('GET', `/b/${bucket}/o/missing?alt=media`)).status).toBe(404);
    expect((await request('DELETE', `/b/${bucket}/o/r`)).status).toBe(204);
    expect((await request('DELETE', `/b/${bucket}/o/r`)).status).toBe(404);
  });

  it('rejects a body whose declared MD5 does not match, storing nothing', async () => {
    const boundary = 'xyz';
    const body =
      `--${boundary}\r\nContent-Type: application/json\r\n\r\n${JSON.stringify({ name: 'bad', md5Hash: 'AAAAAAAAAAAAAAAAAAAAAA==' })}\r\n` +
      `--${boundary}\r\nContent-Type: application/octet-stream\r\n\r\npayload\r\n--${boundary}--`;
    const r = await request('POST', `/upload/storage/v1/b/${bucket}/o?uploadType=multipart`, body, {
      'Content-Type': `multipart/related; boundary=${boundary}`,
    });
    expect(r.status).toBe(400);
    expect((await request('GET', `/b/${bucket}/o/bad`)).status).toBe(404);
  });
});

