export * from './batch-history';
export * from './batch-records';
export * from './batch-commit';
export * from './inbox-watcher';
export * from './inbox-ingest';
export * from './backlog-publisher';
export * from './process/store-repository';
export * from './process/status-server';
