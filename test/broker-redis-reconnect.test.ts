/**
 * A broker's Redis connections across a dropped link: after a reconnect the broker listens to other brokers' appends
 * again, and a subscribe that Redis never answered must not end the process when the connection then closes.
 * Real Redis, behind a TCP proxy the test can cut.
 */
import * as path from 'node:path';
import Redis from 'ioredis';
import { TopicName } from '@tributary/core';
import { LocalStore } from '../libs/storage/src';
import { BrokerContext } from '../libs/sync/src/broker/broker-context';
import { REDIS_URL, tempDir, TempDir } from '../libs/sync/src/testing/sync-harness';
import { TcpLink } from './support/tcp-link';
import { waitUntil } from './support/wait';

/**
 * A link to the Redis at REDIS_URL that the test can cut. With `holdFromPsubscribe`, a connection that sends
 * PSUBSCRIBE gets nothing further through: what it sends from then on is only recorded in `held`.
 */
class RedisLinkProxy {
  holdFromPsubscribe = false;
  /** What connections sent after they were held, as text. */
  readonly held: string[] = [];
  private link!: TcpLink;

  static async start(): Promise<RedisLinkProxy> {
    const proxy = new RedisLinkProxy();
    const target = new URL(REDIS_URL);
    proxy.link = await TcpLink.start(target.hostname, Number(target.port || 6379), {
      clientFilter: () => {
        let holding = false;
        return (d) => {
          const text = d.toString('latin1');
          if (!holding && proxy.holdFromPsubscribe && /psubscribe/i.test(text)) holding = true;
          if (holding) proxy.held.push(text);
          return !holding;
        };
      },
    });
    return proxy;
  }

  get url(): string {
    return this.link.through('redis://127.0.0.1');
  }

  /** Local ports of the proxy's connections to Redis: how Redis's CLIENT LIST names the broker's connections. */
  upstreamPorts(): number[] {
    return this.link.upstreamPorts();
  }

  /** Cuts every connection, as a network failure or a Redis restart would. */
  dropAll(): void {
    this.link.drop();
  }

  close(): Promise<void> {
    return this.link.close();
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
