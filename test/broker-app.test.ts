import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, renameSync, utimesSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { writeFileContent, writeTreeFromPaths } from '@tributary/core';
import { mergeRegionalCommit } from '@tributary/hub';
import { Repository } from '@tributary/repository';
import { freePort, PrivateRedis } from '../libs/sync/src/testing/private-redis';
import { AppProcess, startApp } from './support/app-process';
import { lastLine, ok, repoWithRandomBatches, ROOT, tempDir, trib, UNPRIVILEGED } from './support/trib';
import { waitUntil } from './support/wait';

describe('broker app (npm run start:broker): the Nest gRPC microservice end to end with the CLI', () => {
  let t: ReturnType<typeof tempDir>;
  let broker: AppProcess | undefined;
  beforeEach(() => {
    t = tempDir();
  });
  afterEach(async () => {
    await broker?.kill();
    broker = undefined;
    t.cleanup();
  });

  it('starts on a free port, takes publishes, serves subscribers and lists topics with cursors and lag', async () => {
    const storeDir = path.join(t.dir, 'broker-store');
    mkdirSync(storeDir);
    broker = await startApp('broker', { TRIB_STORE: pathToFileURL(storeDir).href, TRIB_LISTEN: '127.0.0.1:0' });
    expect(broker.address).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(broker.address).not.toBe('127.0.0.1:0');
    const env = { TRIB_BROKER: broker.address };

    const edge = path.join(t.dir, 'edge');
    ok(t.dir, ['init', edge]);
    writeFileSync(path.join(edge, 'beats.csv'), 'idx,R\n0,77\n');
    ok(edge, ['commit', '-m', 'one']);
    writeFileSync(path.join(edge, 'beats.csv'), 'idx,R\n0,77\n1,370\n');
    const head = lastLine(ok(edge, ['commit', '-m', 'two']).stdout);

    const pub = JSON.parse(ok(edge, ['publish', 'datasets/heart/na-aws', '--json'], 0, { env }).stdout);
    expect(pub).toMatchObject({ topic: 'datasets/heart/na-aws', commits: 2, seqFrom: 1, seqTo: 2, head });
    expect(pub.datasetBytes).toBe(17);
    const again = JSON.parse(ok(edge, ['publish', 'datasets/heart/na-aws', '--json'], 0, { env }).stdout);
    expect(again).toMatchObject({ commits: 0, seqFrom: null, seqTo: 2, wireBytes: 0 });

    const lab = path.join(t.dir, 'lab');
    ok(t.dir, ['init', lab]);
    const sub = JSON.parse(ok(lab, ['subscribe', 'datasets/heart/na-aws', '--as', 'lab', '--json'], 0, { env }).stdout);
    expect(sub).toMatchObject({ commits: 2, seqFrom: 1, seqTo: 2, head });
    expect(JSON.parse(ok(lab, ['show', 'topics/datasets/heart/na-aws', '--json']).stdout).id).toBe(head);
    ok(lab, ['merge', 'topics/datasets/heart/na-aws']);
    ok(lab, ['verify', '--read-data']);

    const topics = JSON.parse(ok(lab, ['topics', '--json'], 0, { env }).stdout);
    expect(topics).toEqual([{ topic: 'datasets/heart/na-aws', head, seq: 2, subscribers: [{ name: 'lab', cursor: 2, lag: 0, conflicts: [] }], subscribersOmitted: 0 }]);
    expect(JSON.parse(ok(lab, ['topics', 'datasets/heart/na-aws', '--json'], 0, { env }).stdout)).toEqual(topics);
    const noTopic = trib(lab, ['topics', 'datasets/heart/none'], { env });
    expect([noTopic.code, noTopic.stderr.trim()]).toEqual([2, 'trib topics: topic datasets/heart/none does not exist']);
    const noTopicJson = trib(lab, ['topics', 'datasets/heart/none', '--json'], { env });
    expect([noTopicJson.code, JSON.parse(noTopicJson.stdout)]).toEqual([2, { error: { code: 'NOT_FOUND', message: 'topic datasets/heart/none does not exist', exitCode: 2 } }]);

    const missing = trib(lab, ['subscribe', 'datasets/heart/none', '--as', 'lab'], { env });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/does not exist/);
    // A name the rule refuses: said once, why, and the whole rule (".." and the length limit included).
    const rule = 'a topic is 1 to 8 segments of a-z 0-9 . _ - joined by "/" (such as datasets/heart/na-aws), at most 200 characters, with no "..", no segment "." and none ending in ".lock", and no leading "-"';
    for (const [name, why, verb] of [['a/x..y', 'contains ".."', 'subscribe'], ['x'.repeat(300), 'longer than 200 characters', 'publish']]) {
      const refused = trib(lab, verb === 'subscribe' ? ['subscribe', name, '--as', 'lab'] : ['publish', name], { env });
      const shown = name.length > 80 ? `${name.slice(0, 80)}…` : name;
      expect([refused.code, refused.stderr.trim()]).toEqual([2, `trib ${verb}: invalid topic ${JSON.stringify(shown)}: ${why}; ${rule}`]);
    }
    // spawnSync blocked our event loop, so the broker's log is read here, not before.
    await broker.waitFor(/appended [0-9a-f]{64} to datasets\/heart\/na-aws at seq 2/, 5000);
  });

  it.each(['sync.receive.object:30', 'sync.publish.after-append:2'])(
    'kill -9 of the broker at %s: the publisher retries after a restart and no acknowledged commit is lost or doubled',
    async (point) => {
      const storeDir = path.join(t.dir, 'broker-store');
      mkdirSync(storeDir);
      const store = pathToFileURL(storeDir).href;
      broker = await startApp('broker', { TRIB_STORE: store, TRIB_LISTEN: '127.0.0.1:0', TRIB_CRASH_AT: point });
      const { dir: edge, heads } = repoWithRandomBatches(t.dir, 'edge', 3, 700_000);
      const killed = trib(edge, ['publish', 'datasets/heart/na-aws', '--json'], { env: { TRIB_BROKER: broker.address } });
      expect(killed.code).toBe(3);
      expect(await broker.kill()).not.toBe(0);

      broker = await startApp('broker', { TRIB_STORE: store, TRIB_LISTEN: '127.0.0.1:0' });
      const env = { TRIB_BROKER: broker.address };
      const retry = JSON.parse(ok(edge, ['publish', 'datasets/heart/na-aws', '--json'], 0, { env }).stdout);
      expect(retry).toMatchObject({ seqTo: 3, head: heads[2] });

      const lab = path.join(t.dir, 'lab');
      ok(t.dir, ['init', lab]);
      const sub = JSON.parse(ok(lab, ['subscribe', 'datasets/heart/na-aws', '--as', 'lab', '--json'], 0, { env }).stdout);
      expect(sub).toMatchObject({ commits: 3, seqFrom: 1, seqTo: 3, head: heads[2] });
      const log = JSON.parse(ok(lab, ['log', 'topics/datasets/heart/na-aws', '--json']).stdout);
      expect(log.map((c: { id: string }) => c.id)).toEqual([...heads].reverse());
      ok(lab, ['verify', '--read-data']);
    },
  );

  it('a commit appended just before a kill -9 is found published when it is offered again', async () => {
    const storeDir = path.join(t.dir, 'broker-store');
    mkdirSync(storeDir);
    const store = pathToFileURL(storeDir).href;
    broker = await startApp('broker', { TRIB_STORE: store, TRIB_LISTEN: '127.0.0.1:0', TRIB_CRASH_AT: 'sync.publish.after-append:1' });
    const { dir: edge, heads } = repoWithRandomBatches(t.dir, 'edge', 2, 50_000);
    expect(trib(edge, ['publish', 'datasets/x', 'HEAD~1'], { env: { TRIB_BROKER: broker.address } }).code).toBe(3);
    expect(await broker.kill()).not.toBe(0);

    // Appended to the log, but killed before its commit index was written: the head says what the index does not.
    broker = await startApp('broker', { TRIB_STORE: store, TRIB_LISTEN: '127.0.0.1:0' });
    const env = { TRIB_BROKER: broker.address };
    const again = JSON.parse(ok(edge, ['publish', 'datasets/x', 'HEAD~1', '--json'], 0, { env }).stdout);
    expect(again).toMatchObject({ commits: 0, seqTo: 1, head: heads[0] });
    expect(JSON.parse(ok(edge, ['publish', 'datasets/x', '--json'], 0, { env }).stdout)).toMatchObject({ commits: 1, seqTo: 2, head: heads[1] });
  });

  it("a publish reaching the topic only through a merge's second parent gives advice that works where the topic was only published", async () => {
    const storeDir = path.join(t.dir, 'broker-store');
    mkdirSync(storeDir);
    broker = await startApp('broker', { TRIB_STORE: pathToFileURL(storeDir).href, TRIB_LISTEN: '127.0.0.1:0' });
    const env = { TRIB_BROKER: broker.address };
    const edge = path.join(t.dir, 'edge');
    ok(t.dir, ['init', edge]);
    writeFileSync(path.join(edge, 'a.csv'), 'id\n1\n');
    ok(edge, ['commit', '-m', 'base']);
    ok(edge, ['branch', 'o']);
    ok(edge, ['switch', 'o']);
    writeFileSync(path.join(edge, 'o.csv'), 'id\n2\n');
    ok(edge, ['commit', '-m', 'on o']);
    ok(edge, ['publish', 'datasets/x', 'o'], 0, { env });
    ok(edge, ['switch', 'main']);
    writeFileSync(path.join(edge, 'm.csv'), 'id\n3\n');
    ok(edge, ['commit', '-m', 'on main']);
    ok(edge, ['merge', 'o']);

    const refused = trib(edge, ['publish', 'datasets/x', 'main'], { env });
    expect(refused.code).toBe(2);
    const advice = /merge your work into the topic instead: (.*)$/.exec(refused.stderr.trim())![1];
    const steps = advice.replace('<your branch>', 'main').split(/ && |, then /);
    expect(steps.map((s) => s.split(' ').slice(0, 2).join(' '))).toEqual(['trib branch', 'trib switch', 'trib merge', 'trib publish']);
    for (const step of steps) ok(edge, step.split(' ').slice(1), 0, { env });

    const lab = path.join(t.dir, 'lab');
    ok(t.dir, ['init', lab]);
    ok(lab, ['subscribe', 'datasets/x', '--as', 'lab'], 0, { env });
    const head = JSON.parse(ok(lab, ['show', 'topics/datasets/x', '--json']).stdout);
    expect(head.id).toBe(JSON.parse(ok(edge, ['show', 'up', '--json']).stdout).id);
    expect(head.parents).toHaveLength(2);
  });

  it('removes at start-up the half-written pack a broker killed mid-publish left, once it is an hour old', async () => {
    const storeDir = path.join(t.dir, 'broker-store');
    mkdirSync(path.join(storeDir, 'packs'), { recursive: true });
    const [old, young] = ['.tmp-00112233445566ff~', '.tmp-ffeeddccbbaa9988~'].map((n) => path.join(storeDir, 'packs', n));
    writeFileSync(old, Buffer.alloc(1000));
    writeFileSync(young, Buffer.alloc(10));
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    utimesSync(old, twoHoursAgo, twoHoursAgo);
    broker = await startApp('broker', { TRIB_STORE: pathToFileURL(storeDir).href, TRIB_LISTEN: '127.0.0.1:0' });
    await broker.waitFor(/removed 1 unfinished pack file\(s\), 1000 bytes/, 5000);
    expect([existsSync(old), existsSync(young)]).toEqual([false, true]);
  });

  it.each(['SIGINT', 'SIGTERM'] as const)('subscribe --follow stops cleanly on %s: what is durable is acknowledged, and it exits 0', async (signal) => {
    const storeDir = path.join(t.dir, 'broker-store');
    mkdirSync(storeDir);
    broker = await startApp('broker', { TRIB_STORE: pathToFileURL(storeDir).href, TRIB_LISTEN: '127.0.0.1:0' });
    const env = { TRIB_BROKER: broker.address };
    const edge = path.join(t.dir, 'edge');
    ok(t.dir, ['init', edge]);
    writeFileSync(path.join(edge, 'beats.csv'), 'idx,R\n0,77\n');
    const head = lastLine(ok(edge, ['commit', '-m', 'one']).stdout);
    ok(edge, ['publish', 'datasets/heart/na-aws'], 0, { env });
    const lab = path.join(t.dir, 'lab');
    ok(t.dir, ['init', lab]);

    const child = spawn(process.execPath, [path.join(ROOT, 'bin/trib'), 'subscribe', 'datasets/heart/na-aws', '--as', 'lab', '--follow'], {
      cwd: lab,
      env: { ...process.env, ...env },
    });
    let stderr = '';
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await new Promise<void>((resolve) =>
      child.stderr.on('data', (d) => {
        stderr += d;
        if (stderr.includes(`seq 1: ${head}`)) resolve();
      }),
    );
    child.kill(signal);
    expect(await exited).toBe(0);
    expect(stderr).toMatch(/stopping after what is durable/);
    expect(stderr).toMatch(/fetched 1 commit/);
    const topics = JSON.parse(ok(lab, ['topics', '--json'], 0, { env }).stdout);
    expect(topics[0].subscribers).toEqual([{ name: 'lab', cursor: 1, lag: 0, conflicts: [] }]);
  });

  it('subscribe --follow says when its broker does not answer, once, and still stops on Ctrl-C', async () => {
    const lab = path.join(t.dir, 'lab-down');
    ok(t.dir, ['init', lab]);
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const address = `127.0.0.1:${(closed.address() as net.AddressInfo).port}`;
    await new Promise((resolve) => closed.close(resolve));
    const child = spawn(process.execPath, [path.join(ROOT, 'bin/trib'), 'subscribe', 'datasets/x', '--as', 'lab', '--follow', '--broker', address], {
      cwd: lab,
      env: process.env,
    });
    let stderr = '';
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await new Promise<void>((resolve) =>
      child.stderr.on('data', (d) => {
        stderr += d;
        if (stderr.includes('retrying until it answers')) resolve();
      }),
    );
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(stderr.match(/retrying until it answers/g)).toHaveLength(1);
    expect(stderr).toContain(`broker ${address} is unavailable`);
  });

  it('refuses bad configuration at start-up, naming the variable', () => {
    const r = spawnSync(process.execPath, [path.join(ROOT, 'apps/broker/dist/main.js')], {
      env: { ...process.env, TRIB_STORE: 'ftp://nowhere', TRIB_LISTEN: 'localhost' },
      encoding: 'utf8',
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/TRIB_LISTEN="localhost": expected HOST:PORT/);
    expect(r.stderr).toMatch(/TRIB_STORE="ftp:\/\/nowhere"/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('the broker, the hub and the agent say TRIB_STORE, exit 2, when it names a file, not a folder', () => {
    const file = path.join(t.dir, 'a-file');
    writeFileSync(file, 'not a store\n');
    const env = { TRIB_STORE: file, TRIB_LISTEN: '127.0.0.1:0', TRIB_BROKER: '127.0.0.1:1', TRIB_TOPICS: 'datasets/x/na', TRIB_REGION: 'na', TRIB_DATASET: 'x', TRIB_INBOX: t.dir };
    for (const app of ['broker', 'hub', 'edge-agent']) {
      const r = spawnSync(process.execPath, [path.join(ROOT, `apps/${app}/dist/main.js`)], {
        env: { ...process.env, ...env, TRIB_HOME: path.join(t.dir, `${app}-home`) },
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect([app, r.status, r.stderr.trim()]).toEqual([app, 2, `${app}: TRIB_STORE: store ${pathToFileURL(file).href} is not a directory`]);
    }
  });

  it('the broker, the hub and the agent say TRIB_STORE and AWS_REGION, exit 2, for an s3:// store on AWS without a region', () => {
    const noRegion = { AWS_REGION: undefined, AWS_DEFAULT_REGION: undefined, AWS_ENDPOINT_URL_S3: undefined, AWS_ENDPOINT_URL: undefined, AWS_PROFILE: undefined };
    const nowhere = { AWS_CONFIG_FILE: path.join(t.dir, 'no-config'), AWS_SHARED_CREDENTIALS_FILE: path.join(t.dir, 'no-credentials'), AWS_EC2_METADATA_DISABLED: 'true' };
    const keys = { AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret' };
    const env = { TRIB_STORE: 's3://tributary-test/x', TRIB_LISTEN: '127.0.0.1:0', TRIB_BROKER: '127.0.0.1:1', TRIB_TOPICS: 'datasets/x/na', TRIB_REGION: 'na', TRIB_DATASET: 'x', TRIB_INBOX: t.dir };
    for (const app of ['broker', 'hub', 'edge-agent']) {
      const r = spawnSync(process.execPath, [path.join(ROOT, `apps/${app}/dist/main.js`)], {
        env: { ...process.env, ...noRegion, ...nowhere, ...keys, ...env, TRIB_HOME: path.join(t.dir, `${app}-home`) },
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect([app, r.status, r.stderr.trim()]).toEqual([app, 2, `${app}: TRIB_STORE: cannot open store s3://tributary-test/x at AWS S3: no AWS region: set AWS_REGION`]);
    }
  });

  it('the broker, the agent and the hub take relative folders, resolved against their working folder and logged absolute', async () => {
    const work = path.join(t.dir, 'work');
    mkdirSync(work);
    const at = (...p: string[]) => path.join(work, ...p);
    broker = await startApp('broker', { TRIB_STORE: './broker-store', TRIB_LISTEN: '127.0.0.1:0' }, undefined, { cwd: work });
    expect(broker.output()).toContain(`store ${pathToFileURL(at('broker-store')).href},`);
    const env = { TRIB_BROKER: broker.address, TRIB_STORE: './agent-store', TRIB_HOME: 'agent-home', TRIB_INBOX: 'inbox', TRIB_INBOX_SETTLE_MS: '0' };
    const agent = await startApp('edge-agent', { ...env, TRIB_REGION: 'na', TRIB_DATASET: 'x' }, undefined, { cwd: work });
    const hub = await startApp('hub', { ...env, TRIB_TOPICS: 'datasets/x/na', TRIB_STORE: '../work/hub-store', TRIB_HOME: './hub-home' }, undefined, { cwd: work });
    try {
      expect(agent.output()).toContain(`watching ${at('inbox')}, publishing datasets/x/na to ${broker.address}, store ${pathToFileURL(at('agent-store')).href}, home ${at('agent-home')}\n`);
      expect(hub.output()).toContain(`store ${pathToFileURL(at('hub-store')).href}, home ${at('hub-home')}\n`);
      writeFileSync(at('inbox', '.b1.tmp'), 'idx,R\n0,77\n');
      renameSync(at('inbox', '.b1.tmp'), at('inbox', 'b1.csv'));
      await hub.waitFor(/merged datasets\/x\/na seq 1 -> [0-9a-f]{64}/, 30_000);
      expect([existsSync(at('inbox', '.done', 'b1.csv')), existsSync(at('agent-home', '.trib')), existsSync(at('hub-home', '.trib'))]).toEqual([true, true, true]);
    } finally {
      await agent.kill();
      await hub.kill();
    }

    for (const app of ['broker', 'hub', 'edge-agent']) {
      const r = spawnSync(process.execPath, [path.join(ROOT, `apps/${app}/dist/main.js`)], {
        cwd: work,
        env: { ...process.env, TRIB_STORE: 'store', TRIB_LISTEN: '127.0.0.1:0', TRIB_BROKER: '127.0.0.1:1', TRIB_TOPICS: 'datasets/x/na', TRIB_REGION: 'na', TRIB_DATASET: 'x', TRIB_INBOX: 'inbox' },
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect([app, r.status, r.stderr]).toEqual([
        app,
        2,
        `${app}: invalid configuration:\n  TRIB_STORE="store": expected ./store for a folder (a relative path starts with ./ or ../), or a URL with its scheme, such as s3://store\n`,
      ]);
    }
    expect(existsSync(at('store'))).toBe(false);
  });

  it('an agent whose TRIB_HOME holds a repository of another format says so, and does not blame TRIB_STORE', () => {
    const home = path.join(t.dir, 'home');
    mkdirSync(path.join(home, '.trib'), { recursive: true });
    const store = pathToFileURL(path.join(t.dir, 'store')).href;
    writeFileSync(path.join(home, '.trib', 'config.json'), JSON.stringify({ format: 2, store }));
    const env = { TRIB_STORE: store, TRIB_HOME: home, TRIB_BROKER: '127.0.0.1:1', TRIB_REGION: 'na', TRIB_DATASET: 'x', TRIB_INBOX: t.dir };
    const r = spawnSync(process.execPath, [path.join(ROOT, 'apps/edge-agent/dist/main.js')], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 30_000 });
    expect([r.status, r.stderr.trim()]).toEqual([2, 'edge-agent: unsupported repository format 2']);
  });

  it('the broker refuses at start-up a Redis database that Redis does not have, exit 2, naming the URL', () => {
    const url = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
    url.pathname = '/99';
    const redisUrl = url.href;
    const r = spawnSync(process.execPath, [path.join(ROOT, 'apps/broker/dist/main.js')], {
      env: { ...process.env, TRIB_STORE: pathToFileURL(path.join(t.dir, 'store')).href, TRIB_LISTEN: '127.0.0.1:0', REDIS_URL: redisUrl },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe(`broker: REDIS_URL: cannot use database 99 of Redis at ${redisUrl}: ERR DB index is out of range`);
    expect(r.stdout).not.toMatch(/ERR DB index/);
  });

  it('the broker refuses at start-up a REDIS_URL whose database is not a whole number, exit 2, naming REDIS_URL', async () => {
    // A Redis that answers: given it, ioredis selected "abc" as NaN and crashed, and took "1.5" as database 1.
    const redis = await PrivateRedis.start();
    try {
      for (const db of ['abc', '%20', '1.5', '0/x']) {
        const redisUrl = `${redis.url}/${db}`;
        const r = spawnSync(process.execPath, [path.join(ROOT, 'apps/broker/dist/main.js')], {
          env: { ...process.env, TRIB_STORE: pathToFileURL(path.join(t.dir, 'store')).href, TRIB_LISTEN: '127.0.0.1:0', REDIS_URL: redisUrl },
          encoding: 'utf8',
          timeout: 30_000,
        });
        expect([db, r.status, r.stderr]).toEqual([
          db,
          2,
          `broker: invalid configuration:\n  REDIS_URL="${redisUrl}": expected the database, if any, as a whole number, such as redis://127.0.0.1:6379/1\n`,
        ]);
      }
    } finally {
      await redis.dispose();
    }
  });

  it('the broker stops at start-up on a Redis it cannot reach, exit 3, one line naming REDIS_URL and the reason', () => {
    const r = spawnSync(process.execPath, [path.join(ROOT, 'apps/broker/dist/main.js')], {
      env: { ...process.env, TRIB_STORE: pathToFileURL(path.join(t.dir, 'store')).href, TRIB_LISTEN: '127.0.0.1:0', REDIS_URL: 'redis://127.0.0.1:1' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.status).toBe(3);
    expect(r.stderr.trim()).toBe('broker: REDIS_URL: cannot reach Redis at redis://127.0.0.1:1: connect ECONNREFUSED 127.0.0.1:1');
    expect(r.stdout).not.toMatch(/ECONNREFUSED/);
  });

  it('the broker stops at start-up on a REDIS_URL port that is not Redis, saying so', async () => {
    // Something else listens there (another app's port): it answers bytes that are not the Redis protocol.
    const other = net.createServer((socket) => socket.on('data', () => socket.write(Buffer.from([0, 0, 0, 0]))));
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    const port = (other.address() as net.AddressInfo).port;
    try {
      const r = await new Promise<{ status: number | null; stderr: string }>((resolve) => {
        const p = spawn(process.execPath, [path.join(ROOT, 'apps/broker/dist/main.js')], {
          env: { ...process.env, TRIB_STORE: pathToFileURL(path.join(t.dir, 'store')).href, TRIB_LISTEN: '127.0.0.1:0', REDIS_URL: `redis://127.0.0.1:${port}` },
        });
        let stderr = '';
        p.stderr.on('data', (d: Buffer) => (stderr += d));
        p.on('close', (status) => resolve({ status, stderr }));
      });
      expect([r.status, r.stderr.trim()]).toEqual([
        3,
        `broker: REDIS_URL: cannot reach Redis at redis://127.0.0.1:${port}: what answers there does not speak the Redis protocol (is it a Redis server?)`,
      ]);
    } finally {
      other.close();
    }
  });

  it("never prints Redis's password: not when it listens, not when Redis cannot be reached, not in a bad REDIS_URL", async () => {
    const port = await freePort();
    const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--requirepass', 's3cr3t'], { stdio: 'ignore' });
    try {
      const answers = () => new Promise<boolean>((resolve) => net.connect(port, '127.0.0.1').once('connect', function (this: net.Socket) { this.destroy(); resolve(true); }).once('error', () => resolve(false)));
      await waitUntil(answers, 'redis-server listening');
      broker = await startApp('broker', {
        TRIB_STORE: pathToFileURL(path.join(t.dir, 'store')).href,
        TRIB_LISTEN: '127.0.0.1:0',
        REDIS_URL: `redis://:s3cr3t@127.0.0.1:${port}`,
      });
      expect(broker.output()).toContain(`redis redis://:***@127.0.0.1:${port},`);
      expect(broker.output()).not.toContain('s3cr3t');
    } finally {
      redis.kill('SIGKILL');
    }
    const run = (redisUrl: string) =>
      spawnSync(process.execPath, [path.join(ROOT, 'apps/broker/dist/main.js')], {
        env: { ...process.env, TRIB_STORE: pathToFileURL(path.join(t.dir, 'store')).href, TRIB_LISTEN: '127.0.0.1:0', REDIS_URL: redisUrl },
        encoding: 'utf8',
        timeout: 30_000,
      });
    const unreachable = run('redis://u:s3cr3t@127.0.0.1:1');
    expect([unreachable.status, unreachable.stderr.trim()]).toEqual([3, 'broker: REDIS_URL: cannot reach Redis at redis://u:***@127.0.0.1:1: connect ECONNREFUSED 127.0.0.1:1']);
    const malformed = run('http://u:s3cr3t@127.0.0.1:1');
    expect(malformed.status).toBe(2);
    expect(malformed.stderr).toContain('REDIS_URL="http://u:***@127.0.0.1:1": expected a redis:// or rediss:// URL');
    expect(`${unreachable.stdout}${malformed.stdout}${malformed.stderr}`).not.toContain('s3cr3t');
  });

  it('the agent refuses an inbox that is its store or its home, or inside them, before it touches either', () => {
    const store = path.join(t.dir, 'store');
    const home = path.join(t.dir, 'home');
    mkdirSync(path.join(store, 'packs'), { recursive: true });
    mkdirSync(home);
    writeFileSync(path.join(store, 'config'), 'the store');
    const agent = (inbox: string) =>
      spawnSync(process.execPath, [path.join(ROOT, 'apps/edge-agent/dist/main.js')], {
        env: { ...process.env, TRIB_REGION: 'na', TRIB_DATASET: 'x', TRIB_BROKER: '127.0.0.1:1', TRIB_STORE: store, TRIB_HOME: home, TRIB_INBOX: inbox },
        encoding: 'utf8',
        timeout: 30_000,
      });
    const own = "the agent would take its own repository's files for batches; give the inbox a folder of its own";
    const cases: [string, string][] = [
      [store, `is inside the store's folder (TRIB_STORE, ${store})`],
      [path.join(store, 'packs'), `is inside the store's folder (TRIB_STORE, ${store})`],
      [home, `is the agent's home (TRIB_HOME, ${home})`],
      [path.join(home, '.trib'), `is inside the agent's repository folder ${path.join(home, '.trib')}`],
    ];
    for (const [inbox, why] of cases) {
      const r = agent(inbox);
      expect([inbox, r.status, r.stderr.trim()]).toEqual([inbox, 2, `edge-agent: TRIB_INBOX=${JSON.stringify(inbox)} ${why}: ${own}`]);
    }
    expect(readdirSync(store).sort()).toEqual(['config', 'packs']);
    expect(readdirSync(home)).toEqual([]);
  });

  (UNPRIVILEGED ? it : it.skip)('the agent and the hub say TRIB_HOME, the broker TRIB_STORE, in one line, for a folder they may not write (skipped without a runner held to file modes)', () => {
    const closed = path.join(t.dir, 'closed');
    mkdirSync(closed);
    chmodSync(closed, 0o555);
    const env = { TRIB_STORE: path.join(t.dir, 'store'), TRIB_BROKER: '127.0.0.1:1', TRIB_TOPICS: 'datasets/x/na', TRIB_REGION: 'na', TRIB_DATASET: 'x', TRIB_INBOX: path.join(t.dir, 'inbox') };
    const runApp = (app: string, appEnv: NodeJS.ProcessEnv) => {
      const [command, ...args] = [...UNPRIVILEGED!, process.execPath, path.join(ROOT, `apps/${app}/dist/main.js`)];
      return spawnSync(command, args, { env: { ...process.env, ...appEnv }, encoding: 'utf8', timeout: 30_000 });
    };
    const run = (app: string, home: string) => runApp(app, { ...env, TRIB_HOME: home });
    try {
      for (const app of ['edge-agent', 'hub']) {
        const inside = run(app, closed);
        expect([app, inside.status, inside.stderr.trim()]).toEqual([
          app,
          2,
          `${app}: TRIB_HOME: cannot keep the local repository state in ${closed}: permission denied (${path.join(closed, '.trib')}); set TRIB_HOME to a folder this process may write`,
        ]);
        const below = run(app, path.join(closed, 'home'));
        expect([app, below.status, below.stderr.trim()]).toEqual([app, 2, `${app}: TRIB_HOME: cannot create ${path.join(closed, 'home')}: EACCES`]);
      }
      // The broker's store is its one folder: one it may not write is named as TRIB_STORE.
      const broker = runApp('broker', { TRIB_STORE: closed, TRIB_LISTEN: '127.0.0.1:0' });
      expect(broker.stderr.trim()).toMatch(new RegExp(`^broker: TRIB_STORE: cannot write \\S+ in ${pathToFileURL(closed).href.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: permission denied`));
      expect(broker.stderr.trim().split('\n')).toHaveLength(1);
    } finally {
      chmodSync(closed, 0o755);
    }
  });

  it('the hub refuses at start-up a topic whose region cannot be a folder, naming TRIB_TOPICS', () => {
    const store = pathToFileURL(path.join(t.dir, 'store')).href;
    const r = spawnSync(process.execPath, [path.join(ROOT, 'apps/hub/dist/main.js')], {
      env: { ...process.env, TRIB_STORE: store, TRIB_BROKER: '127.0.0.1:1', TRIB_TOPICS: 'datasets/x/.trib' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^ {2}TRIB_TOPICS="datasets\/x\/\.trib": topic datasets\/x\/\.trib: .*\.trib$/m);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('the hub refuses a TRIB_HUB_LAYOUT other than the one its main was merged with, naming it', async () => {
    const home = path.join(t.dir, 'hub-home');
    const store = pathToFileURL(path.join(t.dir, 'hub-store')).href;
    const repo = await Repository.init(home, { storeUrl: store });
    try {
      const file = await writeFileContent(repo.objects, [Buffer.from('h\n1\n')]);
      const tree = await writeTreeFromPaths(repo.objects, [{ path: 'a.csv', entry: { kind: 'file', executable: false, ...file } }]);
      const commit = await repo.writeCommit({ tree: tree.id, parents: [], author: 'a', time: new Date().toISOString(), message: 'm', annotations: {} });
      await mergeRegionalCommit(repo, { commit, region: 'na', topic: 'datasets/x/na', seq: 1 }, { layout: 'graft' });
    } finally {
      await repo.close();
    }
    const env = { ...process.env, TRIB_STORE: store, TRIB_HOME: home, TRIB_BROKER: '127.0.0.1:1', TRIB_TOPICS: 'datasets/x/na' };
    const r = spawnSync(process.execPath, [path.join(ROOT, 'apps/hub/dist/main.js')], {
      env: { ...env, TRIB_HUB_LAYOUT: 'shared' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^ {2}TRIB_HUB_LAYOUT="shared": main in .* was merged with the graft layout; keep graft, or use a new store$/m);
  });

  it('the broker and the hub say in one line, exit 3, when TRIB_LISTEN is taken', async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const listen = `127.0.0.1:${(taken.address() as net.AddressInfo).port}`;
    try {
      const store = pathToFileURL(path.join(t.dir, 'store')).href;
      mkdirSync(path.join(t.dir, 'store'));
      for (const [app, extra] of [['broker', {}], ['hub', { TRIB_TOPICS: 'datasets/x' }]] as const) {
        const r = spawnSync(process.execPath, [path.join(ROOT, `apps/${app}/dist/main.js`)], {
          env: { ...process.env, TRIB_STORE: store, TRIB_LISTEN: listen, ...extra },
          encoding: 'utf8',
          timeout: 30_000,
        });
        expect({ app, status: r.status }).toEqual({ app, status: 3 });
        expect(r.stderr).toContain(`${app}: cannot listen on ${listen} (TRIB_LISTEN): `);
        expect(r.stderr).not.toMatch(/\n\s+at /);
        // Only the app's own line: no log line of grpc-js's before it.
        expect(r.stderr).toMatch(new RegExp(`^${app}: cannot listen on ${listen.replace(/\./g, '\\.')} \\(TRIB_LISTEN\\): .*EADDRINUSE.*\n$`));
      }
    } finally {
      taken.close();
    }
  });

  it('an unreachable broker is exit 3 for the CLI, a bad --broker exit 2', () => {
    const dir = path.join(t.dir, 'r');
    ok(t.dir, ['init', dir]);
    writeFileSync(path.join(dir, 'f'), 'x');
    ok(dir, ['commit', '-m', 'x']);
    const down = trib(dir, ['publish', 'datasets/x', '--broker', '127.0.0.1:1']);
    expect(down.code).toBe(3);
    // One line that says what failed, without grpc-js's empty "Resolution note: " at its end.
    expect(down.stderr.trim().split('\n')).toHaveLength(1);
    expect(down.stderr).toMatch(/^trib publish: broker 127\.0\.0\.1:1 is unavailable: .*ECONNREFUSED [\d.:]+\.?\n$/);
    expect(trib(dir, ['publish', 'datasets/x', '--broker', 'nope']).code).toBe(2);
    expect(trib(dir, ['publish', 'Bad/Topic', '--broker', '127.0.0.1:1']).code).toBe(2);
  });
});
