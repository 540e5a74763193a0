/**
 * The consumer's public value types: partitions, records as the application sees them, batches,
 * rebalance listeners and offsets to commit.
 */
import type { RecordHeader, TimestampType } from '@brook/protocol';

export interface TopicPartition {
  readonly topic: string;
  readonly partition: number;
}

/** A record handed to the application, key and value deserialized. */
export interface ConsumerRecord<K = Buffer | null, V = Buffer | null> {
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
  /** Milliseconds since the epoch; -1 when the record has none (message format v0). */
  readonly timestamp: bigint;
  readonly timestampType: TimestampType;
  readonly key: K;
  readonly value: V;
  readonly headers: readonly RecordHeader[];
  /** The leader epoch of the batch the record came in; -1 when unknown. */
  readonly leaderEpoch: number;
}

/** Records of one partition, in offset order, as `consumer.batches()` hands them out. */
export interface ConsumerBatch<K = Buffer | null, V = Buffer | null> {
  readonly topic: string;
  readonly partition: number;
  readonly records: readonly ConsumerRecord<K, V>[];
  /** The partition's high watermark at the last fetch (-1 before any). */
  readonly highWatermark: bigint;
}

/**
 * Called as the group moves partitions. `onRevoked` runs before partitions go away (after the
 * records handed out are processed, and before their offsets are committed when auto-commit is
 * on); `onLost` when they were taken away already (the member was fenced), without a commit;
 * without `onLost`, `onRevoked` is called instead (as Kafka's Java client does). `onAssigned`
 * runs before the consumer looks up the partitions' committed offsets, so a `seek` there wins.
 */
export interface RebalanceListener {
  onAssigned?(partitions: readonly TopicPartition[]): void | Promise<void>;
  onRevoked?(partitions: readonly TopicPartition[]): void | Promise<void>;
  onLost?(partitions: readonly TopicPartition[]): void | Promise<void>;
}

/** An offset to commit: the offset of the next record to read (one past the last processed). */
export interface OffsetToCommit {
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
  readonly leaderEpoch?: number;
  readonly metadata?: string | null;
}

/** A committed offset as the group coordinator keeps it. */
export interface CommittedOffset {
  readonly topic: string;
  readonly partition: number;
  /** -1 when the group has committed nothing for the partition. */
  readonly offset: bigint;
  readonly leaderEpoch: number;
  readonly metadata: string | null;
}

/** "topic/partition" ('/' cannot occur in a topic name): the key of per-partition maps. */
export type PartitionKey = string;

export function partitionKey(topic: string, partition: number): PartitionKey {
  return `${topic}/${partition}`;
}

/** Sorts by topic, then partition. */
export function comparePartitions(a: TopicPartition, b: TopicPartition): number {
  if (a.topic !== b.topic) return a.topic < b.topic ? -1 : 1;
  return a.partition - b.partition;
}

/** Appends `value` to the list at `key`, creating the list. */
export function addTo<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}
