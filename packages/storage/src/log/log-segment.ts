import { join } from 'node:path';
import {
  LOG_OVERHEAD_BYTES,
  ProtocolDecodeError,
  RECORD_BATCH_HEADER_BYTES,
  RECORD_BATCH_MAGIC,
  readRecordBatchHeader,
  verifyRecordBatchCrc,
} from '@brook/protocol';
import { StorageCorruptionError } from '../errors.ts';
import type { FileHandlePool } from '../fs/file-handle-pool.ts';
import type { FileHandle } from '../fs/file-system.ts';
import { OffsetIndex } from '../index/offset-index.ts';
import { TimeIndex } from '../index/time-index.ts';

export const LOG_FILE_SUFFIX = '.log';
export const INDEX_FILE_SUFFIX = '.index';
export const TIME_INDEX_FILE_SUFFIX = '.timeindex';
/** Suffix of a file renamed for deletion: crash-safe, removed later. */
export const DELETED_FILE_SUFFIX = '.deleted';
/** Suffix of a segment being written by the cleaner: ignored (and removed) on recovery. */
export const CLEANED_FILE_SUFFIX = '.cleaned';
/** Suffix of a cleaned segment about to replace old ones: completed on recovery. */
export const SWAP_FILE_SUFFIX = '.swap';

/** Offsets in file names are zero-padded to 20 digits, as Kafka names its segments. */
export function segmentFileName(baseOffset: bigint, suffix: string): string {
  return baseOffset.toString().padStart(20, '0') + suffix;
}

/** What the log knows of each batch it appends (it computed this while validating). */
export interface AppendedBatch {
  readonly lastOffset: bigint;
  readonly maxTimestamp: bigint;
  readonly sizeBytes: number;
}

export interface SegmentOptions {
  readonly pool: FileHandlePool;
  readonly directory: string;
  readonly indexIntervalBytes: number;
  readonly maxIndexBytes: number;
}

/** What a read asks for (`LogSegment.read`, `PartitionLog.read`). */
export interface ReadOptions {
  /** Bytes of whole batches to return at most (the first batch may exceed it: `minOneBatch`). */
  readonly maxBytes: number;
  /** Return the first batch even when it is larger than `maxBytes`. */
  readonly minOneBatch: boolean;
  /**
   * Makes the buffer of `size` bytes that a read fills (Buffer.allocUnsafe by default). The
   * records returned are a view of one such buffer; a caller that supplies its own can reuse it
   * once it no longer needs the records.
   */
  readonly allocate?: (size: number) => Buffer;
}

interface BatchRead {
  readonly offset: bigint;
  readonly end: number;
  readonly maxBytes: number;
  readonly minOneBatch: boolean;
  readonly allocate: (size: number) => Buffer;
  readonly hintsGeneration: number;
}

function headerOrUndefined(bytes: Buffer): ReturnType<typeof readRecordBatchHeader> | undefined {
  try {
    return readRecordBatchHeader(bytes);
  } catch (error) {
    if (error instanceof ProtocolDecodeError) return undefined;
    throw error;
  }
}

function allocateUnpooled(size: number): Buffer {
  return Buffer.allocUnsafe(size);
}

/** Read hints kept per segment: enough for a few readers going through it side by side. */
const READ_HINTS = 4;
/**
 * How far before its first batch a read may start, to find that batch in the buffer it returns
 * rather than reading the headers first. Index entries are `index.interval.bytes` (4 KiB by
 * default) plus a batch apart.
 */
const READ_LOOKBEHIND_BYTES = 64 * 1024;
/** Bytes read at a time while scanning batch headers. */
const SCAN_WINDOW_BYTES = 64 * 1024;
/** Bytes read at a time while recovering a segment (more when a batch is larger). */
const RECOVERY_WINDOW_BYTES = 1024 * 1024;

/**
 * One segment of a partition log: a `.log` file of record batches exactly as stored, a sparse
 * offset index and a time index. Appends come from the partition log, one at a time; reads may
 * run concurrently with an append and see only what `size` covered when they started.
 */
