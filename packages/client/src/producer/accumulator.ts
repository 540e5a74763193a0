/**
 * Records waiting to be sent, per partition, and the memory they hold.
 *
 * Each partition has a queue of batches in the order they were created: those in flight or
 * waiting for a retry first, then the closed ones, then at most one open batch taking records.
 * A batch closes when it reaches `batchSizeBytes` (estimated after compression, from the ratio
 * the topic's batches compressed to so far). The sender takes from the front.
 *
 * The queue also carries the partition's idempotence state: the producer id and epoch of its
 * sequence stream, the next sequence, and the last one acknowledged.
 */
import { type CompressionType, ErrorCode } from '@brook/protocol';
import { ProducerBatch, type QueuedRecord } from './producer-batch.ts';

export class PartitionQueue {
  readonly topic: string;
  readonly partition: number;
  /** Incomplete batches, oldest first. */
  readonly batches: ProducerBatch[] = [];
  /** The batch taking records (the last of `batches`), if any. */
  open: ProducerBatch | undefined;
  /** Batches of this partition in requests awaiting an answer. */
  inflight = 0;
  /** A batch failed and waits to be sent again: nothing new goes out before it. */
  retrying = false;
  retryAtMs = 0;
  /** Whether the queue is in the accumulator's set of queues with work. */
  active = false;

  // Idempotence: the sequence stream of this partition.
  producerId = -1n;
  producerEpoch = -1;
  nextSequence = 0;
  lastAckedSequence = -1;
  /** The stream must start over (new epoch, sequences from 0) before anything more goes out. */
  needsReset = false;

  constructor(topic: string, partition: number) {
    this.topic = topic;
    this.partition = partition;
  }

  remove(batch: ProducerBatch): void {
    const index = this.batches.indexOf(batch);
    if (index >= 0) this.batches.splice(index, 1);
    if (this.open === batch) this.open = undefined;
  }

  /** The first batch with sequences that is not acknowledged yet. */
  firstSequenced(): ProducerBatch | undefined {
    for (const batch of this.batches) if (batch.baseSequence >= 0) return batch;
    return undefined;
  }
}

/** `buffer.memory`: bytes of records accepted and not yet done. */
export class BufferMemory {
  readonly totalBytes: number;
  usedBytes = 0;
  private waiters: (() => void)[] = [];

  constructor(totalBytes: number) {
    this.totalBytes = totalBytes;
  }

  tryReserve(bytes: number): boolean {
    if (this.usedBytes + bytes > this.totalBytes) return false;
    this.usedBytes += bytes;
    return true;
  }

  release(bytes: number): void {
    if (bytes === 0) return;
    this.usedBytes -= bytes;
    const waiters = this.waiters;
    if (waiters.length === 0) return;
    this.waiters = [];
    for (const waiter of waiters) waiter();
  }

  /** Resolves at the next release. */
  whenReleased(): Promise<void> {
    const { promise, resolve } = Promise.withResolvers<void>();
    this.waiters.push(resolve);
    return promise;
  }
}

/** Kafka's compression ratio estimate: quick to grow, slow to shrink. */
const RATIO_DETERIORATE_STEP = 0.05;
const RATIO_IMPROVE_STEP = 0.005;

export interface AccumulatorOptions {
  readonly batchSizeBytes: number;
  readonly maxRequestSizeBytes: number;
  readonly deliveryTimeoutMs: number;
  readonly compression: CompressionType;
  /** A batch closed and can go out at once. */
  readonly onReady: () => void;
  /** A batch was opened (the sender arms its linger timer). */
  readonly onOpen: (batch: ProducerBatch) => void;
}

export class RecordAccumulator {
  private readonly options: AccumulatorOptions;
  private readonly queuesByTopic = new Map<string, PartitionQueue[]>();
  /** Queues with incomplete batches (the sender's work list). */
  readonly active = new Set<PartitionQueue>();
  private readonly ratioByTopic = new Map<string, number>();

  constructor(options: AccumulatorOptions) {
    this.options = options;
  }

  /** The queues of the topic used last (most sends go to one topic at a time). */
  private lastTopic: string | undefined;
  private lastQueues: PartitionQueue[] = [];

  private queuesOf(topic: string): PartitionQueue[] | undefined {
    if (topic === this.lastTopic) return this.lastQueues;
    const queues = this.queuesByTopic.get(topic);
    if (queues !== undefined) {
      this.lastTopic = topic;
      this.lastQueues = queues;
    }
    return queues;
  }

