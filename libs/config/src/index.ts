export * from './env-config';
export * from './parsers';
export * from './tributary-env';
export * from './heap-growth';
export * from './sdk-notices';
export * from './exit-code';
