import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ConfigError, configureHeapGrowth, exitCodeOf, loadConfig, namingVariable, silenceSdkNodeVersionNotice, TRIB_ENV } from '@tributary/config';
import { isTribError, redactUrl } from '@tributary/core';
import { openStore, parseStoreUrl } from '@tributary/storage';
import { BrokerContext, PROTO_FILES, PROTO_LOADER_OPTIONS } from '@tributary/sync';
import { BrokerModule } from './broker.module';
import { LineLogger } from './line-logger';
import { TributaryGrpcServer } from './tributary-grpc.server';

const BROKER_ENV = {
  redisUrl: TRIB_ENV.redisUrl,
  listen: TRIB_ENV.listen,
  store: TRIB_ENV.store,
  topicLogFence: TRIB_ENV.topicLogFence,
  orphanRecheckMs: TRIB_ENV.orphanRecheckMs,
};

/** The broker process: a NestJS gRPC microservice over the broker's object store and Redis. */
async function main(): Promise<void> {
  configureHeapGrowth();
  silenceSdkNodeVersionNotice();
  const cfg = loadConfig(BROKER_ENV);
  Logger.overrideLogger(new LineLogger());
  const logger = new Logger('broker');
  // A local folder is made if missing, as the agent and the hub make theirs; a cloud bucket only trib init creates.
  const store = await namingVariable('TRIB_STORE', cfg.store, () => openStore(cfg.store, { create: parseStoreUrl(cfg.store).scheme === 'file' }));
  // The context probes the store (conditional writes, its identity) as well as Redis: a failure names its variable.
  const context = await namingVariable('TRIB_STORE', store.url, () =>
    namingVariable('REDIS_URL', redactUrl(cfg.redisUrl), () =>
      BrokerContext.open({
        store,
        redisUrl: cfg.redisUrl,
        topicLogFence: cfg.topicLogFence,
        orphanRecheckMs: cfg.orphanRecheckMs,
        log: (level, message) => (level === 'info' ? logger.log(message) : level === 'warn' ? logger.warn(message) : logger.error(message)),
      }),
    ),
  );
  const strategy = new TributaryGrpcServer({ package: 'tributary.v1', protoPath: PROTO_FILES, loader: PROTO_LOADER_OPTIONS, url: cfg.listen.address });
  const app = await NestFactory.createMicroservice(BrokerModule.register(context), {
    strategy,
    logger: new LineLogger(),
  });
  await app.listen();
  logger.log(`listening on ${cfg.listen.host}:${strategy.boundPort}; store ${store.url}, redis ${redactUrl(cfg.redisUrl)}, cursor prefix ${context.storeId}`);

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.log(`${signal}: stopping`);
    await app.close();
    await context.close();
    await store.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

main().catch((e) => {
  const known = e instanceof ConfigError || isTribError(e);
  console.error(`broker: ${known ? e.message : (e as Error).stack ?? e}`);
  process.exit(exitCodeOf(e));
});
