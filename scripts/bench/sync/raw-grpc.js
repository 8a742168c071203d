'use strict';
/**
 * A grpc-js service without protobuf: one server-streaming method whose request is the byte count (8 bytes, big
 * endian) and whose responses are raw Buffers. The fan-out figure's baseline: what grpc-js itself delivers, with
 * the same channel options and server windows as the broker, and no encoding, verification or storage at all.
 */
const grpc = require('@grpc/grpc-js');

const identity = (b) => b;

const RAW_SERVICE = {
  Stream: {
    path: '/bench.Raw/Stream',
    requestStream: false,
    responseStream: true,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};

const RawClient = grpc.makeGenericClientConstructor(RAW_SERVICE, 'Raw');

/** Streams `bytes` from the server at `address`; resolves with the bytes received. */
function receiveAll(client, bytes) {
  const req = Buffer.alloc(8);
  req.writeBigUInt64BE(BigInt(bytes));
  return new Promise((resolve, reject) => {
    let got = 0;
    const call = client.Stream(req);
    call.on('data', (b) => (got += b.length));
    call.on('error', reject);
    call.on('end', () => resolve(got));
  });
}

module.exports = { RAW_SERVICE, RawClient, receiveAll };
