/**
 * Record batches, message format v2 (magic 2), the unit in which Kafka stores and moves records
 * since 0.11. Layout (big-endian, positions in bytes):
 *
 *   0 baseOffset int64           27 baseTimestamp int64
 *   8 batchLength int32          35 maxTimestamp int64
 *  12 partitionLeaderEpoch int32 43 producerId int64
 *  16 magic int8 (= 2)           51 producerEpoch int16
 *  17 crc uint32                 53 baseSequence int32
 *  21 attributes int16           57 recordCount int32
 *  23 lastOffsetDelta int32      61 records (compressed as one block when attributes say so)
 *
 * `batchLength` counts the bytes after itself. The CRC-32C covers `attributes` to the end, so
 * the broker can set `baseOffset` and `partitionLeaderEpoch` in place without touching it.
 *
 * A record: length varint, attributes int8, timestampDelta varlong, offsetDelta varint, key
 * (varint length, -1 = null), value (likewise), header count varint, headers (key: varint length
 * + UTF-8; value: varint length, -1 = null, + bytes).
 *
 * Decoded keys, values and header values are views into the input (or into the decompressed
 * records), never copies. Any malformed input throws ProtocolDecodeError and nothing else.
 */
import { ProtocolDecodeError, ProtocolEncodeError } from '../errors/brook-error.ts';
import { Reader } from '../primitives/reader.ts';
import { Writer } from '../primitives/writer.ts';
import {
  CompressionType,
  compress,
  DEFAULT_MAX_UNCOMPRESSED_BYTES,
  decompress,
  toCompressionType,
} from './compression/codec.ts';
import type { SnappyFraming } from './compression/snappy.ts';
import { crc32c } from './crc32c.ts';

export const RECORD_BATCH_MAGIC = 2;
/** The bytes before what `batchLength` (or a legacy message's size) counts: offset + length. */
export const LOG_OVERHEAD_BYTES = 12;
/** A v2 batch header, up to and including the record count. */
export const RECORD_BATCH_HEADER_BYTES = 61;

const BATCH_LENGTH_AT = 8;
const PARTITION_LEADER_EPOCH_AT = 12;
const MAGIC_AT = 16;
const CRC_AT = 17;
const ATTRIBUTES_AT = 21;
const LAST_OFFSET_DELTA_AT = 23;
const BASE_TIMESTAMP_AT = 27;
const MAX_TIMESTAMP_AT = 35;
const PRODUCER_ID_AT = 43;
const PRODUCER_EPOCH_AT = 51;
const BASE_SEQUENCE_AT = 53;
const RECORD_COUNT_AT = 57;
const MIN_BATCH_LENGTH = RECORD_BATCH_HEADER_BYTES - LOG_OVERHEAD_BYTES;

const COMPRESSION_MASK = 0x07;
const TIMESTAMP_TYPE_FLAG = 0x08;
const TRANSACTIONAL_FLAG = 0x10;
const CONTROL_FLAG = 0x20;
const DELETE_HORIZON_FLAG = 0x40;

/** The smallest record: length, attributes, deltas, null key, null value, no headers. */
const MIN_RECORD_BYTES = 7;

/** Kafka's timestamp types; `noTimestamp` only occurs in message format v0. */
export const TimestampType = { noTimestamp: -1, createTime: 0, logAppendTime: 1 } as const;
export type TimestampType = (typeof TimestampType)[keyof typeof TimestampType];

/** Header fields that identify no producer (a non-idempotent batch). */
export const NO_PRODUCER_ID = -1n;
export const NO_PRODUCER_EPOCH = -1;
export const NO_SEQUENCE = -1;
export const NO_PARTITION_LEADER_EPOCH = -1;

export interface RecordHeader {
  key: string;
  value: Buffer | null;
}

/** A decoded record. Offsets and timestamps are deltas from the batch's base. */
export interface KafkaRecord {
  attributes: number;
  timestampDelta: number;
  offsetDelta: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: readonly RecordHeader[];
}

/** A record to encode; `offsetDelta` defaults to its index in the batch. */
export interface KafkaRecordInput {
  attributes?: number;
  timestampDelta?: number;
  offsetDelta?: number;
  key: Uint8Array | null;
  value: Uint8Array | null;
  headers?: readonly { key: string; value: Uint8Array | null }[];
}

