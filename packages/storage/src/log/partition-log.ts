import { join } from 'node:path';
import {
  decodeRecordBatch,
  ErrorCode,
  LOG_OVERHEAD_BYTES,
  ProtocolDecodeError,
  RECORD_BATCH_HEADER_BYTES,
  RECORD_BATCH_MAGIC,
  readRecordBatchHeader,
  setBatchBaseOffset,
  setBatchMaxTimestamp,
  setBatchPartitionLeaderEpoch,
  TimestampType,
  verifyRecordBatchCrc,
} from '@brook/protocol';
import { LeaderEpochCache } from '../checkpoint/leader-epoch-cache.ts';
import type { LogConfig } from '../config/log-config.ts';
import { LogClosedError, LogError, LogIoError } from '../errors.ts';
import type { FileHandlePool } from '../fs/file-handle-pool.ts';
import { type FileSystem, mkdirDurable } from '../fs/file-system.ts';
import {
  type ProducerBatchMetadata,
  ProducerStateManager,
} from '../producer-state/producer-state-manager.ts';
import {
  type AppendedBatch,
  CLEANED_FILE_SUFFIX,
  DELETED_FILE_SUFFIX,
  INDEX_FILE_SUFFIX,
  LOG_FILE_SUFFIX,
  LogSegment,
  type ReadOptions,
  readAt,
  type SegmentOptions,
  SWAP_FILE_SUFFIX,
  segmentFileName,
  TIME_INDEX_FILE_SUFFIX,
  wholeBatchesLength,
} from './log-segment.ts';

/** The topic settings a partition log uses (Brook's typed form of Kafka's topic configs). */
export type PartitionLogConfig = Pick<
  LogConfig,
  | 'segmentBytes'
  | 'segmentMs'
  | 'segmentJitterMs'
  | 'segmentIndexBytes'
  | 'indexIntervalBytes'
  | 'maxMessageBytes'
  | 'messageTimestampType'
  | 'messageTimestampBeforeMaxMs'
  | 'messageTimestampAfterMaxMs'
  | 'flushMessages'
  | 'flushMs'
  | 'retentionMs'
  | 'retentionBytes'
  | 'cleanupPolicy'
  | 'fileDeleteDelayMs'
  | 'deleteRetentionMs'
  | 'minCompactionLagMs'
  | 'maxCompactionLagMs'
  | 'minCleanableDirtyRatio'
>;

export interface PartitionLogOptions {
  /** The partition's directory (`<data dir>/<topic>-<partition>`). */
  readonly directory: string;
  readonly pool: FileHandlePool;
  readonly config: PartitionLogConfig;
  /** From the recovery-point checkpoint: everything below it was flushed before a crash. */
  readonly recoveryPoint: bigint;
  /** From the log-start-offset checkpoint. */
  readonly logStartOffset: bigint;
  /** The broker shut down cleanly: trust the files, recover nothing. */
  readonly cleanShutdown: boolean;
  /** From the cleaner-offset checkpoint: where the uncompacted (dirty) part of the log starts. */
  readonly firstDirtyOffset?: bigint;
  /** Milliseconds since the epoch; injectable for tests. */
  readonly clock?: () => number;
  /** `producer.id.expiration.ms` (a broker setting): idle producers' state is dropped after it. */
  readonly producerIdExpirationMs?: number;
}

/** What an append did. */
export interface AppendResult {
  readonly firstOffset: bigint;
  readonly lastOffset: bigint;
  readonly recordCount: number;
  readonly maxTimestamp: bigint;
  readonly offsetOfMaxTimestamp: bigint;
  /** The time stamped on the batches for LogAppendTime topics, -1n otherwise. */
  readonly logAppendTime: bigint;
  readonly logStartOffset: bigint;
  /**
   * The batch was a retry of one an idempotent producer already wrote (same producer, epoch
   * and sequences): nothing was written, and the offsets are those of the original.
   */
  readonly duplicate: boolean;
  /**
   * Resolves when the append is durable under the topic's flush policy: at once when the
   * policy never flushes (the page cache is the durability), after the fsync that covers it
   * otherwise. Rejects when that fsync fails: the append must not be acknowledged as durable.
   */
  readonly durable: Promise<void>;
}

export interface ReadResult {
  /** Whole batches, as stored; empty when there is nothing at the offset yet. */
  readonly records: Buffer;
  readonly logStartOffset: bigint;
  readonly logEndOffset: bigint;
}

/** How an append's offsets come about. */
export type AppendOrigin =
  /** From a producer: the log validates the batches and assigns offsets. */
  | 'client'
  /** From a leader, on a follower: offsets are kept as the leader assigned them. */
  | 'replication';

const NO_LIMIT = Number.MAX_SAFE_INTEGER;

/**
 * The log of one partition (Kafka's UnifiedLog): a list of segments, the last one active.
 *
 * Appends are serialized: each waits for the previous one's write. Reads run beside appends and
 * see whole appends only (a segment's `size` moves after its write completes). Flushes coalesce:
 * appends that ask while an fsync is in flight share the next one (group commit).
 */
export class PartitionLog {
  readonly directory: string;
  private readonly pool: FileHandlePool;
  private config: PartitionLogConfig;
  private readonly clock: () => number;
  private segments: LogSegment[];
  private readonly epochs: LeaderEpochCache;
  private appendChain: Promise<unknown> = Promise.resolve();
  private flushInFlight: Promise<void> | undefined;
  private flushQueued: Promise<void> | undefined;
  private lastFlushMs: number;
  private unflushedMessages = 0;
  /** Truncations not fsynced yet: a flush syncs even when nothing was appended since. */
  private unflushedTruncations = 0;
  private failure: Error | undefined;
  private closed = false;
  /** Segment files waiting out `file.delete.delay.ms`, with what removes them. */
  private readonly pendingDeletes = new Map<ReturnType<typeof setTimeout>, () => Promise<void>>();
  private readonly deletions = new Set<Promise<void>>();
  /** Offsets below this are on disk (fsynced). */
  recoveryPoint: bigint;
  logStartOffset: bigint;
  /** Compaction: offsets below this were cleaned; from here on the log is dirty. */
  firstDirtyOffset: bigint;
  /**
   * Idempotent producers' epochs and last batches (sequence checks, duplicates). Loaded on first
   * use (the first append, a truncation, `loadProducerState`), so that opening thousands of
   * partitions reads no snapshot.
   */
  readonly producerState: ProducerStateManager;
  private producerStateLoaded = false;

