import { connect, createServer, Server, Socket } from 'node:net';

/**
 * A TCP link to `host:port` that a test can cut and restore, as a network partition between one process and a
 * service: `cut()` drops every connection and refuses new ones (they are closed at once) until `restore()`.
 */
export class TcpLink {
  private cutOff = false;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(host: string, port: number): Promise<TcpLink> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const link = new TcpLink(server, (server.address() as { port: number }).port);
    server.on('connection', (client) => {
      if (link.cutOff) return void client.destroy();
      const upstream = connect(port, host);
      for (const s of [client, upstream]) {
        link.sockets.add(s);
        s.on('error', () => undefined);
        s.on('close', () => {
          link.sockets.delete(s);
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
    return link;
  }

  /** `url` with its host and port replaced by this link's. */
  through(url: string): string {
    const u = new URL(url);
    u.hostname = '127.0.0.1';
    u.port = String(this.port);
    return u.toString();
  }

  cut(): void {
    this.cutOff = true;
    for (const s of this.sockets) s.destroy();
  }

  restore(): void {
    this.cutOff = false;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise((r) => this.server.close(r));
  }
}
