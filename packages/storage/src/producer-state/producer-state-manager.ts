/**
 * Producer state of one partition (Kafka's ProducerStateManager): what idempotent producers
 * wrote last, so the log can refuse batches out of sequence and answer a retried batch with the
 * offsets it got the first time instead of writing it twice.
 *
 * Per producer id: the epoch, the metadata of its last `BATCHES_TO_RETAIN` (5, Kafka's
 * NUM_BATCHES_TO_RETAIN, the most a producer has in flight) batches, and when it last wrote.
 * The rules, as Kafka 2.5+ applies them to client appends (ProducerAppendInfo):
 * - A batch equal (same epoch, same first and last sequence) to one of the retained batches is a
 *   duplicate: it is not written, and the append answers with the original offsets.
 * - An epoch below the producer's is INVALID_PRODUCER_EPOCH (never PRODUCER_FENCED: Kafka 2.7+
 *   answers produce requests with the retriable code, KIP-588).
 * - A new (larger) epoch must start at sequence 0; otherwise OUT_OF_ORDER_SEQUENCE_NUMBER.
 * - Within an epoch the first sequence must follow the last one (int32, wrapping to 0 after
 *   2147483647); otherwise OUT_OF_ORDER_SEQUENCE_NUMBER.
 * - A producer id without state (new, expired, or whose state went with retention) is accepted
 *   at any sequence: Kafka stopped answering UNKNOWN_PRODUCER_ID in 2.5 (KIP-360), so no
 *   produce version gets it.
 * Replicated batches are applied without checks, as Kafka does for followers.
 *
 * State survives restarts through snapshots: `<20-digit offset>.snapshot` in the partition
 * directory (Kafka's name) holds the state of every batch below that offset. The log takes one
 * when it rolls a segment and when it closes; on first use after an open (and after a
 * truncation) it loads the latest snapshot at or below the log end and replays only the batch
 * headers after it (`rebuild`). The file format is
 * Brook's own (Kafka's keeps a single batch per producer; this one keeps all five, so retries
 * stay deduplicated across a restart). It is written atomically and guarded by a CRC-32C:
 *
 *   int16  format version (1000; Kafka's own format is version 1, so neither misreads the other)
 *   uint32 CRC-32C of every byte after this field
 *   int64  snapshot offset (must match the file name)
 *   int32  producer count, then per producer:
 *     int64 producer id, int16 epoch, int64 last update (ms since the epoch), int8 batch count,
 *     then per batch, oldest first: int32 last sequence, int64 last offset, int32 offset delta
 *     (last minus first, for offsets and sequences alike), int64 max timestamp
 *
 * Producers idle for `producer.id.expiration.ms` (default one day) are removed. Live appends
 * count by the broker's clock; state rebuilt from the log counts as updated when it was rebuilt,
 * because the log does not record when a batch arrived (record timestamps come from producers'
 * clocks). Transactions (markers, ongoing transactions, coordinator epochs) are not tracked yet:
 * they arrive with the transactions issue.
 */
import { join } from 'node:path';
import { crc32c, ErrorCode, type RecordBatchHeader } from '@brook/protocol';
import { LogError, StorageCorruptionError } from '../errors.ts';
import type { FileSystem } from '../fs/file-system.ts';

export const PRODUCER_SNAPSHOT_FILE_SUFFIX = '.snapshot';
/** Kafka's NUM_BATCHES_TO_RETAIN: a producer has at most five requests in flight per partition. */
export const BATCHES_TO_RETAIN = 5;
/** Kafka's `producer.id.expiration.ms` default: one day. */
export const DEFAULT_PRODUCER_ID_EXPIRATION_MS = 86_400_000;
/** Kafka's `producer.id.expiration.check.interval.ms` default: ten minutes. */
export const DEFAULT_PRODUCER_ID_EXPIRATION_CHECK_INTERVAL_MS = 600_000;

