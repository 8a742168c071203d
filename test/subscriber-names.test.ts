/**
 * One rule for subscriber names (1 to 64 of A-Z a-z 0-9 . _ -) at every boundary, with real processes: `trib
 * subscribe --as`, the hub's TRIB_NAME and the broker's Subscribe call. A cursor made under a name with capitals is
 * taken up by a hub of that name.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { loadTributaryProto } from '@tributary/sync';
import { AppProcess, startApp } from './support/app-process';
import { ok, ROOT, tempDir, trib } from './support/trib';
import { waitUntil } from './support/wait';

const RULE = '1 to 64 of A-Z a-z 0-9 . _ -';
const TOPIC = 'datasets/heart/na-aws';

describe('subscriber names: one rule for the CLI, TRIB_NAME and the broker', () => {
  let t: ReturnType<typeof tempDir>;
  const apps: AppProcess[] = [];
  beforeEach(() => {
    t = tempDir();
  });
  afterEach(async () => {
    for (const app of apps.splice(0)) await app.kill();
    t.cleanup();
  });

  async function brokerWithOneEntry(): Promise<{ env: { TRIB_BROKER: string }; edge: string }> {
    mkdirSync(path.join(t.dir, 'broker-store'));
    const broker = await startApp('broker', { TRIB_STORE: pathToFileURL(path.join(t.dir, 'broker-store')).href, TRIB_LISTEN: '127.0.0.1:0' });
    apps.push(broker);
    const env = { TRIB_BROKER: broker.address };
    const edge = path.join(t.dir, 'edge');
    ok(t.dir, ['init', edge]);
    writeFileSync(path.join(edge, 'beats.csv'), 'idx,R\n0,77\n');
    ok(edge, ['commit', '-m', 'one']);
    ok(edge, ['publish', TOPIC], 0, { env });
    return { env, edge };
  }

  function cursors(env: { TRIB_BROKER: string }): { name: string; cursor: number }[] {
    const topics = JSON.parse(ok(t.dir, ['topics', '--json'], 0, { env }).stdout) as { subscribers: { name: string; cursor: number }[] }[];
    return topics[0].subscribers.map(({ name, cursor }) => ({ name, cursor }));
  }

  it('a hub named Alice runs on the cursor trib subscribe --as Alice made under that name', async () => {
    const { env, edge } = await brokerWithOneEntry();
    const lab = path.join(t.dir, 'lab');
    ok(t.dir, ['init', lab]);
    ok(lab, ['subscribe', TOPIC, '--as', 'Alice'], 0, { env });
    expect(cursors(env)).toEqual([{ name: 'Alice', cursor: 1 }]);

    writeFileSync(path.join(edge, 'beats.csv'), 'idx,R\n0,77\n1,370\n');
    ok(edge, ['commit', '-m', 'two']);
    ok(edge, ['publish', TOPIC], 0, { env });
    const hub = await startApp('hub', {
      ...env,
      TRIB_NAME: 'Alice',
      TRIB_TOPICS: TOPIC,
      TRIB_STORE: pathToFileURL(path.join(t.dir, 'hub-store')).href,
      TRIB_HOME: path.join(t.dir, 'hub-home'),
    });
    apps.push(hub);
    await hub.waitFor(new RegExp(`merged ${TOPIC} seq 2 -> [0-9a-f]{64}`), 30_000);
    // The ack follows the merge: wait for it to reach the one cursor, the name's; no second subscriber appears.
    await waitUntil(() => cursors(env).some((c) => c.cursor === 2), () => JSON.stringify(cursors(env)));
    expect(cursors(env)).toEqual([{ name: 'Alice', cursor: 2 }]);
  });

  it('refuses a bad name at each boundary with the same rule: --as, TRIB_NAME and the Subscribe call', async () => {
    const { env } = await brokerWithOneEntry();
    const lab = path.join(t.dir, 'lab');
    ok(t.dir, ['init', lab]);

    const cli = trib(lab, ['subscribe', TOPIC, '--as', 'a:b'], { env });
    expect([cli.code, cli.stderr]).toEqual([2, `trib subscribe: --as "a:b": expected ${RULE}\n`]);

    const hub = spawnSync(process.execPath, [path.join(ROOT, 'apps/hub/dist/main.js')], {
      env: { ...process.env, ...env, TRIB_NAME: 'a:b', TRIB_TOPICS: TOPIC, TRIB_STORE: pathToFileURL(path.join(t.dir, 'hub-store')).href },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(hub.status).toBe(2);
    expect(hub.stderr).toMatch(new RegExp(`^ {2}TRIB_NAME="a:b": expected ${RULE.replace(/\./g, '\\.')}$`, 'm'));

    const proto = loadTributaryProto().tributary.v1;
    const client = new proto.SyncService(env.TRIB_BROKER, grpc.credentials.createInsecure());
    try {
      const status = await new Promise<grpc.StatusObject>((resolve) => {
        const call = client.Subscribe();
        call.on('data', () => undefined);
        call.on('error', () => undefined);
        call.on('status', resolve);
        call.write({ start: { topic: TOPIC, subscriber: 'a:b' } });
      });
      expect([status.code, status.details]).toEqual([grpc.status.INVALID_ARGUMENT, `invalid subscriber name "a:b": use ${RULE}`]);
    } finally {
      client.close();
    }
    expect(cursors(env)).toEqual([]);
  });
});
