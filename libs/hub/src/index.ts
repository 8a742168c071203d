export * from './merge-index';
export * from './record-append';
export * from './regional-merge';
export * from './shared-layout';
