import {
  decodeRecordBatch,
  encodeRecordBatch,
  LOG_OVERHEAD_BYTES,
  type RecordBatch,
  readRecordBatchHeader,
} from '@brook/protocol';
import type { LogSegment } from '../log/log-segment.ts';
import type { PartitionLog } from '../log/partition-log.ts';

/** Bytes of batches read at a time while cleaning: bounds the cleaner's read buffers. */
const READ_CHUNK_BYTES = 1 << 20;
/** What one offset-map entry costs besides its key bytes (string and map overhead). */
const MAP_ENTRY_OVERHEAD_BYTES = 64;

/**
 * The cleaner's key → latest offset map over the dirty part of a log (Kafka's SkimpyOffsetMap).
 * Keys are kept exactly (as latin1 strings), so no hash collision can ever drop a live record;
 * the memory bound counts key bytes plus a fixed overhead per entry.
 */
export class OffsetMap {
  private readonly map = new Map<string, bigint>();
  private readonly maxBytes: number;
  private bytes = 0;

  constructor(options: { maxBytes: number }) {
    this.maxBytes = options.maxBytes;
  }

  get size(): number {
    return this.map.size;
  }

  /** False (and nothing stored) when the entry does not fit in the memory bound. */
  put(key: Buffer, offset: bigint): boolean {
    const text = key.toString('latin1');
    if (!this.map.has(text)) {
      const cost = key.length + MAP_ENTRY_OVERHEAD_BYTES;
      if (this.bytes + cost > this.maxBytes) return false;
      this.bytes += cost;
    }
    this.map.set(text, offset);
    return true;
  }

  get(key: Buffer): bigint | undefined {
    return this.map.get(key.toString('latin1'));
  }
}

export interface CleanOptions {
  /** Now, in milliseconds since the epoch. */
  readonly now: number;
  /** Memory for the offset map (`log.cleaner.dedupe.buffer.size`). */
  readonly dedupeBufferBytes: number;
}

export interface CleanStats {
  readonly segmentsCleaned: number;
  readonly bytesBefore: number;
  readonly bytesAfter: number;
  readonly recordsRemoved: number;
  /** The dirty part now starts here. */
  readonly firstDirtyOffset: bigint;
}

/**
 * How dirty a log is: dirty bytes over all cleanable bytes. The cleaner works on a log once this
 * reaches `min.cleanable.dirty.ratio`, or when its oldest dirty record is older than
 * `max.compaction.lag.ms`.
 */
export function needsCleaning(
  log: PartitionLog,
  now: number,
  config: {
    minCleanableDirtyRatio: number;
    maxCompactionLagMs: number;
    cleanupPolicy: readonly string[];
  },
): { due: boolean; dirtyRatio: number } {
  if (!config.cleanupPolicy.includes('compact')) return { due: false, dirtyRatio: 0 };
  const range = log.cleanableRange(now);
  const total = range.cleanBytes + range.dirtyBytes;
  const dirtyRatio = total === 0 ? 0 : range.dirtyBytes / total;
  const lagged =
    range.oldestDirtyTimestamp >= 0n &&
    now - Number(range.oldestDirtyTimestamp) > config.maxCompactionLagMs;
  return {
    due: range.dirtyBytes > 0 && (dirtyRatio >= config.minCleanableDirtyRatio || lagged),
    dirtyRatio,
  };
}

/** Calls `visit` for each batch of a segment from `offset`, reading a bounded chunk at a time. */
async function forEachBatch(
  segment: LogSegment,
  visit: (batch: Buffer) => Promise<void> | void,
): Promise<void> {
  let offset = segment.baseOffset;
  for (;;) {
    const read = await segment.read(offset, { maxBytes: READ_CHUNK_BYTES, minOneBatch: true });
    if (read === undefined || read.records.length === 0) return;
    let position = 0;
    let lastOffset = offset;
    while (position < read.records.length) {
      const size = LOG_OVERHEAD_BYTES + read.records.readInt32BE(position + 8);
      const batch = read.records.subarray(position, position + size);
      const header = readRecordBatchHeader(batch);
      lastOffset = header.baseOffset + BigInt(header.lastOffsetDelta);
      await visit(batch);
      position += size;
    }
    offset = lastOffset + 1n;
    if (offset >= segment.nextOffset) return;
  }
}

