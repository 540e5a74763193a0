/**
 * The consumer's own failures, in the client's ClientError hierarchy. Kafka error codes that
 * come back from the broker stay KafkaProtocolErrors.
 */
import { ClientError } from '../errors.ts';

/**
 * A commit was refused because the member is no longer part of the generation it committed for
 * (ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID): its partitions may belong to
 * another member now. The consumer rejoins on its own; `cause` is the Kafka error.
 */
export class CommitFailedError extends ClientError {
  static override readonly code: string = 'BROOK_ERR_COMMIT_FAILED';
}

/** `autoOffsetReset: 'none'` and a partition has no committed offset (or its offset is out of range). */
export class NoOffsetForPartitionError extends ClientError {
  static override readonly code: string = 'BROOK_ERR_NO_OFFSET_FOR_PARTITION';
  readonly topic: string;
  readonly partition: number;

  constructor(topic: string, partition: number, message: string) {
    super(message);
    this.topic = topic;
    this.partition = partition;
  }
}

/**
 * A deserializer threw. The partition's position stays at the record, so the same error comes
 * back until the application seeks past it (`consumer.seek(…, offset + 1n)`).
 */
export class RecordDeserializationError extends ClientError {
  static override readonly code: string = 'BROOK_ERR_RECORD_DESERIALIZATION';
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;

  constructor(topic: string, partition: number, offset: bigint, cause: unknown) {
    super(
      `cannot deserialize the record at ${topic}-${partition} offset ${offset}: ${(cause as Error)?.message ?? cause}`,
      { cause },
    );
    this.topic = topic;
    this.partition = partition;
    this.offset = offset;
  }
}

/** The group failed in a way the consumer cannot recover from (fenced static member, bad config). */
export class GroupMembershipError extends ClientError {
  static override readonly code: string = 'BROOK_ERR_GROUP_MEMBERSHIP';
}

/** A call that is not allowed in the consumer's state (consume before subscribe, two iterators). */
export class ConsumerStateError extends ClientError {
  static override readonly code: string = 'BROOK_ERR_CONSUMER_STATE';
}
