export * from './compression/codec.ts';
export { type GzipCompressOptions, gzipCompress, gzipDecompress } from './compression/gzip.ts';
export {
  type Lz4CompressOptions,
  type Lz4DecompressOptions,
  lz4Compress,
  lz4Decompress,
} from './compression/lz4.ts';
export {
  type SnappyCompressOptions,
  SnappyFraming,
  snappyCompress,
  snappyDecompress,
} from './compression/snappy.ts';
export {
  ZSTD_DEFAULT_LEVEL,
  type ZstdCompressOptions,
  zstdCompress,
  zstdDecompress,
} from './compression/zstd.ts';
export * from './control-record.ts';
export { crc32c } from './crc32c.ts';
export * from './legacy-message-set.ts';
export * from './record-batch.ts';
export * from './records-blob.ts';
