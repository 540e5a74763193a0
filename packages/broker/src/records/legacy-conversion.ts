/**
 * Conversions between the v2 record batches Brook stores and the legacy message sets (magic 0
 * and 1) of clients older than Kafka 0.11.
 *
 * Up (Produce v0-2), as Kafka's LogValidator converts to magic 2: every message of the request
 * goes into one v2 batch, record i at offset delta i (the log assigns the real offsets). Magic 1
 * timestamps are kept (a LogAppendTime wrapper gives its inner messages its own); magic 0
 * messages have none (-1), and a LogAppendTime topic stamps the append time on the batch as for
 * any batch. A compressed wrapper is unwrapped: it must be the only entry, its inner messages
 * uncompressed, of its magic, and (magic 1) numbered 0, 1, 2 … The batch is compressed with the
 * topic's `compression.type`, or with the wrapper's codec under `producer`. A set of v2 batches
 * (an old request version carrying new batches, which Kafka accepts) passes through unchanged.
 *
 * Down (Fetch v0-3), as Kafka's RecordsUtil.downConvert: control batches are dropped; each
 * uncompressed batch becomes one message per record from the fetch offset on; each compressed
 * batch becomes a wrapper of the same codec holding all its records (the client skips those
 * before its offset). Magic 0 drops timestamps; magic 1 keeps them, and a LogAppendTime batch
 * gives its messages its max timestamp with the LogAppendTime flag. Headers are dropped. Records
 * are grouped by consecutive offsets, so the gaps compaction leaves stay visible. A zstd batch
 * cannot be converted: UNSUPPORTED_COMPRESSION_TYPE when it comes first, otherwise the
 * conversion stops before it (the client then fetches from it and gets the error).
 */
import {
  CompressionType,
  DEFAULT_MAX_UNCOMPRESSED_BYTES,
  decodeLegacyMessage,
  decodeRecordBatch,
  decompress,
  ErrorCode,
  encodeLegacyMessageSet,
  encodeRecordBatch,
  iterateRecordsBlob,
  type KafkaRecordInput,
  LegacyMagic,
  type LegacyMessage,
  type LegacyMessageInput,
  ProtocolDecodeError,
  ProtocolEncodeError,
  RECORD_BATCH_MAGIC,
  type RecordsBlobEntry,
  TimestampType,
} from '@brook/protocol';
import type { LogConfig } from '@brook/storage';

/** The attributes byte of a legacy message (after offset, size, crc and magic). */
const LEGACY_ATTRIBUTES_AT = 17;
const COMPRESSION_MASK = 0x07;

export type ProduceConversion =
  | { readonly records: Buffer }
  | { readonly errorCode: number; readonly errorMessage: string };

const TARGET_CODEC: Record<Exclude<LogConfig['compressionType'], 'producer'>, CompressionType> = {
  uncompressed: CompressionType.none,
  gzip: CompressionType.gzip,
  snappy: CompressionType.snappy,
  lz4: CompressionType.lz4,
  zstd: CompressionType.zstd,
};

class InvalidRecord extends Error {
  readonly errorCode: number;
  constructor(errorCode: number, message: string) {
    super(message);
    this.errorCode = errorCode;
  }
}

/**
 * The records of a Produce v0-2 partition as v2 batches: a legacy message set becomes one batch
 * (see the file header); v2 batches pass through. Malformed input is CORRUPT_MESSAGE, input
 * Kafka refuses is INVALID_RECORD or UNSUPPORTED_COMPRESSION_TYPE.
 */
export function convertProduceRecords(
  records: Buffer,
  config: Pick<LogConfig, 'compressionType' | 'compressionGzipLevel' | 'compressionZstdLevel'>,
  options: { maxUncompressedBytes?: number } = {},
): ProduceConversion {
  try {
    return { records: upConvert(records, config, options) };
  } catch (error) {
    if (error instanceof InvalidRecord) {
      return { errorCode: error.errorCode, errorMessage: error.message };
    }
    if (error instanceof ProtocolDecodeError) {
      return { errorCode: ErrorCode.CORRUPT_MESSAGE, errorMessage: error.message };
    }
    if (error instanceof ProtocolEncodeError) {
      return { errorCode: ErrorCode.INVALID_RECORD, errorMessage: error.message };
    }
    throw error;
  }
}

