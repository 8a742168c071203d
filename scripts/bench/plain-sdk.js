'use strict';
/**
 * The plain SDK transfers the cloud bench measures trib against: each cloud's official SDK used as its
 * documentation has it for an emulator endpoint, with nothing of trib in between. Shared by the bench process
 * (clouds.js, the baseline) and the relay floor's server process (relay-floor.js), so both move bytes the same way.
 *
 * openPlainSdk(name, env) reads the endpoint and credentials from `env` (an emulator's environment: see
 * libs/emulators) and returns { uploadStream(readable, key), downloadStream(key) -> Readable, remove(prefix),
 * close() } on bucket/container `bucket`.
 */
const path = require('node:path');

const ROOT = path.resolve(__dirname, '../..');

function openPlainSdk(name, env, bucket) {
  const open = { s3: plainS3, gs: plainGcs, az: plainAzure }[name];
  if (!open) throw new Error(`no plain SDK for backend ${name}`);
  return open(env, bucket);
}

function plainS3(env, bucket) {
  const { S3Client, GetObjectCommand, ListObjectsV2Command, DeleteObjectsCommand } = require('@aws-sdk/client-s3');
  const { Upload } = require('@aws-sdk/lib-storage');
  const { S3_PART_SIZE, S3_UPLOAD_QUEUE_SIZE } = require(path.join(ROOT, 'libs/storage/dist/s3.store.js'));
  // With the adapter's part size and parallelism, so the ratio shows the adapter's own cost.
  const client = new S3Client({
    endpoint: env.AWS_ENDPOINT_URL_S3,
    forcePathStyle: true,
    region: env.AWS_REGION,
    credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  return {
    async uploadStream(body, key) {
      await new Upload({ client, params: { Bucket: bucket, Key: key, Body: body }, partSize: S3_PART_SIZE, queueSize: S3_UPLOAD_QUEUE_SIZE }).done();
    },
    async downloadStream(key) {
      return (await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body;
    },
    async remove(prefix) {
      for (;;) {
        const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
        const keys = (listed.Contents ?? []).map((o) => ({ Key: o.Key }));
        if (keys.length === 0) return;
        const out = await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys } }));
        // Refusals come back in the answer, not as an error; listing again would then never end.
        if (out.Errors?.length) throw new Error(`cannot delete ${out.Errors[0].Key}: ${out.Errors[0].Message}`);
      }
    },
    close() {
      client.destroy();
    },
  };
}

function plainGcs(env, bucket) {
  const { Storage } = require('@google-cloud/storage');
  const { pipeline } = require('node:stream/promises');
  const files = () => new Storage({ apiEndpoint: env.STORAGE_EMULATOR_HOST, projectId: env.GOOGLE_CLOUD_PROJECT }).bucket(bucket);
  return {
    async uploadStream(body, key) {
      await pipeline(body, files().file(key).createWriteStream());
    },
    async downloadStream(key) {
      return files().file(key).createReadStream();
    },
    async remove(prefix) {
      await files().deleteFiles({ prefix });
    },
    close() {},
  };
}

function plainAzure(env, bucket) {
  const { BlobServiceClient } = require('@azure/storage-blob');
  const container = BlobServiceClient.fromConnectionString(env.AZURE_STORAGE_CONNECTION_STRING).getContainerClient(bucket);
  return {
    async uploadStream(body, key) {
      await container.getBlockBlobClient(key).uploadStream(body);
    },
    async downloadStream(key) {
      return (await container.getBlockBlobClient(key).download()).readableStreamBody;
    },
    async remove(prefix) {
      for await (const b of container.listBlobsFlat({ prefix })) await container.deleteBlob(b.name);
    },
    close() {},
  };
}

module.exports = { openPlainSdk };
