/**
 * The compression codecs by their Kafka id (the low 3 bits of a batch's or message's
 * attributes), behind one `compress` / `decompress` pair.
 */
import { ProtocolDecodeError } from '../../errors/brook-error.ts';
import { gzipCompress, gzipDecompress } from './gzip.ts';
import { lz4Compress, lz4Decompress } from './lz4.ts';
import { type SnappyFraming, snappyCompress, snappyDecompress } from './snappy.ts';
import { zstdCompress, zstdDecompress } from './zstd.ts';

export const CompressionType = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 } as const;
export type CompressionType = (typeof CompressionType)[keyof typeof CompressionType];

const NAMES = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;

/**
 * Default bound on what one batch's records may decompress to. Kafka has none; 256 MiB leaves
 * room for very compressible data in a default-sized (1 MiB) batch while keeping a zip bomb far
 * from exhausting memory. Decoders take their own `maxUncompressedBytes`.
 */
export const DEFAULT_MAX_UNCOMPRESSED_BYTES = 256 * 1024 * 1024;

export function compressionName(type: CompressionType): string {
  return NAMES[type];
}

/** The compression type of a raw id, or a ProtocolDecodeError for ids Kafka does not define. */
export function toCompressionType(id: number): CompressionType {
  if (Number.isInteger(id) && id >= 0 && id <= 4) return id as CompressionType;
  throw new ProtocolDecodeError(`unknown compression type ${id}`);
}

export interface CompressOptions {
  /** Codec level for gzip and zstd; ignored by snappy and lz4. */
  level?: number;
  /** Snappy container: `xerial` (default, like the Java client) or `raw` (like librdkafka). */
  snappyFraming?: SnappyFraming;
  /** LZ4 for message format v0: the pre-0.10 broken frame header checksum. */
  lz4BrokenHeaderChecksum?: boolean;
}

export interface DecompressOptions {
  /** Output larger than this gives a ProtocolDecodeError. */
  maxOutputBytes: number;
  /** LZ4 in message formats v0 and v1: accept the pre-0.10 broken frame header checksum. */
  lz4AcceptBrokenHeaderChecksum?: boolean;
}

/** Compresses with codec `type`; `none` returns the input itself. */
export function compress(
  type: CompressionType,
  input: Buffer,
  options: CompressOptions = {},
): Buffer {
  switch (type) {
    case CompressionType.none:
      return input;
    case CompressionType.gzip:
      return gzipCompress(input, options.level === undefined ? {} : { level: options.level });
    case CompressionType.snappy:
      return snappyCompress(
        input,
        options.snappyFraming === undefined ? {} : { framing: options.snappyFraming },
      );
    case CompressionType.lz4:
      return lz4Compress(input, { brokenHeaderChecksum: options.lz4BrokenHeaderChecksum ?? false });
    case CompressionType.zstd:
      return zstdCompress(input, options.level === undefined ? {} : { level: options.level });
  }
}

/** Decompresses with codec `type`; `none` returns the input itself. Bad input: ProtocolDecodeError. */
export function decompress(
  type: CompressionType,
  input: Buffer,
  options: DecompressOptions,
): Buffer {
  switch (type) {
    case CompressionType.none:
      return input;
    case CompressionType.gzip:
      return gzipDecompress(input, options);
    case CompressionType.snappy:
      return snappyDecompress(input, options);
    case CompressionType.lz4:
      return lz4Decompress(input, {
        maxOutputBytes: options.maxOutputBytes,
        acceptBrokenHeaderChecksum: options.lz4AcceptBrokenHeaderChecksum ?? false,
      });
    case CompressionType.zstd:
      return zstdDecompress(input, options);
  }
}
