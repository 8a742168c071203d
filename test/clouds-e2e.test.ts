/**
 * The regional flow across three clouds, end to end with real processes: the na-aws agent on S3 (s3rver behind the
 * conditional-write proxy), na-gcp on GCS (the JSON API stand-in), eu-azure on Azure Blob (Azurite), the broker on
 * S3 and the hub on Azure, every bucket made by `trib init`, cursors in the Redis at REDIS_URL (under the fresh
 * broker store's prefix). Batches land in each agent's inbox; the hub merges every one; its main tree holds each
 * region's batches byte for byte; `trib verify --read-data` passes, and reports a pack corrupted in each cloud.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { BlobServiceClient } from '@azure/storage-blob';
import { Storage } from '@google-cloud/storage';
import { Azurite, FakeGcs, S3Emulator, startAzurite, startFakeGcs, startS3Emulator } from '@tributary/emulators';
import { AppProcess, startApp } from './support/app-process';
import { okAsync as ok, tempDir, tribAsync as trib } from './support/trib';

const REGIONS = ['na-aws', 'na-gcp', 'eu-azure'] as const;
type Region = (typeof REGIONS)[number];
const STORES: Record<Region | 'broker' | 'hub', string> = {
  broker: 's3://e2e-broker/broker',
  hub: 'az://e2e-hub/hub',
  'na-aws': 's3://e2e-na-aws/heart',
  'na-gcp': 'gs://e2e-na-gcp/heart',
  'eu-azure': 'az://e2e-eu-azure/heart',
};
const BATCHES_PER_REGION = 2;

let s3: S3Emulator;
let gcs: FakeGcs;
let azurite: Azurite;
let env: Record<string, string>;
let t: ReturnType<typeof tempDir>;
const apps: AppProcess[] = [];
/** What each app printed, kept when they stop. */
const appLogs: string[] = [];
/** What landed, by region: batch file name -> bytes. */
const landed = new Map<Region, Map<string, Buffer>>();

const home = (role: string) => path.join(t.dir, 'homes', role);

/** A CSV batch: a header and `rows` rows of heart-monitor-like values, different for every call. */
function batch(rows: number): Buffer {
  const noise = randomBytes(rows * 2);
  const lines = ['sample,mlii,v5'];
  for (let i = 0; i < rows; i++) lines.push(`${i},${900 + noise[2 * i]},${1000 + noise[2 * i + 1]}`);
  return Buffer.from(lines.join('\n') + '\n');
}

async function land(inbox: string, name: string, bytes: Buffer): Promise<void> {
  const tmp = path.join(inbox, `.${name}.tmp`);
  await fs.writeFile(tmp, bytes);
  await fs.rename(tmp, path.join(inbox, name));
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await filesUnder(p)));
    else out.push(p);
  }
  return out;
}

const merges = (hub: AppProcess) => (hub.output().match(/merged \S+ seq \d+ -> [0-9a-f]{64}/g) ?? []).length;