export class LogSegment {
  readonly baseOffset: bigint;
  readonly logPath: string;
  readonly indexPath: string;
  readonly timeIndexPath: string;
  private readonly options: SegmentOptions;
  private offsetIndex: OffsetIndex;
  private timeIndex: TimeIndex;

  /** Bytes of whole batches in the log file. */
  size = 0;
  /** One past the last offset in the segment; the base offset while it is empty. */
  nextOffset: bigint;
  /** The largest batch max timestamp, -1 while empty. */
  maxTimestamp = -1n;
  /** The offset of the first batch that reached `maxTimestamp`. */
  offsetOfMaxTimestamp: bigint;
  /** Max timestamp of the first batch: `segment.ms` rolls are timed from it, as in Kafka. */
  firstBatchTimestamp: bigint | undefined;
  /** When the segment was created or opened, for `segment.ms` when batches carry no time. */
  readonly createdMs: number;
  /** A random fraction (0..1) of `segment.jitter.ms` this segment rolls early by, as Kafka. */
  readonly rollJitterFraction = Math.random();
  private bytesSinceLastIndexEntry = 0;
  /**
   * Where earlier reads ended: the offset after the last batch they returned and the position of
   * the batch that holds it, so a reader that goes on from there reads no index nor header first.
   * Dropped whenever the segment's bytes change other than by an append.
   */
  private readonly readHints: { offset: bigint; position: number }[] = [];
  private nextReadHint = 0;
  /** Moves whenever the hints are dropped, so that a read begun before notes none after. */
  private readHintsGeneration = 0;

  private constructor(baseOffset: bigint, options: SegmentOptions) {
    this.baseOffset = baseOffset;
    this.options = options;
    this.logPath = join(options.directory, segmentFileName(baseOffset, LOG_FILE_SUFFIX));
    this.indexPath = join(options.directory, segmentFileName(baseOffset, INDEX_FILE_SUFFIX));
    this.timeIndexPath = join(
      options.directory,
      segmentFileName(baseOffset, TIME_INDEX_FILE_SUFFIX),
    );
    this.offsetIndex = new OffsetIndex(baseOffset, { maxIndexBytes: options.maxIndexBytes });
    this.timeIndex = new TimeIndex(baseOffset, { maxIndexBytes: options.maxIndexBytes });
    this.nextOffset = baseOffset;
    this.offsetOfMaxTimestamp = baseOffset;
    this.createdMs = Date.now();
  }

  /** Creates a new, empty segment (its log file is created empty). */
  static async create(baseOffset: bigint, options: SegmentOptions): Promise<LogSegment> {
    const segment = new LogSegment(baseOffset, options);
    await options.pool.use(segment.logPath, (file) => file.truncate(0), { create: true });
    return segment;
  }

  /**
   * Opens an existing segment. With `recover`, every batch is checked and the indexes rebuilt
   * (a torn or corrupt tail is cut off: see `recover`). Without, the index files are trusted
   * once they pass a sanity check; one that fails it is rebuilt from the log.
   */
  static async open(
    baseOffset: bigint,
    options: SegmentOptions,
    openOptions: { recover: boolean; maxBatchBytes: number },
  ): Promise<{ segment: LogSegment; truncatedBytes: number }> {
    const segment = new LogSegment(baseOffset, options);
    segment.size = await options.pool.use(segment.logPath, (file) => file.size());
    if (openOptions.recover) {
      const truncatedBytes = await segment.recover(openOptions.maxBatchBytes);
      return { segment, truncatedBytes };
    }
    const loaded = await segment.loadIndexes();
    if (!loaded) {
      await segment.recover(openOptions.maxBatchBytes);
      return { segment, truncatedBytes: 0 };
    }
    // The indexes end at most an index interval before the log end: scan the rest to find the
    // next offset and the max timestamp.
    const from = segment.offsetIndex.lookup(segment.offsetIndex.lastOffset);
    await segment.scanBatches(from.position, segment.size, (header, position) => {
      segment.noteBatch(header.baseOffset + BigInt(header.lastOffsetDelta), header.maxTimestamp);
      segment.bytesSinceLastIndexEntry = segment.size - position;
      return true;
    });
    if (segment.size > 0) {
      await segment.scanBatches(0, segment.size, (header) => {
        segment.firstBatchTimestamp = header.maxTimestamp;
        return false;
      });
    }
    // On a tie the indexed batch wins: it comes first, and appends keep the first to reach the max.
    const lastIndexedTimestamp = segment.timeIndex.lastTimestamp;
    if (lastIndexedTimestamp !== undefined && lastIndexedTimestamp >= segment.maxTimestamp) {
      segment.maxTimestamp = lastIndexedTimestamp;
      segment.offsetOfMaxTimestamp = segment.timeIndex.lookup(lastIndexedTimestamp + 1n);
    }
    return { segment, truncatedBytes: 0 };
  }

