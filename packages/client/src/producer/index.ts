/** The producer's public surface. */
export { murmur2, murmur2Partition, toPositive } from './murmur2.ts';
export type { Partitioner, PartitionerInput, PartitionerOption } from './partitioners.ts';
export { Producer } from './producer.ts';
export {
  InvalidRecordError,
  ProducerBlockedError,
  ProducerConfigError,
  RecordTooLargeError,
  SerializationError,
} from './producer-errors.ts';
export type { CompressionName, ProducerOptions, RecordBytes } from './producer-options.ts';
export type {
  HeaderValue,
  ProducerRecord,
  RecordHeadersInput,
  RecordMetadata,
  SendOptions,
} from './types.ts';
