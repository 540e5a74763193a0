/**
 * LZ4 (Kafka compression type 3): the standard LZ4 frame format, with `lz4-napi` (napi-rs over
 * the Rust `lz4_flex` crate) doing the compression itself.
 *
 * Kafka's Java client writes independent 64 KiB blocks without content size or checksums, and
 * reads only independent blocks; lz4_flex writes independent blocks of 64 KiB to 4 MiB, which
 * every client reads. Until Kafka 0.10 the Java client computed the frame descriptor checksum
 * (`HC`) over the magic number too (KAFKA-3160); that broken checksum stayed part of message
 * format v0, so `brokenHeaderChecksum` writes it and `acceptBrokenHeaderChecksum` reads it.
 *
 * Decompression walks the frame container here and hands each block to lz4_flex's block
 * decoder with the most bytes it may still produce, so the output bound is exact and enforced
 * by the decoder, and it runs about ten times faster than the library's frame reader. Header,
 * block and content checksums are checked. Frames of linked (dependent) blocks, which Kafka
 * clients never write, go to the library's frame reader, bounded beforehand by walking their
 * block headers: a stored block yields its own size, a compressed one at most min(block
 * maximum, 255 x its size + 64), since an LZ4 sequence expands at most 255-fold.
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

const lz4 = loadOnFirstUse<typeof import('lz4-napi')>('lz4-napi');

const FRAME_MAGIC = 0x184d2204;
const SKIPPABLE_MAGIC_MASK = 0xfffffff0;
const SKIPPABLE_MAGIC = 0x184d2a50;
const FLG_VERSION_MASK = 0xc0;
const FLG_VERSION_01 = 0x40;
const FLG_BLOCK_INDEPENDENCE = 0x20;
const FLG_BLOCK_CHECKSUM = 0x10;
const FLG_CONTENT_SIZE = 0x08;
const FLG_CONTENT_CHECKSUM = 0x04;
const FLG_RESERVED = 0x02;
const FLG_DICT_ID = 0x01;
const BD_RESERVED = 0x8f;
const BLOCK_UNCOMPRESSED = 0x80000000;

export interface Lz4CompressOptions {
  /** Write the pre-0.10 broken header checksum (for message format v0 only). */
  brokenHeaderChecksum?: boolean;
}

export interface Lz4DecompressOptions extends DecompressOptions {
  /** Also accept the pre-0.10 broken header checksum (message formats v0 and v1). */
  acceptBrokenHeaderChecksum?: boolean;
}

export function lz4Compress(input: Uint8Array, options: Lz4CompressOptions = {}): Buffer {
  const { compressFrameSync } = lz4();
  let frame: Buffer;
  try {
    frame = compressFrameSync(asBuffer(input));
  } catch (error) {
    return compressFailure('lz4', error);
  }
  if (options.brokenHeaderChecksum) {
    const header = readFrameHeader(frame, 0);
    frame[header.checksumAt] = headerChecksum(frame, 0, header.checksumAt);
  }
  return frame;
}

/** Decompresses one LZ4 frame (or several concatenated, skippable frames ignored). */
export function lz4Decompress(input: Uint8Array, options: Lz4DecompressOptions): Buffer {
  const bytes = asBuffer(input);
  const pieces: Buffer[] = [];
  let total = 0;
  let position = 0;
  do {
    if (bytes.length - position >= 8) {
      const magic = bytes.readUInt32LE(position);
      if ((magic & SKIPPABLE_MAGIC_MASK) >>> 0 === SKIPPABLE_MAGIC) {
        const size = bytes.readUInt32LE(position + 4);
        if (size > bytes.length - position - 8)
          throw new ProtocolDecodeError('lz4 skippable frame cut short');
        position += 8 + size;
        continue;
      }
    }
    const frame = decompressFrame(bytes, position, options.maxOutputBytes - total, options);
    for (const piece of frame.pieces) pieces.push(piece); // (a spread could overflow the stack)
    total += frame.bytes;
    position = frame.end;
  } while (position < bytes.length);
  if (pieces.length === 1) return pieces[0]!;
  return Buffer.concat(pieces, total);
}

interface DecodedFrame {
  pieces: Buffer[];
  bytes: number;
  /** Position after the frame. */
  end: number;
}

