/**
 * The S3 adapter against s3rver (in a child process) behind the conditional-write proxy: the shared contract suite
 * twice (overlapping conditional writes serialized, then answered 409), then what is particular to S3: opening
 * (missing bucket, credentials, endpoints, timeouts), multipart create-if-absent, aborted uploads, pagination and
 * prefixes. Detecting an object corrupted inside the store is not the adapter's job (the object database verifies
 * ids on read), so it is not tested here.
 */
import { AddressInfo, Socket, createServer } from 'node:net';
import { Readable } from 'node:stream';
import {
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { S3Store } from '../libs/storage/src/s3.store';
import { S3Timeouts } from '../libs/storage/src/s3/s3-client.factory';
import {
  describeObjectStoreContract,
  expectBytes,
  listKeys,
  pattern,
  patternStream,
  readStream,
} from '../libs/storage/src/testing/store-contract';
import { startFakeGcs } from './support/fake-gcs-server';
import { ConditionalProxy, startConditionalProxy } from './support/s3-conditional-proxy';
import { S3Emulator, s3Env, startS3Emulator } from './support/s3rver-harness';
import { closedPort, expectLostAnswersTakenAsDone, expectWebPagesRefused, withEnv, withWebServer } from './support/cloud-store-helpers';
import { HttpFaultProxy } from './support/http-fault-proxy';
import { waitUntil } from './support/wait';

const MiB = 1024 * 1024;

let emulator: S3Emulator;
let conflicting: ConditionalProxy;
let buckets = 0;

beforeAll(async () => {
  emulator = await startS3Emulator();
  conflicting = await startConditionalProxy({ upstream: emulator.s3rverEndpoint, mode: 'conflict' });
});

afterAll(async () => {
  await conflicting?.close();
  await emulator?.stop();
});

/** A store in a new bucket, below a prefix, so prefix handling is exercised by every contract test. */
async function freshStore(env: Record<string, string> = emulator.env): Promise<S3Store> {
  return S3Store.open(`s3://contract-${++buckets}/repos/main`, { create: true, env });
}

describeObjectStoreContract('S3 on s3rver, conditional writes enforced by the proxy', async () => ({
  store: await freshStore(),
  cleanup: async () => undefined,
}));

describeObjectStoreContract('S3 on s3rver, overlapping conditional writes answered 409', async () => ({
  store: await freshStore(s3Env(conflicting.endpoint)),
  cleanup: async () => undefined,
}));

describe('S3Store', () => {
  const opened: S3Store[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
  });
  async function open(url: string, opts: { create?: boolean; env?: Record<string, string>; timeouts?: Partial<S3Timeouts> } = {}): Promise<S3Store> {
    const store = await S3Store.open(url, { env: emulator.env, ...opts });
    opened.push(store);
    return store;
  }
  function sdk(endpoint = emulator.endpoint): S3Client {
    const { AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION } = s3Env(endpoint);
    return new S3Client({
      endpoint,
      forcePathStyle: true,
      region: AWS_REGION,
      credentials: { accessKeyId: AWS_ACCESS_KEY_ID, secretAccessKey: AWS_SECRET_ACCESS_KEY },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  describe('opening', () => {
    it('refuses a missing bucket without create, naming the URL, and creates it with create', async () => {
      const url = 's3://never-created/repo';
      await expect(S3Store.open(url, { env: emulator.env })).rejects.toMatchObject({
        code: 'NOT_FOUND',
        message: expect.stringContaining(url),
      });
      const store = await open(url, { create: true });
      await store.putIfAbsent('x', Buffer.from('1'));
      // Creating again is harmless, and a plain open now finds the bucket.
      await open(url, { create: true });
      expect((await (await open(url)).get('x')).toString()).toBe('1');
    });

    it('reports wrong credentials as PERMISSION_DENIED naming the URL', async () => {
      await open('s3://guarded/x', { create: true });
      const env = { ...emulator.env, AWS_ACCESS_KEY_ID: 'NOBODY' };
      await expect(S3Store.open('s3://guarded/x', { env })).rejects.toMatchObject({
        code: 'PERMISSION_DENIED',
        message: expect.stringContaining('s3://guarded/x'),
      });
    });

    // Missing credentials are a setting to fix (FAILED_PRECONDITION, exit 2), as on Azure and GCS.
    it('asks for keys instead of probing instance metadata when an endpoint is set without them', async () => {
      const env = { AWS_ENDPOINT_URL_S3: emulator.endpoint };
      await expect(S3Store.open('s3://guarded/x', { env })).rejects.toMatchObject({
        code: 'FAILED_PRECONDITION',
        message: expect.stringMatching(/s3:\/\/guarded\/x.*AWS_ACCESS_KEY_ID/),
      });
    });

    it('asks for keys when the SDK finds none for AWS itself', async () => {
      const none = { AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, AWS_SESSION_TOKEN: undefined, AWS_PROFILE: undefined };
      const noFiles = { AWS_CONFIG_FILE: '/nonexistent/config', AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/credentials' };
      const noMetadata = { AWS_EC2_METADATA_DISABLED: 'true', AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: undefined, AWS_CONTAINER_CREDENTIALS_FULL_URI: undefined, AWS_WEB_IDENTITY_TOKEN_FILE: undefined };
      await withEnv({ ...none, ...noFiles, ...noMetadata }, async () => {
        await expect(S3Store.open('s3://guarded/x', { env: { AWS_REGION: 'us-east-1' } })).rejects.toMatchObject({
          code: 'FAILED_PRECONDITION',
          message: expect.stringMatching(/^cannot open store s3:\/\/guarded\/x at AWS S3: .*; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/),
        });
      });
    });

    it('takes AWS_ENDPOINT_URL when AWS_ENDPOINT_URL_S3 is not set', async () => {
      const { AWS_ENDPOINT_URL_S3, ...rest } = emulator.env;
      const env = { ...rest, AWS_ENDPOINT_URL: AWS_ENDPOINT_URL_S3 };
      const store = await open('s3://generic-endpoint', { create: true, env });
      expect(store.endpoint).toBe(emulator.endpoint);
    });

    it('rejects malformed URLs and endpoints, naming them', async () => {
      const urls = ['s3://', 's3://UPPER/x', 's3://ab', 's3://bkt/../x', 's3://bkt/a//b'];
      urls.push('s3://bkt/x?endpoint=y', 's3://me@bkt/x', 'gs://bkt/x');
      for (const url of urls) {
        await expect(S3Store.open(url, { env: emulator.env })).rejects.toMatchObject({
          code: 'INVALID_ARGUMENT',
          message: expect.stringContaining(JSON.stringify(url)),
        });
      }
      await expect(S3Store.open('s3://bucket', { env: { ...emulator.env, AWS_ENDPOINT_URL_S3: 'localhost:9000' } }))
        .rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('AWS_ENDPOINT_URL_S3') });
    });

    it('fails with UNAVAILABLE naming the URL and endpoint when nothing listens', async () => {
      const endpoint = `http://127.0.0.1:${await closedPort()}`;
      const failure = S3Store.open('s3://anything/repo', { env: s3Env(endpoint) });
      await expect(failure).rejects.toMatchObject({ code: 'UNAVAILABLE' });
      await expect(failure).rejects.toThrow(/s3:\/\/anything\/repo.*127\.0\.0\.1/);
    });

    it('says the endpoint answered, but not as S3 does, when a web server answers there', async () => {
      for (const status of [200, 404, 502]) {
        await withWebServer(status, async (endpoint) => {
          for (const create of [false, true]) {
            const failure = S3Store.open('s3://anything/repo', { env: s3Env(endpoint), create });
            await expect(failure).rejects.toMatchObject({
              code: 'UNAVAILABLE',
              message: `cannot open store s3://anything/repo at ${endpoint}: it answered HTTP ${status}, but not as S3 does (a proxy or another server?)`,
            });
          }
        });
      }
    });

    it('says a server that answers the bucket 404 without an S3 error is not S3, naming the endpoint, rather than that the bucket is missing', async () => {
      // The GCS stand-in: a storage server, but not S3's API, whose 404 carries a JSON error.
      const gcs = await startFakeGcs();
      try {
        for (const create of [false, true]) {
          const error = await S3Store.open('s3://some-bucket/p', { env: s3Env(gcs.endpoint), create }).catch((e: unknown) => e);
          expect(error).toMatchObject({
            code: 'NOT_FOUND',
            message: `cannot open store s3://some-bucket/p at ${gcs.endpoint}: it answered HTTP 404 without an S3 error code (a proxy or another server?)`,
          });
        }
      } finally {
        await gcs.stop();
      }
    });

    it('gives up on an endpoint that accepts connections but never answers, with UNAVAILABLE', async () => {
      const sockets: Socket[] = [];
      const silent = createServer((socket) => void sockets.push(socket));
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      const { port } = silent.address() as AddressInfo;
      try {
        const failure = S3Store.open('s3://anything/repo', {
          env: s3Env(`http://127.0.0.1:${port}`),
          timeouts: { quickRequestMs: 300 },
        });
        await expect(failure).rejects.toMatchObject({
          code: 'UNAVAILABLE',
          message: expect.stringContaining('s3://anything/repo'),
        });
        expect(sockets.length).toBeGreaterThan(0);
      } finally {
        for (const socket of sockets) socket.destroy();
        await new Promise<void>((resolve) => silent.close(() => resolve()));
      }
    });

    it('takes a compare-and-swap that took effect though its answer was lost as done, not as a conflict', async () => {
      let lose = 0;
      const { hostname, port } = new URL(emulator.endpoint);
      const proxy = await HttpFaultProxy.start({ host: hostname, port: Number(port) }, (req) =>
        lose > 0 && req.method === 'PUT' && req.url?.includes('/refs/') ? (lose--, 'lose-answer' as const) : undefined,
      );
      try {
        await open('s3://lost-answers/p', { create: true });
        const store = await open('s3://lost-answers/p', { env: s3Env(`http://127.0.0.1:${proxy.port}`) });
        await expectLostAnswersTakenAsDone(store, (n) => (lose = n));
        expect(proxy.requests.filter((r) => r.faulted)).toHaveLength(2);
      } finally {
        await proxy.close();
      }
    });

    it('never takes a web page answering in place of S3 after the store opened for data, an absent key or a conflict', async () => {
      for (const status of [200, 404]) {
        let page = false;
        const { hostname, port } = new URL(emulator.endpoint);
        const proxy = await HttpFaultProxy.start({ host: hostname, port: Number(port) }, () =>
          page ? { status, headers: { 'content-type': 'text/html' }, body: '<html>Sign in to the gateway</html>' } : undefined,
        );
        try {
          const store = await open(`s3://web-page-${status}/p`, { create: true, env: s3Env(`http://127.0.0.1:${proxy.port}`) });
          page = true;
          await expectWebPagesRefused(store, 'S3');
        } finally {
          await proxy.close();
        }
      }
    });

    it('waits out a conditional write still under way (409) before judging a swap, so its own slow first try counts', async () => {
      // The first try of the swap is held at the store past the client's time limit; the client tries again and is
      // answered 409 while the first is still under way, which then takes effect.
      let held = 0;
      conflicting.beforeForward = async (write) => {
        if (write.key.includes('refs/') && held++ === 0) await new Promise((resolve) => setTimeout(resolve, 1200));
      };
      // As S3 does, the fault proxy carries out a request it has received in full, though its client has gone.
      const { hostname, port } = new URL(conflicting.endpoint);
      const front = await HttpFaultProxy.start({ host: hostname, port: Number(port) }, () => undefined);
      try {
        const env = s3Env(`http://127.0.0.1:${front.port}`);
        const store = await open('s3://slow-first-try/p', { create: true, env, timeouts: { quickRequestMs: 1000 } });
        const version = await store.compareAndSwap('refs/heads/main', undefined, Buffer.from('mine'));
        expect(await store.readVersioned('refs/heads/main')).toEqual({ version, data: Buffer.from('mine') });
        expect(conflicting.writes.filter((w) => w.key.includes('refs/heads/main')).map((w) => w.refused)).toContain(409);
      } finally {
        conflicting.beforeForward = undefined;
        await front.close();
      }
    });

    it('reports a bucket deleted after opening as NOT_FOUND, not as a missing key', async () => {
      const store = await open('s3://short-lived', { create: true });
      const client = sdk();
      try {
        await client.send(new DeleteBucketCommand({ Bucket: 'short-lived' }));
      } finally {
        client.destroy();
      }
      await expect(store.putIfAbsent('k', Buffer.from('x'))).rejects.toMatchObject({
        code: 'NOT_FOUND',
        message: expect.stringContaining('bucket does not exist'),
      });
    });
  });

  describe('multipart uploads', () => {
    it('sends If-None-Match: * on CompleteMultipartUpload, and only on the requests that publish', async () => {
      const store = await open('s3://multipart-headers/r', { create: true });
      const size = 3 * 8 * MiB + 1000;
      const from = emulator.proxy.requests.length;
      await store.putIfAbsent('packs/p1.pack', patternStream(size, 256 * 1024));
      const sent = emulator.proxy.requests
        .slice(from)
        .filter((r) => r.url.startsWith('/multipart-headers/r/packs/p1.pack'));
      const creates = sent.filter((r) => r.method === 'POST' && /[?&]uploads/.test(r.url));
      const parts = sent.filter((r) => r.method === 'PUT' && /[?&]partNumber=/.test(r.url));
      const completes = sent.filter((r) => r.method === 'POST' && /[?&]uploadId=/.test(r.url));
      expect(creates).toHaveLength(1);
      // Four parts; one the emulator failed under load may be sent again (the SDK's retry), without the header too.
      expect([...new Set(parts.map((r) => new URL(r.url, 'http://x').searchParams.get('partNumber')))].sort()).toEqual(['1', '2', '3', '4']);
      expect(completes).toHaveLength(1);
      expect(completes[0].ifNoneMatch).toBe('*');
      for (const r of [...creates, ...parts]) expect(r.ifNoneMatch).toBeUndefined();
      expect((await store.head('packs/p1.pack'))?.size).toBe(size);
    });

    it('sends a stream that ends within one part as one conditional PutObject, without asking first', async () => {
      const store = await open('s3://small-stream/r', { create: true });
      const size = 300 * 1024 + 5;
      const from = emulator.proxy.requests.length;
      await store.putIfAbsent('packs/small.pack', patternStream(size, 64 * 1024));
      const sent = emulator.proxy.requests
        .slice(from)
        .filter((r) => r.url.startsWith('/small-stream/r/packs/small.pack'));
      expect(sent.map((r) => r.method)).toEqual(['PUT']);
      expect(sent[0].ifNoneMatch).toBe('*');
      expectBytes(await store.get('packs/small.pack'), pattern(0, size));
      await expect(store.putIfAbsent('packs/small.pack', patternStream(size, 64 * 1024))).rejects.toMatchObject({
        code: 'ALREADY_EXISTS',
      });
    });

    it.each([
      ['serialized, the loser gets 412', 'serialize', 412],
      ['overlapping, the loser gets 409', 'conflict', 409],
    ] as const)(
      'lets exactly one of two multipart uploads of one key win at CompleteMultipartUpload (%s)',
      async (_, mode, refusal) => {
        const proxy = mode === 'conflict' ? conflicting : emulator.proxy;
        const store = await open(`s3://multipart-race-${mode}/r`, { create: true, env: s3Env(proxy.endpoint) });
        const size = 2 * 8 * MiB + 7;
        // Both streams hold back their bytes until both uploads have passed the early existence check, so the
        // decision is left to the conditional CompleteMultipartUpload.
        let started = 0;
        let release!: () => void;
        const bothStarted = new Promise<void>((resolve) => (release = resolve));
        const gated = () => {
          let pos = 0;
          return new Readable({
            async read() {
              if (pos === 0 && ++started === 2) release();
              await bothStarted;
              if (pos >= size) return void this.push(null);
              this.push(pattern(pos, Math.min(MiB, size - pos)));
              pos += MiB;
            },
          });
        };
        const from = proxy.writes.length;
        try {
          if (mode === 'conflict') {
            // Holds the first CompleteMultipartUpload until the second has arrived (and been refused).
            proxy.beforeForward = async (write) => {
              if (write.operation !== 'CompleteMultipartUpload') return;
              const refused = () => proxy.writes.slice(from).some((w) => w.operation === write.operation && w.refused);
              for (let waited = 0; !refused() && waited < 10_000; waited += 10) await sleep(10);
            };
          }
          const results = await Promise.allSettled([
            store.putIfAbsent('packs/same.pack', gated()),
            store.putIfAbsent('packs/same.pack', gated()),
          ]);
          expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
          const lost = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')!;
          expect(lost.reason).toMatchObject({ code: 'ALREADY_EXISTS' });
          const completes = proxy.writes.slice(from).filter((w) => w.operation === 'CompleteMultipartUpload');
          expect(completes.map((w) => w.refused).sort()).toEqual([refusal, undefined]);
          expect((await store.head('packs/same.pack'))?.size).toBe(size);
          expect(await listKeys(store, '')).toEqual(['packs/same.pack']);
        } finally {
          proxy.beforeForward = undefined;
        }
      },
    );

    it('leaves nothing visible when the source fails after parts were uploaded, and aborts the upload', async () => {
      const store = await open('s3://multipart-abort/r', { create: true });
      const from = emulator.proxy.requests.length;
      let sent = 0;
      const failing = new Readable({
        read() {
          if (sent >= 20 * MiB) {
            this.destroy(new Error('writer killed'));
            return;
          }
          this.push(pattern(sent, MiB));
          sent += MiB;
        },
      });
      await expect(store.putIfAbsent('packs/half.pack', failing)).rejects.toThrow('writer killed');
      const sentNow = emulator.proxy.requests.slice(from);
      expect(sentNow.some((r) => r.method === 'PUT' && /[?&]partNumber=/.test(r.url))).toBe(true);
      expect(sentNow.some((r) => r.method === 'DELETE' && /[?&]uploadId=/.test(r.url))).toBe(true);
      expect(await store.head('packs/half.pack')).toBeUndefined();
      await expect(store.get('packs/half.pack')).rejects.toMatchObject({ code: 'NOT_FOUND' });
      expect(await listKeys(store, '')).toEqual([]);
      await store.putIfAbsent('packs/half.pack', Buffer.from('complete'));
      expect((await store.get('packs/half.pack')).toString()).toBe('complete');
    });

    it('gives up on a pack once one part fails, cancelling the parts in flight, and reports that failure', async () => {
      const { hostname, port } = new URL(emulator.endpoint);
      let parts = 0;
      const silent: Socket[] = [];
      // Of the parts sent side by side, one is refused and the others meet an endpoint that stopped answering:
      // lib-storage alone would wait out each of their timeouts (and send further parts) before giving up.
      const proxy = await HttpFaultProxy.start({ host: hostname, port: Number(port) }, (req) => {
        if (req.method !== 'PUT' || !/[?&]partNumber=/.test(req.url ?? '')) return undefined;
        if (++parts === 1) return { status: 400, headers: { 'content-type': 'application/xml' }, body: '<Error><Code>InvalidPart</Code><Message>refused</Message></Error>' };
        silent.push(req.socket);
        return 'silence';
      });
      try {
        const store = await open('s3://part-refused/p', { create: true, env: s3Env(`http://127.0.0.1:${proxy.port}`) });
        const body = Readable.from((function* () { for (let i = 0; i < 48; i++) yield pattern(i * MiB, MiB); })(), { objectMode: false });
        await expect(store.putIfAbsent('packs/refused.pack', body)).rejects.toMatchObject({
          code: 'FAILED_PRECONDITION',
          message: expect.stringContaining('s3://part-refused/p'),
        });
        await waitUntil(() => silent.every((s) => s.destroyed), 'the parts in flight cancelled');
        expect(parts).toBeLessThanOrEqual(4); // no part started after the failure
        expect(await store.head('packs/refused.pack')).toBeUndefined();
      } finally {
        await proxy.close();
      }
    });

    it('shows nothing of a multipart upload whose writer died before completing it', async () => {
      const store = await open('s3://multipart-dead/r', { create: true });
      const client = sdk();
      try {
        const { UploadId } = await client.send(
          new CreateMultipartUploadCommand({ Bucket: 'multipart-dead', Key: 'r/packs/dead.pack' }),
        );
        await client.send(
          new UploadPartCommand({
            Bucket: 'multipart-dead',
            Key: 'r/packs/dead.pack',
            UploadId,
            PartNumber: 1,
            Body: pattern(0, 5 * MiB),
          }),
        );
      } finally {
        client.destroy();
      }
      expect(await store.head('packs/dead.pack')).toBeUndefined();
      expect(await listKeys(store, '')).toEqual([]);
      await store.putIfAbsent('packs/dead.pack', patternStream(9 * MiB, MiB));
      const tail = await store.getRange('packs/dead.pack', { offset: 9 * MiB - 10, length: 10 });
      expectBytes(tail, pattern(9 * MiB - 10, 10));
    });
  });

  describe('listing and prefixes', () => {
    it('pages through more than 1000 keys', async () => {
      const store = await open('s3://many-keys/r', { create: true });
      const keys = Array.from({ length: 1234 }, (_, i) => `objects/${String(i).padStart(4, '0')}`);
      for (let i = 0; i < keys.length; i += 50) {
        await Promise.all(keys.slice(i, i + 50).map((k) => store.putIfAbsent(k, Buffer.from(k))));
      }
      const from = emulator.proxy.requests.length;
      expect(await listKeys(store, 'objects/')).toEqual(keys);
      const listings = emulator.proxy.requests
        .slice(from)
        .filter((r) => r.method === 'GET' && /list-type=2/.test(r.url));
      expect(listings.length).toBeGreaterThanOrEqual(2);
    });

    it('keeps stores under different prefixes of one bucket apart, and skips foreign object names', async () => {
      const a = await open('s3://shared-bucket/team-a', { create: true });
      const b = await open('s3://shared-bucket/team-a-2', { create: true });
      const root = await open('s3://shared-bucket');
      await a.putIfAbsent('x', Buffer.from('a'));
      await b.putIfAbsent('x', Buffer.from('b'));
      const client = sdk();
      try {
        await client.send(new PutObjectCommand({ Bucket: 'shared-bucket', Key: 'team-a/odd name', Body: 'foreign' }));
      } finally {
        client.destroy();
      }
      expect(await listKeys(a, '')).toEqual(['x']);
      expect(await listKeys(b, '')).toEqual(['x']);
      expect((await a.get('x')).toString()).toBe('a');
      expect((await b.get('x')).toString()).toBe('b');
      expect(await listKeys(root, '')).toEqual(['team-a-2/x', 'team-a/x']);
    });
  });

  describe('reads', () => {
    /** A store behind a fault proxy that cuts the next `cuts` GETs of packs and refs after `cutAt` bytes of their body. */
    async function cutting(bucket: string, change?: () => Promise<void>) {
      const faults = { cuts: 0, cutAt: 300_000, change, gets: [] as { range?: string; ifMatch?: string }[] };
      const { hostname, port } = new URL(emulator.endpoint);
      const proxy = await HttpFaultProxy.start({ host: hostname, port: Number(port) }, async (req) => {
        if (req.method !== 'GET' || !/\/(packs|refs)\//.test(req.url ?? '')) return undefined;
        const ifMatch = req.headers['if-match'];
        faults.gets.push({ range: req.headers.range, ifMatch });
        // Another writer replaces the object between the cut and the resumed GET.
        if (ifMatch && faults.change) await faults.change();
        return faults.cuts > 0 ? (faults.cuts--, { afterBytes: faults.cutAt, then: 'cut' as const }) : undefined;
      });
      const store = await open(`s3://${bucket}/p`, { create: true, env: s3Env(`http://127.0.0.1:${proxy.port}`) });
      return { store, proxy, faults, url: `s3://${bucket}/p` };
    }

    it('resumes a download whose connection is cut mid-body from where it stopped, pinned to its ETag', async () => {
      const { store, proxy, faults } = await cutting('resumed-reads');
      try {
        const whole = pattern(0, MiB);
        await store.putIfAbsent('packs/a.pack', whole);
        const etag = (await store.readVersioned('packs/a.pack'))!.version;
        faults.gets.length = 0;
        faults.cuts = 1;
        expectBytes(await store.get('packs/a.pack'), whole);
        faults.cuts = 1;
        expectBytes(await store.getRange('packs/a.pack', { offset: 1000, length: 800_000 }), pattern(1000, 800_000));
        faults.cuts = 1;
        expectBytes(await readStream(await store.getStream('packs/a.pack', { offset: 5, length: MiB })), whole.subarray(5));
        // Each cut read was asked for once, then its rest once, from the byte reached and only of the same version.
        const [full, rest, ranged, rangedRest, streamed, streamedRest] = faults.gets;
        expect(faults.gets).toHaveLength(6);
        expect([full.ifMatch, ranged.ifMatch, streamed.ifMatch]).toEqual([undefined, undefined, undefined]);
        for (const resumed of [rest, rangedRest, streamedRest]) expect(resumed.ifMatch).toBe(etag);
        expect(rest.range).toMatch(/^bytes=(\d+)-1048575$/);
        expect(rangedRest.range).toMatch(/^bytes=(\d+)-800999$/);
        expect(streamedRest.range).toMatch(/^bytes=(\d+)-1048575$/);
        for (const resumed of [rest, rangedRest, streamedRest]) expect(Number(/=(\d+)-/.exec(resumed.range!)![1])).toBeGreaterThan(1000);
        // A ref's read too, which keeps the version it started on.
        const value = pattern(0, 600_000);
        const version = await store.compareAndSwap('refs/heads/main', undefined, value);
        faults.cuts = 1;
        expect(await store.readVersioned('refs/heads/main')).toEqual({ data: value, version });
        expect(faults.gets.slice(6).map((g) => g.ifMatch)).toEqual([undefined, version]);
      } finally {
        await proxy.close();
      }
    });

    it('gives up on a download cut every time after three resumes, with UNAVAILABLE naming the URL', async () => {
      const { store, proxy, faults, url } = await cutting('cut-reads');
      try {
        await store.putIfAbsent('packs/a.pack', pattern(0, MiB));
        [faults.cuts, faults.cutAt] = [100, 200_000];
        for (const read of [() => store.get('packs/a.pack'), () => store.getRange('packs/a.pack', { offset: 10, length: 900_000 })]) {
          const before = faults.gets.length;
          await expect(read()).rejects.toMatchObject({
            code: 'UNAVAILABLE',
            message: expect.stringContaining(`cannot read packs/a.pack in ${url}`),
          });
          expect(faults.gets.length - before).toBe(4);
        }
      } finally {
        await proxy.close();
      }
    });

    it('fails a resumed download whose object was replaced meanwhile, never splicing two versions', async () => {
      const client = sdk();
      const replace = async () => {
        await client.send(new PutObjectCommand({ Bucket: 'replaced-reads', Key: 'p/packs/a.pack', Body: pattern(7, MiB) }));
      };
      const { store, proxy, faults, url } = await cutting('replaced-reads', replace);
      try {
        await store.putIfAbsent('packs/a.pack', pattern(0, MiB));
        faults.cuts = 1;
        await expect(store.get('packs/a.pack')).rejects.toMatchObject({
          code: 'CONFLICT',
          message: expect.stringMatching(new RegExp(`^cannot read packs/a.pack in ${url}: it changed while it was read`)),
        });
        expect(faults.gets).toHaveLength(2);
      } finally {
        client.destroy();
        await proxy.close();
      }
    });

    it('reads a versioned value again, whole, when it changed between a cut and the resume: a ref that moved', async () => {
      const client = sdk();
      let moved: string | undefined;
      const move = async () => {
        moved ??= (await client.send(new PutObjectCommand({ Bucket: 'moved-refs', Key: 'p/refs/big', Body: pattern(7, MiB) }))).ETag;
      };
      const { store, proxy, faults } = await cutting('moved-refs', move);
      try {
        await store.compareAndSwap('refs/big', undefined, pattern(0, MiB));
        faults.gets.length = 0;
        faults.cuts = 1;
        const read = await store.readVersioned('refs/big');
        expectBytes(read!.data, pattern(7, MiB));
        expect(read!.version).toBe(moved);
        // The first answer, cut; its rest, refused (412) as the ref had moved; the whole new value.
        expect(faults.gets.map((g) => Boolean(g.ifMatch))).toEqual([false, true, false]);
      } finally {
        client.destroy();
        await proxy.close();
      }
    });

    it('streams a large object in bounded chunks and can be stopped early', async () => {
      const store = await open('s3://stream-reads/r', { create: true });
      await store.putIfAbsent('big', patternStream(20 * MiB, MiB));
      const stream = await store.getStream('big');
      let seen = 0;
      for await (const chunk of stream) {
        expect((chunk as Buffer).length).toBeLessThanOrEqual(4 * MiB);
        seen += (chunk as Buffer).length;
        if (seen > 3 * MiB) break;
      }
      expect(stream.destroyed).toBe(true);
      // The connection was released: the store keeps working.
      const tail = await readStream(await store.getStream('big', { offset: 19 * MiB, length: 2 * MiB }));
      expectBytes(tail, pattern(19 * MiB, MiB));
    });
  });
});

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