function upConvert(
  records: Buffer,
  config: Pick<LogConfig, 'compressionType' | 'compressionGzipLevel' | 'compressionZstdLevel'>,
  options: { maxUncompressedBytes?: number },
): Buffer {
  const entries = wholeEntries(records, 'the produced records');
  if (entries.length === 0) {
    throw new InvalidRecord(ErrorCode.INVALID_RECORD, 'the produced records hold no message');
  }
  const legacy = entries.filter((entry) => entry.magic !== RECORD_BATCH_MAGIC).length;
  if (legacy === 0) return records;
  if (legacy !== entries.length) {
    throw new InvalidRecord(
      ErrorCode.INVALID_RECORD,
      'a message set mixes legacy messages and record batches',
    );
  }
  const messages: LegacyMessage[] = [];
  let sourceCodec: CompressionType = CompressionType.none;
  for (const entry of entries) {
    const codec = entry.bytes[LEGACY_ATTRIBUTES_AT]! & COMPRESSION_MASK;
    if (codec === CompressionType.zstd) {
      throw new InvalidRecord(
        ErrorCode.UNSUPPORTED_COMPRESSION_TYPE,
        'zstd compression needs message format v2 (Produce v7+)',
      );
    }
    const message = decodeLegacyMessage(entry.bytes);
    if (message.compression === CompressionType.none) {
      messages.push(message);
      continue;
    }
    if (entries.length > 1) {
      throw new InvalidRecord(
        ErrorCode.INVALID_RECORD,
        'Compressed outer record has more than one batch',
      );
    }
    sourceCodec = message.compression;
    unwrap(message, options.maxUncompressedBytes ?? DEFAULT_MAX_UNCOMPRESSED_BYTES, messages);
  }
  const first = messages[0];
  if (first === undefined) {
    throw new InvalidRecord(ErrorCode.INVALID_RECORD, 'the compressed message holds no message');
  }
  const baseTimestamp = first.timestamp;
  const batchRecords: KafkaRecordInput[] = messages.map((message, index) => {
    const timestampDelta = Number(message.timestamp - baseTimestamp);
    if (!Number.isSafeInteger(timestampDelta)) {
      throw new InvalidRecord(
        ErrorCode.INVALID_TIMESTAMP,
        `message timestamps ${baseTimestamp} and ${message.timestamp} are too far apart`,
      );
    }
    return { offsetDelta: index, timestampDelta, key: message.key, value: message.value };
  });
  const target =
    config.compressionType === 'producer' ? sourceCodec : TARGET_CODEC[config.compressionType];
  const level =
    target === CompressionType.gzip && config.compressionGzipLevel !== -1
      ? config.compressionGzipLevel
      : target === CompressionType.zstd
        ? config.compressionZstdLevel
        : undefined;
  return encodeRecordBatch(
    { baseTimestamp, compression: target, records: batchRecords },
    level === undefined ? {} : { compressionLevel: level },
  );
}

/** Appends the inner messages of a compressed wrapper, checked as Kafka's LogValidator does. */
function unwrap(wrapper: LegacyMessage, maxUncompressedBytes: number, into: LegacyMessage[]): void {
  if (wrapper.value === null) {
    throw new ProtocolDecodeError(`compressed message at offset ${wrapper.offset} has no value`);
  }
  const inner = decompress(wrapper.compression, wrapper.value, {
    maxOutputBytes: maxUncompressedBytes,
    lz4AcceptBrokenHeaderChecksum: true,
  });
  const logAppendTime = wrapper.timestampType === TimestampType.logAppendTime;
  let expectedOffset = 0n;
  for (const entry of wholeEntries(inner, 'a compressed message')) {
    const message = decodeLegacyMessage(entry.bytes);
    if (message.compression !== CompressionType.none) {
      throw new InvalidRecord(
        ErrorCode.INVALID_RECORD,
        'Compressed outer record should not have an inner record with a compression attribute set',
      );
    }
    if (message.magic !== wrapper.magic) {
      throw new InvalidRecord(
        ErrorCode.INVALID_RECORD,
        `Log record magic ${message.magic} does not match outer magic ${wrapper.magic}`,
      );
    }
    if (wrapper.magic === LegacyMagic.v1) {
      // Inner offsets of magic 1 are relative and must run 0, 1, 2 …
      if (message.offset !== expectedOffset) {
        throw new InvalidRecord(
          ErrorCode.INVALID_RECORD,
          `Inner record inside the compressed record batch does not have incremental offsets, expected offset is ${expectedOffset}, got ${message.offset}`,
        );
      }
      expectedOffset++;
      if (logAppendTime) message.timestamp = wrapper.timestamp;
    }
    into.push(message);
  }
}

/** The entries of a records blob, which must end on an entry boundary. */
function wholeEntries(blob: Buffer, what: string): RecordsBlobEntry[] {
  const entries: RecordsBlobEntry[] = [];
  const iterator = iterateRecordsBlob(blob);
  for (;;) {
    const step = iterator.next();
    if (step.done) {
      if (step.value !== 0) {
        throw new ProtocolDecodeError(`${what} end in a partial message of ${step.value} bytes`);
      }
      return entries;
    }
    entries.push(step.value);
  }
}

// ---- down (Fetch v0-3) -------------------------------------------------------------------------