beforeAll(async () => {
  t = tempDir('trib-clouds-e2e-');
  [s3, gcs, azurite] = await Promise.all([startS3Emulator(), startFakeGcs(), startAzurite()]);
  env = { ...s3.env, ...gcs.env, ...azurite.env, TRIB_AUTHOR: 'e2e <e2e@example.org>' };
  // `trib init` is the only command that creates a bucket or container; the apps would refuse a missing one.
  await Promise.all(Object.entries(STORES).map(([role, url]) => ok(t.dir, ['init', home(role), '--store', url], 0, { env })));

  const broker = await startApp('broker', { ...env, TRIB_STORE: STORES.broker, TRIB_LISTEN: '127.0.0.1:0' });
  apps.push(broker);
  const [hub, ...agents] = await Promise.all([
    startApp('hub', {
      ...env,
      TRIB_STORE: STORES.hub,
      TRIB_HOME: home('hub'),
      TRIB_BROKER: broker.address,
      TRIB_TOPICS: REGIONS.map((r) => `datasets/heart/${r}`).join(','),
      TRIB_LISTEN: '127.0.0.1:0',
    }),
    ...REGIONS.map(async (region) => {
      const inbox = path.join(t.dir, 'inbox', region);
      await fs.mkdir(inbox, { recursive: true });
      return startApp('edge-agent', {
        ...env,
        TRIB_STORE: STORES[region],
        TRIB_HOME: home(region),
        TRIB_REGION: region,
        TRIB_DATASET: 'heart',
        TRIB_INBOX: inbox,
        TRIB_BROKER: broker.address,
        TRIB_LISTEN: '127.0.0.1:0',
      });
    }),
  ]);
  apps.push(hub, ...agents);

  for (const region of REGIONS) landed.set(region, new Map());
  for (let n = 1; n <= BATCHES_PER_REGION; n++) {
    await Promise.all(
      REGIONS.map((region) => {
        const name = `${region}-${n}.csv`;
        const bytes = batch(n === 1 ? 20_000 : 3_000);
        landed.get(region)!.set(name, bytes);
        return land(path.join(t.dir, 'inbox', region), name, bytes);
      }),
    );
  }
  const deadline = Date.now() + 30_000;
  while (merges(hub) < REGIONS.length * BATCHES_PER_REGION) {
    for (const a of apps) if (a.proc.exitCode !== null) throw new Error(`an app exited:\n${a.output()}`);
    if (Date.now() > deadline) throw new Error(`the hub merged ${merges(hub)} batches in 30 s:\n${hub.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  // Stopped before the checks, so each home's lock is free and nothing writes while a pack is corrupted.
  for (const a of apps.splice(0).reverse()) {
    await a.kill();
    appLogs.push(a.output());
  }
}, 90_000);

afterAll(async () => {
  for (const a of apps) await a.kill('SIGKILL');
  await Promise.all([s3?.stop(), gcs?.stop(), azurite?.stop()]);
  t?.cleanup();
});

it('the apps log no AWS SDK notice about later Node versions, on S3 or elsewhere', () => {
  // Five apps, each ready (so their logs were read); the broker and the na-aws agent loaded the AWS SDK.
  expect(appLogs.filter((log) => /listening on/.test(log))).toHaveLength(5);
  expect(appLogs.join('\n')).not.toMatch(/NodeVersionSupportWarning|will require node >=22/);
});

it("the hub's main holds every region's batches byte for byte, and verifies", async () => {
  const out = path.join(t.dir, 'checkout');
  await ok(home('hub'), ['checkout', 'main', '--to', out], 0, { env });
  expect((await fs.readdir(path.join(out, 'regions'))).sort()).toEqual([...REGIONS].sort());
  for (const region of REGIONS) {
    const files = await filesUnder(path.join(out, 'regions', region));
    const byName = new Map(files.map((f) => [path.basename(f), f]));
    expect([...byName.keys()].sort()).toEqual([...landed.get(region)!.keys()].sort());
    for (const [name, bytes] of landed.get(region)!) expect((await fs.readFile(byName.get(name)!)).equals(bytes)).toBe(true);
    // The regional dataset layout, grafted: regions/<region>/batches/<UTC date>/<name>.
    expect(path.relative(path.join(out, 'regions', region), byName.get(`${region}-1.csv`)!)).toMatch(/^batches\/\d{4}-\d{2}-\d{2}\//);
  }
  const log = JSON.parse((await ok(home('hub'), ['log', '--json'], 0, { env })).stdout) as { annotations?: Record<string, string> }[];
  const merged = log.filter((c) => c.annotations?.['trib.source']);
  expect(merged.map((c) => c.annotations!['trib.region']).sort()).toEqual(REGIONS.flatMap((r) => Array(BATCHES_PER_REGION).fill(r)).sort());
  await ok(home('hub'), ['verify', '--read-data'], 0, { env });
});

it('an app refuses a store whose bucket is missing, naming the URL, and creates none', async () => {
  const missing = 's3://e2e-never-created/heart';
  const r = await startApp('edge-agent', {
    ...env,
    TRIB_STORE: missing,
    TRIB_HOME: path.join(t.dir, 'homes', 'missing'),
    TRIB_REGION: 'na-aws',
    TRIB_DATASET: 'heart',
    TRIB_INBOX: path.join(t.dir, 'inbox', 'na-aws'),
    TRIB_BROKER: '127.0.0.1:1',
    TRIB_LISTEN: '127.0.0.1:0',
  }).then(
    (app) => (apps.push(app), 'started'),
    (e: Error) => e.message,
  );
  // Exit 2, as `trib` for a missing bucket; the message names the variable once.
  expect(r).toContain('exited with 2');
  expect(r).toContain(`edge-agent: TRIB_STORE=${missing}: no store at ${missing}`);
  const list = await s3Client().send(new ListObjectsV2Command({ Bucket: 'e2e-never-created' })).then(
    () => 'exists',
    (e: { name?: string }) => e.name,
  );
  expect(list).toBe('NoSuchBucket');
});

describe('a pack corrupted in a cloud store is reported by trib verify --read-data', () => {
  const cases: [string, Region | 'hub', (prefix: string) => Promise<string>][] = [
    ['S3 (na-aws)', 'na-aws', corruptS3],
    ['GCS (na-gcp)', 'na-gcp', corruptGcs],
    ['Azure (the hub)', 'hub', corruptAzure],
  ];
  it.each(cases)('%s', async (_name, role, corrupt) => {
    await ok(home(role), ['verify', '--read-data'], 0, { env });
    const key = await corrupt(new URL(STORES[role]).pathname.slice(1));
    const r = await trib(home(role), ['verify', '--read-data'], { env });
    expect(r.code).toBe(1);
    // The damaged object's id and what it is (a batch file's chunk, a tree, a commit: whatever the byte fell in).
    expect(r.stdout).toMatch(/^[0-9a-f]{64} \S+/m);
    expect(r.stderr).toMatch(/verify: 1 damaged object/);
    expect(key).toMatch(/\.pack$/);
  });
});

function s3Client(): S3Client {
  return new S3Client({
    endpoint: s3.endpoint,
    forcePathStyle: true,
    region: env.AWS_REGION,
    credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** Flips one byte in the middle of `data`. */
function flip(data: Buffer): Buffer {
  const copy = Buffer.from(data);
  copy[copy.length >> 1] ^= 0x5a;
  return copy;
}

/** Picks the largest pack among `[key, size]`. */
function largestPack(objects: [string, number][]): string {
  const packs = objects.filter(([k]) => k.endsWith('.pack')).sort((a, b) => b[1] - a[1]);
  if (packs.length === 0) throw new Error(`no pack among ${objects.map(([k]) => k).join(', ')}`);
  return packs[0][0];
}

async function corruptS3(prefix: string): Promise<string> {
  const bucket = new URL(STORES['na-aws']).host;
  const client = s3Client();
  try {
    const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${prefix}/packs/` }));
    const key = largestPack((listed.Contents ?? []).map((o) => [o.Key!, o.Size ?? 0]));
    const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const data = Buffer.from(await got.Body!.transformToByteArray());
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: flip(data) }));
    return key;
  } finally {
    client.destroy();
  }
}

async function corruptGcs(prefix: string): Promise<string> {
  const storage = new Storage({ apiEndpoint: gcs.endpoint, projectId: 'tributary-test' });
  const bucket = storage.bucket(new URL(STORES['na-gcp']).host);
  const [files] = await bucket.getFiles({ prefix: `${prefix}/packs/` });
  const key = largestPack(files.map((f) => [f.name, Number(f.metadata.size ?? 0)]));
  const [data] = await bucket.file(key).download();
  await bucket.file(key).save(flip(data), { resumable: false });
  return key;
}

async function corruptAzure(prefix: string): Promise<string> {
  const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(new URL(STORES.hub).host);
  const objects: [string, number][] = [];
  for await (const b of container.listBlobsFlat({ prefix: `${prefix}/packs/` })) objects.push([b.name, b.properties.contentLength ?? 0]);
  const key = largestPack(objects);
  const blob = container.getBlockBlobClient(key);
  const data = await blob.downloadToBuffer();
  await blob.upload(flip(data), data.length);
  return key;
}
