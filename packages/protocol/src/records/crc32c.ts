/**
 * CRC-32C (Castagnoli), the checksum of record batches (magic 2). It covers a batch from its
 * `attributes` field to its end.
 *
 * Backed by `@node-rs/crc32`: a napi-rs binding that uses the CPU's CRC32 instructions (SSE 4.2
 * on x86-64, the CRC extension on ARMv8) and ships its binary inside per-platform npm packages.
 * The addon loads with the first checksum (`native.ts`).
 */
import { loadOnFirstUse } from './native.ts';

const native = loadOnFirstUse<typeof import('@node-rs/crc32')>('@node-rs/crc32');

/**
 * CRC-32C of `data`. `previous` continues an earlier checksum, so
 * `crc32c(b, crc32c(a))` equals the checksum of `a` followed by `b`.
 */
export function crc32c(data: Uint8Array, previous = 0): number {
  return native().crc32c(data, previous) >>> 0;
}
