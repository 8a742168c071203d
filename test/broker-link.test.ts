/**
 * A following subscriber retries an unreachable broker by itself, for as long as it takes: the SyncClient tells
 * onLinkChange once per change, not once per retry, and the hub (a real process) says so in its log and /health.
 */
import * as net from 'node:net';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Repository } from '@tributary/repository';
import { LinkChange, SyncClient } from '../libs/sync/src/client/sync.client';
import { commitFiles, newRepo, startTestBroker, tempDir, TempDir } from '../libs/sync/src/testing/sync-harness';
import { AppProcess, startApp } from './support/app-process';
import { TcpLink } from './support/tcp-link';
import { waitUntil } from './support/wait';

const TOPICS = ['datasets/heart/na-aws', 'datasets/heart/eu-azure'];

/** A port that takes connections and closes them at once: every retry of a client is one connection here. */
async function droppingServer(): Promise<{ address: string; accepted(): number; close(): Promise<void> }> {
  let accepted = 0;
  const server = net.createServer((s) => {
    accepted++;
    s.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    accepted: () => accepted,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

describe('an unreachable broker', () => {
  let t: TempDir;
  let hub: AppProcess | undefined;
  beforeEach(() => {
    t = tempDir('trib-link-');
  });
  afterEach(async () => {
    await hub?.kill();
    hub = undefined;
    t.cleanup();
  });

  function startHub(broker: string): Promise<AppProcess> {
    return startApp('hub', {
      TRIB_TOPICS: TOPICS.join(','),
      TRIB_STORE: pathToFileURL(path.join(t.dir, 'hub-store')).href,
      TRIB_HOME: path.join(t.dir, 'hub-home'),
      TRIB_BROKER: broker,
      TRIB_LISTEN: '127.0.0.1:0',
    });
  }

  async function states(h: AppProcess): Promise<string[]> {
    const res = await fetch(`http://${h.address}/health`);
    const body = (await res.json()) as { topics: Record<string, { state: string }> };
    return TOPICS.map((topic) => body.topics[topic].state);
  }

  const lines = (h: AppProcess, re: RegExp) => h.output().split('\n').filter((l) => re.test(l));

  it('is one link change for a following subscriber, however many times it retries', async () => {
    const server = await droppingServer();
    const client = new SyncClient(server.address);
    const repo = await newRepo(path.join(t.dir, 'lab'));
    const abort = new AbortController();
    const changes: LinkChange[] = [];
    try {
      const onLinkChange = (c: LinkChange) => void changes.push(c);
      const run = client.subscribe(repo, TOPICS[0], 'lab', { follow: true, signal: abort.signal, onLinkChange });
      await waitUntil(() => server.accepted() >= 3, 'three connection attempts');
      abort.abort();
      await run;
      expect(changes).toHaveLength(1);
      expect(changes[0].broker).toBe(server.address);
      expect(changes[0].down?.code).toBe('UNAVAILABLE');
      expect(changes[0].down?.message).toContain(`broker ${server.address} is unavailable: `);
    } finally {
      client.close();
      await repo.close();
      await server.close();
    }
  });

  it('is one warning in the hub log, naming the broker, and not "following" in /health: closed port', async () => {
    hub = await startHub('127.0.0.1:1');
    await hub.waitFor(/warning: broker 127\.0\.0\.1:1 is unavailable: .*ECONNREFUSED.*\(retrying until it answers\)/);
    await waitUntil(async () => (await states(hub!)).every((s) => s === 'retrying'), () => hub!.output());
    expect(lines(hub, /warning: /)).toHaveLength(1);
  });

  it('is one warning when the link breaks mid-run, and one line when the broker answers again', async () => {
    const broker = await startTestBroker(path.join(t.dir, 'broker-store'));
    const link = await TcpLink.start('127.0.0.1', Number(broker.address.split(':')[1]));
    const client = new SyncClient(broker.address);
    let edge: Repository | undefined;
    try {
      edge = await newRepo(path.join(t.dir, 'edge'));
      await commitFiles(edge, { 'hr.csv': 'a,b\n1,2\n' });
      await client.publish(edge, TOPICS[0]);
      hub = await startHub(`127.0.0.1:${link.port}`);
      await hub.waitFor(/merged datasets\/heart\/na-aws seq 1/);

      link.cut();
      await hub.waitFor(new RegExp(`warning: broker 127\\.0\\.0\\.1:${link.port} is unavailable: `));
      await waitUntil(async () => (await states(hub!)).every((s) => s === 'retrying'), () => hub!.output());

      link.restore();
      await hub.waitFor(new RegExp(`broker 127\\.0\\.0\\.1:${link.port} answers again`));
      await waitUntil(async () => (await states(hub!)).every((s) => s === 'following'), () => hub!.output());
      expect(lines(hub, /warning: /)).toHaveLength(1);
      expect(lines(hub, /answers again/)).toHaveLength(1);
    } finally {
      await hub?.kill();
      hub = undefined;
      await edge?.close();
      client.close();
      await link.close();
      await broker.close();
    }
  });
});
