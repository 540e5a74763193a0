/**
 * Zstandard (Kafka compression type 4, magic 2 only), with node:zlib's zstd (Node >= 23.8).
 *
 * The Java client writes through zstd-jni's streaming `ZstdOutputStream`, whose frames do not
 * carry the content size in their header; zlib decompresses in streaming mode, so it neither
 * needs that size nor trusts it, and `maxOutputLength` bounds what it produces. Concatenated
 * frames are read one after another; bytes after the last frame that are no frame are an error.
 */
import { constants, zstdCompressSync, zstdDecompressSync } from 'node:zlib';
import { ProtocolDecodeError } from '../../errors/brook-error.ts';
import {
  asBuffer,
  compressFailure,
  type DecompressOptions,
  decompressFailure,
  tooLarge,
  zlibLimit,
} from './errors.ts';

export interface ZstdCompressOptions {
  /** zstd level (1..22, negative for the fast levels); 3, the zstd and Java client default. */
  level?: number;
}

export const ZSTD_DEFAULT_LEVEL = 3;

export function zstdCompress(input: Uint8Array, options: ZstdCompressOptions = {}): Buffer {
  try {
    return zstdCompressSync(input, {
      params: { [constants.ZSTD_c_compressionLevel]: options.level ?? ZSTD_DEFAULT_LEVEL },
    });
  } catch (error) {
    return compressFailure('zstd', error);
  }
}

export function zstdDecompress(input: Uint8Array, options: DecompressOptions): Buffer {
  const bytes = asBuffer(input);
  const pieces: Buffer[] = [];
  let total = 0;
  let position = 0;
  // zlib stops after the first frame; the zstd format allows several back to back.
  do {
    let result: { buffer: Buffer; engine: { bytesWritten: number } };
    try {
      result = zstdDecompressSync(bytes.subarray(position), {
        maxOutputLength: zlibLimit(options.maxOutputBytes - total),
        info: true,
      }) as unknown as typeof result;
    } catch (error) {
      return decompressFailure('zstd', error, options.maxOutputBytes);
    }
    const consumed = result.engine.bytesWritten;
    if (!(consumed > 0)) throw new ProtocolDecodeError('zstd data makes no progress');
    position += consumed;
    total += result.buffer.length;
    if (total > options.maxOutputBytes) throw tooLarge('zstd', options.maxOutputBytes);
    pieces.push(result.buffer);
  } while (position < bytes.length);
  return pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces, total);
}