/** The fixed 61 bytes of a batch, with the attribute bits spelled out. */
export interface RecordBatchHeader {
  baseOffset: bigint;
  /** Bytes after this field: the batch is `batchLength + 12` bytes long. */
  batchLength: number;
  partitionLeaderEpoch: number;
  magic: number;
  /** The stored CRC-32C (unsigned). */
  crc: number;
  /** The raw attributes; the fields below are its bits. */
  attributes: number;
  compression: CompressionType;
  timestampType: TimestampType;
  isTransactional: boolean;
  isControlBatch: boolean;
  /** Set by compaction: `baseTimestamp` then holds the delete horizon. */
  hasDeleteHorizon: boolean;
  lastOffsetDelta: number;
  baseTimestamp: bigint;
  maxTimestamp: bigint;
  producerId: bigint;
  producerEpoch: number;
  baseSequence: number;
  recordCount: number;
}

export interface RecordBatch extends RecordBatchHeader {
  records: KafkaRecord[];
}

/**
 * A batch to encode. Header fields that follow from the records are computed (`batchLength`,
 * `crc`, `recordCount`); the others default to what a plain, non-idempotent producer sends.
 * A decoded RecordBatch is a valid input (its computed fields are ignored).
 */
export interface RecordBatchInput {
  /** Default 0; the broker assigns the real one (`setBatchBaseOffset`). */
  baseOffset?: bigint;
  /** Default -1. */
  partitionLeaderEpoch?: number;
  /** Default none. */
  compression?: CompressionType;
  /** Default createTime. */
  timestampType?: TimestampType;
  isTransactional?: boolean;
  isControlBatch?: boolean;
  hasDeleteHorizon?: boolean;
  /** Default: the largest record offsetDelta (0 for no records). */
  lastOffsetDelta?: number;
  baseTimestamp: bigint;
  /** Default: baseTimestamp plus the largest record timestampDelta. */
  maxTimestamp?: bigint;
  /** Default -1 (none). */
  producerId?: bigint;
  /** Default -1. */
  producerEpoch?: number;
  /** Default -1. */
  baseSequence?: number;
  records: readonly KafkaRecordInput[];
}

export interface EncodeRecordBatchOptions {
  /** gzip and zstd level; each codec's default otherwise. */
  compressionLevel?: number;
  /** Snappy container; `xerial` (the Java client's) by default. */
  snappyFraming?: SnappyFraming;
}

export interface DecodeRecordBatchOptions {
  /** Check the CRC-32C (default true). */
  verifyCrc?: boolean;
  /** Bound on the decompressed records; DEFAULT_MAX_UNCOMPRESSED_BYTES by default. */
  maxUncompressedBytes?: number;
}

const EMPTY_HEADERS: readonly RecordHeader[] = Object.freeze([]);

// ---- header ----------------------------------------------------------------------------------

/**
 * Reads the 61-byte header of the batch at `position` without touching (or checking) its
 * records or CRC. Needs only the header bytes, not the whole batch.
 */
export function readRecordBatchHeader(buffer: Buffer, position = 0): RecordBatchHeader {
  if (!(position >= 0 && buffer.length - position >= RECORD_BATCH_HEADER_BYTES)) {
    throw new ProtocolDecodeError(
      `record batch header needs ${RECORD_BATCH_HEADER_BYTES} bytes at ${position}, ` +
        `${Math.max(0, buffer.length - position)} left`,
    );
  }
  const magic = buffer.readInt8(position + MAGIC_AT);
  if (magic !== RECORD_BATCH_MAGIC) {
    throw new ProtocolDecodeError(`record batch magic is ${magic}, expected ${RECORD_BATCH_MAGIC}`);
  }
  const batchLength = buffer.readInt32BE(position + BATCH_LENGTH_AT);
  if (batchLength < MIN_BATCH_LENGTH) {
    throw new ProtocolDecodeError(
      `record batch length ${batchLength} is below ${MIN_BATCH_LENGTH}`,
    );
  }
  const attributes = buffer.readInt16BE(position + ATTRIBUTES_AT);
  const recordCount = buffer.readInt32BE(position + RECORD_COUNT_AT);
  if (recordCount < 0)
    throw new ProtocolDecodeError(`record batch count ${recordCount} is negative`);
  return {
    baseOffset: buffer.readBigInt64BE(position),
    batchLength,
    partitionLeaderEpoch: buffer.readInt32BE(position + PARTITION_LEADER_EPOCH_AT),
    magic,
    crc: buffer.readUInt32BE(position + CRC_AT),
    attributes,
    compression: toCompressionType(attributes & COMPRESSION_MASK),
    timestampType:
      attributes & TIMESTAMP_TYPE_FLAG ? TimestampType.logAppendTime : TimestampType.createTime,
    isTransactional: (attributes & TRANSACTIONAL_FLAG) !== 0,
    isControlBatch: (attributes & CONTROL_FLAG) !== 0,
    hasDeleteHorizon: (attributes & DELETE_HORIZON_FLAG) !== 0,
    lastOffsetDelta: buffer.readInt32BE(position + LAST_OFFSET_DELTA_AT),
    baseTimestamp: buffer.readBigInt64BE(position + BASE_TIMESTAMP_AT),
    maxTimestamp: buffer.readBigInt64BE(position + MAX_TIMESTAMP_AT),
    producerId: buffer.readBigInt64BE(position + PRODUCER_ID_AT),
    producerEpoch: buffer.readInt16BE(position + PRODUCER_EPOCH_AT),
    baseSequence: buffer.readInt32BE(position + BASE_SEQUENCE_AT),
    recordCount,
  };
}