  /** Reads the index files; false when one is missing or fails its sanity check. */
  private async loadIndexes(): Promise<boolean> {
    const fs = this.options.pool.fs;
    try {
      const [offsetBytes, timeBytes] = await Promise.all([
        fs.readFile(this.indexPath),
        fs.readFile(this.timeIndexPath),
      ]);
      const checks = {
        maxIndexBytes: this.options.maxIndexBytes,
        segmentBytes: this.size,
        // Without the log scanned, the next offset is unknown: bound entries by int32 range.
        nextOffset: this.baseOffset + 2n ** 31n,
      };
      const offset = OffsetIndex.load(offsetBytes, this.baseOffset, checks);
      const time = TimeIndex.load(timeBytes, this.baseOffset, checks);
      if (offset.entryCount === 0 && this.size > this.options.indexIntervalBytes * 4) return false;
      this.offsetIndex = offset;
      this.timeIndex = time;
      return true;
    } catch (error) {
      if (error instanceof StorageCorruptionError || isMissing(error)) return false;
      throw error;
    }
  }

  private noteBatch(lastOffset: bigint, maxTimestamp: bigint): void {
    if (this.firstBatchTimestamp === undefined) this.firstBatchTimestamp = maxTimestamp;
    if (maxTimestamp > this.maxTimestamp) {
      this.maxTimestamp = maxTimestamp;
      this.offsetOfMaxTimestamp = lastOffset;
    }
    this.nextOffset = lastOffset + 1n;
  }

  /** Index entries for a batch written at `position`, one every `index.interval.bytes`. */
  private indexBatch(
    lastOffset: bigint,
    maxTimestamp: bigint,
    position: number,
    sizeBytes: number,
  ): void {
    this.noteBatch(lastOffset, maxTimestamp);
    this.bytesSinceLastIndexEntry += sizeBytes;
    if (this.bytesSinceLastIndexEntry > this.options.indexIntervalBytes) {
      this.offsetIndex.append(lastOffset, position);
      this.timeIndex.maybeAppend(this.maxTimestamp, this.offsetOfMaxTimestamp);
      this.bytesSinceLastIndexEntry = 0;
    }
  }

  /** True when an index has no room for another entry: the log rolls a new segment. */
  get indexIsFull(): boolean {
    return this.offsetIndex.isFull || this.timeIndex.isFull;
  }

  /** Bytes of memory the segment's indexes hold. */
  get indexMemoryBytes(): number {
    return this.offsetIndex.memoryBytes + this.timeIndex.memoryBytes;
  }

  /**
   * Appends batches (already validated, offsets assigned) at the end of the log file. The
   * bytes become readable once this resolves. Not durable until `flush`.
   */
  async append(chunks: readonly Buffer[], batches: readonly AppendedBatch[]): Promise<void> {
    const position = this.size;
    await this.options.pool.use(this.logPath, (file) => file.write(chunks, position), {
      create: true,
    });
    let at = position;
    for (const batch of batches) {
      this.indexBatch(batch.lastOffset, batch.maxTimestamp, at, batch.sizeBytes);
      at += batch.sizeBytes;
    }
    this.size = at;
  }

