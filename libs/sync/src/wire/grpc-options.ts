import type * as http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { TribError } from '@tributary/core';

/**
 * HTTP/2 receive window for sync streams. Throughput over a link is about half of window / RTT, so the 64 KiB
 * default runs at under 1 MB/s across 50 ms; 64 MiB reaches hundreds of MB/s. It is also a buffer: each connection
 * may hold up to this many unread bytes on the receiver.
 */
export const FLOW_CONTROL_WINDOW = 64 * 1024 * 1024;

/** Largest message either side accepts or sends. Object batches are about 1 MiB, so this is only a guard. */
export const MAX_MESSAGE_BYTES = 8 * 1024 * 1024;

/** Options for every client channel to a broker. */
export const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc-node.flow_control_window': FLOW_CONTROL_WINDOW,
  'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
  'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
  'grpc.keepalive_time_ms': 30_000,
  'grpc.keepalive_timeout_ms': 20_000,
};

/**
 * Options for a broker's grpc-js Server (windows are raised separately: see raiseServerWindows). It pings each
 * client connection every minute and closes one whose answer does not come within 20 s: a publisher whose host or
 * link died without a word (no FIN, no RST) would otherwise hold its call, and its staging pack, for grpc-js's default
 * of two hours, as a subscriber would hold its session.
 */
export const SERVER_OPTIONS: grpc.ServerOptions = {
  'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
  'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.keepalive_time_ms': 60_000,
  'grpc.keepalive_timeout_ms': 20_000,
};

/**
 * Raises the HTTP/2 receive window of every session the server accepts from now on, so clients can stream to it at
 * more than 64 KiB per round trip. grpc-js 1.14 has no option for this; its servers live in the private field
 * `http2Servers` (pinned grpc-js; a spec fails if the field disappears). Call it after `bindAsync` has bound.
 * Both calls are needed: `setLocalWindowSize` raises the connection window, the `initialWindowSize` setting each
 * stream's. Throws TribError INTERNAL if the field is missing or empty.
 */
export function raiseServerWindows(server: grpc.Server, windowBytes = FLOW_CONTROL_WINDOW): void {
  const servers = (server as unknown as { http2Servers?: Map<http2.Http2Server, unknown> }).http2Servers;
  if (!(servers instanceof Map) || servers.size === 0) {
    throw new TribError('INTERNAL', 'grpc-js Server has no http2Servers map: cannot raise HTTP/2 windows (grpc-js version changed?)');
  }
  for (const http2Server of servers.keys()) {
    if ((http2Server as { __tribWindows?: boolean }).__tribWindows) continue;
    (http2Server as { __tribWindows?: boolean }).__tribWindows = true;
    http2Server.on('session', (session: http2.ServerHttp2Session) => {
      const raise = () => {
        try {
          session.setLocalWindowSize(windowBytes);
          session.settings({ initialWindowSize: windowBytes });
        } catch {
          // The session closed before it got going; nothing to raise.
        }
      };
      // setLocalWindowSize needs the socket attached; 'connect' has fired for server sessions by the time any
      // stream exists, but not necessarily when 'session' is emitted.
      if (session.socket) raise();
      else session.once('connect', raise);
    });
  }
}
