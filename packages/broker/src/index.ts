export * from './broker.ts';
export * from './broker-context.ts';
export * from './config/broker-config.ts';
export * from './handlers/registry.ts';
export * from './logger.ts';
export * from './metadata/metadata-store.ts';