  /**
   * Calls `visit` with the header and position of each whole batch from `position` to `end`;
   * stops when `visit` returns false or at the first bytes that are not a whole, sane batch
   * header. Returns the position where it stopped.
   */
  private async scanBatches(
    position: number,
    end: number,
    visit: (header: ReturnType<typeof readRecordBatchHeader>, position: number) => boolean,
  ): Promise<number> {
    return this.options.pool.use(this.logPath, async (file) => {
      let window: Buffer = Buffer.alloc(0);
      let windowStart = position;
      while (position + LOG_OVERHEAD_BYTES <= end) {
        if (position + RECORD_BATCH_HEADER_BYTES > windowStart + window.length) {
          const length = Math.min(SCAN_WINDOW_BYTES, end - position);
          window = await readAt(file, position, length);
          windowStart = position;
          if (window.length < RECORD_BATCH_HEADER_BYTES) break;
        }
        let header: ReturnType<typeof readRecordBatchHeader>;
        try {
          header = readRecordBatchHeader(window, position - windowStart);
        } catch (error) {
          if (error instanceof ProtocolDecodeError) break;
          throw error;
        }
        const sizeBytes = LOG_OVERHEAD_BYTES + header.batchLength;
        if (position + sizeBytes > end) break;
        if (!visit(header, position)) break;
        position += sizeBytes;
      }
      return position;
    });
  }

  /**
   * Rebuilds the indexes and the segment's state from the log file, checking every batch: magic,
   * length, CRC and increasing offsets. The first batch that fails, and everything after it, is
   * cut off (a torn write at a crash). Returns the number of bytes cut.
   */
  async recover(maxBatchBytes: number): Promise<number> {
    this.offsetIndex.reset();
    this.timeIndex.reset();
    this.forgetReadHints();
    this.nextOffset = this.baseOffset;
    this.maxTimestamp = -1n;
    this.offsetOfMaxTimestamp = this.baseOffset;
    this.firstBatchTimestamp = undefined;
    this.bytesSinceLastIndexEntry = 0;
    const fileSize = await this.options.pool.use(this.logPath, (file) => file.size());
    let valid = 0;
    await this.options.pool.use(this.logPath, async (file) => {
      // The file is read in windows of RECOVERY_WINDOW_BYTES, not two reads per batch: with
      // 16 KiB batches that made recovery several times slower than reading the file.
      let window: Buffer = Buffer.alloc(0);
      let windowStart = 0;
      const bytesAt = async (at: number, length: number): Promise<Buffer> => {
        if (at + length > windowStart + window.length) {
          const wanted = Math.min(Math.max(length, RECOVERY_WINDOW_BYTES), fileSize - at);
          window = await readAt(file, at, wanted);
          windowStart = at;
        }
        return window.subarray(at - windowStart, at - windowStart + length);
      };
      let position = 0;
      while (position + LOG_OVERHEAD_BYTES <= fileSize) {
        const head = await bytesAt(position, RECORD_BATCH_HEADER_BYTES);
        if (head.length < RECORD_BATCH_HEADER_BYTES || head.readInt8(16) !== RECORD_BATCH_MAGIC)
          break;
        const sizeBytes = LOG_OVERHEAD_BYTES + head.readInt32BE(8);
        if (sizeBytes < RECORD_BATCH_HEADER_BYTES || sizeBytes > maxBatchBytes + LOG_OVERHEAD_BYTES)
          break;
        if (position + sizeBytes > fileSize) break;
        const batch = await bytesAt(position, sizeBytes);
        if (batch.length < sizeBytes) break;
        try {
          verifyRecordBatchCrc(batch);
        } catch (error) {
          if (error instanceof ProtocolDecodeError) break;
          throw error;
        }
        const header = readRecordBatchHeader(batch);
        const lastOffset = header.baseOffset + BigInt(header.lastOffsetDelta);
        if (header.baseOffset < this.nextOffset || lastOffset < header.baseOffset) break;
        if (lastOffset - this.baseOffset > 0x7fffffffn) break;
        this.indexBatch(lastOffset, header.maxTimestamp, position, sizeBytes);
        position += sizeBytes;
      }
      valid = position;
      if (valid < fileSize) await file.truncate(valid);
    });
    this.size = valid;
    this.forgetReadHints();
    // As Kafka's recover: the max timestamp goes into the time index (its reserved slot when the
    // rebuild filled it), so that a later open that trusts this segment's files finds it there.
    this.recordFinalTimestamp();
    return fileSize - valid;
  }

