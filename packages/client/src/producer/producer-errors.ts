/**
 * The producer's own failures, in the client's ClientError hierarchy. Kafka error codes a
 * broker answers stay KafkaProtocolErrors; a delivery that ran out of time or retries is a
 * RetriesExhaustedError whose `cause` is the last failure.
 */
import { ClientError } from '../errors.ts';

/** An option value the producer cannot work with (or two that contradict each other). */
export class ProducerConfigError extends ClientError {
  static override readonly code: string = 'BROOK_ERR_PRODUCER_CONFIG';
}

/** A serializer threw; `cause` is what it threw. Nothing was sent. */
export class SerializationError extends ClientError {
  static override readonly code: string = 'BROOK_ERR_SERIALIZATION';
}

/** A record larger than `maxRequestSizeBytes` or `bufferMemoryBytes`. Nothing was sent. */
export class RecordTooLargeError extends ClientError {
  static override readonly code: string = 'BROOK_ERR_RECORD_TOO_LARGE';
}

/**
 * `send` waited `maxBlockMs` for room in the buffer (`bufferMemoryBytes`) or for the topic's
 * metadata, and got neither. Nothing was sent; `cause` is the last metadata failure, if any.
 */
export class ProducerBlockedError extends ClientError {
  static override readonly code: string = 'BROOK_ERR_PRODUCER_BLOCKED';
}

/** A record `send` cannot take: an empty topic, a bad partition or timestamp. Nothing was sent. */
export class InvalidRecordError extends ClientError {
  static override readonly code: string = 'BROOK_ERR_INVALID_RECORD';
}