function decompressFrame(
  bytes: Buffer,
  start: number,
  budgetBytes: number,
  options: Lz4DecompressOptions,
): DecodedFrame {
  const header = readFrameHeader(bytes, start);
  const correct = headerChecksum(bytes, start + 4, header.checksumAt);
  const stored = bytes[header.checksumAt];
  const broken =
    stored !== correct &&
    options.acceptBrokenHeaderChecksum === true &&
    stored === headerChecksum(bytes, start, header.checksumAt);
  if (stored !== correct && !broken) {
    throw new ProtocolDecodeError('lz4 frame header checksum mismatch');
  }
  if (header.contentSize !== null && header.contentSize > budgetBytes) {
    throw tooLarge('lz4', options.maxOutputBytes);
  }
  if ((header.flags & FLG_BLOCK_INDEPENDENCE) === 0) {
    return decompressLinkedFrame(
      bytes,
      start,
      header,
      budgetBytes,
      options,
      broken ? correct : null,
    );
  }
  const blockChecksums = (header.flags & FLG_BLOCK_CHECKSUM) !== 0;
  const pieces: Buffer[] = [];
  let total = 0;
  let position = header.checksumAt + 1;
  for (;;) {
    if (bytes.length - position < 4) throw new ProtocolDecodeError('lz4 frame cut short');
    const word = bytes.readUInt32LE(position);
    position += 4;
    if (word === 0) break; // end mark
    const size = (word & ~BLOCK_UNCOMPRESSED) >>> 0;
    if (size > header.blockMaxBytes || size + (blockChecksums ? 4 : 0) > bytes.length - position) {
      throw new ProtocolDecodeError(`lz4 block of ${size} bytes at ${position - 4} is invalid`);
    }
    const data = bytes.subarray(position, position + size);
    position += size;
    if (blockChecksums) {
      if (xxhash32(data) !== bytes.readUInt32LE(position)) {
        throw new ProtocolDecodeError('lz4 block checksum mismatch');
      }
      position += 4;
    }
    const limit = Math.min(header.blockMaxBytes, budgetBytes - total);
    let piece: Buffer;
    if (word & BLOCK_UNCOMPRESSED) {
      if (size > limit) throw tooLarge('lz4', options.maxOutputBytes);
      piece = data;
    } else {
      piece = decompressBlock(data, limit, header.blockMaxBytes, options.maxOutputBytes);
    }
    pieces.push(piece);
    total += piece.length;
  }
  if (header.flags & FLG_CONTENT_CHECKSUM) {
    if (bytes.length - position < 4)
      throw new ProtocolDecodeError('lz4 content checksum cut short');
    const stored = bytes.readUInt32LE(position);
    position += 4;
    const content = pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces, total);
    if (xxhash32(content) !== stored)
      throw new ProtocolDecodeError('lz4 content checksum mismatch');
    pieces.length = 0;
    pieces.push(content);
  }
  if (header.contentSize !== null && header.contentSize !== total) {
    throw new ProtocolDecodeError(
      `lz4 frame declares ${header.contentSize} bytes of content but holds ${total}`,
    );
  }
  return { pieces, bytes: total, end: position };
}

/** One compressed block, through lz4_flex's block decoder with an output bound. */
function decompressBlock(
  data: Buffer,
  limit: number,
  blockMaxBytes: number,
  maxOutputBytes: number,
): Buffer {
  // lz4-napi takes lz4_flex's "size prepended" form: a little-endian uint32 output capacity
  // (an upper bound, not the exact size), then the block.
  const input = Buffer.allocUnsafe(4 + data.length);
  input.writeUInt32LE(Math.max(0, limit), 0);
  data.copy(input, 4);
  const { uncompressSync } = lz4();
  try {
    return uncompressSync(input);
  } catch (error) {
    if (limit < blockMaxBytes && String(error).includes('too small')) {
      throw tooLarge('lz4', maxOutputBytes);
    }
    return decompressFailure('lz4', error, maxOutputBytes);
  }
}

/** A frame of linked blocks: bounded by its block headers, then the library's frame reader. */
function decompressLinkedFrame(
  bytes: Buffer,
  start: number,
  header: FrameHeader,
  budgetBytes: number,
  options: Lz4DecompressOptions,
  fixedChecksum: number | null,
): DecodedFrame {
  const { bound, end } = walkBlocks(bytes, header);
  if (bound > budgetBytes + header.blockMaxBytes) throw tooLarge('lz4', options.maxOutputBytes);
  let frame = bytes.subarray(start, end);
  if (fixedChecksum !== null) {
    // Never write into the caller's bytes (a request buffer, already checksummed).
    frame = Buffer.from(frame);
    frame[header.checksumAt - start] = fixedChecksum;
  }
  const { decompressFrameSync } = lz4();
  let output: Buffer;
  try {
    output = decompressFrameSync(frame);
  } catch (error) {
    return decompressFailure('lz4', error, options.maxOutputBytes);
  }
  if (output.length > budgetBytes) throw tooLarge('lz4', options.maxOutputBytes);
  return { pieces: [output], bytes: output.length, end };
}

interface FrameHeader {
  flags: number;
  blockMaxBytes: number;
  contentSize: number | null;
  /** Position of the header checksum byte; the first block follows it. */
  checksumAt: number;
}

