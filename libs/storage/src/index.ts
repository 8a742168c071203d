export * from './object-store.port';
export * from './store-keys';
export * from './local.store';
export * from './memory.store';
export * from './store-url';
export * from './conditional-writes.probe';
export * from './local-io';
export * from './write-fully';
