import { createHash } from 'node:crypto';
import { ObjectId } from '../ids/ids';

/** SHA-256 of the bytes as an ObjectId. */
export function sha256(data: Uint8Array): ObjectId {
  return createHash('sha256').update(data).digest('hex') as ObjectId;
}


export function idToBytes(id: ObjectId): Buffer {
  return Buffer.from(id, 'hex');
}

export function bytesToId(bytes: Uint8Array, offset = 0): ObjectId {
  return Buffer.from(bytes.buffer, bytes.byteOffset + offset, 32).toString('hex') as ObjectId;
}
