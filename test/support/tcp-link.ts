import { connect, createServer, Server, Socket } from 'node:net';

export interface TcpLinkOptions {
  /**
   * Made once per connection: told each chunk the client sends, and forwards it upstream only when it returns
   * true (a test holding back what a client sends from some point on). Default: everything is forwarded.
   */
  readonly clientFilter?: () => (chunk: Buffer) => boolean;
}

/**
 * A TCP link to `host:port` that a test can break, as a network failure between one process and a service:
 * `drop()` cuts the connections open now; `cut()` also refuses new ones (they are closed at once) until
 * `restore()`.
 */
export class TcpLink {
  private cutOff = false;
  private readonly pairs = new Set<{ client: Socket; upstream: Socket }>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(host: string, port: number, options: TcpLinkOptions = {}): Promise<TcpLink> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const link = new TcpLink(server, (server.address() as { port: number }).port);
    server.on('connection', (client) => {
      if (link.cutOff) return void client.destroy();
      const upstream = connect(port, host);
      const pair = { client, upstream };
      link.pairs.add(pair);
      const end = () => {
        link.pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      };
      for (const s of [client, upstream]) s.on('error', end).on('close', end);
      const forward = options.clientFilter?.();
      if (forward) client.on('data', (d: Buffer) => void (forward(d) && upstream.write(d)));
      else client.pipe(upstream);
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

  /** Local ports of the link's connections to the service: how the service names its clients (Redis CLIENT LIST). */
  upstreamPorts(): number[] {
    return [...this.pairs].map((p) => p.upstream.localPort).filter((p): p is number => p !== undefined);
  }

  drop(): void {
    for (const { client, upstream } of this.pairs) {
      client.destroy();
      upstream.destroy();
    }
  }

  cut(): void {
    this.cutOff = true;
    this.drop();
  }

  restore(): void {
    this.cutOff = false;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise((r) => this.server.close(r));
  }
}
