import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import * as http from 'node:http';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { BlobServiceClient } from '@azure/storage-blob';
import { uploadBlocks } from '../libs/storage/src/azure/azure-block-upload';
import { AzureBlobStore, AzureBlobStoreOptions } from '../libs/storage/src/azure.store';
import {
  describeObjectStoreContract,
  expectBytes,
  listKeys,
  pattern,
  patternStream,
  readStream,
} from '../libs/storage/src/testing/store-contract';
import { Azurite, AZURITE_ACCOUNT, startAzurite } from './support/azurite-harness';
import { runAdapterFigure } from './support/bench-adapter-figure';
import { closedPort, expectLostAnswersTakenAsDone, expectSmallRequestsGiveUp, gatedStream, setEnv, withEnv } from './support/cloud-store-helpers';
import { FaultAnswer, HttpFaultProxy } from './support/http-fault-proxy';

let azurite: Azurite;
let restoreEnv: () => void = () => undefined;

beforeAll(async () => {
  azurite = await startAzurite();
  restoreEnv = setEnv(azurite.env);
});
afterAll(async () => {
  restoreEnv();
  await azurite?.stop();
});

function uniqueContainer(): string {
  return `c-${randomBytes(6).toString('hex')}`;
}

describeObjectStoreContract('AzureBlobStore (prefix in a shared container)', async () => {
  const store = await AzureBlobStore.open(`az://contract/runs/${randomBytes(6).toString('hex')}`, { create: true });
  return { store, cleanup: async () => undefined };
});

describeObjectStoreContract('AzureBlobStore (container root, small blocks)', async () => {
  // Small thresholds so the contract's 8 MiB stream and the races go through staged blocks too.
  const store = await AzureBlobStore.open(`az://${uniqueContainer()}`, {
    create: true,
    singleRequestMax: 64 * 1024,
    blockSize: 1024 * 1024,
    listPageSize: 2,
  });
  return { store, cleanup: async () => undefined };
});

