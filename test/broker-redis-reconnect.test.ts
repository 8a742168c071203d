/**
 * A broker's Redis connections across a dropped link: after a reconnect the broker listens to other brokers' appends
 * again, and a subscribe that Redis never answered must not end the process when the connection then closes.
 * Real Redis, behind a TCP proxy the test can cut.
 */
import { connect, createServer, Server, Socket } from 'node:net';
import * as path from 'node:path';
import Redis from 'ioredis';
import { TopicName } from '@tributary/core';
import { LocalStore } from '../libs/storage/src';
import { BrokerContext } from '../libs/sync/src/broker/broker-context';
import { REDIS_URL, tempDir, TempDir } from '../libs/sync/src/testing/sync-harness';
import { waitUntil } from './support/wait';

/** Forwards to the Redis at REDIS_URL. With `holdFromPsubscribe`, a connection sending PSUBSCRIBE gets no further. */
class RedisLinkProxy {
  holdFromPsubscribe = false;
  /** What connections sent after they were held, as text. */
  readonly held: string[] = [];
  private readonly pairs = new Set<{ client: Socket; upstream: Socket }>();

  private constructor(private readonly server: Server) {}

  static async start(): Promise<RedisLinkProxy> {
    const target = new URL(REDIS_URL);
    const server = createServer();
    const proxy = new RedisLinkProxy(server);
    server.on('connection', (client) => {
      const upstream = connect(Number(target.port || 6379), target.hostname);
      const pair = { client, upstream };
      proxy.pairs.add(pair);
      let holding = false;
      client.on('data', (d: Buffer) => {
        const text = d.toString('latin1');
        if (!holding && proxy.holdFromPsubscribe && /psubscribe/i.test(text)) holding = true;
        if (holding) proxy.held.push(text);
        else upstream.write(d);
      });
      upstream.pipe(client);
      const end = () => {
        proxy.pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      };
      client.on('close', end).on('error', end);
      upstream.on('close', end).on('error', end);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get url(): string {
    return `redis://127.0.0.1:${(this.server.address() as { port: number }).port}`;
  }

  /** Local ports of the proxy's connections to Redis: how Redis's CLIENT LIST names the broker's connections. */
  upstreamPorts(): number[] {
    return [...this.pairs].map((p) => p.upstream.localPort!).filter((p) => p !== undefined);
  }

  /** Cuts every connection, as a network failure or a Redis restart would. */
  dropAll(): void {
    for (const { client, upstream } of this.pairs) {
      client.destroy();
      upstream.destroy();
    }
  }

  async close(): Promise<void> {
    this.dropAll();
    await new Promise((r) => this.server.close(r));
  }
}

describe("a broker's Redis link, cut and restored", () => {
  let t: TempDir;
  let proxy: RedisLinkProxy;
  let direct: Redis;
  let ctx: BrokerContext | undefined;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);

  beforeEach(async () => {
    t = tempDir('trib-redis-link-');
    proxy = await RedisLinkProxy.start();
    direct = new Redis(REDIS_URL);
    unhandled.length = 0;
    process.on('unhandledRejection', onUnhandled);
    const store = await LocalStore.open(path.join(t.dir, 'store'), { create: true });
    ctx = await BrokerContext.open({ store, redisUrl: proxy.url });
  });

  afterEach(async () => {
    await ctx?.close();
    ctx = undefined;
    process.off('unhandledRejection', onUnhandled);
    await direct.quit();
    await proxy.close();
    t.cleanup();
  });

  /** The pattern subscriptions Redis counts for the broker's connections through the proxy. */
  async function brokerPatternSubscriptions(): Promise<number> {
    const ports = new Set(proxy.upstreamPorts());
    const list = (await direct.client('LIST')) as string;
    let psub = 0;
    for (const line of list.split('\n')) {
      const port = Number(/ addr=[^ ]*:(\d+) /.exec(` ${line} `)?.[1]);
      if (ports.has(port)) psub += Number(/ psub=(\d+)/.exec(line)?.[1] ?? 0);
    }
    return psub;
  }

  it("listens to other brokers' appends again once the link is back", async () => {
    await waitUntil(async () => (await brokerPatternSubscriptions()) === 1, 'the first subscription');
    const before = new Set(proxy.upstreamPorts());
    proxy.dropAll();
    // New connections (new ports), and on them the pattern subscription again.
    await waitUntil(async () => {
      const ports = proxy.upstreamPorts();
      return ports.length === 2 && ports.every((p) => !before.has(p)) && (await brokerPatternSubscriptions()) === 1;
    }, 'the resubscription');
    // And it hears them: an append another broker announces (here, straight on Redis) wakes a waiter. The wait's own
    // timeout is longer than waitUntil's, so only the announcement can end it in time.
    const topic = 'datasets/heart/na-aws' as TopicName;
    let heard = false;
    const waiting = ctx!.notifier.wait(topic, 60_000).then(() => (heard = true));
    await waitUntil(async () => {
      await direct.publish(ctx!.notifier.channel(topic), '7');
      return heard;
    }, 'the announced append to be heard');
    await waiting;
  });

  it('closes without an unhandled rejection when Redis never answered the resubscription', async () => {
    proxy.holdFromPsubscribe = true;
    proxy.dropAll();
    await waitUntil(() => proxy.held.some((h) => /psubscribe/i.test(h)), 'the resubscription to be sent');
    const closing = ctx!.close();
    ctx = undefined;
    // The QUIT reaches the held connection too; cutting it then ends the connection for good.
    await waitUntil(() => proxy.held.some((h) => /quit/i.test(h)), 'the QUIT');
    proxy.dropAll();
    await closing;
    await new Promise((r) => setTimeout(r, 50));
    expect(unhandled.map(String)).toEqual([]);
  });
});
