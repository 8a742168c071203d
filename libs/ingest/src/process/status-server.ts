import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import { UnavailableError } from '@tributary/core';

/** A running status endpoint. */
export interface StatusServer {
  /** HOST:PORT actually bound (port 0 resolved). */
  readonly address: string;
  close(): Promise<void>;
}

/**
 * Serves `GET /health` (and `/`) with the JSON `status()` returns, for health checks and for watching a long-running
 * process (edge agent, hub) from scripts. Binds `host:port` (port 0 picks a free one).
 */
export function startStatusServer(host: string, port: number, status: () => unknown): Promise<StatusServer> {
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || (req.url !== '/health' && req.url !== '/')) {
      res.writeHead(404).end();
      return;
    }
    let body: string;
    try {
      body = JSON.stringify(status(), null, 2) + '\n';
    } catch (e) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(String(e));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  });
  return new Promise((resolve, reject) => {
    // Address in use, or not this machine's: the app's TRIB_LISTEN, said in one line.
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(new UnavailableError(`cannot listen on ${host}:${port} (TRIB_LISTEN): ${e.code ?? e.message}`, {}, { cause: e })),
    );
    server.listen(port, host.replace(/^\[|\]$/g, ''), () => {
      const a = server.address() as AddressInfo;
      const shown = a.family === 'IPv6' ? `[${a.address}]` : a.address;
      resolve({
        address: `${shown}:${a.port}`,
        close: () => new Promise<void>((done) => server.close(() => done())),
      });
    });
  });
}