const SNAPSHOT_FORMAT_VERSION = 1000;
const SNAPSHOT_HEADER_BYTES = 2 + 4 + 8 + 4;
const PRODUCER_HEADER_BYTES = 8 + 2 + 8 + 1;
const BATCH_BYTES = 4 + 8 + 4 + 8;
const INT32_MAX = 0x7fffffff;
const NO_EPOCH = -1;
const SNAPSHOT_NAME = /^(\d{20})\.snapshot$/;

/** What the state keeps of one batch a producer wrote. */
export interface ProducerBatchMetadata {
  readonly firstSequence: number;
  readonly lastSequence: number;
  readonly firstOffset: bigint;
  readonly lastOffset: bigint;
  /** The batch's max timestamp as stored (the append time on LogAppendTime topics). */
  readonly timestamp: bigint;
}

/** The state of one producer id in one partition. */
export interface ProducerStateEntry {
  readonly producerId: bigint;
  readonly epoch: number;
  /** The last batches written, oldest first, at most BATCHES_TO_RETAIN; all of `epoch`. */
  readonly batches: readonly ProducerBatchMetadata[];
  /** When the producer last wrote (ms since the epoch), for expiration. */
  readonly lastUpdateMs: number;
}

/** The batch header fields the producer state reads. */
export type ProducerBatchHeader = Pick<
  RecordBatchHeader,
  | 'baseOffset'
  | 'lastOffsetDelta'
  | 'maxTimestamp'
  | 'producerId'
  | 'producerEpoch'
  | 'baseSequence'
  | 'isControlBatch'
>;

interface MutableEntry {
  producerId: bigint;
  epoch: number;
  batches: ProducerBatchMetadata[];
  lastUpdateMs: number;
}

/** `sequence + increment` in Kafka's int32 sequence space (wrapping after 2147483647 to 0). */
export function incrementSequence(sequence: number, increment: number): number {
  if (sequence > INT32_MAX - increment) return increment - (INT32_MAX - sequence) - 1;
  return sequence + increment;
}

/** `sequence - decrement` in Kafka's int32 sequence space. */
export function decrementSequence(sequence: number, decrement: number): number {
  if (sequence < decrement) return INT32_MAX - (decrement - sequence) + 1;
  return sequence - decrement;
}

function inSequence(lastSequence: number, nextSequence: number): boolean {
  return nextSequence === lastSequence + 1 || (nextSequence === 0 && lastSequence === INT32_MAX);
}

function cloneEntry(entry: ProducerStateEntry): MutableEntry {
  return {
    producerId: entry.producerId,
    epoch: entry.epoch,
    batches: [...entry.batches],
    lastUpdateMs: entry.lastUpdateMs,
  };
}

export function producerSnapshotFileName(offset: bigint): string {
  return offset.toString().padStart(20, '0') + PRODUCER_SNAPSHOT_FILE_SUFFIX;
}

export interface ProducerStateManagerOptions {
  readonly fs: FileSystem;
  /** The partition's directory, where the snapshots live. */
  readonly directory: string;
  /** `producer.id.expiration.ms`. */
  readonly expirationMs?: number;
  /** The directory's entries, when the caller has just listed it (saves a listing). */
  readonly names?: readonly string[];
}

/** Who wrote an append: a producer (checked) or the leader, on a follower (applied as is). */
export type ProducerAppendOrigin = 'client' | 'replication';

export class ProducerStateManager {
  readonly directory: string;
  private readonly fs: FileSystem;
  /** `producer.id.expiration.ms`. */
  expirationMs: number;
  private readonly producers = new Map<bigint, ProducerStateEntry>();
  /** Offsets of the snapshot files on disk, ascending. */
  private snapshots: bigint[];
  /** Every batch below this offset is reflected in the state. */
  private endOffset = 0n;

  private constructor(options: ProducerStateManagerOptions, snapshots: bigint[]) {
    this.directory = options.directory;
    this.fs = options.fs;
    this.expirationMs = options.expirationMs ?? DEFAULT_PRODUCER_ID_EXPIRATION_MS;
    this.snapshots = snapshots;
  }

