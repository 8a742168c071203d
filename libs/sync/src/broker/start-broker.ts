import * as grpc from '@grpc/grpc-js';
import { InvalidArgumentError, UnavailableError } from '@tributary/core';
import { sharedHashPool } from '@tributary/repository';
import { ObjectStore } from '@tributary/storage';
import { raiseServerWindows, SERVER_OPTIONS } from '../wire/grpc-options';
import { loadTributaryProto } from '../wire/proto-loader';
import { BrokerContext, BrokerLogger, TopicLogFenceSetting } from './broker-context';
import { createSyncHandlers } from './sync-handlers';

export interface StartBrokerOptions {
  readonly store: ObjectStore;
  readonly redisUrl: string;
  /** `host:port`; port 0 picks a free one (see `address`). */
  readonly listen: string;
  readonly log?: BrokerLogger;
  /** See BrokerContextOptions. */
  readonly pollMs?: number;
  readonly window?: number;
  readonly topicLogFence?: TopicLogFenceSetting;
  readonly leaseTtlMs?: number;
}

export interface RunningBroker {
  /** `host:port` with the real port. */
  readonly address: string;
  readonly context: BrokerContext;
  /** Stops accepting calls, cancels running ones after a short grace, and closes Redis. The store stays open. */
  close(): Promise<void>;
}

const SHUTDOWN_GRACE_MS = 2000;

/**
 * Starts a broker on a plain grpc-js Server: SyncService and AdminService, with message limits and raised HTTP/2
 * receive windows. Throws InvalidArgumentError for a bad `listen`, UnavailableError when the address cannot be
 * bound or Redis cannot be reached, FailedPreconditionError when the store may not be shared with the brokers
 * already on it (see BrokerContext.open).
 */
export async function startBroker(opts: StartBrokerOptions): Promise<RunningBroker> {
  const host = hostOf(opts.listen);
  // Publishes are hashed on worker threads; start one now rather than with the first publish.
  sharedHashPool().warm();
  const context = await BrokerContext.open(opts);
  const proto = loadTributaryProto().tributary.v1;
  const handlers = createSyncHandlers(context);
  const server = new grpc.Server(SERVER_OPTIONS);
  server.addService(proto.SyncService.service, {
    Publish: (call: Parameters<typeof handlers.publish>[0]) => void handlers.publish(call),
    Subscribe: (call: Parameters<typeof handlers.subscribe>[0]) => void handlers.subscribe(call),
  });
  server.addService(proto.AdminService.service, {
    ListTopics: (call: Parameters<typeof handlers.listTopics>[0], cb: Parameters<typeof handlers.listTopics>[1]) => void handlers.listTopics(call, cb),
  });
  let port: number;
  try {
    port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(opts.listen, grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
    );
  } catch (e) {
    await context.close();
    throw new UnavailableError(`cannot listen on ${opts.listen}: ${(e as Error).message}`, { listen: opts.listen }, { cause: e });
  }
  raiseServerWindows(server);
  const address = `${host}:${port}`;
  let closed: Promise<void> | undefined;
  return {
    address,
    context,
    close() {
      closed ??= (async () => {
        context.stopping = true;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            server.forceShutdown();
            resolve();
          }, SHUTDOWN_GRACE_MS);
          server.tryShutdown(() => {
            clearTimeout(timer);
            resolve();
          });
        });
        await context.close();
      })();
      return closed;
    },
  };
}

function hostOf(listen: string): string {
  const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(listen);
  if (!m || Number(m[2]) > 65535) throw new InvalidArgumentError(`listen address must be HOST:PORT, got ${JSON.stringify(listen)}`);
  return m[1];
}
