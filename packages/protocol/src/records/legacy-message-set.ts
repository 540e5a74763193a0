/**
 * Legacy message sets, message formats v0 (magic 0) and v1 (magic 1, Kafka 0.10), which clients
 * older than Kafka 0.11 still produce and fetch. A set is a sequence of
 *
 *   offset int64, size int32, crc uint32, magic int8, attributes int8,
 *   [timestamp int64, magic 1 only], key int32-length bytes, value int32-length bytes
 *
 * where `size` counts from the CRC on, and the CRC (the ordinary CRC-32, not CRC-32C) covers
 * from `magic` to the end. A compressed message is a wrapper: its value is a whole message set
 * compressed with the codec in its attributes (gzip, snappy or lz4; zstd needs magic 2), its key
 * is null, and its offset is the offset of the last inner message. In magic 1 the inner offsets
 * are relative (0, 1, …) to what the wrapper implies; in magic 0 they are absolute.
 */
import { crc32 } from 'node:zlib';
import { ProtocolDecodeError, ProtocolEncodeError } from '../errors/brook-error.ts';
import { Reader } from '../primitives/reader.ts';
import {
  CompressionType,
  compress,
  DEFAULT_MAX_UNCOMPRESSED_BYTES,
  decompress,
  toCompressionType,
} from './compression/codec.ts';
import type { SnappyFraming } from './compression/snappy.ts';
import { TimestampType } from './record-batch.ts';
import { iterateRecordsBlob, type RecordsBlobEntry } from './records-blob.ts';

export const LegacyMagic = { v0: 0, v1: 1 } as const;
export type LegacyMagic = (typeof LegacyMagic)[keyof typeof LegacyMagic];

const CRC_AT = 12;
const MAGIC_AT = 16;
const COMPRESSION_MASK = 0x07;
const TIMESTAMP_TYPE_FLAG = 0x08;
const NO_TIMESTAMP = -1n;

export interface LegacyMessage {
  /** Absolute offset (inner messages of a magic 1 wrapper are resolved against it). */
  offset: bigint;
  magic: LegacyMagic;
  attributes: number;
  /** The message's own codec: none for inner messages; a wrapper's when not unwrapped. */
  compression: CompressionType;
  /** noTimestamp for magic 0. */
  timestampType: TimestampType;
  /** -1 when there is none (always for magic 0). */
  timestamp: bigint;
  key: Buffer | null;
  value: Buffer | null;
}

export interface DecodeLegacyMessageSetOptions {
  /** Check each message's CRC-32 (default true). */
  verifyCrc?: boolean;
  /** Bound on each wrapper's decompressed inner set; DEFAULT_MAX_UNCOMPRESSED_BYTES by default. */
  maxUncompressedBytes?: number;
}

export interface DecodedLegacyMessageSet {
  /** Every message, wrappers replaced by their inner messages. */
  messages: LegacyMessage[];
  /** Bytes of a partial last message that were skipped (a Fetch response may end in one). */
  truncatedBytes: number;
}

/**
 * Decodes a legacy message set, unwrapping compressed messages. Keys and values are views into
 * `blob` or into a wrapper's decompressed bytes. A partial last message is skipped and counted;
 * anything else malformed throws ProtocolDecodeError.
 */
export function decodeLegacyMessageSet(
  blob: Buffer,
  options: DecodeLegacyMessageSetOptions = {},
): DecodedLegacyMessageSet {
  const messages: LegacyMessage[] = [];
  const iterator = iterateRecordsBlob(blob);
  for (;;) {
    const step = iterator.next();
    if (step.done) return { messages, truncatedBytes: step.value };
    const message = decodeEntry(step.value, options);
    if (message.compression === CompressionType.none) {
      messages.push(message);
    } else {
      unwrap(message, options, messages);
    }
  }
}

/**
 * Decodes the one message at the start of `bytes` (offset and size included) without
 * unwrapping it: a wrapper's value stays compressed.
 */
export function decodeLegacyMessage(
  bytes: Buffer,
  options: Pick<DecodeLegacyMessageSetOptions, 'verifyCrc'> = {},
): LegacyMessage {
  const step = iterateRecordsBlob(bytes).next();
  if (step.done) {
    throw new ProtocolDecodeError(`legacy message cut short at ${bytes.length} bytes`);
  }
  return decodeEntry(step.value, options);
}