  /**
   * Finds the snapshots in the partition directory (the state stays empty until `rebuild`) and
   * removes the leftovers of snapshot writes a crash interrupted.
   */
  static async load(options: ProducerStateManagerOptions): Promise<ProducerStateManager> {
    const snapshots: bigint[] = [];
    for (const name of options.names ?? (await options.fs.readdir(options.directory))) {
      const match = SNAPSHOT_NAME.exec(name);
      if (match) snapshots.push(BigInt(match[1]!));
      else if (name.endsWith(`${PRODUCER_SNAPSHOT_FILE_SUFFIX}.tmp`)) {
        await options.fs.unlink(join(options.directory, name)).catch(() => {});
      }
    }
    snapshots.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return new ProducerStateManager(options, snapshots);
  }

  // ---- reading ------------------------------------------------------------------------------

  get producerCount(): number {
    return this.producers.size;
  }

  entry(producerId: bigint): ProducerStateEntry | undefined {
    return this.producers.get(producerId);
  }

  entries(): IterableIterator<ProducerStateEntry> {
    return this.producers.values();
  }

  /** One past the last offset the state reflects. */
  get mapEndOffset(): bigint {
    return this.endOffset;
  }

  /** Offsets of the snapshot files, ascending. */
  get snapshotOffsets(): readonly bigint[] {
    return this.snapshots;
  }

  // ---- appends --------------------------------------------------------------------------------

  /**
   * Starts checking the batches of one append. Nothing changes until `commit`, which the log
   * calls once the batches are written.
   */
  startAppend(origin: ProducerAppendOrigin, now: number): ProducerAppend {
    return new ProducerAppend(this.producers, origin, now, (updated, endOffset) => {
      for (const entry of updated) this.producers.set(entry.producerId, entry);
      if (endOffset > this.endOffset) this.endOffset = endOffset;
    });
  }

  /** Removes producers idle for `producer.id.expiration.ms`; returns how many. */
  removeExpiredProducers(now: number): number {
    let removed = 0;
    for (const [producerId, entry] of this.producers) {
      if (now - entry.lastUpdateMs >= this.expirationMs) {
        this.producers.delete(producerId);
        removed++;
      }
    }
    return removed;
  }

  // ---- snapshots ----------------------------------------------------------------------------