function readFrameHeader(bytes: Buffer, start: number): FrameHeader {
  if (bytes.length - start < 7) {
    throw new ProtocolDecodeError(`lz4 frame of ${bytes.length - start} bytes is too short`);
  }
  const magic = bytes.readUInt32LE(start);
  if (magic !== FRAME_MAGIC) {
    throw new ProtocolDecodeError(`not an lz4 frame (magic 0x${magic.toString(16)})`);
  }
  const flags = bytes[start + 4]!;
  const descriptor = bytes[start + 5]!;
  if ((flags & FLG_VERSION_MASK) !== FLG_VERSION_01 || flags & FLG_RESERVED) {
    throw new ProtocolDecodeError(`unsupported lz4 frame flags 0x${flags.toString(16)}`);
  }
  if (flags & FLG_DICT_ID) throw new ProtocolDecodeError('lz4 frame needs a dictionary');
  const blockSizeId = (descriptor >> 4) & 0x07;
  if (blockSizeId < 4 || descriptor & BD_RESERVED) {
    throw new ProtocolDecodeError(`invalid lz4 block descriptor 0x${descriptor.toString(16)}`);
  }
  const blockMaxBytes = 1 << (8 + 2 * blockSizeId);
  let position = start + 6;
  let contentSize: number | null = null;
  if (flags & FLG_CONTENT_SIZE) {
    if (bytes.length < position + 8) throw new ProtocolDecodeError('lz4 frame header cut short');
    const size = bytes.readBigUInt64LE(position);
    contentSize = size > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(size);
    position += 8;
  }
  if (bytes.length < position + 1) throw new ProtocolDecodeError('lz4 frame header cut short');
  return { flags, blockMaxBytes, contentSize, checksumAt: position };
}

/** The most bytes a frame's blocks can decompress to, and where the frame ends. */
function walkBlocks(bytes: Buffer, header: FrameHeader): { bound: number; end: number } {
  const checksumBytes = header.flags & FLG_BLOCK_CHECKSUM ? 4 : 0;
  let position = header.checksumAt + 1;
  let bound = 0;
  for (;;) {
    if (bytes.length - position < 4) throw new ProtocolDecodeError('lz4 frame cut short');
    const word = bytes.readUInt32LE(position);
    position += 4;
    if (word === 0) break; // end mark
    const size = (word & ~BLOCK_UNCOMPRESSED) >>> 0;
    if (size > header.blockMaxBytes || size + checksumBytes > bytes.length - position) {
      throw new ProtocolDecodeError(`lz4 block of ${size} bytes at ${position - 4} is invalid`);
    }
    bound += word & BLOCK_UNCOMPRESSED ? size : Math.min(header.blockMaxBytes, size * 255 + 64);
    position += size + checksumBytes;
  }
  if (header.flags & FLG_CONTENT_CHECKSUM) {
    if (bytes.length - position < 4)
      throw new ProtocolDecodeError('lz4 content checksum cut short');
    position += 4;
  }
  return { bound, end: position };
}

/** The frame descriptor checksum: the second byte of xxHash32 of `frame[start..end)`. */
function headerChecksum(frame: Buffer, start: number, end: number): number {
  return (xxhash32(frame.subarray(start, end)) >>> 8) & 0xff;
}

const PRIME1 = 0x9e3779b1;
const PRIME2 = 0x85ebca77;
const PRIME3 = 0xc2b2ae3d;
const PRIME4 = 0x27d4eb2f;
const PRIME5 = 0x165667b1;

function rotl(value: number, bits: number): number {
  return (value << bits) | (value >>> (32 - bits));
}

function round(accumulator: number, lane: number): number {
  return Math.imul(rotl((accumulator + Math.imul(lane, PRIME2)) | 0, 13), PRIME1);
}

/** xxHash32 (seed 0 by default), written from the xxHash specification; for LZ4 checksums. */
export function xxhash32(bytes: Uint8Array, seed = 0): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const length = bytes.length;
  let position = 0;
  let hash: number;
  if (length >= 16) {
    let v1 = (seed + PRIME1 + PRIME2) | 0;
    let v2 = (seed + PRIME2) | 0;
    let v3 = seed | 0;
    let v4 = (seed - PRIME1) | 0;
    for (; position + 16 <= length; position += 16) {
      v1 = round(v1, view.getUint32(position, true));
      v2 = round(v2, view.getUint32(position + 4, true));
      v3 = round(v3, view.getUint32(position + 8, true));
      v4 = round(v4, view.getUint32(position + 12, true));
    }
    hash = (rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18)) | 0;
  } else {
    hash = (seed + PRIME5) | 0;
  }
  hash = (hash + length) | 0;
  for (; position + 4 <= length; position += 4) {
    hash = (hash + Math.imul(view.getUint32(position, true), PRIME3)) | 0;
    hash = Math.imul(rotl(hash, 17), PRIME4);
  }
  for (; position < length; position++) {
    hash = (hash + Math.imul(bytes[position]!, PRIME5)) | 0;
    hash = Math.imul(rotl(hash, 11), PRIME1);
  }
  hash ^= hash >>> 15;
  hash = Math.imul(hash, PRIME2);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, PRIME3);
  hash ^= hash >>> 16;
  return hash >>> 0;
}
