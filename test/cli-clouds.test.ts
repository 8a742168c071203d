import { randomBytes } from 'node:crypto';
import { createServer, IncomingMessage, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { startAzurite } from './support/azurite-harness';
import { startFakeGcs } from './support/fake-gcs-server';
import { HttpFaultProxy } from './support/http-fault-proxy';
import { startS3Emulator } from './support/s3rver-harness';
import { lastLine, okAsync as ok, tempDir, tribAsync as trib } from './support/trib';

type Cloud = { scheme: string; url: string; env: Record<string, string>; stop(): Promise<void> };

/** A repository can live in any cloud: the same CLI session against each emulator, and the failures users will meet. */
describe.each(['s3', 'gs', 'az'])('trib on %s:// stores', (scheme) => {
  let cloud: Cloud;
  let t: ReturnType<typeof tempDir>;
  beforeAll(async () => {
    if (scheme === 's3') {
      const e = await startS3Emulator();
      cloud = { scheme, url: 's3://tributary-test/heart', env: e.env, stop: () => e.stop() };
    } else if (scheme === 'gs') {
      const e = await startFakeGcs();
      cloud = { scheme, url: 'gs://tributary-test/heart', env: e.env, stop: () => e.stop() };
    } else {
      const e = await startAzurite();
      cloud = { scheme, url: 'az://tributary-test/heart', env: e.env, stop: () => e.stop() };
    }
  });
  afterAll(async () => {
    await cloud?.stop();
  });
  beforeEach(() => {
    t = tempDir();
  });
  afterEach(() => t.cleanup());

  it('init --store creates the bucket; commit, log, checkout and verify work against the cloud', async () => {
    const env = cloud.env;
    const repo = path.join(t.dir, 'ds');
    const missing = await trib(t.dir, ['init', path.join(t.dir, 'x'), '--store', cloud.url.replace('tributary-test', 'no-such-bucket')], { env: { ...env } });
    expect(missing.code).toBe(0); // init is the one command that creates a missing bucket
    await ok(t.dir, ['init', repo, '--store', cloud.url], 0, { env });
    const big = randomBytes(3 * 1024 * 1024);
    writeFileSync(path.join(repo, 'big.bin'), big);
    writeFileSync(path.join(repo, 'beats.csv'), 'idx,R\n0,77\n');
    const first = lastLine((await ok(repo, ['commit', '-m', 'one'], 0, { env })).stdout);
    writeFileSync(path.join(repo, 'beats.csv'), 'idx,R\n0,77\n1,370\n');
    await ok(repo, ['commit', '-m', 'two'], 0, { env });
    const log = JSON.parse((await ok(repo, ['log', '--json'], 0, { env })).stdout);
    expect(log.map((c: { message: string }) => c.message)).toEqual(['two', 'one']);
    const rows = JSON.parse((await ok(repo, ['diff', first, 'HEAD', '--rows', '--json'], 0, { env })).stdout);
    expect(rows.changes[0].rows).toMatchObject({ addedCount: 1, removedCount: 0 });
    const out = path.join(t.dir, 'co');
    await ok(repo, ['checkout', first, '--to', out], 0, { env });
    expect(readFileSync(path.join(out, 'big.bin')).equals(big)).toBe(true);
    await ok(repo, ['verify', '--read-data'], 0, { env });
  });

  // gs:// resumes too, but its client never says a connection closed mid-body: only 30 s of silence shows it, which
  // test/store-gcs.test.ts shortens.
  (scheme === 'gs' ? it.skip : it)('a checkout whose download is cut mid-body resumes it, byte-identical; cut every time it is exit 3 naming the URL', async () => {
    const repo = path.join(t.dir, 'ds');
    const url = `${cloud.url}/cut`;
    await ok(t.dir, ['init', repo, '--store', url], 0, { env: cloud.env });
    const big = randomBytes(3 * 1024 * 1024);
    writeFileSync(path.join(repo, 'big.bin'), big);
    writeFileSync(path.join(repo, 'beats.csv'), 'idx,R\n0,77\n');
    const commit = lastLine((await ok(repo, ['commit', '-m', 'one'], 0, { env: cloud.env })).stdout);
    let cuts = 0;
    const [host, port] = /127\.0\.0\.1:(\d+)/.exec(Object.values(cloud.env).join(' '))![0].split(':');
    const proxy = await HttpFaultProxy.start({ host, port: Number(port) }, (req) =>
      cuts > 0 && req.method === 'GET' && req.url?.includes('.pack') && rangeLength(req) > 1024 * 1024 ? (cuts--, { afterBytes: 300_000, then: 'cut' as const }) : undefined,
    );
    try {
      const env: Record<string, string> = {};
      for (const [k, v] of Object.entries(cloud.env)) env[k] = v.replace(/127\.0\.0\.1:\d+/g, `127.0.0.1:${proxy.port}`);
      cuts = 1;
      await ok(repo, ['checkout', commit, '--to', path.join(t.dir, 'co')], 0, { env });
      expect(proxy.requests.filter((r) => r.faulted)).toHaveLength(1);
      expect(readFileSync(path.join(t.dir, 'co', 'big.bin')).equals(big)).toBe(true);
      expect(readFileSync(path.join(t.dir, 'co', 'beats.csv'), 'utf8')).toBe('idx,R\n0,77\n');
      cuts = 100;
      const r = await trib(repo, ['checkout', commit, '--to', path.join(t.dir, 'co2')], { env });
      expect(r.code).toBe(3);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toContain(url);
    } finally {
      await proxy.close();
    }
  });

  it('a store URL names the same store whatever the case of its scheme and with a trailing /, and is recorded in its normal form', async () => {
    const env = cloud.env;
    const url = `${cloud.url}/named`;
    const a = path.join(t.dir, 'a');
    const shouted = `${scheme.toUpperCase()}${url.slice(scheme.length)}/`;
    expect(JSON.parse((await ok(t.dir, ['init', a, '--store', shouted, '--json'], 0, { env })).stdout).store).toBe(url);
    expect(JSON.parse(readFileSync(path.join(a, '.trib/config.json'), 'utf8')).store).toBe(url);
    writeFileSync(path.join(a, 'beats.csv'), 'idx,R\n0,77\n');
    const commit = lastLine((await ok(a, ['commit', '-m', 'one'], 0, { env })).stdout);
    // Another working copy, given the plain form, works on the same store.
    const b = path.join(t.dir, 'b');
    await ok(t.dir, ['init', b, '--store', url], 0, { env });
    expect(JSON.parse((await ok(b, ['log', '--json'], 0, { env })).stdout).map((c: { id: string }) => c.id)).toEqual([commit]);
    // An empty segment names no store.
    for (const bad of [`${url}//x`, `${cloud.url.split('/').slice(0, 3).join('/')}//`]) {
      const r = await trib(t.dir, ['init', path.join(t.dir, 'c'), '--store', bad], { env });
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toContain(`bad store URL ${JSON.stringify(bad)}: the prefix must be /-separated segments`);
    }
  });

  // A setting the user must fix, as a missing variable is (credentials the service refuses are exit 3).
  it('missing credentials are exit 2 in one line naming what to set', async () => {
    const repo = path.join(t.dir, 'ds');
    await ok(t.dir, ['init', repo, '--store', cloud.url], 0, { env: cloud.env });
    const { env, name } = withoutCredentials(scheme, cloud.env, t.dir);
    for (const [cwd, args] of [[repo, ['log']], [t.dir, ['init', path.join(t.dir, 'fresh'), '--store', cloud.url]]] as const) {
      const r = await trib(cwd, [...args], { env });
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toContain(name);
    }
    // The failed init leaves no folder behind, nor anything in one that was there.
    expect(existsSync(path.join(t.dir, 'fresh'))).toBe(false);
    const kept = path.join(t.dir, 'kept');
    mkdirSync(kept);
    writeFileSync(path.join(kept, 'beats.csv'), 'idx,R\n');
    expect((await trib(t.dir, ['init', kept, '--store', cloud.url], { env })).code).toBe(2);
    expect(readdirSync(kept)).toEqual(['beats.csv']);
  });

  // On AWS itself the SDK looks for a region in AWS_REGION, the shared config file and instance metadata; with an
  // endpoint override (an S3-compatible store, which ignores it) it is us-east-1 unless set.
  (scheme === 's3' ? it : it.skip)('a missing AWS region is exit 2 in one line naming AWS_REGION, and the keys when they are missing too', async () => {
    const aws = { ...cloud.env, AWS_ENDPOINT_URL_S3: undefined, AWS_ENDPOINT_URL: undefined, AWS_REGION: undefined, AWS_DEFAULT_REGION: undefined };
    const nowhere = { AWS_PROFILE: undefined, AWS_CONFIG_FILE: path.join(t.dir, 'no-config'), AWS_SHARED_CREDENTIALS_FILE: path.join(t.dir, 'no-credentials'), AWS_EC2_METADATA_DISABLED: 'true' };
    const noKeys = { AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, AWS_SESSION_TOKEN: undefined };
    const url = 's3://tributary-test/no-region';
    const runs = [
      { env: { ...aws, ...nowhere }, says: /: set AWS_REGION$/ },
      { env: { ...aws, ...nowhere, ...noKeys }, says: /: set AWS_REGION, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/ },
    ];
    for (const { env, says } of runs) {
      const r = await trib(t.dir, ['init', path.join(t.dir, 'fresh'), '--store', url, '--json'], { env });
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toContain(url);
      expect(r.stderr.trim()).toMatch(says);
      expect(JSON.parse(r.stdout).error).toMatchObject({ code: 'FAILED_PRECONDITION', exitCode: 2 });
    }
    expect(existsSync(path.join(t.dir, 'fresh'))).toBe(false);
    await ok(t.dir, ['init', path.join(t.dir, 'emulated'), '--store', url], 0, { env: { ...cloud.env, ...nowhere, AWS_REGION: undefined, AWS_DEFAULT_REGION: undefined } });
  });

  it('a missing bucket is a clear error naming the URL (only init creates one)', async () => {
    const env = cloud.env;
    const repo = path.join(t.dir, 'ds');
    const url = cloud.url.replace('tributary-test', 'gone-bucket');
    await ok(t.dir, ['init', repo, '--store', url], 0, { env });
    // Point the working copy at a bucket that does not exist.
    const cfgPath = path.join(repo, '.trib/config.json');
    const cfg = JSON.parse(readFileSync(cfgPath, 'utf8'));
    cfg.store = cloud.url.replace('tributary-test', 'never-created');
    writeFileSync(cfgPath, JSON.stringify(cfg));
    const r = await trib(repo, ['log'], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('never-created');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('an unreachable endpoint is exit 3 within seconds, naming the URL', async () => {
    const repo = path.join(t.dir, 'ds');
    await ok(t.dir, ['init', repo, '--store', cloud.url], 0, { env: cloud.env });
    const dead: Record<string, string> = { ...cloud.env };
    for (const k of Object.keys(dead)) dead[k] = dead[k].replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:1');
    const r = await trib(repo, ['log'], { env: dead });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(cloud.url.split('/')[2]);
  });

  it('an endpoint that is not this storage service (404, no service error) is named in a one-line error', async () => {
    const repo = path.join(t.dir, 'ds');
    await ok(t.dir, ['init', repo, '--store', cloud.url], 0, { env: cloud.env });
    // Some other server where the endpoint should be (a proxy, a wrong port): 404 with an empty body to everything.
    const other: Server = createServer((_req, res) => res.writeHead(404).end());
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    try {
      const at = `127.0.0.1:${(other.address() as AddressInfo).port}`;
      const wrong: Record<string, string> = { ...cloud.env };
      for (const k of Object.keys(wrong)) wrong[k] = wrong[k].replace(/127\.0\.0\.1:\d+/g, at);
      const runs = [
        await trib(repo, ['log'], { env: wrong }),
        await trib(t.dir, ['init', path.join(t.dir, 'fresh'), '--store', cloud.url], { env: wrong }),
      ];
      for (const r of runs) {
        expect(r.code).toBe(2);
        const lines = r.stderr.trim().split('\n');
        expect(lines).toHaveLength(1);
        expect(lines[0]).toContain(cloud.url);
        expect(lines[0]).toContain(at);
        expect(lines[0]).not.toMatch(/:\s*\(HTTP/); // a reason, not an empty one
      }
    } finally {
      await new Promise((resolve) => other.close(resolve));
    }
  });
});

/** The bytes a ranged GET asks for (S3 and GCS send `Range`, Azure `x-ms-range`); 0 without a range. */
function rangeLength(req: IncomingMessage): number {
  const range = /^bytes=(\d+)-(\d+)$/.exec(String(req.headers.range ?? req.headers['x-ms-range'] ?? ''));
  return range ? Number(range[2]) - Number(range[1]) + 1 : 0;
}

/** `env` without any credentials for `scheme`'s cloud (nor the emulator, whose client needs none), and the variable to set. */
function withoutCredentials(scheme: string, env: Record<string, string>, home: string): { env: NodeJS.ProcessEnv; name: string } {
  if (scheme === 's3') return { env: { ...env, AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined }, name: 'AWS_ACCESS_KEY_ID' };
  if (scheme === 'az') {
    const none = { AZURE_STORAGE_CONNECTION_STRING: undefined, AZURE_STORAGE_ACCOUNT: undefined, AZURE_STORAGE_KEY: undefined };
    return { env: { ...env, ...none }, name: 'AZURE_STORAGE_CONNECTION_STRING' };
  }
  // Application Default Credentials: the variable, gcloud's file under HOME, and (not on this machine) GCE's metadata server.
  const none = { STORAGE_EMULATOR_HOST: undefined, GOOGLE_APPLICATION_CREDENTIALS: undefined, CLOUDSDK_CONFIG: undefined };
  return { env: { ...env, ...none, HOME: home, METADATA_SERVER_DETECTION: 'none' }, name: 'GOOGLE_APPLICATION_CREDENTIALS' };
}
