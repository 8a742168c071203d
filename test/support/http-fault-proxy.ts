import { createServer, IncomingMessage, request as httpRequest, Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the proxy answers itself instead of forwarding: a status, headers and a body. */
export interface FaultAnswer {
  readonly status: number;
  readonly headers?: Record<string, string>;
  readonly body?: string;
}

/**
 * Forwards the request, and of the answer only the head and the first `afterBytes` of its body; then `stall`s (the
 * connection stays open, silent) or `cut`s the connection.
 */
export interface Stall {
  readonly afterBytes: number;
  readonly then: 'stall' | 'cut';
}

/** What `fault` decides for a request. */
export type Fault = FaultAnswer | Stall | 'silence' | 'lose-answer' | undefined;

/**
 * An HTTP proxy in front of a storage emulator that answers some requests itself, as an overloaded or failing
 * service would: `fault(req, n)` is asked for the n-th request (from 1) and returns (or resolves to, after doing
 * something to the store first) the answer to give, `'silence'`
 * to never answer (a service that stopped answering but keeps connections open), `'lose-answer'` to forward the
 * request and cut the connection once the emulator has answered (the request took effect; its answer was lost),
 * a Stall, or undefined to forward the request. `requests` lists every request seen, faulted or not.
 */
export class HttpFaultProxy {
  readonly requests: { method: string; url: string; faulted: boolean }[] = [];

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(
    target: { host: string; port: number },
    fault: (req: IncomingMessage, n: number) => Fault | Promise<Fault>,
  ): Promise<HttpFaultProxy> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const proxy = new HttpFaultProxy(server, (server.address() as AddressInfo).port);
    server.on('request', async (req, res) => {
      const seen = { method: req.method ?? '', url: req.url ?? '', faulted: false };
      proxy.requests.push(seen);
      const answer = await fault(req, proxy.requests.length);
      seen.faulted = answer !== undefined;
      if (answer === 'silence') return void req.resume();
      if (typeof answer === 'object' && 'status' in answer) {
        req.resume();
        req.on('end', () => res.writeHead(answer.status, answer.headers).end(answer.body ?? ''));
        return;
      }
      const upstream = httpRequest(
        { host: target.host, port: target.port, method: req.method, path: req.url, headers: req.headers },
        (reply) => {
          if (answer === 'lose-answer') {
            reply.resume();
            reply.on('end', () => res.destroy());
            return;
          }
          res.writeHead(reply.statusCode ?? 502, reply.headers);
          if (!answer) return void reply.pipe(res);
          let left = answer.afterBytes;
          reply.on('data', (part: Buffer) => {
            if (left > 0) res.write(part.subarray(0, left));
            left -= part.length;
            if (left <= 0 && answer.then === 'cut') {
              reply.destroy();
              res.destroy();
            }
          });
        },
      );
      upstream.on('error', () => res.destroy());
      req.pipe(upstream);
    });
    return proxy;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