  /**
   * The position of the first batch whose last offset is at or after `offset`, scanning from the
   * index entry below it (or from `from`, a batch boundary before it); undefined when no batch in
   * the segment (up to `end`) reaches it.
   */
  async positionOf(
    offset: bigint,
    end = this.size,
    from = this.offsetIndex.lookup(offset).position,
  ): Promise<number | undefined> {
    let found: number | undefined;
    await this.scanBatches(from, end, (header, position) => {
      if (header.baseOffset + BigInt(header.lastOffsetDelta) >= offset) {
        found = position;
        return false;
      }
      return true;
    });
    return found;
  }

  /**
   * Calls `visit` with the header of each whole batch whose last offset is at or after
   * `offset`, in log order, reading headers only (the producer state replays them).
   */
  async forEachBatchHeaderFrom(
    offset: bigint,
    visit: (header: ReturnType<typeof readRecordBatchHeader>) => void,
  ): Promise<void> {
    const start = this.offsetIndex.lookup(offset);
    await this.scanBatches(start.position, this.size, (header) => {
      if (header.baseOffset + BigInt(header.lastOffsetDelta) >= offset) visit(header);
      return true;
    });
  }

  /**
   * Reads whole batches starting with the one that holds `offset`, up to `maxBytes` (but at
   * least that first batch when `minOneBatch`, so a consumer always progresses), and no further
   * than `maxPosition`. Returns undefined when the segment has nothing at or after `offset`.
   *
   * One file read in the usual cases, into the buffer that is returned: a read that goes on
   * where an earlier one ended starts at the position that read noted (`readHints`); any other
   * starts at the offset index entry below `offset` and finds its first batch in what it read,
   * when the next index entry shows that batch to be at most READ_LOOKBEHIND_BYTES further
   * (otherwise the batch headers in between are read first). A read holds at most `maxBytes` (a
   * batch header at least) plus that distance. `allocate` makes the buffers the records are read
   * into (`Buffer.allocUnsafe` by default), so that a caller can recycle them.
   */
  async read(
    offset: bigint,
    options: ReadOptions & { maxPosition?: number },
  ): Promise<{ records: Buffer; position: number } | undefined> {
    const end = Math.min(this.size, options.maxPosition ?? this.size);
    const request: BatchRead = {
      offset,
      end,
      maxBytes: Math.max(options.maxBytes, 0),
      minOneBatch: options.minOneBatch,
      allocate: options.allocate ?? allocateUnpooled,
      hintsGeneration: this.readHintsGeneration,
    };
    return this.options.pool.use(this.logPath, async (file) => {
      const hinted = this.readHint(offset);
      if (hinted !== undefined) {
        if (hinted >= end) return undefined;
        const read = await this.readBatchesFrom(file, request, hinted, hinted);
        if (typeof read === 'object') return read;
        // Hints are dropped whenever the segment's bytes change (truncation, recovery), so this
        // is not expected; the index is the authority.
        this.forgetReadHints();
      }
      const bounds = this.offsetIndex.bounds(offset);
      let from = bounds.position;
      let upTo = Math.min(bounds.upTo ?? end, end);
      if (upTo - from > READ_LOOKBEHIND_BYTES && from + RECORD_BATCH_HEADER_BYTES <= end) {
        // Usually the indexed batch itself is what is long (a large batch): skip it by its header.
        const head = await readAt(file, from, RECORD_BATCH_HEADER_BYTES);
        const header =
          head.length === RECORD_BATCH_HEADER_BYTES ? headerOrUndefined(head) : undefined;
        if (header !== undefined) {
          if (header.baseOffset + BigInt(header.lastOffsetDelta) >= offset) upTo = from;
          else from += LOG_OVERHEAD_BYTES + header.batchLength;
          upTo = Math.max(upTo, from);
        }
      }
      if (upTo - from > READ_LOOKBEHIND_BYTES) {
        const found = await this.positionOf(offset, end, from);
        if (found === undefined) return undefined;
        from = found;
        upTo = found;
      }
      if (from >= end) return undefined;
      const read = await this.readBatchesFrom(file, request, from, upTo);
      if (read === 'none') return undefined;
      if (read !== 'beyond') return read;
      // The batch lies beyond what the index said (not expected): scan the headers to it.
      const found = await this.positionOf(offset, end, from);
      if (found === undefined) return undefined;
      const again = await this.readBatchesFrom(file, request, found, found);
      return typeof again === 'object' ? again : undefined;
    });
  }

