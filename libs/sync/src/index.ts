// The publish/subscribe protocol below the apps: wire contract, topic logs, Redis cursors, object transfer, the
// broker's handlers and the client. No Nest in here: apps wire these into their own framework.
export * from './wire/proto-loader';
export * from './wire/grpc-options';
export * from './wire/status-mapping';
export * from './wire/message-stream';
export * from './topics/topic-log';
export * from './topics/log-fence';
export * from './topics/append-notifier';
export * from './cursors/cursor.repository';
export * from './redis/redis-errors';
export * from './transfer/transfer-channel';
export * from './transfer/object-kinds';
export * from './transfer/transfer-sender';
export * from './transfer/transfer-receiver';
export * from './transfer/database-target';
export * from './broker/store-identity';
export * from './broker/staged-objects';
export * from './broker/broker-context';
export * from './broker/broker-lease';
export * from './broker/publish.handler';
export * from './broker/subscribe.handler';
export * from './broker/admin.handler';
export * from './broker/sync-handlers';
export * from './broker/start-broker';
export * from './client/sync-result';
export * from './client/sync.client';