  private constructor(
    options: PartitionLogOptions,
    segments: LogSegment[],
    epochs: LeaderEpochCache,
    logStartOffset: bigint,
    recoveryPoint: bigint,
    producerState: ProducerStateManager,
  ) {
    this.producerState = producerState;
    this.directory = options.directory;
    this.pool = options.pool;
    this.config = options.config;
    this.clock = options.clock ?? Date.now;
    this.segments = segments;
    this.epochs = epochs;
    this.logStartOffset = logStartOffset;
    this.recoveryPoint = recoveryPoint;
    this.firstDirtyOffset = options.firstDirtyOffset ?? logStartOffset;
    this.lastFlushMs = this.clock();
  }

  /**
   * Opens (or creates) the log in `options.directory`. After an unclean shutdown, the segments
   * from the one holding the recovery point onwards are re-scanned: batches checked, indexes
   * rebuilt, a torn tail cut off, and segments after a corruption removed.
   */
  static async open(options: PartitionLogOptions): Promise<PartitionLog> {
    const fs = options.pool.fs;
    await mkdirDurable(fs, options.directory);
    await completeInterruptedSwaps(fs, options.directory);
    const names = await fs.readdir(options.directory);
    // Leftovers of deletions and interrupted cleanings are garbage.
    for (const name of names) {
      if (name.endsWith(DELETED_FILE_SUFFIX) || name.endsWith(CLEANED_FILE_SUFFIX)) {
        await fs.unlink(join(options.directory, name));
      }
    }
    const baseOffsets = names
      .filter((name) => /^\d{20}\.log$/.test(name))
      .map((name) => BigInt(name.slice(0, 20)))
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const segmentOptions: SegmentOptions = {
      pool: options.pool,
      directory: options.directory,
      indexIntervalBytes: options.config.indexIntervalBytes,
      maxIndexBytes: options.config.segmentIndexBytes,
    };
    const segments: LogSegment[] = [];
    let recovered = false;
    for (let i = 0; i < baseOffsets.length; i++) {
      const baseOffset = baseOffsets[i]!;
      const nextBase = baseOffsets[i + 1];
      const recover =
        !options.cleanShutdown && (nextBase === undefined || nextBase > options.recoveryPoint);
      const { segment, truncatedBytes } = await LogSegment.open(baseOffset, segmentOptions, {
        recover,
        maxBatchBytes: Math.max(options.config.maxMessageBytes, 1 << 20) * 4,
      });
      recovered ||= recover;
      segments.push(segment);
      if (truncatedBytes > 0 && nextBase !== undefined) {
        // A corrupt batch in the middle of the log: what follows cannot be trusted either.
        for (const later of baseOffsets.slice(i + 1)) {
          for (const suffix of [LOG_FILE_SUFFIX, INDEX_FILE_SUFFIX, TIME_INDEX_FILE_SUFFIX]) {
            await fs
              .unlink(join(options.directory, segmentFileName(later, suffix)))
              .catch(() => {});
          }
        }
        break;
      }
    }
    if (segments.length === 0) {
      segments.push(await LogSegment.create(options.logStartOffset, segmentOptions));
    }
    const logEndOffset = segments.at(-1)!.nextOffset;
    const firstBase = segments[0]!.baseOffset;
    let logStartOffset = options.logStartOffset > firstBase ? options.logStartOffset : firstBase;
    if (logStartOffset > logEndOffset) logStartOffset = logEndOffset;
    const epochs = await LeaderEpochCache.load(fs, options.directory);
    await epochs.truncateFromEnd(logEndOffset);
    const producerState = await ProducerStateManager.load({
      fs,
      directory: options.directory,
      names,
      ...(options.producerIdExpirationMs !== undefined
        ? { expirationMs: options.producerIdExpirationMs }
        : {}),
    });
    const log = new PartitionLog(
      options,
      segments,
      epochs,
      logStartOffset,
      logEndOffset,
      producerState,
    );
    if (recovered) {
      // What recovery kept is now checked: make it durable, so the recovery point is true.
      for (const segment of segments) await segment.flush();
      await fs.syncDirectory(options.directory);
    }
    return log;
  }

  // ---- state --------------------------------------------------------------------------------

  /** One past the last offset in the log. */
  get logEndOffset(): bigint {
    return this.activeSegment.nextOffset;
  }

  get activeSegment(): LogSegment {
    return this.segments.at(-1)!;
  }

  get segmentCount(): number {
    return this.segments.length;
  }

  /** Bytes of record batches across all segments. */
  get sizeBytes(): number {
    let total = 0;
    for (const segment of this.segments) total += segment.size;
    return total;
  }

  get leaderEpochs(): LeaderEpochCache {
    return this.epochs;
  }

  /** Segment base offsets, oldest first (for tests and tools). */
  get segmentBaseOffsets(): bigint[] {
    return this.segments.map((segment) => segment.baseOffset);
  }

  updateConfig(config: PartitionLogConfig): void {
    this.config = config;
  }

  private checkUsable(): void {
    if (this.closed) throw new LogClosedError(`log ${this.directory} is closed`);
    if (this.failure) {
      throw new LogIoError(`log ${this.directory} failed earlier and is offline`, {
        cause: this.failure,
      });
    }
  }