  /**
   * The read itself: `from` is a batch boundary at or before the first batch whose last offset
   * reaches `request.offset`, and `upTo` is at or after it. Reads from `from` to `maxBytes` past
   * `upTo` (a header at least) and finds that batch in the bytes. 'none' when no whole batch up
   * to `end` reaches the offset, 'beyond' when it starts past `upTo` or past what was read.
   */
  private async readBatchesFrom(
    file: FileHandle,
    request: BatchRead,
    from: number,
    upTo: number,
  ): Promise<{ records: Buffer; position: number } | 'none' | 'beyond'> {
    const { offset, end, maxBytes } = request;
    const wanted = Math.min(
      end - from,
      upTo - from + Math.max(maxBytes, RECORD_BATCH_HEADER_BYTES),
    );
    const bytes = await readAt(file, from, wanted, request.allocate);
    const readEnd = from + bytes.length;
    let at = 0;
    for (;;) {
      if (at + RECORD_BATCH_HEADER_BYTES > bytes.length) {
        return readEnd < end && from + at + RECORD_BATCH_HEADER_BYTES <= end ? 'beyond' : 'none';
      }
      let header: ReturnType<typeof readRecordBatchHeader>;
      try {
        header = readRecordBatchHeader(bytes, at);
      } catch (error) {
        if (error instanceof ProtocolDecodeError) return 'none';
        throw error;
      }
      const sizeBytes = LOG_OVERHEAD_BYTES + header.batchLength;
      if (from + at + sizeBytes > end) return 'none';
      if (header.baseOffset + BigInt(header.lastOffsetDelta) >= offset) break;
      // Past `upTo` and not there yet: the bound was wrong (it never is when the index and the
      // hints are right), and what was read may stop short. The caller scans instead.
      if (from + at >= upTo) return 'beyond';
      at += sizeBytes;
    }
    const position = from + at;
    let records = bytes.subarray(at, Math.min(bytes.length, at + maxBytes));
    let whole = wholeBatchesLength(records);
    if (whole === 0) {
      if (!request.minOneBatch) return { records: bytes.subarray(at, at), position };
      const first = LOG_OVERHEAD_BYTES + bytes.readInt32BE(at + 8);
      records =
        at + first <= bytes.length
          ? bytes.subarray(at, at + first)
          : await readAt(file, position, Math.min(first, end - position), request.allocate);
      whole = wholeBatchesLength(records);
    }
    if (whole > 0 && request.hintsGeneration === this.readHintsGeneration) {
      this.noteReadEnd(records, whole, position);
    }
    return { records: whole === records.length ? records : records.subarray(0, whole), position };
  }

  private forgetReadHints(): void {
    this.readHints.length = 0;
    this.readHintsGeneration++;
  }

  /** The position of the first batch that reaches `offset`, when a read noted it. */
  private readHint(offset: bigint): number | undefined {
    for (const hint of this.readHints) if (hint.offset === offset) return hint.position;
    return undefined;
  }

