/**
 * How a record without an explicit partition gets one.
 *
 * - `'default'`: a key goes where murmur2 puts it (Java's and librdkafka's `murmur2_random`);
 *   records without a key stick to one partition until its batch is closed (full, or sent after
 *   `lingerMs`), then move to another, chosen at random among the partitions that have a leader
 *   (KIP-480's sticky partitioner). Few, full batches instead of many small ones.
 * - `'round-robin'`: every record to the next partition in turn (keys ignored), over the
 *   partitions that have a leader (all of them when none has).
 * - a function: the application decides. It may return `undefined` to fall back to the default.
 */
import { murmur2Partition } from './murmur2.ts';

export interface PartitionerInput {
  readonly topic: string;
  /** The serialized key (null: no key). */
  readonly key: Buffer | null;
  /** The serialized value. */
  readonly value: Buffer | null;
  readonly partitionCount: number;
  /** The partitions that have a leader now, ascending. */
  readonly availablePartitions: readonly number[];
}

/** A custom partitioner: a partition in [0, partitionCount), or undefined for the default. */
export type Partitioner = (input: PartitionerInput) => number | undefined;

export type PartitionerOption = 'default' | 'round-robin' | Partitioner;

/** Per topic: which partition keyless records stick to, and the batch they were filling. */
interface StickyChoice {
  partition: number;
  batch: unknown;
}

/** A random element of `candidates` other than `previous` (when there is another). */
function randomOther(candidates: readonly number[], previous: number): number {
  if (candidates.length === 1) return candidates[0]!;
  const index = Math.floor(Math.random() * candidates.length);
  const pick = candidates[index]!;
  if (pick !== previous) return pick;
  return candidates[
    (index + 1 + Math.floor(Math.random() * (candidates.length - 1))) % candidates.length
  ]!;
}

/**
 * KIP-480: the sticky partition of each topic changes when the batch it was filling is no
 * longer the partition's open batch (it filled up, or went out).
 */
export class StickyPartitions {
  private readonly byTopic = new Map<string, StickyChoice>();

  /**
   * The partition for the next keyless record of `topic`. `openBatch(p)` is the batch the record
   * would join in partition p (undefined when it would open a new one: time to move on).
   */
  choose(
    topic: string,
    available: readonly number[],
    partitionCount: number,
    openBatch: (partition: number) => unknown,
  ): number {
    const current = this.byTopic.get(topic);
    if (
      current !== undefined &&
      current.partition < partitionCount &&
      current.batch !== undefined &&
      openBatch(current.partition) === current.batch
    ) {
      return current.partition;
    }
    const candidates = available.length > 0 ? available : allPartitions(partitionCount);
    const partition = randomOther(candidates, current?.partition ?? -1);
    if (current === undefined) this.byTopic.set(topic, { partition, batch: undefined });
    else {
      current.partition = partition;
      current.batch = undefined;
    }
    return partition;
  }

  /** After a keyless record went into `batch` of the sticky partition. */
  appended(topic: string, partition: number, batch: unknown): void {
    const current = this.byTopic.get(topic);
    if (current !== undefined && current.partition === partition) current.batch = batch;
  }
}

/** Per topic: the next partition of round-robin. */
export class RoundRobinPartitions {
  private readonly counters = new Map<string, number>();

  choose(topic: string, available: readonly number[], partitionCount: number): number {
    const counter = this.counters.get(topic) ?? 0;
    this.counters.set(topic, (counter + 1) | 0);
    if (available.length > 0) return available[(counter >>> 0) % available.length]!;
    return (counter >>> 0) % partitionCount;
  }
}

/** The partition of a keyed record under the default partitioner. */
export function keyedPartition(key: Buffer, partitionCount: number): number {
  return murmur2Partition(key, partitionCount);
}

const ALL: number[][] = [];

/** [0, 1, …, count - 1], cached. */
export function allPartitions(count: number): readonly number[] {
  let list = ALL[count];
  if (list === undefined) {
    list = Array.from({ length: count }, (_, i) => i);
    if (count < 4096) ALL[count] = list;
  }
  return list;
}