  /**
   * Writes the state as the snapshot at `offset` (atomically), unless one exists there. Every
   * batch below `offset` must be reflected in the state, and none at or above it.
   */
  async takeSnapshot(offset: bigint): Promise<void> {
    if (offset < this.endOffset) {
      throw new Error(`producer state reflects offsets up to ${this.endOffset}, past ${offset}`);
    }
    this.endOffset = offset;
    if (this.snapshots.includes(offset)) return;
    const bytes = encodeSnapshot(offset, this.producers.values());
    await this.fs.writeFileAtomic(join(this.directory, producerSnapshotFileName(offset)), bytes);
    this.snapshots.push(offset);
    this.snapshots.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /**
   * Deletes the snapshots below `offset` (their segments are gone), except the latest one: it
   * still spares a replay.
   */
  async deleteSnapshotsBefore(offset: bigint): Promise<void> {
    const latest = this.snapshots.at(-1);
    const doomed = this.snapshots.filter((at) => at < offset && at !== latest);
    if (doomed.length === 0) return;
    for (const at of doomed) await this.unlinkSnapshot(at);
    this.snapshots = this.snapshots.filter((at) => !doomed.includes(at));
  }

  private async unlinkSnapshot(offset: bigint): Promise<void> {
    try {
      await this.fs.unlink(join(this.directory, producerSnapshotFileName(offset)));
    } catch (error) {
      if ((error as { code?: unknown }).code !== 'ENOENT') throw error;
    }
  }

  /**
   * Rebuilds the state for a log that ends at `endOffset` (on first use, after a truncation):
   * snapshots past the end are deleted (durably), the latest one left is loaded (a corrupt one
   * is deleted and the next older tried), then `replay` feeds the headers of the batches from
   * its offset to the end. Without a usable snapshot, replay starts at `fallbackStartOffset`,
   * which the log bounds (Kafka would scan the whole log). The result is snapshotted at the end
   * when a replay was needed, so the next rebuild starts there.
   */
  async rebuild(options: {
    endOffset: bigint;
    fallbackStartOffset: bigint;
    now: number;
    replay: (
      fromOffset: bigint,
      endOffset: bigint,
      visit: (header: ProducerBatchHeader) => void,
    ) => Promise<void>;
  }): Promise<{ snapshotOffset: bigint | undefined; replayedBatches: number }> {
    const { endOffset, now } = options;
    const beyond = this.snapshots.filter((at) => at > endOffset);
    if (beyond.length > 0) {
      for (const at of beyond) await this.unlinkSnapshot(at);
      this.snapshots = this.snapshots.filter((at) => at <= endOffset);
      // A snapshot that came back after a crash would describe batches that are no longer there.
      await this.fs.syncDirectory(this.directory);
    }
    this.producers.clear();
    let snapshotOffset: bigint | undefined;
    while (this.snapshots.length > 0 && snapshotOffset === undefined) {
      const at = this.snapshots.at(-1)!;
      try {
        const bytes = await this.fs.readFile(join(this.directory, producerSnapshotFileName(at)));
        for (const entry of decodeSnapshot(bytes, at)) {
          if (now - entry.lastUpdateMs < this.expirationMs)
            this.producers.set(entry.producerId, entry);
        }
        snapshotOffset = at;
      } catch (error) {
        const missing = (error as { code?: unknown }).code === 'ENOENT';
        if (!(error instanceof StorageCorruptionError) && !missing) throw error;
        this.producers.clear();
        if (!missing) await this.unlinkSnapshot(at);
        this.snapshots.pop();
      }
    }
    const start = snapshotOffset ?? options.fallbackStartOffset;
    this.endOffset = start;
    let replayedBatches = 0;
    if (start < endOffset) {
      const append = this.startAppend('replication', now);
      await options.replay(start, endOffset, (header) => {
        replayedBatches++;
        append.check(header);
      });
      append.commit(endOffset);
    }
    this.endOffset = endOffset;
    if (snapshotOffset !== endOffset && replayedBatches > 0) {
      // Best effort: without it, the next rebuild replays the same batches again.
      await this.takeSnapshot(endOffset).catch(() => {});
    }
    return { snapshotOffset, replayedBatches };
  }
}

/**
 * The checks of one append's batches against the producer state (Kafka's ProducerAppendInfo for
 * every producer in the append). Batches are validated in order, each against the state the
 * earlier ones would leave; the state changes only on `commit`.
 */
export class ProducerAppend {
  private readonly current: ReadonlyMap<bigint, ProducerStateEntry>;
  private readonly origin: ProducerAppendOrigin;
  private readonly now: number;
  private readonly apply: (updated: Iterable<MutableEntry>, endOffset: bigint) => void;
  private readonly updated = new Map<bigint, MutableEntry>();

  constructor(
    current: ReadonlyMap<bigint, ProducerStateEntry>,
    origin: ProducerAppendOrigin,
    now: number,
    apply: (updated: Iterable<MutableEntry>, endOffset: bigint) => void,
  ) {
    this.current = current;
    this.origin = origin;
    this.now = now;
    this.apply = apply;
  }

