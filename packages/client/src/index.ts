/** Brook's TypeScript Kafka client. */

/** The Kafka APIs by key, with names and version ranges: for tools that show what a broker serves. */
export { API_TABLE, type ApiDescriptor } from '@brook/protocol';
export * from './admin/index.ts';
export * from './consumer/index.ts';
export * from './errors.ts';
export * from './logger.ts';
export {
  type BrokerInfo,
  Cluster,
  type ClusterOptions,
  CoordinatorType,
  type PartitionInfo,
  type TopicInfo,
} from './network/cluster.ts';
export { Connection, type ConnectionOptions, type RequestOptions } from './network/connection.ts';
export * from './producer/index.ts';
export { backoffMs, type RetryOptions, withRetries } from './retry.ts';
export * from './serializers.ts';