  /** Notes where the batch after those read starts, for a reader that goes on from there. */
  private noteReadEnd(records: Buffer, whole: number, position: number): void {
    let last = 0;
    for (let at = 0; at < whole; at += LOG_OVERHEAD_BYTES + records.readInt32BE(at + 8)) last = at;
    const next = records.readBigInt64BE(last) + BigInt(records.readInt32BE(last + 23)) + 1n;
    const hint = { offset: next, position: position + whole };
    for (let i = 0; i < this.readHints.length; i++) {
      if (this.readHints[i]!.offset === next) {
        this.readHints[i] = hint;
        return;
      }
    }
    if (this.readHints.length < READ_HINTS) {
      this.readHints.push(hint);
    } else {
      this.readHints[this.nextReadHint] = hint;
      this.nextReadHint = (this.nextReadHint + 1) % READ_HINTS;
    }
  }

  /**
   * Looks up the first batch whose max timestamp is at or after `timestamp`: its base offset,
   * or undefined when none in this segment is.
   */
  async offsetForTimestamp(
    timestamp: bigint,
  ): Promise<{ offset: bigint; timestamp: bigint } | undefined> {
    if (this.maxTimestamp < timestamp) return undefined;
    const startOffset = this.timeIndex.lookup(timestamp);
    const start = this.offsetIndex.lookup(startOffset);
    let result: { offset: bigint; timestamp: bigint } | undefined;
    await this.scanBatches(start.position, this.size, (header) => {
      if (header.maxTimestamp >= timestamp) {
        result = { offset: header.baseOffset, timestamp: header.maxTimestamp };
        return false;
      }
      return true;
    });
    return result;
  }

  /**
   * Removes every batch whose last offset is at or after `offset`; returns the bytes removed.
   * The segment's next offset becomes the end of the last batch kept.
   */
  async truncateTo(offset: bigint): Promise<number> {
    if (offset >= this.nextOffset) return 0;
    const position = await this.positionOf(offset);
    if (position === undefined) return 0;
    const removed = this.size - position;
    this.forgetReadHints();
    await this.options.pool.use(this.logPath, (file) => file.truncate(position));
    this.size = position;
    // Again: a read that began while the file was cut may have noted a hint past the cut.
    this.forgetReadHints();
    this.offsetIndex.truncateTo(offset);
    this.timeIndex.truncateTo(offset);
    // The index files lose the cut entries now, durably (see writeIndexes), before new batches
    // land at the positions they point to.
    await this.writeIndexes({ sync: false });
    // Recompute the tail state from the index entries left: the time index's last entry, then
    // the batches after it (Kafka's readLargestTimestamp). Not merely those after the last offset
    // index entry: a time index that filled up during an append took no entry for the batches
    // after that point (the offset index did), and the final entry covering them may be cut.
    const hadTimestamps = this.maxTimestamp >= 0n;
    this.nextOffset = this.baseOffset;
    this.maxTimestamp = -1n;
    this.offsetOfMaxTimestamp = this.baseOffset;
    // The first batch stays unless it went too (as Kafka's rollingBasedTimestamp): the scan below
    // starts further on, and segment.ms counts from the first batch.
    if (this.size === 0) this.firstBatchTimestamp = undefined;
    const lastTimestamp = this.timeIndex.lastTimestamp;
    if (lastTimestamp !== undefined) {
      this.maxTimestamp = lastTimestamp;
      this.offsetOfMaxTimestamp = this.timeIndex.lookup(lastTimestamp + 1n);
    }
    // Without timestamps in the segment, the time index has nothing to add: only the next offset
    // is wanted, from the last offset index entry.
    const timeCoveredTo = hadTimestamps
      ? (this.timeIndex.lastOffset ?? this.baseOffset)
      : this.offsetIndex.lastOffset;
    const from = this.offsetIndex.lookup(timeCoveredTo);
    this.bytesSinceLastIndexEntry = 0;
    await this.scanBatches(from.position, this.size, (header, batchPosition) => {
      this.noteBatch(header.baseOffset + BigInt(header.lastOffsetDelta), header.maxTimestamp);
      this.bytesSinceLastIndexEntry = this.size - batchPosition;
      return true;
    });
    if (this.size > 0 && this.nextOffset === this.baseOffset) {
      throw new StorageCorruptionError(`segment ${this.logPath} has bytes but no batch`);
    }
    return removed;
  }