  queue(topic: string, partition: number): PartitionQueue {
    let queues = this.queuesOf(topic);
    if (queues === undefined) {
      queues = [];
      this.queuesByTopic.set(topic, queues);
    }
    let queue = queues[partition];
    if (queue === undefined) {
      queue = new PartitionQueue(topic, partition);
      queues[partition] = queue;
    }
    return queue;
  }

  /**
   * The batch a record of `sizeBytes` would join in a partition: its open batch when that has
   * room. An open batch without room is closed (it goes out now, as in Kafka's accumulator) and
   * the answer is undefined: the record would open a new batch. For the sticky partitioner.
   */
  openBatch(topic: string, partition: number, sizeBytes: number): ProducerBatch | undefined {
    const queue = this.queuesOf(topic)?.[partition];
    const batch = queue?.open;
    if (batch === undefined) return undefined;
    if (batch.recordCount > 0 && batch.sizeBytes + sizeBytes > this.batchLimitBytes(topic)) {
      this.close(queue!);
      return undefined;
    }
    return batch;
  }

  /** Every queue ever used. */
  *queues(): IterableIterator<PartitionQueue> {
    for (const queues of this.queuesByTopic.values()) {
      for (const queue of queues) if (queue !== undefined) yield queue;
    }
  }

  /** Adds a record to its partition's open batch (opening one when needed). */
  append(partition: number, record: QueuedRecord, nowMs: number): ProducerBatch {
    const topic = record.topic;
    const queue = this.queue(topic, partition);
    const limit = this.batchLimitBytes(topic);
    let batch = queue.open;
    if (
      batch !== undefined &&
      batch.recordCount > 0 &&
      batch.sizeBytes + record.sizeBytes > limit
    ) {
      this.close(queue);
      batch = undefined;
    }
    if (batch === undefined) {
      batch = new ProducerBatch(
        topic,
        partition,
        nowMs,
        record.timestampMs,
        this.options.deliveryTimeoutMs,
      );
      queue.open = batch;
      queue.batches.push(batch);
      if (!queue.active) {
        queue.active = true;
        this.active.add(queue);
      }
      this.options.onOpen(batch);
    }
    batch.add(record);
    if (batch.sizeBytes >= limit) this.close(queue);
    return batch;
  }

  /** Closes the open batch of a queue: it goes out with the next request to its leader. */
  close(queue: PartitionQueue): void {
    const batch = queue.open;
    if (batch === undefined) return;
    queue.open = undefined;
    batch.state = 'ready';
    this.options.onReady();
  }

  /** Uncompressed bytes at which a batch of `topic` closes. */
  private batchLimitBytes(topic: string): number {
    const { batchSizeBytes, maxRequestSizeBytes } = this.options;
    if (this.ratioByTopic.size === 0) return batchSizeBytes;
    const ratio = this.ratioByTopic.get(topic);
    if (ratio === undefined || ratio >= 1) return batchSizeBytes;
    return Math.min(Math.floor(batchSizeBytes / Math.max(ratio, 0.05)), maxRequestSizeBytes);
  }

  /** After a batch was encoded: its compressed size against the estimate. */
  observeCompression(batch: ProducerBatch, encodedBytes: number): void {
    if (this.options.compression === 0 || batch.sizeBytes <= 0) return;
    const observed = encodedBytes / batch.sizeBytes;
    const estimate = this.ratioByTopic.get(batch.topic) ?? 1;
    let next = estimate;
    if (observed > estimate) next = Math.max(estimate + RATIO_DETERIORATE_STEP, observed);
    else if (observed < estimate) next = Math.max(estimate - RATIO_IMPROVE_STEP, observed);
    this.ratioByTopic.set(batch.topic, next);
  }
}

/** Errors after which the partition's leader may have moved: refresh metadata before a retry. */
export function invalidatesMetadata(errorCode: number): boolean {
  return (
    errorCode === ErrorCode.NOT_LEADER_OR_FOLLOWER ||
    errorCode === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION ||
    errorCode === ErrorCode.LEADER_NOT_AVAILABLE ||
    errorCode === ErrorCode.KAFKA_STORAGE_ERROR ||
    errorCode === ErrorCode.FENCED_LEADER_EPOCH ||
    errorCode === ErrorCode.UNKNOWN_LEADER_EPOCH
  );
}