export interface DownConvertOptions {
  /** 0 for Fetch v0-1, 1 for Fetch v2-3. */
  readonly magic: LegacyMagic;
  /** The fetch offset: records of an uncompressed batch before it are left out. */
  readonly firstOffset: bigint;
  /** The byte bound on the result. */
  readonly maxBytes: number;
  /** Return the whole first batch even above `maxBytes` (KIP-74, Fetch v3). */
  readonly minOneBatch: boolean;
  /**
   * Fetch v0-2 (before KIP-74): when not even the first message fits, return it cut at
   * `maxBytes`, as Kafka's byte-sliced read does, so the client sees a message larger than its
   * fetch size instead of an empty partition.
   */
  readonly truncateOversized: boolean;
}

export interface DownConverted {
  readonly records: Buffer;
  /** NONE, or UNSUPPORTED_COMPRESSION_TYPE when the first batch is zstd. */
  readonly errorCode: number;
}

interface ConvertibleRecord {
  offset: bigint;
  timestamp: bigint;
  key: Buffer | null;
  value: Buffer | null;
}

/** Converts the v2 batches a fetch read to a legacy message set within the fetch's limits. */
export function downConvertRecords(records: Buffer, options: DownConvertOptions): DownConverted {
  const magic = options.magic;
  const out: Buffer[] = [];
  let size = 0;
  let oversized: Buffer | undefined;
  let firstBatch = true;
  let full = false;
  for (const entry of iterateRecordsBlob(records)) {
    if (full) break;
    if (entry.magic !== RECORD_BATCH_MAGIC) {
      // The log stores v2 batches only; a legacy entry at or below the wanted magic fits as is.
      if (entry.magic > magic) break;
      if (size + entry.bytes.length > options.maxBytes) break;
      out.push(entry.bytes);
      size += entry.bytes.length;
      continue;
    }
    const batch = decodeRecordBatch(entry.bytes, { verifyCrc: false });
    if (batch.isControlBatch) continue;
    if (batch.compression === CompressionType.zstd) {
      if (out.length === 0 && oversized === undefined) {
        return { records: Buffer.alloc(0), errorCode: ErrorCode.UNSUPPORTED_COMPRESSION_TYPE };
      }
      break;
    }
    const logAppendTime = batch.timestampType === TimestampType.logAppendTime;
    const compressed = batch.compression !== CompressionType.none;
    const converted: ConvertibleRecord[] = [];
    for (const record of batch.records) {
      const offset = batch.baseOffset + BigInt(record.offsetDelta);
      if (!compressed && offset < options.firstOffset) continue;
      converted.push({
        offset,
        timestamp: logAppendTime
          ? batch.maxTimestamp
          : batch.baseTimestamp + BigInt(record.timestampDelta),
        key: record.key,
        value: record.value,
      });
    }
    if (converted.length === 0) continue;
    const timestampType = logAppendTime ? TimestampType.logAppendTime : TimestampType.createTime;
    // A compressed batch converts whole or not at all; an uncompressed one message by message.
    const units = compressed
      ? [
          Buffer.concat(
            consecutiveRuns(converted).map((run) =>
              encodeRun(run, magic, batch.compression, timestampType),
            ),
          ),
        ]
      : converted.map((record) => encodeRun([record], magic, CompressionType.none, timestampType));
    const keepWhole = firstBatch && options.minOneBatch;
    firstBatch = false;
    for (const unit of units) {
      if (!keepWhole && size + unit.length > options.maxBytes) {
        if (out.length === 0) oversized ??= unit;
        full = true;
        break;
      }
      out.push(unit);
      size += unit.length;
    }
  }
  if (out.length === 0 && oversized !== undefined && options.truncateOversized) {
    return {
      records: oversized.subarray(0, Math.max(options.maxBytes, 0)),
      errorCode: ErrorCode.NONE,
    };
  }
  return { records: out.length === 1 ? out[0]! : Buffer.concat(out), errorCode: ErrorCode.NONE };
}

/** Splits records into runs of consecutive offsets. */
function consecutiveRuns(records: readonly ConvertibleRecord[]): ConvertibleRecord[][] {
  const runs: ConvertibleRecord[][] = [];
  let run: ConvertibleRecord[] = [];
  for (const record of records) {
    const last = run[run.length - 1];
    if (last !== undefined && record.offset !== last.offset + 1n) {
      runs.push(run);
      run = [];
    }
    run.push(record);
  }
  if (run.length > 0) runs.push(run);
  return runs;
}

function encodeRun(
  run: readonly ConvertibleRecord[],
  magic: LegacyMagic,
  compression: CompressionType,
  timestampType: TimestampType,
): Buffer {
  const messages: LegacyMessageInput[] = run.map((record) => ({
    key: record.key,
    value: record.value,
    timestamp: record.timestamp,
  }));
  return encodeLegacyMessageSet(messages, {
    magic,
    compression,
    baseOffset: run[0]!.offset,
    timestampType,
  });
}
