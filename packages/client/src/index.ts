/** Brook's TypeScript Kafka client. */
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
export { backoffMs, type RetryOptions, withRetries } from './retry.ts';