  /** Runs `operation` after every earlier append-chain operation (appends, truncations). */
  private serialize<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.appendChain.then(operation);
    this.appendChain = result.catch(() => {});
    return result;
  }

  // ---- append -------------------------------------------------------------------------------

  /**
   * Appends the record batches of a produce request (or a replica fetch, with origin
   * 'replication'). Client batches are validated and get offsets (and the partition leader
   * epoch, and the append time on LogAppendTime topics) patched in place: `records` is modified.
   * Refusals are LogErrors carrying Kafka's error code.
   */
  append(
    records: Buffer,
    options: { leaderEpoch: number; origin?: AppendOrigin },
  ): Promise<AppendResult> {
    return this.serialize(() =>
      this.appendNow(records, options.leaderEpoch, options.origin ?? 'client'),
    );
  }

  private async appendNow(
    records: Buffer,
    leaderEpoch: number,
    origin: AppendOrigin,
  ): Promise<AppendResult> {
    this.checkUsable();
    if (!this.producerStateLoaded) await this.rebuildProducerState();
    const now = this.clock();
    const firstOffset = this.logEndOffset;
    const appendTime = this.config.messageTimestampType === 'LogAppendTime' ? BigInt(now) : -1n;
    const batches = this.validateAndAssign(records, {
      firstOffset,
      leaderEpoch,
      origin,
      now,
      appendTime,
    });
    if (batches.length === 0) {
      throw new LogError(ErrorCode.CORRUPT_MESSAGE, 'the produce request holds no record batch');
    }
    // Idempotent producers: sequence and epoch checks; a retried batch is answered, not written.
    const producers = this.producerState.startAppend(origin, now);
    let batchPosition = 0;
    for (const batch of batches) {
      const duplicate = producers.check(readRecordBatchHeader(records, batchPosition));
      if (duplicate !== undefined) return this.duplicateResult(duplicate);
      batchPosition += batch.sizeBytes;
    }
    const first = readRecordBatchHeader(records, 0);
    const appendFirstOffset = first.baseOffset;
    const lastOffset = batches.at(-1)!.lastOffset;
    let maxTimestamp = -1n;
    let offsetOfMaxTimestamp = appendFirstOffset;
    let recordCount = 0;
    for (const batch of batches) {
      if (batch.maxTimestamp > maxTimestamp) {
        maxTimestamp = batch.maxTimestamp;
        offsetOfMaxTimestamp = batch.lastOffset;
      }
      recordCount += batch.recordCount;
    }
    await this.maybeRoll(records.length, {
      firstOffset: appendFirstOffset,
      lastOffset,
      maxTimestamp,
      now,
    });
    if (appendFirstOffset < this.logEndOffset) {
      throw new LogError(
        ErrorCode.INVALID_RECORD,
        `batches start at ${appendFirstOffset}, below the log end ${this.logEndOffset}`,
      );
    }
    // The epoch's start goes to its checkpoint before the batches reach the log: a crash in
    // between leaves an entry past the log end (cut on open), never batches of an unknown epoch.
    const epochBefore = this.epochs.latestEpoch;
    if (leaderEpoch >= 0 && (epochBefore === undefined || leaderEpoch > epochBefore)) {
      try {
        await this.epochs.assign(leaderEpoch, appendFirstOffset);
      } catch (error) {
        // The cache now holds an epoch its checkpoint may lack: later appends of that epoch would
        // skip the checkpoint and write batches a restart cannot place. Offline, as Kafka does.
        this.failure = error as Error;
        throw new LogIoError(`leader epoch checkpoint of ${this.directory} failed`, {
          cause: error,
        });
      }
    }
    try {
      await this.activeSegment.append([records], batches);
    } catch (error) {
      this.failure = error as Error;
      throw new LogIoError(`append to ${this.directory} failed`, { cause: error });
    }
    producers.commit(lastOffset + 1n);
    this.unflushedMessages += recordCount;
    return {
      firstOffset: appendFirstOffset,
      lastOffset,
      recordCount,
      maxTimestamp: appendTime >= 0n ? appendTime : maxTimestamp,
      offsetOfMaxTimestamp: appendTime >= 0n ? appendFirstOffset : offsetOfMaxTimestamp,
      logAppendTime: appendTime,
      logStartOffset: this.logStartOffset,
      duplicate: false,
      durable: this.durableAfterAppend(),
    };
  }

  /** The answer to a retried batch: the offsets it was written at; nothing is written again. */
  private duplicateResult(duplicate: ProducerBatchMetadata): AppendResult {
    const logAppendTime =
      this.config.messageTimestampType === 'LogAppendTime' ? duplicate.timestamp : -1n;
    return {
      firstOffset: duplicate.firstOffset,
      lastOffset: duplicate.lastOffset,
      recordCount: Number(duplicate.lastOffset - duplicate.firstOffset) + 1,
      maxTimestamp: duplicate.timestamp,
      offsetOfMaxTimestamp: duplicate.lastOffset,
      logAppendTime,
      logStartOffset: this.logStartOffset,
      duplicate: true,
      // The original may still be waiting for its fsync: the retry waits for it too.
      durable:
        duplicate.lastOffset < this.recoveryPoint ? Promise.resolve() : this.durableAfterAppend(),
    };
  }

  /** The producer state, loaded first if this is its first use since the log was opened. */
  loadProducerState(): Promise<ProducerStateManager> {
    return this.serialize(async () => {
      this.checkUsable();
      if (!this.producerStateLoaded) await this.rebuildProducerState();
      return this.producerState;
    });
  }

  /**
   * Rebuilds the producer state for the log as it now is (on first use, after a truncation): the
   * latest snapshot at or below the log end, then the batch headers after it. Without a
   * snapshot (a log written before snapshots existed), the replay starts at the second-to-last
   * segment, so it stays bounded; producers seen only before it are forgotten, and then accepted
   * at any sequence, as Kafka accepts producers whose state it no longer has.
   */
  private async rebuildProducerState(): Promise<void> {
    const segments = this.segments;
    const fallback = segments.at(-2)?.baseOffset ?? segments[0]!.baseOffset;
    await this.producerState.rebuild({
      endOffset: this.logEndOffset,
      fallbackStartOffset: fallback > this.logStartOffset ? fallback : this.logStartOffset,
      now: this.clock(),
      replay: async (fromOffset, endOffset, visit) => {
        for (let i = this.segmentIndexFor(fromOffset); i < segments.length; i++) {
          const segment = segments[i]!;
          if (segment.baseOffset >= endOffset) break;
          await segment.forEachBatchHeaderFrom(fromOffset, (header) => {
            if (header.baseOffset < endOffset) visit(header);
          });
        }
      },
    });
    this.producerStateLoaded = true;
  }

  /** Drops the state of producers idle for `producer.id.expiration.ms`; returns how many. */
  removeExpiredProducers(now = this.clock()): number {
    return this.producerState.removeExpiredProducers(now);
  }

  /** Checks each batch and (for client appends) patches offsets, epoch and append time. */
  private validateAndAssign(
    records: Buffer,
    context: {
      firstOffset: bigint;
      leaderEpoch: number;
      origin: AppendOrigin;
      now: number;
      appendTime: bigint;
    },
  ): (AppendedBatch & { recordCount: number })[] {
    const batches: (AppendedBatch & { recordCount: number })[] = [];
    let position = 0;
    let nextOffset = context.firstOffset;
    let previousLast = context.firstOffset - 1n;
    const config = this.config;
    while (position < records.length) {
      if (records.length - position < RECORD_BATCH_HEADER_BYTES) {
        throw new LogError(
          ErrorCode.CORRUPT_MESSAGE,
          `${records.length - position} trailing bytes are not a batch`,
        );
      }
      const magic = records.readInt8(position + 16);
      if (magic !== RECORD_BATCH_MAGIC) {
        // As Kafka: an old format where v2 is required is an invalid record; any other magic
        // byte means the bytes are not a batch at all.
        throw new LogError(
          magic === 0 || magic === 1 ? ErrorCode.INVALID_RECORD : ErrorCode.CORRUPT_MESSAGE,
          `the log stores magic v2 batches; got magic ${magic}`,
        );
      }
      const sizeBytes = LOG_OVERHEAD_BYTES + records.readInt32BE(position + 8);
      if (sizeBytes < RECORD_BATCH_HEADER_BYTES || position + sizeBytes > records.length) {
        throw new LogError(
          ErrorCode.CORRUPT_MESSAGE,
          `batch at ${position} claims ${sizeBytes} bytes`,
        );
      }
      if (sizeBytes > config.maxMessageBytes) {
        throw new LogError(
          ErrorCode.MESSAGE_TOO_LARGE,
          `batch of ${sizeBytes} bytes is larger than max.message.bytes ${config.maxMessageBytes}`,
        );
      }
      const batch = records.subarray(position, position + sizeBytes);
      try {
        verifyRecordBatchCrc(batch);
      } catch (error) {
        if (error instanceof ProtocolDecodeError) {
          throw new LogError(ErrorCode.CORRUPT_MESSAGE, error.message, { cause: error });
        }
        throw error;
      }
      const header = readRecordBatchHeader(batch);
      const recordCount = header.lastOffsetDelta + 1;
      if (context.origin === 'client') {
        if (header.recordCount !== recordCount || recordCount <= 0) {
          throw new LogError(
            ErrorCode.INVALID_RECORD,
            `batch holds ${header.recordCount} records but its offset delta says ${recordCount}`,
          );
        }
        if (header.isControlBatch) {
          throw new LogError(ErrorCode.INVALID_RECORD, 'clients may not write control batches');
        }
        this.checkTimestamps(header, context.now);
        if (config.cleanupPolicy.includes('compact')) checkKeysPresent(batch);
        setBatchBaseOffset(batch, nextOffset);
        setBatchPartitionLeaderEpoch(batch, context.leaderEpoch);
        let maxTimestamp = header.maxTimestamp;
        if (context.appendTime >= 0n) {
          setBatchMaxTimestamp(batch, {
            timestampType: TimestampType.logAppendTime,
            maxTimestamp: context.appendTime,
          });
          maxTimestamp = context.appendTime;
        }
        const lastOffset = nextOffset + BigInt(header.lastOffsetDelta);
        batches.push({ lastOffset, maxTimestamp, sizeBytes, recordCount });
        nextOffset = lastOffset + 1n;
      } else {
        const lastOffset = header.baseOffset + BigInt(header.lastOffsetDelta);
        if (header.baseOffset <= previousLast || lastOffset < header.baseOffset) {
          throw new LogError(
            ErrorCode.INVALID_RECORD,
            `replicated batch ${header.baseOffset}..${lastOffset} is out of order`,
          );
        }
        previousLast = lastOffset;
        batches.push({
          lastOffset,
          maxTimestamp: header.maxTimestamp,
          sizeBytes,
          recordCount: header.recordCount,
        });
      }
      position += sizeBytes;
    }
    return batches;
  }

  private checkTimestamps(header: ReturnType<typeof readRecordBatchHeader>, now: number): void {
    if (this.config.messageTimestampType !== 'CreateTime') return;
    const nowBig = BigInt(now);
    for (const timestamp of [header.baseTimestamp, header.maxTimestamp]) {
      if (timestamp < 0n) continue;
      const before = BigInt(Math.min(this.config.messageTimestampBeforeMaxMs, NO_LIMIT));
      const after = BigInt(Math.min(this.config.messageTimestampAfterMaxMs, NO_LIMIT));
      if (nowBig - timestamp > before || timestamp - nowBig > after) {
        throw new LogError(
          ErrorCode.INVALID_TIMESTAMP,
          `timestamp ${timestamp} is outside the accepted range around ${now}`,
        );
      }
    }
  }

  /** Starts a new segment when the active one is full, old, or cannot index further offsets. */
  private async maybeRoll(
    bytes: number,
    append: { firstOffset: bigint; lastOffset: bigint; maxTimestamp: bigint; now: number },
  ): Promise<void> {
    const active = this.activeSegment;
    if (active.size === 0) return;
    // As Kafka: time since the segment's first batch, by record timestamps when batches carry
    // them (so replayed old data does not roll a segment per append), else by the wall clock.
    const first = active.firstBatchTimestamp;
    const waitedMs =
      first !== undefined && first >= 0n && append.maxTimestamp >= 0n
        ? Number(append.maxTimestamp - first)
        : append.now - active.createdMs;
    const full = active.size + bytes > this.config.segmentBytes;
    // segment.jitter.ms spreads the time-based rolls of many partitions apart.
    const jitterMs = Math.floor(
      active.rollJitterFraction * Math.min(this.config.segmentJitterMs, this.config.segmentMs),
    );
    const old = waitedMs > this.config.segmentMs - jitterMs;
    const overflow = append.lastOffset - active.baseOffset > 0x7fffffffn;
    if (!full && !old && !overflow && !active.indexIsFull) return;
    await this.roll(append.firstOffset);
  }

  /** Closes the active segment for appends and starts a new one at `baseOffset`. */
  private async roll(baseOffset: bigint): Promise<void> {
    // Everything so far is made durable (the finished segment's indexes too, below) before the
    // next segment exists: any later directory sync (a flush, a checkpoint, a deletion) makes the
    // new file durable, and a crash must not keep it while losing the end of this one, a hole
    // recovery cannot see. Kafka flushes on a roll too. Through `flush`, so that this fsync never
    // runs beside another one (after a failed fsync, a later one succeeds without the data).
    const finished = this.activeSegment;
    finished.recordFinalTimestamp();
    await this.flush();
    // The finished segment's index files are made durable too, its final time index entry with
    // them (a flush with nothing new to sync skips the segment and would leave that entry in
    // memory). The segment is below the recovery point from now on, and an open after a crash
    // trusts the index files of such a segment: a short time index would lose the segment's max
    // timestamp. Kafka's roll flushes the old segment's indexes as well.
    try {
      await finished.writeIndexes({ sync: true });
    } catch (error) {
      this.failure = error as Error;
      throw new LogIoError(`index write of ${this.directory} failed`, { cause: error });
    }
    this.segments.push(await LogSegment.create(baseOffset, this.segmentOptions()));
    await this.snapshotProducerState(baseOffset);
  }

  /**
   * Snapshots the producer state at `offset` (on a roll, at the new segment's base; on close, at
   * the log end). Best effort: without it, a restart replays from an earlier snapshot.
   */
  private async snapshotProducerState(offset: bigint): Promise<void> {
    await this.producerState.takeSnapshot(offset).catch(() => {});
  }

  // ---- flush --------------------------------------------------------------------------------

  private durableAfterAppend(): Promise<void> {
    const due =
      this.unflushedMessages >= this.config.flushMessages ||
      this.clock() - this.lastFlushMs >= this.config.flushMs;
    if (!due) return Promise.resolve();
    return this.flush();
  }

  /**
   * Makes everything appended so far durable. Calls that arrive while an fsync is in flight
   * share the next one. Rejects (and takes the log offline) when an fsync fails.
   */
  flush(): Promise<void> {
    // A queued flush takes newcomers even in the moment between the end of the one before and
    // its own start: two fsyncs must never overlap, or after one fails the other succeeds
    // without the dropped pages (see file-system.ts) and acknowledges what is not on disk.
    if (this.flushQueued !== undefined) return this.flushQueued;
    if (this.flushInFlight === undefined) return this.startFlush();
    this.flushQueued = this.flushInFlight
      .catch(() => {})
      .then(() => {
        this.flushQueued = undefined;
        return this.startFlush();
      });
    return this.flushQueued;
  }

  private startFlush(): Promise<void> {
    const flushing = this.flushNow().finally(() => {
      if (this.flushInFlight === flushing) this.flushInFlight = undefined;
    });
    this.flushInFlight = flushing;
    return flushing;
  }

  private async flushNow(): Promise<void> {
    this.checkUsable();
    const target = this.logEndOffset;
    const messages = this.unflushedMessages;
    const truncations = this.unflushedTruncations;
    if (target <= this.recoveryPoint && messages === 0 && truncations === 0) return;
    try {
      // As Kafka: the directory is synced only when a segment created since the last flush (one
      // starting at or past the recovery point) is among those flushed; otherwise its entries
      // have not changed, and the sync would cost an open, a stat, an fsync and a close.
      let newSegment = false;
      for (const segment of this.segments) {
        if (segment.nextOffset > this.recoveryPoint || segment === this.activeSegment) {
          await segment.flush();
          if (segment.baseOffset >= this.recoveryPoint) newSegment = true;
        }
      }
      if (newSegment) await this.pool.fs.syncDirectory(this.directory);
    } catch (error) {
      this.failure = error as Error;
      throw new LogIoError(`flush of ${this.directory} failed`, { cause: error });
    }
    if (target > this.recoveryPoint) this.recoveryPoint = target;
    this.unflushedMessages = Math.max(0, this.unflushedMessages - messages);
    this.unflushedTruncations -= truncations;
    this.lastFlushMs = this.clock();
  }

  /** Flushes when `flush.ms` has passed since the last flush (called by the log manager). */
  async flushIfDue(now: number): Promise<void> {
    if (this.unflushedMessages > 0 && now - this.lastFlushMs >= this.config.flushMs) {
      await this.flush();
    }
  }

  // ---- read ---------------------------------------------------------------------------------

  /**
   * Reads whole batches from the one holding `offset`, up to `maxBytes` (at least one batch when
   * `minOneBatch`), stopping before any batch that starts at or after `maxOffset` (the caller's
   * bound: high watermark or last stable offset). OFFSET_OUT_OF_RANGE outside the log.
   * `allocate` makes the buffers the records are read into (see `ReadOptions`).
   */
  async read(offset: bigint, options: ReadOptions & { maxOffset?: bigint }): Promise<ReadResult> {
    this.checkUsable();
    const logEndOffset = this.logEndOffset;
    const logStartOffset = this.logStartOffset;
    const result = (records: Buffer): ReadResult => ({ records, logStartOffset, logEndOffset });
    if (offset < logStartOffset || offset > logEndOffset) {
      throw new LogError(
        ErrorCode.OFFSET_OUT_OF_RANGE,
        `offset ${offset} is outside the log (${logStartOffset}..${logEndOffset})`,
      );
    }
    const maxOffset = options.maxOffset ?? logEndOffset;
    if (offset >= maxOffset || offset === logEndOffset) return result(Buffer.alloc(0));
    // Nothing fits and nothing must come back: no need to read.
    if (options.maxBytes <= 0 && !options.minOneBatch) return result(Buffer.alloc(0));
    const segments = this.segments;
    for (let i = this.segmentIndexFor(offset); i < segments.length; i++) {
      const segment = segments[i]!;
      let read: Awaited<ReturnType<LogSegment['read']>>;
      try {
        read = await segment.read(offset, options);
      } catch (error) {
        // Retention or truncation removed the segment while it was being read.
        if (!this.segments.includes(segment)) {
          throw new LogError(ErrorCode.OFFSET_OUT_OF_RANGE, `offset ${offset} was deleted`, {
            cause: error,
          });
        }
        throw error;
      }
      if (read === undefined) continue;
      return result(cutAtOffset(read.records, maxOffset));
    }
    return result(Buffer.alloc(0));
  }

  /** The index of the segment whose base offset is the largest at or below `offset`. */
  private segmentIndexFor(offset: bigint): number {
    let low = 0;
    let high = this.segments.length - 1;
    let found = 0;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      if (this.segments[middle]!.baseOffset <= offset) {
        found = middle;
        low = middle + 1;
      } else {
        high = middle - 1;
      }
    }
    return found;
  }

  /**
   * The first batch whose max timestamp is at or after `timestamp` (ListOffsets by time): its
   * base offset and that timestamp, or undefined when every batch is older.
   */
  async offsetForTimestamp(
    timestamp: bigint,
  ): Promise<{ offset: bigint; timestamp: bigint } | undefined> {
    this.checkUsable();
    for (const segment of this.segments) {
      const found = await segment.offsetForTimestamp(timestamp);
      if (found === undefined) continue;
      const offset = found.offset < this.logStartOffset ? this.logStartOffset : found.offset;
      return { offset, timestamp: found.timestamp };
    }
    return undefined;
  }

  /**
   * The largest timestamp in the log and the offset of the batch that carries it (ListOffsets
   * with MAX_TIMESTAMP); undefined when the log holds no timestamped batch. Batch granularity:
   * the offset is the batch's last one.
   */
  maxTimestampAndOffset(): { timestamp: bigint; offset: bigint } | undefined {
    let best: { timestamp: bigint; offset: bigint } | undefined;
    for (const segment of this.segments) {
      if (
        segment.maxTimestamp >= 0n &&
        (best === undefined || segment.maxTimestamp > best.timestamp)
      ) {
        best = { timestamp: segment.maxTimestamp, offset: segment.offsetOfMaxTimestamp };
      }
    }
    return best;
  }

  // ---- truncation and deletion -----------------------------------------------------------------

  /** Removes every batch at or after `offset` (a follower diverged from its leader). */
  truncateTo(offset: bigint): Promise<void> {
    return this.serialize(async () => {
      this.checkUsable();
      // Nothing below the log start can be cut (the clamped target may be the log end itself).
      if (offset < this.logStartOffset) offset = this.logStartOffset;
      if (offset >= this.logEndOffset) return;
      // Drop whole segments past the offset, then cut the one holding it.
      while (this.segments.length > 1 && this.activeSegment.baseOffset >= offset) {
        const removed = this.segments.pop()!;
        await this.deleteSegmentFiles(removed, { delayMs: 0 });
      }
      await this.activeSegment.truncateTo(offset);
      // Whole batches go: when the log start lies inside the batch that was cut, the log is now
      // empty and starts at its end (as on open), rather than past it.
      if (this.logStartOffset > this.logEndOffset) this.logStartOffset = this.logEndOffset;
      if (this.recoveryPoint > this.logEndOffset) this.recoveryPoint = this.logEndOffset;
      // The cut is made durable before the leader epoch checkpoint forgets the epochs past it: a
      // crash must not bring back batches of epochs the checkpoint no longer knows.
      this.unflushedTruncations++;
      await this.flush();
      await this.epochs.truncateFromEnd(this.logEndOffset);
      // Kafka reloads the producer state on truncation: the batches cut may have been its last.
      await this.rebuildProducerState();
    });
  }

  /**
   * Moves the log start forward to `offset` (DeleteRecords, or retention): records below it are
   * no longer readable, and segments wholly below it are deleted.
   */
  deleteRecordsBefore(offset: bigint): Promise<bigint> {
    return this.serialize(async () => {
      this.checkUsable();
      if (offset > this.logEndOffset) {
        throw new LogError(
          ErrorCode.OFFSET_OUT_OF_RANGE,
          `cannot delete records before ${offset}: the log ends at ${this.logEndOffset}`,
        );
      }
      if (offset > this.logStartOffset) {
        this.logStartOffset = offset;
        await this.epochs.truncateFromStart(offset);
      }
      await this.deleteSegmentsWhile(
        (_segment, next) => next !== undefined && next.baseOffset <= this.logStartOffset,
      );
      return this.logStartOffset;
    });
  }

  /**
   * Applies `retention.ms` and `retention.bytes` (when the cleanup policy includes delete):
   * whole segments are deleted from the oldest, never the active one. Returns how many.
   */
  applyRetention(now = this.clock()): Promise<number> {
    return this.serialize(async () => {
      this.checkUsable();
      if (!this.config.cleanupPolicy.includes('delete')) return 0;
      const { retentionMs, retentionBytes } = this.config;
      let excessBytes = retentionBytes < 0 ? 0 : this.sizeBytes - retentionBytes;
      const deleted = await this.deleteSegmentsWhile((segment) => {
        if (segment === this.activeSegment) return false;
        const timeOk =
          retentionMs < 0 ||
          now - (segment.maxTimestamp >= 0n ? Number(segment.maxTimestamp) : segment.createdMs) <=
            retentionMs;
        const sizeOk = excessBytes < segment.size;
        if (timeOk && sizeOk) return false;
        excessBytes -= segment.size;
        return true;
      });
      return deleted;
    });
  }

  /** Deletes segments from the oldest while `shouldDelete` says so; advances the log start. */
  private async deleteSegmentsWhile(
    shouldDelete: (segment: LogSegment, next: LogSegment | undefined) => boolean,
  ): Promise<number> {
    let count = 0;
    while (this.segments.length > 1 && shouldDelete(this.segments[0]!, this.segments[1])) {
      const segment = this.segments.shift()!;
      const next = this.segments[0]!;
      if (next.baseOffset > this.logStartOffset) {
        this.logStartOffset = next.baseOffset;
        await this.epochs.truncateFromStart(this.logStartOffset);
      }
      await this.deleteSegmentFiles(segment, { delayMs: this.config.fileDeleteDelayMs });
      count++;
    }
    // Producer state is kept (until it expires), but snapshots of deleted segments go.
    // A snapshot that cannot be deleted now is left for the next deletion.
    if (count > 0) {
      await this.producerState.deleteSnapshotsBefore(this.segments[0]!.baseOffset).catch(() => {});
    }
    return count;
  }

  /**
   * Crash-safe deletion: the files are renamed to `.deleted` (a restart removes such files),
   * then removed after `delayMs`, so reads already under way can finish.
   */
  private async deleteSegmentFiles(
    segment: LogSegment,
    options: { delayMs: number },
  ): Promise<void> {
    const fs = this.pool.fs;
    await segment.closeFiles();
    const renamed: string[] = [];
    for (const path of segment.paths) {
      try {
        await fs.rename(path, path + DELETED_FILE_SUFFIX);
        renamed.push(path + DELETED_FILE_SUFFIX);
      } catch (error) {
        if ((error as { code?: unknown }).code !== 'ENOENT') throw error;
      }
    }
    await fs.syncDirectory(this.directory);
    const remove = async () => {
      for (const path of renamed) await fs.unlink(path).catch(() => {});
    };
    if (options.delayMs <= 0) {
      await remove();
      return;
    }
    const timer = setTimeout(() => {
      this.pendingDeletes.delete(timer);
      const removing = remove().finally(() => this.deletions.delete(removing));
      this.deletions.add(removing);
    }, options.delayMs);
    timer.unref();
    this.pendingDeletes.set(timer, remove);
  }

  // ---- compaction -------------------------------------------------------------------------------

  /**
   * The part of the log compaction may work on: from the first dirty offset to the first offset
   * that must stay uncleaned (the active segment, and segments younger than
   * `min.compaction.lag.ms`), with the bytes before (clean) and within (dirty) that range.
   */
  cleanableRange(now = this.clock()): {
    firstDirtyOffset: bigint;
    firstUncleanableOffset: bigint;
    cleanBytes: number;
    dirtyBytes: number;
    /** Max timestamp of the oldest dirty segment (for `max.compaction.lag.ms`), -1 if none. */
    oldestDirtyTimestamp: bigint;
  } {
    const firstDirty =
      this.firstDirtyOffset > this.logStartOffset ? this.firstDirtyOffset : this.logStartOffset;
    let firstUncleanable = this.activeSegment.baseOffset;
    const lagLimit = BigInt(now - this.config.minCompactionLagMs);
    for (const segment of this.segments) {
      if (segment === this.activeSegment) break;
      if (this.config.minCompactionLagMs > 0 && segment.maxTimestamp > lagLimit) {
        firstUncleanable = segment.baseOffset;
        break;
      }
    }
    let cleanBytes = 0;
    let dirtyBytes = 0;
    let oldestDirtyTimestamp = -1n;
    for (const segment of this.segments) {
      if (segment.baseOffset >= firstUncleanable) break;
      if (segment.nextOffset <= firstDirty) cleanBytes += segment.size;
      else {
        dirtyBytes += segment.size;
        if (oldestDirtyTimestamp < 0n) oldestDirtyTimestamp = segment.maxTimestamp;
      }
    }
    return {
      firstDirtyOffset: firstDirty,
      firstUncleanableOffset: firstUncleanable,
      cleanBytes,
      dirtyBytes,
      oldestDirtyTimestamp,
    };
  }

  /** The segments wholly below `endOffset`, never the active one, oldest first. */
  segmentsBelow(endOffset: bigint): readonly LogSegment[] {
    return this.segments.filter(
      (segment) => segment !== this.activeSegment && segment.baseOffset < endOffset,
    );
  }

  /**
   * Replaces a segment by a cleaned copy, crash-safely: `write` produces the cleaned batches
   * (same offsets, fewer records) into `<base>.log.cleaned`, which is synced and renamed
   * `.swap`; then, in the append chain, the old files are renamed `.deleted` and the swap
   * becomes the segment. A crash at any point leaves the old segment or the new one (a
   * restart completes a swap, and drops a `.cleaned` file). Returns false when the segment
   * left the log meanwhile (retention, truncation), in which case nothing changes.
   */
  async replaceSegment(
    old: LogSegment,
    write: (append: (chunk: Buffer) => Promise<void>) => Promise<void>,
  ): Promise<boolean> {
    const fs = this.pool.fs;
    const cleanedPath = `${old.logPath}${CLEANED_FILE_SUFFIX}`;
    const swapPath = `${old.logPath}${SWAP_FILE_SUFFIX}`;
    const file = await fs.open(cleanedPath, { create: true });
    let cleanedBytes = 0;
    try {
      await file.truncate(0);
      await write(async (chunk) => {
        await file.write([chunk], cleanedBytes);
        cleanedBytes += chunk.length;
      });
      await file.sync();
    } finally {
      await file.close();
    }
    await fs.rename(cleanedPath, swapPath);
    await fs.syncDirectory(this.directory);
    return this.serialize(async () => {
      const at = this.segments.indexOf(old);
      if (at < 0 || old === this.activeSegment || this.closed) {
        await fs.unlink(swapPath);
        return false;
      }
      await old.closeFiles();
      for (const path of old.paths) {
        await fs.rename(path, path + DELETED_FILE_SUFFIX).catch((error: unknown) => {
          if ((error as { code?: unknown }).code !== 'ENOENT') throw error;
        });
      }
      await fs.syncDirectory(this.directory);
      if (cleanedBytes === 0) {
        // Nothing left: the segment goes; its offsets stay as a gap.
        await fs.unlink(swapPath);
        this.segments.splice(at, 1);
      } else {
        await fs.rename(swapPath, old.logPath);
        const { segment } = await LogSegment.open(old.baseOffset, this.segmentOptions(), {
          recover: true,
          maxBatchBytes: Math.max(this.config.maxMessageBytes, 1 << 20) * 4,
        });
        await segment.writeIndexes({ sync: true });
        this.segments[at] = segment;
      }
      await fs.syncDirectory(this.directory);
      for (const path of old.paths) await fs.unlink(path + DELETED_FILE_SUFFIX).catch(() => {});
      return true;
    });
  }

  private segmentOptions(): SegmentOptions {
    return {
      pool: this.pool,
      directory: this.directory,
      indexIntervalBytes: this.config.indexIntervalBytes,
      maxIndexBytes: this.config.segmentIndexBytes,
    };
  }

  // ---- close ------------------------------------------------------------------------------------

  /** Waits for appends, flushes, closes the files. The log cannot be used afterwards. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.appendChain;
    if (this.flushInFlight) await this.flushInFlight.catch(() => {});
    this.closed = true;
    for (const [timer, remove] of this.pendingDeletes) {
      clearTimeout(timer);
      this.deletions.add(remove());
    }
    this.pendingDeletes.clear();
    await Promise.all(this.deletions);
    if (this.failure === undefined) {
      // Never loaded: nothing was appended since the open, the snapshots on disk still hold.
      if (this.producerStateLoaded) await this.snapshotProducerState(this.logEndOffset);
      for (const segment of this.segments) await segment.close();
      this.recoveryPoint = this.logEndOffset;
    } else {
      for (const segment of this.segments) await segment.closeFiles();
    }
  }

  /** Closes the log and removes its directory (topic deletion). */
  async delete(): Promise<void> {
    await this.close().catch(() => {});
    await this.pool.fs.removeDirectory(this.directory);
  }
}