/**
 * Compacts a log once (Kafka's LogCleaner.clean): builds the offset map over the dirty part,
 * then rewrites every segment below the map's end keeping, for each key, only the latest
 * record, and dropping tombstones older than `delete.retention.ms`. Offsets never change (gaps
 * stay); the active segment is never touched; appends and reads go on meanwhile.
 */
export async function cleanLog(
  log: PartitionLog,
  config: { deleteRetentionMs: number },
  options: CleanOptions,
): Promise<CleanStats | undefined> {
  const range = log.cleanableRange(options.now);
  if (range.firstDirtyOffset >= range.firstUncleanableOffset) return undefined;

  // 1. The offset map over the dirty segments, as far as memory allows.
  const map = new OffsetMap({ maxBytes: options.dedupeBufferBytes });
  let mapEnd = range.firstDirtyOffset;
  let full = false;
  for (const segment of log.segmentsBelow(range.firstUncleanableOffset)) {
    if (segment.nextOffset <= range.firstDirtyOffset) continue;
    await forEachBatch(segment, (batch) => {
      if (full) return;
      const decoded = decodeRecordBatch(batch);
      if (decoded.isControlBatch) return;
      for (const record of decoded.records) {
        if (record.key === null) continue;
        if (!map.put(record.key, decoded.baseOffset + BigInt(record.offsetDelta))) {
          full = true;
          return;
        }
      }
      mapEnd = decoded.baseOffset + BigInt(decoded.lastOffsetDelta) + 1n;
    });
    if (full) break;
  }
  if (mapEnd <= range.firstDirtyOffset) return undefined;

  // 2. Rewrite every segment below the map's end.
  let segmentsCleaned = 0;
  let bytesBefore = 0;
  let bytesAfter = 0;
  let recordsRemoved = 0;
  const tombstoneHorizon = BigInt(options.now - config.deleteRetentionMs);
  for (const segment of log.segmentsBelow(mapEnd)) {
    bytesBefore += segment.size;
    let written = 0;
    let removedHere = 0;
    const replaced = await log.replaceSegment(segment, async (append) => {
      await forEachBatch(segment, async (batch) => {
        const decoded = decodeRecordBatch(batch);
        if (decoded.isControlBatch) {
          await append(Buffer.from(batch));
          written += batch.length;
          return;
        }
        const kept = decoded.records.filter((record) => {
          if (record.key === null) return false;
          const offset = decoded.baseOffset + BigInt(record.offsetDelta);
          const latest = map.get(record.key);
          if (latest !== undefined && latest > offset) return false;
          if (record.value === null) {
            const timestamp = decoded.baseTimestamp + BigInt(record.timestampDelta);
            // A tombstone stays delete.retention.ms, so consumers reading from the start see it.
            if (timestamp >= 0n && timestamp < tombstoneHorizon) return false;
          }
          return true;
        });
        removedHere += decoded.records.length - kept.length;
        if (kept.length === 0) return;
        const bytes =
          kept.length === decoded.records.length ? Buffer.from(batch) : reencode(decoded, kept);
        await append(bytes);
        written += bytes.length;
      });
    });
    if (!replaced) continue;
    segmentsCleaned++;
    bytesAfter += written;
    recordsRemoved += removedHere;
  }
  log.firstDirtyOffset = mapEnd;
  return { segmentsCleaned, bytesBefore, bytesAfter, recordsRemoved, firstDirtyOffset: mapEnd };
}

/** A batch holding only `records`, with its header (offsets, producer, timestamps) kept. */
function reencode(batch: RecordBatch, records: RecordBatch['records']): Buffer {
  return encodeRecordBatch({
    baseOffset: batch.baseOffset,
    partitionLeaderEpoch: batch.partitionLeaderEpoch,
    compression: batch.compression,
    timestampType: batch.timestampType,
    isTransactional: batch.isTransactional,
    lastOffsetDelta: batch.lastOffsetDelta,
    baseTimestamp: batch.baseTimestamp,
    maxTimestamp: batch.maxTimestamp,
    producerId: batch.producerId,
    producerEpoch: batch.producerEpoch,
    baseSequence: batch.baseSequence,
    records,
  });
}
