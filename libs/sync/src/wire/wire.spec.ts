import type * as http2 from 'node:http2';
import * as net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { ConflictError, IntegrityError, NotFoundError, TribError, UnavailableError } from '@tributary/core';
import { CHANNEL_OPTIONS, FLOW_CONTROL_WINDOW, MAX_MESSAGE_BYTES, raiseServerWindows, SERVER_OPTIONS } from './grpc-options';
import { loadPackageDefinition, loadTributaryProto } from './proto-loader';
import { fromGrpcError, toGrpcStatus } from './status-mapping';

describe('proto loading', () => {
  it('defines the sync and admin services with the generated shapes', () => {
    const proto = loadTributaryProto();
    expect(Object.keys(proto.tributary.v1.SyncService.service)).toEqual(['Publish', 'Subscribe']);
    expect(Object.keys(proto.tributary.v1.AdminService.service)).toEqual(['ListTopics']);
    expect(proto.tributary.v1.SyncService.service.Publish.requestStream).toBe(true);
    expect(proto.tributary.v1.SyncService.service.Publish.responseStream).toBe(true);
  });

  it('round-trips a batch of objects with a oneof payload', () => {
    const publish = loadPackageDefinition()['tributary.v1.SyncService'] as grpc.ServiceDefinition;
    const m = publish.Publish;
    const id = Buffer.alloc(32, 7);
    const bytes = m.requestSerialize({
      objects: { objects: [{ id, kind: 'OBJECT_KIND_CHUNK', data: Buffer.from('abc') }, { id, kind: 'OBJECT_KIND_TREE', delta: { base: id, delta: Buffer.from([1, 2]) } }] },
    });
    const back = m.requestDeserialize(bytes);
    expect(back.body).toBe('objects');
    expect(back.objects.objects[0]).toMatchObject({ kind: 'OBJECT_KIND_CHUNK', payload: 'data' });
    expect(Buffer.from(back.objects.objects[0].data).toString()).toBe('abc');
    expect(back.objects.objects[1]).toMatchObject({ kind: 'OBJECT_KIND_TREE', payload: 'delta' });
    expect(Buffer.from(back.objects.objects[1].delta.base).equals(id)).toBe(true);
  });
});

describe('status mapping', () => {
  it.each([
    ['NOT_FOUND', grpc.status.NOT_FOUND],
    ['ALREADY_EXISTS', grpc.status.ALREADY_EXISTS],
    ['CONFLICT', grpc.status.FAILED_PRECONDITION],
    ['INVALID_ARGUMENT', grpc.status.INVALID_ARGUMENT],
    ['FAILED_PRECONDITION', grpc.status.FAILED_PRECONDITION],
    ['INTEGRITY', grpc.status.DATA_LOSS],
    ['PERMISSION_DENIED', grpc.status.PERMISSION_DENIED],
    ['RESOURCE_EXHAUSTED', grpc.status.RESOURCE_EXHAUSTED],
    ['UNAVAILABLE', grpc.status.UNAVAILABLE],
    ['INTERNAL', grpc.status.INTERNAL],
  ] as const)('maps %s to gRPC %s and back', (code, status) => {
    const s = toGrpcStatus(new TribError(code, `a ${code}\nsecond line`));
    expect(s).toEqual({ code: status, details: `a ${code} second line` });
    const back = fromGrpcError({ code: status, details: s.details, message: '' });
    expect(back).toBeInstanceOf(TribError);
    expect(back.code).toBe(code === 'CONFLICT' ? 'FAILED_PRECONDITION' : code);
    expect(back.message).toBe(s.details);
  });

  it('gives subclasses, so callers can use instanceof', () => {
    expect(fromGrpcError({ code: grpc.status.NOT_FOUND, details: 'x', message: '' })).toBeInstanceOf(NotFoundError);
    expect(fromGrpcError({ code: grpc.status.DATA_LOSS, details: 'x', message: '' })).toBeInstanceOf(IntegrityError);
    expect(fromGrpcError({ code: grpc.status.ABORTED, details: 'x', message: '' })).toBeInstanceOf(ConflictError);
    // A peer that does not serve the call (an HTTP/2 server answering 404): no broker here, as if none answered.
    const notBroker = fromGrpcError({ code: grpc.status.UNIMPLEMENTED, details: 'Received HTTP status code 404', message: '' });
    expect(notBroker).toBeInstanceOf(UnavailableError);
    expect(notBroker.message).toBe('it does not serve this call: not a Tributary broker, or another version (Received HTTP status code 404)');
    expect(fromGrpcError({ code: grpc.status.DEADLINE_EXCEEDED, details: 'x', message: '' })).toBeInstanceOf(UnavailableError);
  });

  it("drops grpc-js's empty resolution note from a failed connection's message, and keeps one with content", () => {
    const refused = 'No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:1.';
    const down = fromGrpcError({ code: grpc.status.UNAVAILABLE, details: `${refused} Resolution note: `, message: '' });
    expect(down.message).toBe(refused);
    const named = `${refused} Resolution note: no addresses for nope.invalid`;
    expect(fromGrpcError({ code: grpc.status.UNAVAILABLE, details: named, message: '' }).message).toBe(named);
  });

  it('hides everything but the message of an unexpected error', () => {
    const s = toGrpcStatus(new RangeError('boom'));
    expect(s).toEqual({ code: grpc.status.INTERNAL, details: 'internal error: boom' });
  });
});