/** Compacted topics keep the latest record per key, so every record needs one. */
function checkKeysPresent(batch: Buffer): void {
  let decoded: ReturnType<typeof decodeRecordBatch>;
  try {
    decoded = decodeRecordBatch(batch);
  } catch (error) {
    throw new LogError(ErrorCode.CORRUPT_MESSAGE, `batch does not decode: ${String(error)}`, {
      cause: error,
    });
  }
  for (const record of decoded.records) {
    if (record.key === null) {
      throw new LogError(
        ErrorCode.INVALID_RECORD,
        'compacted topic cannot accept a record without key',
      );
    }
  }
}

/**
 * Finishes a segment swap a crash interrupted (see `replaceSegment`): a `<base>.log.swap` file
 * replaces the segments whose offsets it covers. The swap was synced before it was renamed to
 * `.swap`, so it is whole.
 */
async function completeInterruptedSwaps(fs: FileSystem, directory: string): Promise<void> {
  const names = await fs.readdir(directory);
  for (const name of names) {
    if (!name.endsWith(LOG_FILE_SUFFIX + SWAP_FILE_SUFFIX)) continue;
    const base = BigInt(name.slice(0, 20));
    const swapPath = join(directory, name);
    const lastOffset = await lastOffsetInFile(fs, swapPath);
    for (const other of names) {
      const match = /^(\d{20})\.(log|index|timeindex)$/.exec(other);
      if (!match) continue;
      const otherBase = BigInt(match[1]!);
      // An empty swap (every record was superseded) replaces just the segment at its base.
      const covered =
        otherBase === base ||
        (lastOffset !== undefined && otherBase > base && otherBase <= lastOffset);
      if (covered) {
        await fs.unlink(join(directory, other)).catch(() => {});
      }
    }
    if (lastOffset === undefined) await fs.unlink(swapPath);
    else await fs.rename(swapPath, join(directory, segmentFileName(base, LOG_FILE_SUFFIX)));
    await fs.syncDirectory(directory);
  }
}

/** The last offset of the batches in a log file, or undefined when it holds none. */
async function lastOffsetInFile(fs: FileSystem, path: string): Promise<bigint | undefined> {
  const file = await fs.open(path, { create: false });
  try {
    const size = await file.size();
    let position = 0;
    let last: bigint | undefined;
    while (position + RECORD_BATCH_HEADER_BYTES <= size) {
      const head = await readAt(file, position, RECORD_BATCH_HEADER_BYTES);
      const header = readRecordBatchHeader(head);
      last = header.baseOffset + BigInt(header.lastOffsetDelta);
      position += LOG_OVERHEAD_BYTES + header.batchLength;
    }
    return last;
  } finally {
    await file.close();
  }
}

/** The whole batches of `records` that start below `maxOffset`. */
function cutAtOffset(records: Buffer, maxOffset: bigint): Buffer {
  let position = 0;
  const whole = wholeBatchesLength(records);
  while (position < whole) {
    if (records.readBigInt64BE(position) >= maxOffset) break;
    position += LOG_OVERHEAD_BYTES + records.readInt32BE(position + 8);
  }
  return position === records.length ? records : records.subarray(0, position);
}