function decodeEntry(entry: RecordsBlobEntry, options: { verifyCrc?: boolean }): LegacyMessage {
  const bytes = entry.bytes;
  if (entry.magic !== LegacyMagic.v0 && entry.magic !== LegacyMagic.v1) {
    throw new ProtocolDecodeError(
      `magic ${entry.magic} entry at ${entry.position} inside a legacy message set`,
    );
  }
  const reader = new Reader(bytes);
  const offset = reader.readInt64();
  reader.skip(4); // size, already checked by the iterator
  const storedCrc = reader.readUInt32();
  if (options.verifyCrc !== false) {
    const computed = crc32(bytes.subarray(MAGIC_AT));
    if (computed !== storedCrc) {
      throw new ProtocolDecodeError(
        `legacy message CRC mismatch at ${entry.position}: stored ${storedCrc}, computed ${computed}`,
      );
    }
  }
  const magic = reader.readInt8() as LegacyMagic;
  const attributes = reader.readInt8();
  const compression = toCompressionType(attributes & COMPRESSION_MASK);
  if (compression === CompressionType.zstd) {
    throw new ProtocolDecodeError('zstd compression needs message format v2');
  }
  let timestamp = NO_TIMESTAMP;
  let timestampType: TimestampType = TimestampType.noTimestamp;
  if (magic === LegacyMagic.v1) {
    timestamp = reader.readInt64();
    timestampType =
      attributes & TIMESTAMP_TYPE_FLAG ? TimestampType.logAppendTime : TimestampType.createTime;
  }
  const keyLength = reader.readInt32Length(true);
  const key = keyLength < 0 ? null : reader.readSlice(keyLength);
  const valueLength = reader.readInt32Length(true);
  const value = valueLength < 0 ? null : reader.readSlice(valueLength);
  if (reader.remaining !== 0) {
    throw new ProtocolDecodeError(
      `legacy message at ${entry.position} has ${reader.remaining} bytes after its value`,
    );
  }
  return { offset, magic, attributes, compression, timestampType, timestamp, key, value };
}

function unwrap(
  wrapper: LegacyMessage,
  options: DecodeLegacyMessageSetOptions,
  into: LegacyMessage[],
): void {
  if (wrapper.value === null) {
    throw new ProtocolDecodeError(
      `compressed legacy message at offset ${wrapper.offset} has no value`,
    );
  }
  const inner = decompress(wrapper.compression, wrapper.value, {
    maxOutputBytes: options.maxUncompressedBytes ?? DEFAULT_MAX_UNCOMPRESSED_BYTES,
    lz4AcceptBrokenHeaderChecksum: true,
  });
  const start = into.length;
  const iterator = iterateRecordsBlob(inner);
  for (;;) {
    const step = iterator.next();
    if (step.done) {
      if (step.value !== 0) {
        throw new ProtocolDecodeError(
          `compressed legacy message at offset ${wrapper.offset} ends in a partial message`,
        );
      }
      break;
    }
    const message = decodeEntry(step.value, options);
    if (message.compression !== CompressionType.none) {
      throw new ProtocolDecodeError('compressed legacy message nested in a compressed message');
    }
    if (message.magic !== wrapper.magic) {
      throw new ProtocolDecodeError(
        `inner message magic ${message.magic} differs from its wrapper's ${wrapper.magic}`,
      );
    }
    into.push(message);
  }
  const last = into[into.length - 1];
  if (wrapper.magic === LegacyMagic.v0 || last === undefined || into.length === start) return;
  // Magic 1: inner offsets are relative; the wrapper carries the last one's absolute offset.
  // Kafka keeps the inner offsets as they are when that gives a negative base.
  const base = wrapper.offset - last.offset;
  const logAppendTime = wrapper.timestampType === TimestampType.logAppendTime;
  for (let index = start; index < into.length; index++) {
    const message = into[index]!;
    if (base >= 0n) message.offset += base;
    if (logAppendTime) {
      message.timestamp = wrapper.timestamp;
      message.timestampType = TimestampType.logAppendTime;
    }
  }
}

// ---- encode ------------------------------------------------------------------------------------

export interface LegacyMessageInput {
  key: Uint8Array | null;
  value: Uint8Array | null;
  /** Magic 1 only; -1 (none) by default. */
  timestamp?: bigint;
}