describe('AzureBlobStore', () => {
  it('refuses a missing container with NotFound naming the URL, and creates it only when asked', async () => {
    const url = `az://${uniqueContainer()}/data`;
    await expect(AzureBlobStore.open(url)).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: expect.stringContaining(url),
    });
    const created = await AzureBlobStore.open(url, { create: true });
    await created.putIfAbsent('x', Buffer.from('1'));
    await created.close();
    const again = await AzureBlobStore.open(url);
    expect((await again.get('x')).toString()).toBe('1');
    await again.close();
    await (await AzureBlobStore.open(url, { create: true })).close();
  });

  it('rejects malformed URLs and container names', async () => {
    await expect(AzureBlobStore.open('az://Upper/x')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(AzureBlobStore.open('az://a--b/x')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(AzureBlobStore.open('gs://bucket/x')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(AzureBlobStore.open('az://okay/x?endpoint=http://x')).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
  });

  it('reports wrong credentials as PermissionDenied naming the URL', async () => {
    const wrongKey = azurite.connectionString.replace(/AccountKey=[^;]+/, `AccountKey=${randomBytes(64).toString('base64')}`);
    await withEnv({ AZURE_STORAGE_CONNECTION_STRING: wrongKey }, async () => {
      const error = await AzureBlobStore.open('az://contract/x').catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'PERMISSION_DENIED' });
      expect((error as Error).message).toContain('az://contract/x');
    });
  });

  it('says which variables to set when no credentials are configured', async () => {
    await withEnv(
      { AZURE_STORAGE_CONNECTION_STRING: undefined, AZURE_STORAGE_ACCOUNT: undefined, AZURE_STORAGE_KEY: undefined },
      async () => {
        await expect(AzureBlobStore.open('az://contract/x')).rejects.toMatchObject({
          code: 'FAILED_PRECONDITION',
          message: expect.stringContaining('AZURE_STORAGE_CONNECTION_STRING'),
        });
      },
    );
  });

  it('refuses a connection string the SDK cannot read as bad input naming the variable, not an internal error', async () => {
    for (const garbage of ['garbage', 'AccountName=a;AccountKey=abc']) {
      await withEnv({ AZURE_STORAGE_CONNECTION_STRING: garbage }, async () => {
        await expect(AzureBlobStore.open('az://contract/x')).rejects.toMatchObject({
          code: 'INVALID_ARGUMENT',
          message: expect.stringMatching(/^AZURE_STORAGE_CONNECTION_STRING is not a connection string the Azure SDK can read: /),
        });
      });
    }
  });

  it('fails within seconds with Unavailable naming the URL when the endpoint is unreachable', async () => {
    const port = await closedPort();
    const unreachable = azurite.connectionString.replace(/BlobEndpoint=[^;]+/, `BlobEndpoint=http://127.0.0.1:${port}/${AZURITE_ACCOUNT}`);
    await withEnv({ AZURE_STORAGE_CONNECTION_STRING: unreachable }, async () => {
      const error = await AzureBlobStore.open('az://any/p').catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'UNAVAILABLE' });
      expect((error as Error).message).toContain('az://any/p');
      expect((error as Error).message).toContain(`127.0.0.1:${port}`);
    });
  });

  it('gives up on a server that accepts connections but never answers', async () => {
    const silent = await silentServer();
    const endpoint = azurite.connectionString.replace(/BlobEndpoint=[^;]+/, `BlobEndpoint=http://127.0.0.1:${silent.port}/${AZURITE_ACCOUNT}`);
    try {
      await withEnv({ AZURE_STORAGE_CONNECTION_STRING: endpoint }, async () => {
        const error = await AzureBlobStore.open('az://any/p', { requestTimeoutMs: 300, retryDelayMs: 10 }).catch((e: unknown) => e);
        expect(error).toMatchObject({ code: 'UNAVAILABLE', message: expect.stringContaining('az://any/p') });
      });
      expect(silent.connections()).toBe(3); // maxTries
    } finally {
      await silent.close();
    }
  });

  it('retries throttling and server errors with backoff, then succeeds', async () => {
    // A gateway's page for the second: it reaches the adapter as an error the SDK could not parse.
    const answers = [azureFailure(429, 'TooManyRequests'), { status: 502, headers: { 'content-type': 'text/html' }, body: '<html>Bad Gateway</html>' }, azureFailure(503, 'ServerBusy')];
    let puts = 0;
    const fault = (req: http.IncomingMessage) => (req.method === 'PUT' && req.url?.includes('/objects/') ? answers[puts++] : undefined);
    await behindProxy(fault, { maxTries: 4 }, async (store, proxy) => {
      await store.putIfAbsent('objects/a', Buffer.from('kept'));
      expect((await store.get('objects/a')).toString()).toBe('kept');
      expect(proxy.requests.filter((r) => r.method === 'PUT' && r.url.includes('/objects/')).map((r) => r.faulted)).toEqual([true, true, true, false]);
    });
  });

  it('gives up after maxTries on a service that keeps failing, with Unavailable naming the URL', async () => {
    let failing = false;
    await behindProxy(() => (failing ? azureFailure(500, 'InternalError') : undefined), {}, async (store, proxy, url) => {
      failing = true;
      const seen = proxy.requests.length;
      // A download: its failed answers arrive as streams, which must be let go for the next try to connect.
      const error = await store.getRange('objects/b', { offset: 0, length: 10 }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'UNAVAILABLE', message: expect.stringContaining(url) });
      expect((error as Error).message).toContain('InternalError');
      expect(proxy.requests.length - seen).toBe(3); // maxTries
    });
  });

  it('fails small requests within quickRequestMs when the service stops answering after the store opened', async () => {
    let silent = false;
    // Idle connections would be given up only after 60 s, three times over.
    await behindProxy(() => (silent ? 'silence' : undefined), { requestTimeoutMs: 60_000, quickRequestMs: 300 }, async (store) => {
      const version = await store.compareAndSwap('refs/heads/main', undefined, Buffer.from('a'));
      silent = true;
      await expectSmallRequestsGiveUp(store, version);
    });
  });

  it('takes a compare-and-swap that took effect though its answer was lost as done, not as a conflict', async () => {
    let lose = 0;
    const fault = (req: http.IncomingMessage) => (lose > 0 && req.method === 'PUT' && req.url?.includes('/refs/') ? (lose--, 'lose-answer' as const) : undefined);
    await behindProxy(fault, {}, async (store, proxy) => {
      await expectLostAnswersTakenAsDone(store, (n) => (lose = n));
      expect(proxy.requests.filter((r) => r.faulted)).toHaveLength(2);
    });
  });

  it('resumes a download whose connection breaks off, from where it stopped', async () => {
    let cuts = 0;
    let cutAt = 300_000;
    const fault = (req: http.IncomingMessage) =>
      cuts > 0 && req.method === 'GET' && req.url?.includes('/objects/') ? (cuts--, { afterBytes: cutAt, then: 'cut' as const }) : undefined;
    await behindProxy(fault, {}, async (store, proxy, url) => {
      await store.putIfAbsent('objects/a', pattern(0, 1 << 20));
      const seen = proxy.requests.length;
      cuts = 2;
      expectBytes(await store.get('objects/a'), pattern(0, 1 << 20));
      expectBytes(await store.getRange('objects/a', { offset: 1000, length: 500_000 }), pattern(1000, 500_000));
      // Two cut, each resumed once, and one whole.
      expect(proxy.requests.slice(seen).filter((r) => r.method === 'GET').length).toBe(4);
      // Cut every time, early: the resumes run out.
      [cuts, cutAt] = [100, 1000];
      const error = await store.get('objects/a').catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'UNAVAILABLE', message: expect.stringContaining(url) });
    });
  });

  it('resumes a ref read whose connection breaks off, pinned to the version it started on', async () => {
    let cuts = 0;
    const fault = (req: http.IncomingMessage) =>
      cuts > 0 && req.method === 'GET' && req.url?.includes('/refs/') ? (cuts--, { afterBytes: 1000, then: 'cut' as const }) : undefined;
    await behindProxy(fault, {}, async (store, proxy, url) => {
      const value = pattern(0, 20_000);
      const version = await store.compareAndSwap('refs/heads/main', undefined, value);
      const seen = proxy.requests.length;
      cuts = 1;
      const read = await store.readVersioned('refs/heads/main');
      expectBytes(read!.data, value);
      expect(read!.version).toBe(version);
      expect(proxy.requests.slice(seen).filter((r) => r.method === 'GET').length).toBe(2);
      cuts = 100;
      const error = await store.readVersioned('refs/heads/main').catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'UNAVAILABLE', message: expect.stringContaining(url) });
    });
  });

  it('gives up on a transfer that stalls on a connection reused from the pool, after requestTimeoutMs idle', async () => {
    let stall = false;
    // The answer's head and its first bytes, then nothing: the connection stays open.
    const fault = (req: http.IncomingMessage) => (stall && req.method === 'GET' && req.url?.includes('/objects/') ? { afterBytes: 3000, then: 'stall' as const } : undefined);
    await behindProxy(fault, { requestTimeoutMs: 300 }, async (store, _proxy, url) => {
      // A pooled connection to the proxy, as any command has by the time it reads packs.
      await store.putIfAbsent('objects/a', pattern(0, 1 << 20));
      stall = true;
      const error = await store.get('objects/a').catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'UNAVAILABLE', message: expect.stringContaining(url) });
    });
  });

  it('stages blocks from the stream\'s own buffers, at least blockSize each, at most `concurrency` at once', async () => {
    const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(uniqueContainer());
    await container.create();
    const blob = container.getBlockBlobClient('packs/p.pack');
    const pushed = Array.from({ length: 40 }, (_, i) => pattern(i * 100_000, 100_000));
    const sent = new Set<Buffer>();
    let inFlight = 0;
    let most = 0;
    const stageBlock = blob.stageBlock.bind(blob);
    blob.stageBlock = async (id, body, length, options) => {
      inFlight++;
      most = Math.max(most, inFlight);
      // The body is a factory (so a retry can send the block again) replaying the very buffers the source pushed.
      const replay = (body as () => Readable)();
      replay.on('data', (part: Buffer) => sent.add(part));
      await once(replay, 'end');
      try {
        return await stageBlock(id, body, length, options);
      } finally {
        inFlight--;
      }
    };
    await uploadBlocks(blob, Readable.from(pushed), 1024 * 1024, 2, { conditions: { ifNoneMatch: '*' } });
    expect([...sent].length).toBe(pushed.length);
    expect([...sent].every((part, i) => part === pushed[i])).toBe(true);
    expect(most).toBe(2);
    const sizes = (await blob.getBlockList('committed')).committedBlocks!.map((b) => b.size);
    expect(sizes).toEqual([...Array(3).fill(11 * 100_000), 7 * 100_000]);
    expectBytes(await blob.downloadToBuffer(), pattern(0, 4_000_000));
  });

  it('leaves nothing visible when a block upload breaks off after several blocks', async () => {
    const container = uniqueContainer();
    const store = await AzureBlobStore.open(`az://${container}/p`, {
      create: true,
      singleRequestMax: 256 * 1024,
      blockSize: 1024 * 1024,
    });
    try {
      await store.putIfAbsent('keep', Buffer.from('kept'));
      const size = 6 * 1024 * 1024;
      const raw = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(container);
      const listed = async (): Promise<string[]> => {
        const names: string[] = [];
        for await (const item of raw.listBlobsFlat({ includeUncommitedBlobs: true })) names.push(item.name);
        return names.sort();
      };
      let sent = 0;
      const failing = new Readable({
        read() {
          if (sent >= size / 2) {
            // The writer dies only once some blocks have reached Azure (uncommitted): the case to show harmless.
            void (async () => {
              for (let i = 0; i < 100 && !(await listed()).includes('p/packs/big.pack'); i++) await new Promise((r) => setTimeout(r, 50));
              this.destroy(new Error('writer died'));
            })();
            return;
          }
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
      // The blocks did reach Azure, uncommitted: only a listing that asks for uncommitted blobs shows them.
      expect(await listed()).toEqual(['p/keep', 'p/packs/big.pack']);
      await store.putIfAbsent('packs/big.pack', patternStream(size, 256 * 1024));
      expectBytes(await store.get('packs/big.pack'), pattern(0, size));
    } finally {
      await store.close();
    }
  });

  it('checks create-if-absent on the block-list commit, not only before staging', async () => {
    const store = await AzureBlobStore.open(`az://${uniqueContainer()}`, {
      create: true,
      singleRequestMax: 256 * 1024,
      blockSize: 1024 * 1024,
    });
    try {
      const { stream, open, started } = gatedStream(4 * 1024 * 1024, 1024 * 1024);
      const big = store.putIfAbsent('obj', stream);
      await started; // past the existence check, blocks being staged
      await store.putIfAbsent('obj', Buffer.from('the small writer won'));
      open();
      await expect(big).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
      expect((await store.get('obj')).toString()).toBe('the small writer won');
    } finally {
      await store.close();
    }
  });

  it('creates a small blob although another writer has staged, uncommitted blocks under its name', async () => {
    const container = uniqueContainer();
    const store = await AzureBlobStore.open(`az://${container}`, { create: true });
    try {
      const raw = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(container);
      const blockId = Buffer.from(`${'a'.repeat(36)}${'0'.repeat(12)}`).toString('base64');
      for (const key of ['obj', 'refs/heads/main']) await raw.getBlockBlobClient(key).stageBlock(blockId, Buffer.from('other'), 5);
      await store.putIfAbsent('obj', Buffer.from('mine'));
      const version = await store.compareAndSwap('refs/heads/main', undefined, Buffer.from('c1'));
      expect((await store.get('obj')).toString()).toBe('mine');
      expect(await store.readVersioned('refs/heads/main')).toEqual({ data: Buffer.from('c1'), version });
      // The other writer's commit now fails: its blocks went when ours was committed.
      await expect(raw.getBlockBlobClient('obj').commitBlockList([blockId], { conditions: { ifNoneMatch: '*' } })).rejects.toThrow();
      await expect(store.putIfAbsent('obj', Buffer.from('again'))).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
    } finally {
      await store.close();
    }
  });

  it('lists across pages and reads ranges across block boundaries', async () => {
    const store = await AzureBlobStore.open(`az://${uniqueContainer()}/p`, {
      create: true,
      listPageSize: 3,
      singleRequestMax: 256 * 1024,
      blockSize: 256 * 1024,
    });
    try {
      const keys = Array.from({ length: 8 }, (_, i) => `k/${i}`);
      for (const key of keys) await store.putIfAbsent(key, Buffer.from(key));
      expect(await listKeys(store, '')).toEqual(keys);
      const size = 3 * 1024 * 1024 + 17;
      await store.putIfAbsent('big', patternStream(size, 100_000));
      const offset = 256 * 1024 - 10;
      expectBytes(await store.getRange('big', { offset, length: 600_000 }), pattern(offset, 600_000));
      expectBytes(await readStream(await store.getStream('big', { offset: size - 5, length: 100 })), pattern(size - 5, 5));
    } finally {
      await store.close();
    }
  });
});

describe("the cloud bench's adapter figure (scripts/bench/adapter-throughput.js)", () => {
  it('runs the plain SDK and the adapter on the same bytes, reports both, and leaves nothing behind', async () => {
    const { rates, left } = await runAdapterFigure('az', 'bench');
    for (const rate of rates) expect(rate).toBeGreaterThan(0);
    expect(left).toEqual([]);
  });
});

/** A TCP server that accepts connections and reads requests but never answers. */
/** A failure as Azure Storage answers it: the status, `x-ms-error-code` and an XML error body. */
function azureFailure(status: number, code: string): FaultAnswer {
  return {
    status,
    headers: { 'content-type': 'application/xml', 'x-ms-error-code': code },
    body: `<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>${code} (from the test's proxy)</Message></Error>`,
  };
}

/**
 * Runs `fn` with a store in a new container, reached through a fault proxy in front of this suite's Azurite (see
 * HttpFaultProxy), retrying after 10 ms rather than seconds; closes both after.
 */
async function behindProxy(
  fault: Parameters<typeof HttpFaultProxy.start>[1],
  options: AzureBlobStoreOptions,
  fn: (store: AzureBlobStore, proxy: HttpFaultProxy, url: string) => Promise<void>,
): Promise<void> {
  const { hostname, port } = new URL(azurite.blobEndpoint);
  const proxy = await HttpFaultProxy.start({ host: hostname, port: Number(port) }, fault);
  const connectionString = azurite.connectionString.replace(/BlobEndpoint=[^;]+/, `BlobEndpoint=http://127.0.0.1:${proxy.port}/${AZURITE_ACCOUNT}`);
  const url = `az://${uniqueContainer()}/p`;
  try {
    await withEnv({ AZURE_STORAGE_CONNECTION_STRING: connectionString }, async () => {
      const store = await AzureBlobStore.open(url, { create: true, retryDelayMs: 10, ...options });
      try {
        await fn(store, proxy, url);
      } finally {
        await store.close();
      }
    });
  } finally {
    await proxy.close();
  }
}

async function silentServer(): Promise<{ port: number; connections(): number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  let count = 0;
  const server = net.createServer((socket) => {
    count++;
    sockets.add(socket);
    socket.resume();
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    connections: () => count,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