describe('server windows', () => {
  let server: grpc.Server;
  afterEach(() => {
    server?.forceShutdown();
    server = undefined as unknown as grpc.Server;
  });

  it('raises every accepted session to the configured receive window (fails if grpc-js drops http2Servers)', async () => {
    const proto = loadTributaryProto();
    server = new grpc.Server(SERVER_OPTIONS);
    server.addService(proto.tributary.v1.AdminService.service, {
      ListTopics: (_call: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, { topics: [] }),
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
    );
    raiseServerWindows(server);

    const client = new proto.tributary.v1.AdminService(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
    await new Promise((resolve, reject) => client.ListTopics({}, (e, r) => (e ? reject(e) : resolve(r))));
    const servers = (server as unknown as { http2Servers: Map<unknown, { sessions: Set<http2.ServerHttp2Session> }> }).http2Servers;
    const sessions = [...servers.values()].flatMap((s) => [...s.sessions]);
    expect(sessions.length).toBeGreaterThan(0);
    for (const s of sessions) {
      expect(s.localSettings.initialWindowSize).toBe(FLOW_CONTROL_WINDOW);
      expect(s.state.effectiveLocalWindowSize).toBeGreaterThanOrEqual(FLOW_CONTROL_WINDOW);
    }
    client.close();
  });

  it('closes the call of a client that went silent without closing its connection (the server pings it)', async () => {
    const proto = loadTributaryProto();
    // SERVER_OPTIONS' pings, 200 times as often, so the test need not wait minutes.
    const faster = (key: 'grpc.keepalive_time_ms' | 'grpc.keepalive_timeout_ms') => Number(SERVER_OPTIONS[key]) / 200;
    server = new grpc.Server({ ...SERVER_OPTIONS, 'grpc.keepalive_time_ms': faster('grpc.keepalive_time_ms'), 'grpc.keepalive_timeout_ms': faster('grpc.keepalive_timeout_ms') });
    let cancelled!: () => void;
    const ended = new Promise<void>((resolve) => (cancelled = resolve));
    server.addService(proto.tributary.v1.SyncService.service, {
      Publish: (call: grpc.ServerDuplexStream<unknown, unknown>) => {
        call.on('cancelled', () => cancelled());
        call.on('error', () => cancelled());
      },
      Subscribe: () => undefined,
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
    );
    // A link that goes silent: bytes stop flowing both ways, the sockets stay open.
    let silent = false;
    const sockets: net.Socket[] = [];
    const link = net.createServer((client) => {
      const upstream = net.connect(port, '127.0.0.1');
      sockets.push(client, upstream);
      client.on('data', (d) => silent || upstream.write(d));
      upstream.on('data', (d) => silent || client.write(d));
      client.on('error', () => undefined);
      upstream.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => link.listen(0, '127.0.0.1', resolve));
    const client = new proto.tributary.v1.SyncService(`127.0.0.1:${(link.address() as net.AddressInfo).port}`, grpc.credentials.createInsecure(), {
      ...CHANNEL_OPTIONS,
      'grpc.keepalive_time_ms': 3_600_000,
    });
    try {
      const call = client.Publish();
      call.on('error', () => undefined);
      call.write({ hello: { topic: 't/a', commit: 'c' } });
      await new Promise((r) => setTimeout(r, 200));
      silent = true;
      await ended;
    } finally {
      client.close();
      for (const s of sockets) s.destroy();
      link.close();
    }
  });

  it('throws when the private field is gone', () => {
    const bare = new grpc.Server(SERVER_OPTIONS);
    (bare as unknown as { http2Servers: unknown }).http2Servers = undefined;
    expect(() => raiseServerWindows(bare)).toThrow(/http2Servers/);
  });

  it('sets the limits the issue asks for', () => {
    expect(CHANNEL_OPTIONS['grpc-node.flow_control_window']).toBe(64 * 1024 * 1024);
    expect(CHANNEL_OPTIONS['grpc.max_receive_message_length']).toBe(8 * 1024 * 1024);
    expect(SERVER_OPTIONS['grpc.max_receive_message_length']).toBe(MAX_MESSAGE_BYTES);
  });
});
