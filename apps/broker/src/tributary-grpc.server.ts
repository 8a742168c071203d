import * as grpc from '@grpc/grpc-js';
import { ServerGrpc } from '@nestjs/microservices';
import { UnavailableError } from '@tributary/core';
import { raiseServerWindows, SERVER_OPTIONS } from '@tributary/sync';
import { bindQuietly } from './quiet-bind';

/**
 * Nest's gRPC transport with two changes it has no options for: the HTTP/2 receive windows are raised (grpc-js has no
 * server option for them, and at 64 KiB a client-streamed publish crawls on a long link), and the real bound port
 * is kept, so `TRIB_LISTEN=...:0` can report which port it picked.
 */
export class TributaryGrpcServer extends ServerGrpc {
  boundPort?: number;

  override async createClient(): Promise<grpc.Server> {
    const server = new grpc.Server(SERVER_OPTIONS);
    this.boundPort = await bindQuietly(server, this.url, grpc.ServerCredentials.createInsecure()).catch((e: Error) => {
      throw new UnavailableError(`cannot listen on ${this.url} (TRIB_LISTEN): ${bindErrors(e.message)}`, {}, { cause: e });
    });
    raiseServerWindows(server);
    return server;
  }
}

/** The addresses' own errors from grpc-js's "No address added out of total N resolved errors: [...]", or all of it. */
function bindErrors(message: string): string {
  return /^No address added out of total \d+ resolved errors: \[(.+)\]$/s.exec(message)?.[1] ?? message;
}
