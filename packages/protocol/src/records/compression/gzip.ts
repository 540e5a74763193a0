/**
 * GZIP (Kafka compression type 1), with node:zlib. The Java client writes one gzip member
 * through `GZIPOutputStream`; any conforming gzip stream (several members too) is accepted.
 */
import { constants, gunzipSync, gzipSync } from 'node:zlib';
import {
  asBuffer,
  compressFailure,
  type DecompressOptions,
  decompressFailure,
  tooLarge,
  zlibLimit,
} from './errors.ts';

export interface GzipCompressOptions {
  /** zlib level 1..9; the default (6) is what the Java client uses unless configured. */
  level?: number;
}

export function gzipCompress(input: Uint8Array, options: GzipCompressOptions = {}): Buffer {
  try {
    return gzipSync(input, { level: options.level ?? constants.Z_DEFAULT_COMPRESSION });
  } catch (error) {
    return compressFailure('gzip', error);
  }
}

export function gzipDecompress(input: Uint8Array, options: DecompressOptions): Buffer {
  let output: Buffer;
  try {
    output = gunzipSync(asBuffer(input), { maxOutputLength: zlibLimit(options.maxOutputBytes) });
  } catch (error) {
    return decompressFailure('gzip', error, options.maxOutputBytes);
  }
  if (output.length > options.maxOutputBytes) throw tooLarge('gzip', options.maxOutputBytes);
  return output;
}