  /**
   * Checks one batch (its offsets already assigned). Returns the original batch's metadata when
   * a client batch duplicates one of the producer's retained batches (the whole append is then
   * a duplicate, as in Kafka); throws a LogError with Kafka's code when the batch is refused;
   * returns undefined when it may be written.
   */
  check(header: ProducerBatchHeader): ProducerBatchMetadata | undefined {
    const producerId = header.producerId;
    if (producerId < 0n || header.isControlBatch) return undefined;
    const client = this.origin === 'client';
    const firstOffset = header.baseOffset;
    const lastOffset = firstOffset + BigInt(header.lastOffsetDelta);
    if (client && header.baseSequence < 0) {
      throw new LogError(
        ErrorCode.INVALID_RECORD,
        `invalid sequence number ${header.baseSequence} in a batch of producer ${producerId}`,
      );
    }
    const lastSequence = incrementSequence(header.baseSequence, header.lastOffsetDelta);
    const current = this.current.get(producerId);
    if (client && current !== undefined && current.epoch === header.producerEpoch) {
      const duplicate = current.batches.find(
        (batch) =>
          batch.firstSequence === header.baseSequence && batch.lastSequence === lastSequence,
      );
      if (duplicate !== undefined) return duplicate;
    }
    let entry = this.updated.get(producerId);
    if (entry === undefined) {
      entry =
        current === undefined
          ? { producerId, epoch: NO_EPOCH, batches: [], lastUpdateMs: this.now }
          : cloneEntry(current);
      this.updated.set(producerId, entry);
    }
    if (client) this.validate(entry, current, header, firstOffset);
    if (entry.epoch !== header.producerEpoch) {
      entry.epoch = header.producerEpoch;
      entry.batches = [];
    }
    if (entry.batches.length >= BATCHES_TO_RETAIN) entry.batches.shift();
    entry.batches.push({
      firstSequence: header.baseSequence,
      lastSequence,
      firstOffset,
      lastOffset,
      timestamp: header.maxTimestamp,
    });
    entry.lastUpdateMs = this.now;
    return undefined;
  }

  private validate(
    entry: MutableEntry,
    current: ProducerStateEntry | undefined,
    header: ProducerBatchHeader,
    firstOffset: bigint,
  ): void {
    const { producerId, producerEpoch, baseSequence } = header;
    if (producerEpoch < entry.epoch) {
      throw new LogError(
        ErrorCode.INVALID_PRODUCER_EPOCH,
        `epoch ${producerEpoch} of producer ${producerId} at offset ${firstOffset} is older than its last epoch ${entry.epoch}`,
      );
    }
    if (producerEpoch !== entry.epoch) {
      if (baseSequence !== 0 && entry.epoch !== NO_EPOCH) {
        throw new LogError(
          ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
          `new epoch ${producerEpoch} of producer ${producerId} starts at sequence ${baseSequence}, not 0 (last epoch ${entry.epoch})`,
        );
      }
      return;
    }
    // Without state before this append (new, expired, or removed with retention), any sequence
    // is accepted (Kafka 2.5+).
    if (current === undefined || current.epoch === NO_EPOCH) return;
    const lastSequence = entry.batches.at(-1)?.lastSequence ?? -1;
    if (!inSequence(lastSequence, baseSequence)) {
      throw new LogError(
        ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
        `out of order sequence number for producer ${producerId} at offset ${firstOffset}: ${baseSequence} (incoming), ${lastSequence} (last written)`,
      );
    }
  }