/** The CRC-32C a batch should carry: over `attributes` to the end of the batch. */
export function computeRecordBatchCrc(batch: Buffer, position = 0): number {
  const end = batchEnd(batch, position);
  return crc32c(batch.subarray(position + ATTRIBUTES_AT, end));
}

/** Throws ProtocolDecodeError unless the batch at `position` is whole and its CRC matches. */
export function verifyRecordBatchCrc(batch: Buffer, position = 0): void {
  const computed = computeRecordBatchCrc(batch, position);
  const stored = batch.readUInt32BE(position + CRC_AT);
  if (computed !== stored) {
    throw new ProtocolDecodeError(
      `record batch CRC mismatch: stored 0x${hex32(stored)}, computed 0x${hex32(computed)}`,
    );
  }
}

// ---- in-place patches (the broker's path; no decoding of the records) ---------------------

/** Sets the batch's baseOffset in place. The CRC does not cover it, so it stays valid. */
export function setBatchBaseOffset(batch: Buffer, baseOffset: bigint, position = 0): void {
  checkPatchable(batch, position);
  batch.writeBigInt64BE(baseOffset, position);
}

/** Sets the batch's partitionLeaderEpoch in place; the CRC does not cover it either. */
export function setBatchPartitionLeaderEpoch(batch: Buffer, epoch: number, position = 0): void {
  checkPatchable(batch, position);
  batch.writeInt32BE(epoch, position + PARTITION_LEADER_EPOCH_AT);
}

/**
 * Sets the timestamp type and maxTimestamp in place, as the broker does for a topic with
 * `message.timestamp.type=LogAppendTime`; these are covered by the CRC, which is recomputed.
 */
export function setBatchMaxTimestamp(
  batch: Buffer,
  options: { timestampType: TimestampType; maxTimestamp: bigint },
  position = 0,
): void {
  checkPatchable(batch, position);
  const end = batchEnd(batch, position);
  let attributes = batch.readInt16BE(position + ATTRIBUTES_AT);
  attributes =
    options.timestampType === TimestampType.logAppendTime
      ? attributes | TIMESTAMP_TYPE_FLAG
      : attributes & ~TIMESTAMP_TYPE_FLAG;
  batch.writeInt16BE(attributes, position + ATTRIBUTES_AT);
  batch.writeBigInt64BE(options.maxTimestamp, position + MAX_TIMESTAMP_AT);
  batch.writeUInt32BE(crc32c(batch.subarray(position + ATTRIBUTES_AT, end)), position + CRC_AT);
}

function checkPatchable(batch: Buffer, position: number): void {
  if (!(position >= 0 && batch.length - position >= RECORD_BATCH_HEADER_BYTES)) {
    throw new ProtocolDecodeError(`no record batch header at ${position} of ${batch.length} bytes`);
  }
  const magic = batch.readInt8(position + MAGIC_AT);
  if (magic !== RECORD_BATCH_MAGIC) {
    throw new ProtocolDecodeError(`record batch magic is ${magic}, expected ${RECORD_BATCH_MAGIC}`);
  }
}

