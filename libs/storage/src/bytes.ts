/** A store value given as bytes (a Buffer or any Uint8Array), as opposed to a stream. */
export function isBytes(data: unknown): data is Uint8Array {
  return data instanceof Uint8Array;
}

/** `data` as a Buffer over the same memory (no copy); a string is encoded as UTF-8. */
export function asBuffer(data: Buffer | string | Uint8Array): Buffer {
  if (typeof data === 'string') return Buffer.from(data);
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}