  /** Applies the checked batches to the state; `endOffset` is one past the append's last. */
  commit(endOffset: bigint): void {
    this.apply(this.updated.values(), endOffset);
  }
}

// ---- snapshot format ------------------------------------------------------------------------

function encodeSnapshot(offset: bigint, entries: Iterable<ProducerStateEntry>): Buffer {
  const list = [...entries];
  let size = SNAPSHOT_HEADER_BYTES;
  for (const entry of list) size += PRODUCER_HEADER_BYTES + entry.batches.length * BATCH_BYTES;
  const bytes = Buffer.alloc(size);
  bytes.writeInt16BE(SNAPSHOT_FORMAT_VERSION, 0);
  bytes.writeBigInt64BE(offset, 6);
  bytes.writeInt32BE(list.length, 14);
  let at = SNAPSHOT_HEADER_BYTES;
  for (const entry of list) {
    bytes.writeBigInt64BE(entry.producerId, at);
    bytes.writeInt16BE(entry.epoch, at + 8);
    bytes.writeBigInt64BE(BigInt(Math.trunc(entry.lastUpdateMs)), at + 10);
    bytes.writeInt8(entry.batches.length, at + 18);
    at += PRODUCER_HEADER_BYTES;
    for (const batch of entry.batches) {
      bytes.writeInt32BE(batch.lastSequence, at);
      bytes.writeBigInt64BE(batch.lastOffset, at + 4);
      bytes.writeInt32BE(Number(batch.lastOffset - batch.firstOffset), at + 12);
      bytes.writeBigInt64BE(batch.timestamp, at + 16);
      at += BATCH_BYTES;
    }
  }
  bytes.writeUInt32BE(crc32c(bytes.subarray(6)), 2);
  return bytes;
}

/** Reads a snapshot file; StorageCorruptionError when it is not a whole, sane one. */
export function decodeSnapshot(bytes: Buffer, expectedOffset: bigint): ProducerStateEntry[] {
  const corrupt = (why: string) =>
    new StorageCorruptionError(
      `producer snapshot ${producerSnapshotFileName(expectedOffset)}: ${why}`,
    );
  if (bytes.length < SNAPSHOT_HEADER_BYTES) throw corrupt(`only ${bytes.length} bytes`);
  const version = bytes.readInt16BE(0);
  if (version !== SNAPSHOT_FORMAT_VERSION) throw corrupt(`unknown format version ${version}`);
  if (bytes.readUInt32BE(2) !== crc32c(bytes.subarray(6))) throw corrupt('CRC mismatch');
  const offset = bytes.readBigInt64BE(6);
  if (offset !== expectedOffset) throw corrupt(`holds the state at ${offset}`);
  const count = bytes.readInt32BE(14);
  if (count < 0 || count > (bytes.length - SNAPSHOT_HEADER_BYTES) / PRODUCER_HEADER_BYTES) {
    throw corrupt(`claims ${count} producers`);
  }
  const entries: ProducerStateEntry[] = [];
  let at = SNAPSHOT_HEADER_BYTES;
  for (let i = 0; i < count; i++) {
    if (at + PRODUCER_HEADER_BYTES > bytes.length) throw corrupt('truncated');
    const producerId = bytes.readBigInt64BE(at);
    const epoch = bytes.readInt16BE(at + 8);
    const lastUpdateMs = Number(bytes.readBigInt64BE(at + 10));
    const batchCount = bytes.readInt8(at + 18);
    at += PRODUCER_HEADER_BYTES;
    if (producerId < 0n || batchCount < 0 || batchCount > BATCHES_TO_RETAIN) {
      throw corrupt(`bad entry for producer ${producerId}`);
    }
    if (at + batchCount * BATCH_BYTES > bytes.length) throw corrupt('truncated');
    const batches: ProducerBatchMetadata[] = [];
    for (let b = 0; b < batchCount; b++) {
      const lastSequence = bytes.readInt32BE(at);
      const lastOffset = bytes.readBigInt64BE(at + 4);
      const delta = bytes.readInt32BE(at + 12);
      const timestamp = bytes.readBigInt64BE(at + 16);
      at += BATCH_BYTES;
      if (lastSequence < 0 || delta < 0 || lastOffset - BigInt(delta) < 0n) {
        throw corrupt(`bad batch of producer ${producerId}`);
      }
      batches.push({
        firstSequence: decrementSequence(lastSequence, delta),
        lastSequence,
        firstOffset: lastOffset - BigInt(delta),
        lastOffset,
        timestamp,
      });
    }
    entries.push({ producerId, epoch, batches, lastUpdateMs });
  }
  if (at !== bytes.length) throw corrupt(`${bytes.length - at} trailing bytes`);
  return entries;
}
