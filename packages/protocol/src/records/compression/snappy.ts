/**
 * Snappy (Kafka compression type 2), with the `snappy` package (napi-rs over the Rust `snap`
 * crate).
 *
 * Kafka clients disagree on the container:
 * - the Java client (snappy-java's `SnappyOutputStream`) and kafkajs-snappy write the xerial
 *   framing: the 8-byte magic `\x82SNAPPY\0`, an int32 version (1) and an int32 minimum
 *   compatible version (1), then blocks of `[int32 compressed length][raw snappy block]`, each
 *   block holding at most 32 KiB of input;
 * - librdkafka writes one raw snappy block.
 * Decompression accepts both, as snappy-java and librdkafka themselves do (and concatenated
 * xerial streams, whose headers reappear mid-stream). Compression emits the Java client's
 * xerial framing, which every client reads.
 */
import { ProtocolDecodeError } from '../../errors/brook-error.ts';
import { loadOnFirstUse } from '../native.ts';
import {
  asBuffer,
  compressFailure,
  type DecompressOptions,
  decompressFailure,
  tooLarge,
} from './errors.ts';

const snappy = loadOnFirstUse<typeof import('snappy')>('snappy');

const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
/** Magic, version, minimum compatible version. */
const XERIAL_HEADER_BYTES = 16;
const XERIAL_VERSION = 1;
const XERIAL_COMPATIBLE_VERSION = 1;
/** snappy-java's default block size, which the Java client keeps. */
const XERIAL_BLOCK_BYTES = 32 * 1024;

export const SnappyFraming = { xerial: 'xerial', raw: 'raw' } as const;
export type SnappyFraming = (typeof SnappyFraming)[keyof typeof SnappyFraming];

export interface SnappyCompressOptions {
  /** `xerial` (default, what the Java client writes) or `raw` (what librdkafka writes). */
  framing?: SnappyFraming;
}

export function snappyCompress(input: Uint8Array, options: SnappyCompressOptions = {}): Buffer {
  const { compressSync } = snappy();
  try {
    // Copying into a V8-owned buffer is faster than the default external buffer.
    const copy = { copyOutputData: true };
    if (options.framing === SnappyFraming.raw) return compressSync(asBuffer(input), copy);
    const pieces: Buffer[] = [xerialHeader()];
    let total = XERIAL_HEADER_BYTES;
    for (let start = 0; start < input.length; start += XERIAL_BLOCK_BYTES) {
      const block = compressSync(asBuffer(input.subarray(start, start + XERIAL_BLOCK_BYTES)), copy);
      const length = Buffer.allocUnsafe(4);
      length.writeInt32BE(block.length, 0);
      pieces.push(length, block);
      total += 4 + block.length;
    }
    return Buffer.concat(pieces, total);
  } catch (error) {
    return compressFailure('snappy', error);
  }
}

export function snappyDecompress(input: Uint8Array, options: DecompressOptions): Buffer {
  const bytes = asBuffer(input);
  if (!hasXerialMagic(bytes, 0)) {
    return decompressBlock(bytes, options.maxOutputBytes, options.maxOutputBytes);
  }
  const blocks: Buffer[] = [];
  let total = 0;
  let position = XERIAL_HEADER_BYTES;
  if (bytes.length < XERIAL_HEADER_BYTES) {
    throw new ProtocolDecodeError(`xerial snappy header cut short at ${bytes.length} bytes`);
  }
  while (position < bytes.length) {
    if (hasXerialMagic(bytes, position) && bytes.length - position >= XERIAL_HEADER_BYTES) {
      position += XERIAL_HEADER_BYTES; // a concatenated stream starts again
      continue;
    }
    if (bytes.length - position < 4) {
      throw new ProtocolDecodeError(`xerial snappy block length cut short at ${position}`);
    }
    const length = bytes.readInt32BE(position);
    position += 4;
    if (length < 0 || length > bytes.length - position) {
      throw new ProtocolDecodeError(
        `xerial snappy block of ${length} bytes at ${position - 4} overruns the ${bytes.length} bytes`,
      );
    }
    const block = decompressBlock(
      bytes.subarray(position, position + length),
      options.maxOutputBytes - total,
      options.maxOutputBytes,
    );
    position += length;
    total += block.length;
    blocks.push(block);
  }
  if (blocks.length === 1) return blocks[0]!;
  return Buffer.concat(blocks, total);
}

function xerialHeader(): Buffer {
  const header = Buffer.allocUnsafe(XERIAL_HEADER_BYTES);
  XERIAL_MAGIC.copy(header, 0);
  header.writeInt32BE(XERIAL_VERSION, 8);
  header.writeInt32BE(XERIAL_COMPATIBLE_VERSION, 12);
  return header;
}

function hasXerialMagic(bytes: Buffer, position: number): boolean {
  if (bytes.length - position < XERIAL_MAGIC.length) return false;
  for (let index = 0; index < XERIAL_MAGIC.length; index++) {
    if (bytes[position + index] !== XERIAL_MAGIC[index]) return false;
  }
  return true;
}

/**
 * One raw snappy block. Its preamble (a varint) states the uncompressed length, which is checked
 * against what may still be produced before the library allocates it.
 */
function decompressBlock(block: Buffer, budgetBytes: number, maxOutputBytes: number): Buffer {
  let declared = 0;
  let index = 0;
  for (let shift = 0; ; shift += 7) {
    if (index >= block.length || shift > 28) {
      throw new ProtocolDecodeError('snappy block has no valid length preamble');
    }
    const byte = block[index++]!;
    declared += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80) break;
  }
  if (declared > budgetBytes) throw tooLarge('snappy', maxOutputBytes);
  const { uncompressSync } = snappy();
  try {
    return uncompressSync(block, { copyOutputData: true }) as Buffer;
  } catch (error) {
    return decompressFailure('snappy', error, maxOutputBytes);
  }
}
