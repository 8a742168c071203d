'use strict';
/**
 * A grpc-js service without protobuf, with raw Buffers as messages: the baselines of the fan-out and long-link
 * figures, with the same channel options and server windows as the broker.
 *
 *   Stream  server streaming: the request is a byte count (8 bytes, big endian); the server sends that many bytes
 *           as 1 MiB messages.
 *   Up      client streaming: the client sends bytes as 1 MiB messages; the server answers with the count. With
 *           `verify`, the server does what a receiver of objects must at the least: hashes every 64 KiB and keeps
 *           the bytes until the call ends, as a store would.
 */
const crypto = require('node:crypto');
const grpc = require('@grpc/grpc-js');

const MiB = 1024 * 1024;
const identity = (b) => b;
/** A method of service `service` whose messages are raw Buffers, serialized as they are. */
const rawMethod = (service, name, requestStream, responseStream) => ({
  path: `/bench.${service}/${name}`,
  requestStream,
  responseStream,
  requestSerialize: identity,
  requestDeserialize: identity,
  responseSerialize: identity,
  responseDeserialize: identity,
});

const RAW_SERVICE = { Stream: rawMethod('Raw', 'Stream', false, true), Up: rawMethod('Raw', 'Up', true, false) };

const RawClient = grpc.makeGenericClientConstructor(RAW_SERVICE, 'Raw');

/** Hashes `b` in 64 KiB pieces, one digest each, as a receiver verifying 64 KiB chunks does. */
function hashPieces(b) {
  for (let at = 0; at < b.length; at += 64 * 1024) crypto.createHash('sha256').update(b.subarray(at, at + 64 * 1024)).digest();
}

/**
 * Streams `bytes` from the server at `address`; resolves with the bytes received. With `verify`, hashes every
 * 64 KiB and keeps every message until the end, like a subscriber verifying into a memory store.
 */
function receiveAll(client, bytes, { verify = false } = {}) {
  const req = Buffer.alloc(8);
  req.writeBigUInt64BE(BigInt(bytes));
  return new Promise((resolve, reject) => {
    let got = 0;
    const kept = [];
    const call = client.Stream(req);
    call.on('data', (b) => {
      got += b.length;
      if (verify) {
        hashPieces(b);
        kept.push(b);
      }
    });
    call.on('error', reject);
    call.on('end', () => resolve(got));
  });
}

/** Sends `bytes` to the server's Up method as 1 MiB messages; resolves with the count the server confirms. */
function sendAll(client, bytes) {
  const block = crypto.randomBytes(MiB);
  return new Promise((resolve, reject) => {
    const call = client.Up((e, reply) => (e ? reject(e) : resolve(Number(reply.readBigUInt64BE(0)))));
    let left = bytes;
    const pump = () => {
      while (left > 0) {
        const k = Math.min(left, MiB);
        left -= k;
        if (!call.write(k === MiB ? block : block.subarray(0, k))) return void call.once('drain', pump);
      }
      call.end();
    };
    pump();
  });
}

/** The server side of Up: counts (and with `verify` hashes and keeps) what arrives, then answers the count. */
function upHandler({ verify }) {
  return (call, callback) => {
    let got = 0;
    let kept = [];
    call.on('data', (b) => {
      got += b.length;
      if (verify) {
        hashPieces(b);
        kept.push(b);
      }
    });
    call.on('end', () => {
      kept = [];
      const reply = Buffer.alloc(8);
      reply.writeBigUInt64BE(BigInt(got));
      callback(null, reply);
    });
  };
}

module.exports = { RAW_SERVICE, RawClient, rawMethod, receiveAll, sendAll, upHandler };
