import * as grpc from '@grpc/grpc-js';
import { getLogger } from '@grpc/grpc-js/build/src/logging';
import * as net from 'node:net';
import { bindQuietly } from './quiet-bind';

describe('bindQuietly', () => {
  const lines: string[] = [];
  const capture = { error: (m: string) => void lines.push(`E ${m}`), info: (m: string) => void lines.push(`I ${m}`), debug: (m: string) => void lines.push(`D ${m}`) };
  let before: Partial<Console>;
  let taken: net.Server;
  let port: number;
  beforeEach(async () => {
    lines.length = 0;
    before = getLogger();
    grpc.setLogger(capture);
    taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    port = (taken.address() as net.AddressInfo).port;
  });
  afterEach(async () => {
    grpc.setLogger(before);
    await new Promise((resolve) => taken.close(resolve));
  });

  it("rejects a busy address with grpc-js's error, logging nothing, and gives grpc-js its logger back", async () => {
    const server = new grpc.Server();
    await expect(bindQuietly(server, `127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure())).rejects.toThrow(/EADDRINUSE/);
    expect(lines).toEqual([]);
    expect(getLogger()).toBe(capture);
    grpc.experimental.log(grpc.logVerbosity.ERROR, 'No address added out of total 1 resolved');
    expect(lines).toEqual(['E No address added out of total 1 resolved']);
  });

  it('binds a free address to the port it picked', async () => {
    const server = new grpc.Server();
    const bound = await bindQuietly(server, '127.0.0.1:0', grpc.ServerCredentials.createInsecure());
    expect(bound).toBeGreaterThan(0);
    expect(getLogger()).toBe(capture);
    server.forceShutdown();
  });
});
