'use strict';
/**
 * S3 throughput: the adapter (S3Store.putIfAbsent + getStream) beside a plain AWS SDK upload (lib-storage Upload)
 * and download (GetObject) of the same bytes, measured in the same run against the same endpoint. Without an
 * endpoint it starts its own s3rver in a child process on a free port with a temp directory, and kills it after.
 *
 *   node scripts/bench/s3.js [sizeMiB] [rounds]
 *
 * S3Store is loaded from the compiled lib (libs/storage/dist, built by `tsc -b`) unless one is passed in.
 */
const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Readable } = require('node:stream');
const { GetObjectCommand, S3Client, CreateBucketCommand } = require('@aws-sdk/client-s3');
const { Upload } = require('@aws-sdk/lib-storage');

const MiB = 1024 * 1024;
const ROOT = path.resolve(__dirname, '../..');

/**
 * Runs the comparison and returns MB/s figures (1 MB = 10^6 bytes) and ratios adapter / plain SDK.
 * Options: sizeMiB (default 256), rounds (default 3; the best round of each is kept, since these machines are
 * noisy), endpoint + env (default: a private s3rver), S3Store (default: the compiled adapter), partSize and
 * queueSize for both sides (default: the adapter's), log (default console.log, or null).
 */
async function benchS3(options = {}) {
  const size = (options.sizeMiB ?? 256) * MiB;
  const rounds = options.rounds ?? 3;
  const log = options.log === undefined ? console.log : options.log ?? (() => {});
  const adapter = options.S3Store ? undefined : require(path.join(ROOT, 'libs/storage/dist/s3.store.js'));
  const S3Store = options.S3Store ?? adapter.S3Store;
  // The plain upload uses the adapter's part size and parallelism, so the ratio shows the adapter's own cost.
  const partSize = options.partSize ?? adapter?.S3_PART_SIZE ?? 8 * MiB;
  const queueSize = options.queueSize ?? adapter?.S3_UPLOAD_QUEUE_SIZE ?? 4;
  const emulator = options.endpoint ? undefined : await startS3rver();
  const endpoint = options.endpoint ?? emulator.endpoint;
  const env = options.env ?? s3rverEnv(endpoint);
  const client = plainClient(endpoint, env);
  const bucket = `bench-${crypto.randomBytes(4).toString('hex')}`;
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    const store = await S3Store.open(`s3://${bucket}/store`, { env, partSize, queueSize });
    const best = { plainUp: 0, plainDown: 0, storeUp: 0, storeDown: 0 };
    const keep = (name, bytes, ms) => (best[name] = Math.max(best[name], bytes / 1e6 / (ms / 1000)));
    try {
      for (let round = 0; round < rounds; round++) {
        const plainKey = `plain/${round}.pack`;
        const params = { Bucket: bucket, Key: plainKey, Body: source(size) };
        keep('plainUp', size, await timed(() => new Upload({ client, partSize, queueSize, params }).done()));
        keep('plainDown', size, await timed(async () => {
          const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: plainKey }));
          await drain(out.Body, size);
        }));
        const storeKey = `packs/${round}.pack`;
        keep('storeUp', size, await timed(() => store.putIfAbsent(storeKey, source(size))));
        keep('storeDown', size, await timed(async () => drain(await store.getStream(storeKey), size)));
      }
    } finally {
      await store.close();
    }
    const result = {
      sizeMiB: size / MiB,
      rounds,
      partSizeMiB: partSize / MiB,
      endpoint: emulator ? 's3rver (private child process)' : endpoint,
      uploadMBps: { plainSdk: round1(best.plainUp), s3Store: round1(best.storeUp) },
      downloadMBps: { plainSdk: round1(best.plainDown), s3Store: round1(best.storeDown) },
      ratio: { upload: round2(best.storeUp / best.plainUp), download: round2(best.storeDown / best.plainDown) },
    };
    log(
      `s3 ${result.sizeMiB} MiB on ${result.endpoint}: upload plain SDK ${result.uploadMBps.plainSdk} MB/s, ` +
        `S3Store ${result.uploadMBps.s3Store} MB/s (${Math.round(result.ratio.upload * 100)}%); download plain SDK ` +
        `${result.downloadMBps.plainSdk} MB/s, S3Store ${result.downloadMBps.s3Store} MB/s ` +
        `(${Math.round(result.ratio.download * 100)}%)`,
    );
    return result;
  } finally {
    client.destroy();
    await emulator?.stop();
  }
}

/** s3rver in a child process (with the legacy OpenSSL provider its listing needs); stop() kills it by PID. */
async function startS3rver() {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'trib-bench-s3rver-'));
  const script = `
    const S3rver = require(process.env.S3RVER_MODULE);
    new S3rver({ address: '127.0.0.1', port: 0, directory: process.env.S3RVER_DIR, silent: true })
      .run().then(({ port }) => process.send({ port }), (e) => { console.error(e); process.exit(1); });
    process.on('disconnect', () => process.exit(0));`;
  const child = spawn(process.execPath, ['-e', script], {
    env: {
      ...process.env,
      NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --openssl-legacy-provider`.trim(),
      S3RVER_MODULE: require.resolve('s3rver'),
      S3RVER_DIR: directory,
    },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const kill = () => {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  };
  process.once('exit', kill);
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      kill();
      await exited;
    }
    process.removeListener('exit', kill);
    fs.rmSync(directory, { recursive: true, force: true });
  };
  try {
    const port = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('s3rver did not start in 15 s')), 15_000);
      child.once('message', (m) => {
        clearTimeout(timer);
        resolve(m.port);
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`s3rver exited with ${code}`));
      });
    });
    return { endpoint: `http://127.0.0.1:${port}`, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

function s3rverEnv(endpoint) {
  return {
    AWS_ENDPOINT_URL_S3: endpoint,
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    AWS_REGION: 'us-east-1',
  };
}

/** The plain SDK as its documentation suggests for an S3-compatible endpoint, with the same checksum setting. */
function plainClient(endpoint, env) {
  return new S3Client({
    endpoint,
    forcePathStyle: true,
    region: env.AWS_REGION ?? 'us-east-1',
    credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** `size` incompressible bytes in 1 MiB chunks, generated lazily (the same random MiB, re-keyed per chunk). */
function source(size) {
  const block = crypto.randomBytes(MiB);
  return Readable.from(
    (function* () {
      for (let pos = 0; pos < size; pos += MiB) {
        const chunk = Buffer.from(block.subarray(0, Math.min(MiB, size - pos)));
        chunk.writeUInt32LE(pos / MiB, 0);
        yield chunk;
      }
    })(),
    { objectMode: false },
  );
}

async function drain(stream, expected) {
  let seen = 0;
  for await (const chunk of stream) seen += chunk.length;
  if (seen !== expected) throw new Error(`read ${seen} bytes, expected ${expected}`);
}

async function timed(fn) {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

const round1 = (x) => Math.round(x * 10) / 10;
const round2 = (x) => Math.round(x * 100) / 100;

module.exports = { benchS3, startS3rver };

if (require.main === module) {
  const [sizeMiB, rounds] = process.argv.slice(2).map(Number);
  benchS3({ sizeMiB: sizeMiB || undefined, rounds: rounds || undefined })
    .then((r) => console.log(JSON.stringify(r)))
    .catch((e) => {
      console.error(e);
      process.exit(1);
    });
}
