import { createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import * as net from 'node:net';
import * as path from 'node:path';
import { LocalStore } from './local.store';
import { MemoryStore } from './memory.store';
import { openStore, parseDurableStoreUrl, parseStoreUrl } from './store-url';

describe('parseStoreUrl', () => {
  it('parses file URLs and bare absolute paths to a normalized location', () => {
    const repo = { scheme: 'file', url: 'file:///data/repo', path: '/data/repo' };
    expect(parseStoreUrl('file:///data/repo')).toEqual(repo);
    expect(parseStoreUrl('file:///data/repo/')).toEqual(repo);
    expect(parseStoreUrl('file://localhost/data/repo')).toMatchObject({ path: '/data/repo' });
    expect(parseStoreUrl('file:///data/my%20repo')).toEqual({
      scheme: 'file',
      url: 'file:///data/my%20repo',
      path: '/data/my repo',
    });
    expect(parseStoreUrl('/data/./repo/')).toEqual({ scheme: 'file', url: 'file:///data/repo', path: '/data/repo' });
  });

  it('parses mem:// names', () => {
    expect(parseStoreUrl('mem://bench-1')).toEqual({ scheme: 'mem', url: 'mem://bench-1', name: 'bench-1' });
  });

  it('parses cloud URLs into bucket, prefix and parameters', () => {
    expect(parseStoreUrl('s3://my-bucket/datasets/ecg/?endpoint=http://127.0.0.1:4568')).toEqual({
      scheme: 's3',
      url: 's3://my-bucket/datasets/ecg?endpoint=http://127.0.0.1:4568',
      bucket: 'my-bucket',
      prefix: 'datasets/ecg',
      params: { endpoint: 'http://127.0.0.1:4568' },
    });
    expect(parseStoreUrl('gs://bucket')).toMatchObject({ scheme: 'gs', url: 'gs://bucket', prefix: '' });
    expect(parseStoreUrl('az://container/p')).toMatchObject({ scheme: 'az', bucket: 'container', prefix: 'p' });
  });

  it('takes a scheme in any case and a trailing / as naming the same store, in lower case without it', () => {
    for (const [url, normal] of [
      ['FILE:///data/repo/', 'file:///data/repo'],
      ['S3://bucket/p/', 's3://bucket/p'],
      ['Gs://bucket/p/', 'gs://bucket/p'],
      ['AZ://container/p/', 'az://container/p'],
      ['MEM://x', 'mem://x'],
    ]) {
      expect(parseStoreUrl(url).url).toBe(normal);
      expect(parseStoreUrl(normal).url).toBe(normal);
    }
  });

  it.each([
    ['relative/path', 'expected file:///absolute/path'],
    ['file://host/share/x', 'expected file:///absolute/path'],
    // URL parsing would read these as paths from the root (/relative): a store far from where it was meant.
    ['file:relative', 'expected file:///absolute/path'],
    ['file:///tmp/x%00y', 'a path holds no NUL character'],
    ['file:/abs', 'expected file:///absolute/path'],
    ['file:///x?y=1', 'no query'],
    ['mem://', 'expected mem://name'],
    ['mem://a/b', 'expected mem://name'],
    ['s3:///prefix', 'expected s3://bucket/prefix'],
    ['s3://bucket/a/../b', 'the prefix'],
    ['s3://bucket/a//b', 'the prefix'],
    ['s3://bucket//a', 'the prefix'],
    ['s3://bucket//', 'the prefix'],
    ['gs://bucket/a//', 'the prefix'],
    ['AZ://container//', 'the prefix'],
    ['gs://bucket/a/%2e%2e/b', 'the prefix'],
    ['s3://user:secret@bucket/p', 'credentials'],
    ['ftp://host/x', 'unknown scheme "ftp"'],
  ])('rejects %j with a message naming it', (url, why) => {
    expect(() => parseStoreUrl(url)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => parseStoreUrl(url)).toThrow(`bad store URL ${JSON.stringify(url)}`);
    expect(() => parseStoreUrl(url)).toThrow(why);
  });
});

describe('openStore', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(tmpdir(), 'trib-store-url-'));
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('opens an existing directory as a LocalStore', async () => {
    const store = await openStore(`file://${dir}`);
    expect(store).toBeInstanceOf(LocalStore);
    expect(store.url).toBe(`file://${dir}`);
    await store.putIfAbsent('a/b', Buffer.from('x'));
    expect(await fs.readFile(path.join(dir, 'a', 'b'), 'utf8')).toBe('x');
  });

  it('reports a missing directory as NotFound naming the URL, and creates it only when asked', async () => {
    const url = `file://${dir}/repo/.trib/store`;
    await expect(openStore(url)).rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringContaining(url) });
    await expect(fs.stat(path.join(dir, 'repo'))).rejects.toMatchObject({ code: 'ENOENT' });
    const store = await openStore(url, { create: true });
    expect((await fs.stat(path.join(dir, 'repo', '.trib', 'store'))).isDirectory()).toBe(true);
    await store.putIfAbsent('k', Buffer.from('v'));
    expect(await (await openStore(url)).get('k')).toEqual(Buffer.from('v'));
    await expect(openStore(url, { create: true })).resolves.toBeInstanceOf(LocalStore);
  });

  it('shares a named memory store between opens, which must create it first', async () => {
    await expect(openStore('mem://url-spec')).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: expect.stringContaining('mem://url-spec'),
    });
    const a = await openStore('mem://url-spec', { create: true });
    expect(a).toBeInstanceOf(MemoryStore);
    await a.putIfAbsent('k', Buffer.from('shared'));
    const b = await openStore('mem://url-spec');
    expect((await b.get('k')).toString()).toBe('shared');
    expect(await (await openStore('mem://other', { create: true })).head('k')).toBeUndefined();
  });

  it.each([
    ['s3://bucket/prefix', /S3|AWS|s3:\/\/bucket\/prefix/],
    ['gs://bucket/prefix', /gs:\/\/bucket\/prefix/],
    ['az://container/prefix', /AZURE_STORAGE|az:\/\/container\/prefix/],
  ])('hands %s to its cloud adapter, which fails clearly without credentials or a server', async (url, mention) => {
    const saved = { ...process.env };
    for (const k of ['AWS_ENDPOINT_URL_S3', 'AWS_ENDPOINT_URL', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AZURE_STORAGE_CONNECTION_STRING', 'AZURE_STORAGE_ACCOUNT', 'AZURE_STORAGE_KEY']) delete process.env[k];
    process.env.STORAGE_EMULATOR_HOST = 'http://127.0.0.1:1';
    process.env.AWS_ENDPOINT_URL_S3 = 'http://127.0.0.1:1';
    try {
      const err = await openStore(url).then(() => undefined, (e) => e);
      expect(err).toBeDefined();
      expect(err.code).toMatch(/^(UNAVAILABLE|PERMISSION_DENIED|FAILED_PRECONDITION|NOT_FOUND)$/);
      expect(err.message).toMatch(mention);
    } finally {
      process.env = saved;
    }
  }, 30_000);

  it('says an endpoint that answers with a web page is not Azure Blob Storage, not why a parser tripped', async () => {
    const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body>hello</body></html>'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const saved = process.env.AZURE_STORAGE_CONNECTION_STRING;
    process.env.AZURE_STORAGE_CONNECTION_STRING = `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${Buffer.from('k').toString('base64')};BlobEndpoint=http://127.0.0.1:${port}/devstoreaccount1;`;
    try {
      const err = await openStore('az://container/prefix').then((s) => s.list('')[Symbol.asyncIterator]().next().then(() => undefined), (e) => e);
      expect(err).toMatchObject({ code: 'UNAVAILABLE', message: expect.stringMatching(/answered, but not as Azure Blob Storage does/) });
    } finally {
      if (saved === undefined) delete process.env.AZURE_STORAGE_CONNECTION_STRING;
      else process.env.AZURE_STORAGE_CONNECTION_STRING = saved;
      server.close();
    }
  });

  it('names STORAGE_EMULATOR_HOST when it is set but empty, which the GCS client would read as host "storage"', async () => {
    const saved = process.env.STORAGE_EMULATOR_HOST;
    process.env.STORAGE_EMULATOR_HOST = '';
    try {
      await expect(openStore('gs://bucket/prefix')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/STORAGE_EMULATOR_HOST is set but empty/) });
    } finally {
      if (saved === undefined) delete process.env.STORAGE_EMULATOR_HOST;
      else process.env.STORAGE_EMULATOR_HOST = saved;
    }
  });

  it('takes no mem:// store where one must outlive the process', () => {
    expect(parseDurableStoreUrl('s3://bucket/p')).toMatchObject({ scheme: 's3', bucket: 'bucket' });
    expect(() => parseDurableStoreUrl('mem://x')).toThrow(/^a mem:\/\/ store lives only as long as one process/);
    // Nor does it offer one: a user told to use mem:// would only be refused next.
    for (const url of ['relative/path', 'ftp://host/x']) {
      expect(() => parseDurableStoreUrl(url)).toThrow(/expected file:\/\/\/absolute\/path, s3:\/\/bucket\/prefix, gs:\/\/bucket\/prefix or az:\/\/container\/prefix$/);
    }
  });

  it('rejects a malformed URL', async () => {
    await expect(openStore('nonsense')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  describe('a cloud endpoint that accepts connections and never answers', () => {
    let silent: net.Server;
    let endpoint: string;
    const saved = { ...process.env };
    const sockets = new Set<net.Socket>();
    beforeAll(async () => {
      silent = net.createServer((socket) => {
        sockets.add(socket);
        socket.resume();
      });
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      endpoint = `http://127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
    });
    afterAll(async () => {
      process.env = saved;
      // The SDKs' requests are still waiting: cut them, or they would hold the process until their own timeouts.
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    });

    it.each([
      ['s3://bucket-a/x', () => ({ AWS_ENDPOINT_URL_S3: endpoint, AWS_ACCESS_KEY_ID: 'a', AWS_SECRET_ACCESS_KEY: 'b', AWS_REGION: 'us-east-1' })],
      ['gs://bucket-a/x', () => ({ STORAGE_EMULATOR_HOST: endpoint })],
      ['az://container-a/x', () => ({ AZURE_STORAGE_CONNECTION_STRING: `DefaultEndpointsProtocol=http;AccountName=a;AccountKey=YQ==;BlobEndpoint=${endpoint}/a` })],
    ])('%s is Unavailable at the open deadline, naming the URL, not a wait for the SDK to give up', async (url, env) => {
      process.env = { ...saved, ...env() };
      await expect(openStore(url, { openTimeoutMs: 300 })).rejects.toMatchObject({
        code: 'UNAVAILABLE',
        message: `cannot open store ${url}: no answer from its endpoint within 0.3 s`,
      });
    });
  });
});
