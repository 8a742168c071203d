import { createHash } from 'node:crypto';
import { parentPort } from 'node:worker_threads';

// Worker side of HashPool: hashes the ranges of one transferred buffer and hands the buffer back with the ids.
interface Request {
  readonly job: number;
  readonly buffer: ArrayBuffer;
  readonly ranges: readonly (readonly [number, number])[];
}

parentPort!.on('message', ({ job, buffer, ranges }: Request) => {
  const ids = ranges.map(([offset, length]) =>
    createHash('sha256').update(new Uint8Array(buffer, offset, length)).digest('hex'),
  );
  parentPort!.postMessage({ job, buffer, ids }, [buffer]);
});
