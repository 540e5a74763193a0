/**
 * What the consumer knows of each partition it is assigned: three offsets, the prefetched
 * records, and flags.
 *
 *   position       the next offset to hand to the application (null: not known yet)
 *   fetchPosition  the next offset to fetch; ahead of `position` by what is prefetched
 *   processed      one past the last record the application is done with: what auto-commit
 *                  and a rebalance commit (a record or batch is done when the application asks
 *                  for the next, breaks out of the loop, or closes the consumer)
 *
 * `epoch` changes whenever the position is set from outside the flow of records (a seek, a
 * reset, a committed offset): a fetch or a delivery from an older epoch is dropped.
 */
import type { FetchedRecords } from './fetched-records.ts';
import { type PartitionKey, partitionKey, type TopicPartition } from './types.ts';

/** The bytes prefetched across all partitions (what `maxBufferedBytes` bounds). */
export interface BufferAccount {
  bytes: number;
}

export type ResetStrategy = 'earliest' | 'latest' | 'none';

export class PartitionState implements TopicPartition {
  readonly topic: string;
  readonly partition: number;
  readonly key: PartitionKey;
  position: bigint | null = null;
  fetchPosition: bigint | null = null;
  processed: bigint | null = null;
  /** The last offset committed for the partition by this consumer (or found committed). */
  lastCommitted: bigint | null = null;
  /** The leader epoch of the last record handed out (-1 before any). */
  leaderEpoch = -1;
  /** Set: the position must be found by this strategy (no committed offset, out of range, seekToX). */
  resetStrategy: ResetStrategy | undefined;
  paused = false;
  /** Being revoked: nothing more is handed out. */
  revoking = false;
  /** A fetch that includes the partition is out. */
  fetching = false;
  /** Not fetched again before this time (after an error). */
  retryAtMs = 0;
  /** An error for the application (thrown when the iterator reaches the partition). */
  error: Error | undefined;
  highWatermark = -1n;
  lastStableOffset = -1n;
  logStartOffset = -1n;
  epoch = 0;
  readonly buffer: FetchedRecords[] = [];
  private readonly account: BufferAccount;
  private ownBytes = 0;

  constructor(topic: string, partition: number, account: BufferAccount) {
    this.topic = topic;
    this.partition = partition;
    this.key = partitionKey(topic, partition);
    this.account = account;
  }

  get bufferedBytes(): number {
    return this.ownBytes;
  }

  /** Sets the position from outside the flow of records; prefetched records are dropped. */
  setPosition(offset: bigint, leaderEpoch = -1): void {
    this.clearBuffer();
    this.position = offset;
    this.fetchPosition = offset;
    this.processed = offset;
    this.leaderEpoch = leaderEpoch;
    this.resetStrategy = undefined;
    this.error = undefined;
    this.retryAtMs = 0;
    this.epoch++;
  }

  /** Forgets the position: it is looked up again with `strategy`. */
  reset(strategy: ResetStrategy): void {
    this.clearBuffer();
    this.position = null;
    this.fetchPosition = null;
    this.resetStrategy = strategy;
    this.error = undefined;
    this.epoch++;
  }

  push(records: FetchedRecords): void {
    this.buffer.push(records);
    this.ownBytes += records.bytes;
    this.account.bytes += records.bytes;
  }

  /** Drops the first prefetched response (read to its end). */
  shift(): void {
    const first = this.buffer.shift();
    if (first === undefined) return;
    this.ownBytes -= first.bytes;
    this.account.bytes -= first.bytes;
  }

  clearBuffer(): void {
    this.account.bytes -= this.ownBytes;
    this.ownBytes = 0;
    this.buffer.length = 0;
  }
}