  /** Makes the log durable (fsync) and writes the indexes' new entries. */
  async flush(): Promise<void> {
    await this.options.pool.use(this.logPath, (file) => file.sync());
    await this.writeIndexes({ sync: false });
  }

  /**
   * Writes the indexes' unwritten entries; with `sync`, makes them durable too. A rewrite (after a
   * truncation or a rebuild) is always synced: the file's old entries may point into bytes that
   * now hold other batches, and a segment below the recovery point trusts its index after a crash.
   */
  async writeIndexes(options: { sync: boolean }): Promise<void> {
    const pool = this.options.pool;
    for (const [path, index] of [
      [this.indexPath, this.offsetIndex],
      [this.timeIndexPath, this.timeIndex],
    ] as const) {
      const pending = index.pendingWrite();
      if (pending === undefined && !options.sync) continue;
      await pool.use(
        path,
        async (file) => {
          if (pending !== undefined) {
            if (pending.rewrite) await file.truncate(0);
            await file.write([pending.bytes], pending.position);
            index.markPersisted();
          }
          if (options.sync || pending?.rewrite === true) await file.sync();
        },
        { create: true },
      );
    }
  }

  /**
   * The segment takes no more appends (a roll, or the log closing) or was just rebuilt: its final
   * max timestamp goes into the time index, in the slot the index keeps for it, so a restart that
   * trusts the index knows it without scanning the log (as Kafka's onBecomeInactiveSegment).
   */
  recordFinalTimestamp(): void {
    if (this.maxTimestamp >= 0n) {
      this.timeIndex.maybeAppend(this.maxTimestamp, this.offsetOfMaxTimestamp, { final: true });
    }
  }

  /** Flushes everything and closes the segment's files (it can be reopened with `open`). */
  async close(): Promise<void> {
    this.recordFinalTimestamp();
    await this.writeIndexes({ sync: true });
    const pool = this.options.pool;
    await pool.use(this.logPath, (file) => file.sync());
    await Promise.all([
      pool.close(this.logPath),
      pool.close(this.indexPath),
      pool.close(this.timeIndexPath),
    ]);
  }

  /** Closes the segment's files without writing anything (after a failure or a crash). */
  async closeFiles(): Promise<void> {
    const pool = this.options.pool;
    await Promise.all([
      pool.close(this.logPath),
      pool.close(this.indexPath),
      pool.close(this.timeIndexPath),
    ]);
  }

  /** The segment's files: log and indexes. */
  get paths(): readonly string[] {
    return [this.logPath, this.indexPath, this.timeIndexPath];
  }
}

/**
 * Reads up to `length` bytes at `position` (fewer at the end of the file), into a buffer from
 * `allocate`.
 */
export async function readAt(
  file: FileHandle,
  position: number,
  length: number,
  allocate: (size: number) => Buffer = allocateUnpooled,
): Promise<Buffer> {
  const buffer = allocate(Math.max(0, length));
  let filled = 0;
  while (filled < length) {
    const count = await file.read(buffer, filled, length - filled, position + filled);
    if (count === 0) break;
    filled += count;
  }
  return filled === length ? buffer : buffer.subarray(0, filled);
}

/** The length of the whole batches at the start of `bytes` (a trailing partial one excluded). */
export function wholeBatchesLength(bytes: Buffer): number {
  let position = 0;
  while (position + LOG_OVERHEAD_BYTES <= bytes.length) {
    const size = LOG_OVERHEAD_BYTES + bytes.readInt32BE(position + 8);
    if (size < RECORD_BATCH_HEADER_BYTES || position + size > bytes.length) break;
    position += size;
  }
  return position;
}

function isMissing(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 'ENOENT';
}