/** The end of the whole batch at `position`, checked against the buffer. */
function batchEnd(batch: Buffer, position: number): number {
  checkPatchable(batch, position);
  const batchLength = batch.readInt32BE(position + BATCH_LENGTH_AT);
  const end = position + LOG_OVERHEAD_BYTES + batchLength;
  if (batchLength < MIN_BATCH_LENGTH || end > batch.length) {
    throw new ProtocolDecodeError(
      `record batch of length ${batchLength} at ${position} does not fit in ${batch.length} bytes`,
    );
  }
  return end;
}

// ---- decode ------------------------------------------------------------------------------------

/**
 * Decodes the batch at the start of `buffer` (bytes after its end are ignored): checks the CRC,
 * decompresses, and reads every record. Keys and values are views into `buffer` (or into the
 * decompressed records).
 */
export function decodeRecordBatch(
  buffer: Buffer,
  options: DecodeRecordBatchOptions = {},
): RecordBatch {
  const { header, records } = decodeRecordBatchWith(buffer, options, makeKafkaRecord);
  return { ...header, records };
}

const makeKafkaRecord: RecordFactory<KafkaRecord> = (
  attributes,
  timestampDelta,
  offsetDelta,
  key,
  value,
  headers,
) => ({ attributes, timestampDelta, offsetDelta, key, value, headers });

/**
 * Builds one record of a batch from its fields, or returns undefined to leave it out (a record
 * before a fetch offset). Called in record order.
 */
export type RecordFactory<T> = (
  attributes: number,
  timestampDelta: number,
  offsetDelta: number,
  key: Buffer | null,
  value: Buffer | null,
  headers: readonly RecordHeader[],
) => T | undefined;

/**
 * `decodeRecordBatch` with the caller's record objects: `make` builds each record from its
 * fields, so a consumer gets its own record shape without an intermediate object per record.
 * The same checks apply (CRC, lengths, counts, decompression bound).
 */
export function decodeRecordBatchWith<T>(
  buffer: Buffer,
  options: DecodeRecordBatchOptions,
  make: RecordFactory<T>,
): { header: RecordBatchHeader; records: T[] } {
  const header = readRecordBatchHeader(buffer, 0);
  const end = LOG_OVERHEAD_BYTES + header.batchLength;
  if (end > buffer.length) {
    throw new ProtocolDecodeError(
      `record batch of ${end} bytes is cut short at ${buffer.length} bytes`,
    );
  }
  if (options.verifyCrc !== false) {
    const computed = crc32c(buffer.subarray(ATTRIBUTES_AT, end));
    if (computed !== header.crc) {
      throw new ProtocolDecodeError(
        `record batch CRC mismatch: stored 0x${hex32(header.crc)}, computed 0x${hex32(computed)}`,
      );
    }
  }
  // Kafka reads no records of an empty batch (compaction leaves such batches, compression bits
  // and all, with no compressed stream after the header).
  if (header.recordCount === 0) return { header, records: [] };
  const section = buffer.subarray(RECORD_BATCH_HEADER_BYTES, end);
  const bytes =
    header.compression === CompressionType.none
      ? section
      : decompress(header.compression, section, {
          maxOutputBytes: options.maxUncompressedBytes ?? DEFAULT_MAX_UNCOMPRESSED_BYTES,
        });
  return { header, records: readRecords(new Reader(bytes), header.recordCount, make) };
}

function readRecords<T>(reader: Reader, count: number, make: RecordFactory<T>): T[] {
  if (count > reader.remaining / MIN_RECORD_BYTES) {
    throw new ProtocolDecodeError(
      `record batch declares ${count} records, more than its ${reader.remaining} bytes can hold`,
    );
  }
  const records: T[] = [];
  for (let index = 0; index < count; index++) {
    const length = reader.readVarint();
    if (length < 0 || length > reader.remaining) {
      throw new ProtocolDecodeError(
        `record ${index} length ${length} at offset ${reader.offset} overruns the batch`,
      );
    }
    const end = reader.offset + length;
    const attributes = reader.readInt8();
    const timestampDelta = reader.readVarlongNumber();
    const offsetDelta = reader.readVarint();
    const keyLength = reader.readVarint();
    const key = keyLength < 0 ? null : reader.readSlice(keyLength);
    const valueLength = reader.readVarint();
    const value = valueLength < 0 ? null : reader.readSlice(valueLength);
    const headerCount = reader.readVarint();
    let headers = EMPTY_HEADERS;
    if (headerCount !== 0) headers = readHeaders(reader, headerCount, end);
    if (reader.offset !== end) {
      throw new ProtocolDecodeError(
        `record ${index} declares ${length} bytes but its fields take ${reader.offset - end + length}`,
      );
    }
    const record = make(attributes, timestampDelta, offsetDelta, key, value, headers);
    if (record !== undefined) records.push(record);
  }
  if (reader.remaining !== 0) {
    throw new ProtocolDecodeError(
      `${reader.remaining} bytes remain after the ${count} records the batch declares`,
    );
  }
  return records;
}

