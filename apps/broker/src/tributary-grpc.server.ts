import * as grpc from '@grpc/grpc-js';
import { ServerGrpc } from '@nestjs/microservices';
import { UnavailableError } from '@tributary/core';
import { raiseServerWindows, SERVER_OPTIONS } from '@tributary/sync';

/**
 * Nest's gRPC transport with two changes it has no options for: the HTTP/2 receive windows are raised (grpc-js has no
 * server option for them, and at 64 KiB a client-streamed publish crawls on a long link), and the real bound port
 * is kept, so `TRIB_LISTEN=...:0` can report which port it picked.
 */
export class TributaryGrpcServer extends ServerGrpc {
  boundPort?: number;

  override async createClient(): Promise<grpc.Server> {
    const server = new grpc.Server(SERVER_OPTIONS);
    this.boundPort = await new Promise<number>((resolve, reject) =>
      server.bindAsync(this.url, grpc.ServerCredentials.createInsecure(), (e, port) =>
        e ? reject(new UnavailableError(`cannot listen on ${this.url} (TRIB_LISTEN): ${e.message}`, {}, { cause: e })) : resolve(port),
      ),
    );
    raiseServerWindows(server);
    return server;
  }
}