export interface EncodeLegacyMessageSetOptions {
  magic: LegacyMagic;
  /** gzip, snappy or lz4 wrap the messages in one compressed message; none by default. */
  compression?: CompressionType;
  /** Offset of the first message (default 0). */
  baseOffset?: bigint;
  /** Magic 1: createTime (default) or logAppendTime, which sets the wrapper's timestamp type. */
  timestampType?: TimestampType;
  /** gzip level. */
  compressionLevel?: number;
  snappyFraming?: SnappyFraming;
}

/**
 * Encodes a legacy message set, for old clients (fetches down-converted for them) and tests.
 * With compression, the messages go into one wrapper whose offset is the last message's, with
 * relative inner offsets in magic 1 and absolute ones in magic 0, as Kafka writes them.
 */
export function encodeLegacyMessageSet(
  messages: readonly LegacyMessageInput[],
  options: EncodeLegacyMessageSetOptions,
): Buffer {
  const magic = options.magic;
  if (magic !== LegacyMagic.v0 && magic !== LegacyMagic.v1) {
    throw new ProtocolEncodeError(`legacy message magic must be 0 or 1, not ${magic}`);
  }
  const compression = options.compression ?? CompressionType.none;
  if (compression === CompressionType.zstd || compression < 0 || compression > 4) {
    throw new ProtocolEncodeError(`compression ${compression} is not available before magic 2`);
  }
  const baseOffset = options.baseOffset ?? 0n;
  const logAppendTime =
    magic === LegacyMagic.v1 && options.timestampType === TimestampType.logAppendTime;
  if (compression === CompressionType.none) {
    const attributes = logAppendTime ? TIMESTAMP_TYPE_FLAG : 0;
    return Buffer.concat(
      messages.map((message, index) =>
        encodeMessage(baseOffset + BigInt(index), magic, attributes, message),
      ),
    );
  }
  if (messages.length === 0) return Buffer.alloc(0);
  const inner = Buffer.concat(
    messages.map((message, index) =>
      encodeMessage(
        magic === LegacyMagic.v1 ? BigInt(index) : baseOffset + BigInt(index),
        magic,
        0,
        message,
      ),
    ),
  );
  const value = compress(compression, inner, {
    ...(options.compressionLevel === undefined ? {} : { level: options.compressionLevel }),
    ...(options.snappyFraming === undefined ? {} : { snappyFraming: options.snappyFraming }),
    lz4BrokenHeaderChecksum: magic === LegacyMagic.v0,
  });
  let maxTimestamp = NO_TIMESTAMP;
  for (const message of messages) {
    if (message.timestamp !== undefined && message.timestamp > maxTimestamp) {
      maxTimestamp = message.timestamp;
    }
  }
  const attributes = compression | (logAppendTime ? TIMESTAMP_TYPE_FLAG : 0);
  return encodeMessage(baseOffset + BigInt(messages.length - 1), magic, attributes, {
    key: null,
    value,
    timestamp: maxTimestamp,
  });
}

function encodeMessage(
  offset: bigint,
  magic: LegacyMagic,
  attributes: number,
  message: LegacyMessageInput,
): Buffer {
  const key = message.key;
  const value = message.value;
  const size =
    4 +
    1 +
    1 +
    (magic === LegacyMagic.v1 ? 8 : 0) +
    4 +
    (key?.length ?? 0) +
    4 +
    (value?.length ?? 0);
  const bytes = Buffer.allocUnsafe(12 + size);
  try {
    bytes.writeBigInt64BE(offset, 0);
    bytes.writeInt32BE(size, 8);
    let position = MAGIC_AT;
    bytes.writeInt8(magic, position++);
    bytes.writeInt8(attributes, position++);
    if (magic === LegacyMagic.v1) {
      bytes.writeBigInt64BE(message.timestamp ?? NO_TIMESTAMP, position);
      position += 8;
    }
    position = writeLegacyBytes(bytes, position, key);
    writeLegacyBytes(bytes, position, value);
  } catch (error) {
    throw new ProtocolEncodeError(`legacy message field out of range: ${String(error)}`, {
      cause: error,
    });
  }
  bytes.writeUInt32BE(crc32(bytes.subarray(MAGIC_AT)), CRC_AT);
  return bytes;
}

function writeLegacyBytes(target: Buffer, position: number, bytes: Uint8Array | null): number {
  if (bytes === null) {
    target.writeInt32BE(-1, position);
    return position + 4;
  }
  target.writeInt32BE(bytes.length, position);
  target.set(bytes, position + 4);
  return position + 4 + bytes.length;
}