function readHeaders(reader: Reader, count: number, end: number): RecordHeader[] {
  // A header takes at least two bytes (two one-byte varints).
  if (count < 0 || count > (end - reader.offset) / 2) {
    throw new ProtocolDecodeError(`invalid record header count ${count}`);
  }
  const headers: RecordHeader[] = new Array(count);
  for (let index = 0; index < count; index++) {
    const keyLength = reader.readVarint();
    if (keyLength < 0) throw new ProtocolDecodeError(`record header key length ${keyLength}`);
    const key = reader.readUtf8(keyLength);
    const valueLength = reader.readVarint();
    const value = valueLength < 0 ? null : reader.readSlice(valueLength);
    headers[index] = { key, value };
  }
  return headers;
}

// ---- encode ------------------------------------------------------------------------------------

/** Encodes a batch, compressing its records when `batch.compression` asks for it. */
export function encodeRecordBatch(
  batch: RecordBatchInput,
  options: EncodeRecordBatchOptions = {},
): Buffer {
  const records = batch.records;
  const count = records.length;
  const compression = batch.compression ?? CompressionType.none;
  if (!Number.isInteger(compression) || compression < 0 || compression > 4) {
    throw new ProtocolEncodeError(`unknown compression type ${compression}`);
  }

  // Pass 1: every record's body size (for its length prefix) and the exact total.
  const bodySizes = new Array<number>(count);
  let recordsBytes = 0;
  let maxTimestampDelta = 0;
  let maxOffsetDelta = 0;
  for (let index = 0; index < count; index++) {
    const record = records[index]!;
    const timestampDelta = record.timestampDelta ?? 0;
    const offsetDelta = record.offsetDelta ?? index;
    if (timestampDelta > maxTimestampDelta) maxTimestampDelta = timestampDelta;
    if (offsetDelta > maxOffsetDelta) maxOffsetDelta = offsetDelta;
    const key = record.key;
    const value = record.value;
    let size =
      1 +
      sizeOfVarlongNumber(timestampDelta) +
      sizeOfVarint(offsetDelta) +
      (key === null ? 1 : sizeOfVarint(key.length) + key.length) +
      (value === null ? 1 : sizeOfVarint(value.length) + value.length);
    const headers = record.headers;
    if (headers === undefined || headers.length === 0) {
      size += 1;
    } else {
      size += sizeOfVarint(headers.length);
      for (const header of headers) {
        if (typeof header.key !== 'string') {
          throw new ProtocolEncodeError(`record ${index} has a header without a string key`);
        }
        const keyBytes = Buffer.byteLength(header.key, 'utf8');
        size += sizeOfVarint(keyBytes) + keyBytes;
        size += header.value === null ? 1 : sizeOfVarint(header.value.length) + header.value.length;
      }
    }
    bodySizes[index] = size;
    recordsBytes += sizeOfVarint(size) + size;
  }

  // Pass 2: the records, after room for the header when they go out uncompressed.
  const headerRoom = compression === CompressionType.none ? RECORD_BATCH_HEADER_BYTES : 0;
  const writer = new Writer(headerRoom + recordsBytes || 1);
  if (headerRoom > 0) writer.reserve(headerRoom);
  for (let index = 0; index < count; index++) {
    const record = records[index]!;
    writer
      .writeVarint(bodySizes[index]!)
      .writeInt8(record.attributes ?? 0)
      .writeVarlongNumber(record.timestampDelta ?? 0)
      .writeVarint(record.offsetDelta ?? index);
    writeNullableVarintBytes(writer, record.key);
    writeNullableVarintBytes(writer, record.value);
    const headers = record.headers;
    if (headers === undefined || headers.length === 0) {
      writer.writeUInt8(0);
    } else {
      writer.writeVarint(headers.length);
      for (const header of headers) {
        const keyBytes = Buffer.byteLength(header.key, 'utf8');
        writer.writeVarint(keyBytes).writeUtf8(header.key, keyBytes);
        writeNullableVarintBytes(writer, header.value);
      }
    }
  }

  let output: Buffer;
  if (headerRoom > 0) {
    output = writer.toBuffer();
  } else {
    const compressed =
      count === 0
        ? Buffer.alloc(0)
        : compress(compression, writer.toBuffer(), {
            ...(options.compressionLevel === undefined ? {} : { level: options.compressionLevel }),
            ...(options.snappyFraming === undefined
              ? {}
              : { snappyFraming: options.snappyFraming }),
          });
    output = Buffer.allocUnsafe(RECORD_BATCH_HEADER_BYTES + compressed.length);
    compressed.copy(output, RECORD_BATCH_HEADER_BYTES);
  }

  let attributes = compression;
  if (batch.timestampType === TimestampType.logAppendTime) attributes |= TIMESTAMP_TYPE_FLAG;
  if (batch.isTransactional) attributes |= TRANSACTIONAL_FLAG;
  if (batch.isControlBatch) attributes |= CONTROL_FLAG;
  if (batch.hasDeleteHorizon) attributes |= DELETE_HORIZON_FLAG;
  try {
    output.writeBigInt64BE(batch.baseOffset ?? 0n, 0);
    output.writeInt32BE(output.length - LOG_OVERHEAD_BYTES, BATCH_LENGTH_AT);
    output.writeInt32BE(
      batch.partitionLeaderEpoch ?? NO_PARTITION_LEADER_EPOCH,
      PARTITION_LEADER_EPOCH_AT,
    );
    output.writeInt8(RECORD_BATCH_MAGIC, MAGIC_AT);
    output.writeInt16BE(attributes, ATTRIBUTES_AT);
    output.writeInt32BE(batch.lastOffsetDelta ?? maxOffsetDelta, LAST_OFFSET_DELTA_AT);
    output.writeBigInt64BE(batch.baseTimestamp, BASE_TIMESTAMP_AT);
    output.writeBigInt64BE(
      batch.maxTimestamp ?? batch.baseTimestamp + BigInt(maxTimestampDelta),
      MAX_TIMESTAMP_AT,
    );
    output.writeBigInt64BE(batch.producerId ?? NO_PRODUCER_ID, PRODUCER_ID_AT);
    output.writeInt16BE(batch.producerEpoch ?? NO_PRODUCER_EPOCH, PRODUCER_EPOCH_AT);
    output.writeInt32BE(batch.baseSequence ?? NO_SEQUENCE, BASE_SEQUENCE_AT);
    output.writeInt32BE(count, RECORD_COUNT_AT);
  } catch (error) {
    throw new ProtocolEncodeError(`record batch header field out of range: ${String(error)}`, {
      cause: error,
    });
  }
  output.writeUInt32BE(crc32c(output.subarray(ATTRIBUTES_AT)), CRC_AT);
  return output;
}

function writeNullableVarintBytes(writer: Writer, bytes: Uint8Array | null): void {
  if (bytes === null) {
    writer.writeUInt8(1); // zigzag(-1)
  } else {
    writer.writeVarint(bytes.length).writeBytes(bytes);
  }
}

/** Bytes of a zigzag varint of an int32. */
export function sizeOfVarint(value: number): number {
  const raw = ((value << 1) ^ (value >> 31)) >>> 0;
  if (raw < 0x80) return 1;
  if (raw < 0x4000) return 2;
  if (raw < 0x200000) return 3;
  if (raw < 0x10000000) return 4;
  return 5;
}

/** Bytes of a zigzag varlong of a safe integer. */
export function sizeOfVarlongNumber(value: number): number {
  if (value >= -0x40000000 && value < 0x40000000) return sizeOfVarint(value);
  let raw = value < 0 ? -2 * value - 1 : 2 * value;
  let bytes = 1;
  while (raw >= 0x80) {
    raw = Math.floor(raw / 128);
    bytes++;
  }
  return bytes;
}

function hex32(value: number): string {
  return value.toString(16).padStart(8, '0');
}
