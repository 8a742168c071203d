/**
 * Local stand-ins for the three cloud object stores, started on free loopback ports by the tests, `npm run demo --
 * --clouds` and the bench, so the `s3://`, `gs://` and `az://` adapters run against real HTTP servers without an
 * account or a Docker engine. None of them is the cloud itself:
 *
 * - S3: `s3rver` (npm) in a child process, behind a proxy in this process that enforces the conditional writes
 *   (`If-None-Match`, `If-Match`) s3rver ignores, as Amazon S3 documents them (startS3Emulator).
 * - Azure Blob: Azurite (npm, Microsoft's emulator) in a child process, in memory (startAzurite).
 * - GCS: a small GCS JSON API server written for this project. It is a stand-in, NOT Google's code and not a full
 *   emulator: it answers only the calls the `gs://` adapter makes (startFakeGcs).
 *
 * Each start function returns the environment that points the SDKs (and any `trib` or app child process) at the
 * server, and a `stop()` that kills what it started and removes its data; the servers also die with this process.
 * For tests and the demo only: never point production data at them.
 */
export * from './azurite-harness';
export * from './fake-gcs-server';
export * from './s3-conditional-proxy';
export * from './s3rver-harness';
