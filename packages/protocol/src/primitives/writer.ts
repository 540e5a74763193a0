import { ProtocolEncodeError } from '../errors/brook-error.ts';
import { writeUuid } from './uuid.ts';

/** Byte strings at least this long are linked into the output by reference instead of copied. */
const LINK_THRESHOLD_BYTES = 4096;

/**
 * A growing byte writer. Small values are written into a scratch buffer that doubles as it
 * fills; large byte strings (record batches, zero-copy fields) are kept by reference as chunks
 * of their own, so encoding a 1 MiB Produce or Fetch never copies the records. `toChunks()`
 * hands the pieces to a socket's writev; `toBuffer()` joins them when one Buffer is needed.
 *
 * Positions (`length`, `reserve`, `patch*`) count bytes from the start of the output, across
 * chunks.
 */
export class Writer {
  private buffer: Buffer;
  private position = 0;
  /** Finished chunks, in order, before `buffer`. */
  private readonly chunks: Buffer[] = [];
  private chunkBytes = 0;

  constructor(initialCapacity = 256) {
    this.buffer = Buffer.allocUnsafe(initialCapacity);
  }

  /** Total bytes written so far. */
  get length(): number {
    return this.chunkBytes + this.position;
  }

  private ensure(count: number): void {
    if (this.position + count <= this.buffer.length) return;
    let capacity = this.buffer.length * 2;
    while (capacity < this.position + count) capacity *= 2;
    const grown = Buffer.allocUnsafe(capacity);
    this.buffer.copy(grown, 0, 0, this.position);
    this.buffer = grown;
  }

  writeInt8(value: number): this {
    this.ensure(1);
    this.buffer.writeInt8(value, this.position);
    this.position += 1;
    return this;
  }

  writeUInt8(value: number): this {
    this.ensure(1);
    this.buffer[this.position++] = value;
    return this;
  }

  writeBool(value: boolean): this {
    return this.writeUInt8(value ? 1 : 0);
  }

  writeInt16(value: number): this {
    this.ensure(2);
    this.buffer.writeInt16BE(value, this.position);
    this.position += 2;
    return this;
  }

  writeUInt16(value: number): this {
    this.ensure(2);
    this.buffer.writeUInt16BE(value, this.position);
    this.position += 2;
    return this;
  }

  writeInt32(value: number): this {
    this.ensure(4);
    this.buffer.writeInt32BE(value, this.position);
    this.position += 4;
    return this;
  }

  writeUInt32(value: number): this {
    this.ensure(4);
    this.buffer.writeUInt32BE(value, this.position);
    this.position += 4;
    return this;
  }

  writeInt64(value: bigint): this {
    this.ensure(8);
    this.buffer.writeBigInt64BE(value, this.position);
    this.position += 8;
    return this;
  }

  writeFloat64(value: number): this {
    this.ensure(8);
    this.buffer.writeDoubleBE(value, this.position);
    this.position += 8;
    return this;
  }

  writeUuid(value: string): this {
    this.ensure(16);
    try {
      writeUuid(this.buffer, this.position, value);
    } catch (error) {
      throw new ProtocolEncodeError(`cannot encode UUID ${JSON.stringify(value)}`, {
        cause: error,
      });
    }
    this.position += 16;
    return this;
  }

  /** Unsigned LEB128 of a uint32. */
  writeUVarint(value: number): this {
    this.ensure(5);
    const buffer = this.buffer;
    let position = this.position;
    let rest = value >>> 0;
    while (rest >= 0x80) {
      buffer[position++] = (rest & 0x7f) | 0x80;
      rest >>>= 7;
    }
    buffer[position++] = rest;
    this.position = position;
    return this;
  }

  /** Zigzag signed varint of an int32. */
  writeVarint(value: number): this {
    return this.writeUVarint((value << 1) ^ (value >> 31));
  }

  /** Zigzag signed varlong of an int64. */
  writeVarlong(value: bigint): this {
    let rest = BigInt.asUintN(64, (value << 1n) ^ (value >> 63n));
    if (rest < 0x80000000n) return this.writeUVarint(Number(rest));
    this.ensure(10);
    while (rest >= 0x80n) {
      this.buffer[this.position++] = Number(rest & 0x7fn) | 0x80;
      rest >>= 7n;
    }
    this.buffer[this.position++] = Number(rest);
    return this;
  }

  /** Zigzag signed varlong of a safe integer (timestamp and offset deltas). */
  writeVarlongNumber(value: number): this {
    if (value >= -0x40000000 && value < 0x40000000) return this.writeVarint(value);
    return this.writeVarlong(BigInt(value));
  }

  /** Appends bytes: copied when small, linked by reference when large. */
  writeBytes(bytes: Uint8Array): this {
    if (bytes.length >= LINK_THRESHOLD_BYTES) {
      this.cutChunk();
      const chunk = Buffer.isBuffer(bytes)
        ? bytes
        : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
      this.chunks.push(chunk);
      this.chunkBytes += chunk.length;
      return this;
    }
    this.ensure(bytes.length);
    this.buffer.set(bytes, this.position);
    this.position += bytes.length;
    return this;
  }

  writeUtf8(value: string, byteLength: number): this {
    this.ensure(byteLength);
    this.buffer.write(value, this.position, byteLength, 'utf8');
    this.position += byteLength;
    return this;
  }

  // ---- Kafka's length-prefixed types -------------------------------------------------------

  writeString(value: string): this {
    const length = Buffer.byteLength(value, 'utf8');
    if (length > 0x7fff) throw new ProtocolEncodeError(`string of ${length} bytes is too long`);
    return this.writeInt16(length).writeUtf8(value, length);
  }

  writeNullableString(value: string | null): this {
    return value === null ? this.writeInt16(-1) : this.writeString(value);
  }

  writeCompactString(value: string): this {
    const length = Buffer.byteLength(value, 'utf8');
    if (length > 0x7fff) throw new ProtocolEncodeError(`string of ${length} bytes is too long`);
    return this.writeUVarint(length + 1).writeUtf8(value, length);
  }

  writeCompactNullableString(value: string | null): this {
    return value === null ? this.writeUVarint(0) : this.writeCompactString(value);
  }

  writeBytesWithInt32Length(value: Uint8Array | null): this {
    if (value === null) return this.writeInt32(-1);
    return this.writeInt32(value.length).writeBytes(value);
  }

  writeCompactBytes(value: Uint8Array | null): this {
    if (value === null) return this.writeUVarint(0);
    return this.writeUVarint(value.length + 1).writeBytes(value);
  }

  writeArrayLength(length: number | null, compact: boolean): this {
    if (compact) return this.writeUVarint(length === null ? 0 : length + 1);
    return this.writeInt32(length === null ? -1 : length);
  }

  // ---- positions ---------------------------------------------------------------------------

  /** Reserves `count` bytes (e.g. a length prefix) and returns their position for a patch. */
  reserve(count: number): number {
    this.ensure(count);
    const at = this.length;
    this.position += count;
    return at;
  }

  patchInt32(at: number, value: number): void {
    const [chunk, offset] = this.locate(at, 4);
    chunk.writeInt32BE(value, offset);
  }

  patchUInt32(at: number, value: number): void {
    const [chunk, offset] = this.locate(at, 4);
    chunk.writeUInt32BE(value, offset);
  }

  private locate(at: number, count: number): [Buffer, number] {
    let start = 0;
    for (const chunk of this.chunks) {
      if (at < start + chunk.length) {
        if (at + count > start + chunk.length) break;
        return [chunk, at - start];
      }
      start += chunk.length;
    }
    if (at >= start && at + count <= start + this.position) return [this.buffer, at - start];
    throw new RangeError(`cannot patch ${count} bytes at ${at}`);
  }

  /** Moves the scratch bytes into the chunk list, so a linked chunk can follow them. */
  private cutChunk(): void {
    if (this.position === 0) return;
    const piece = this.buffer.subarray(0, this.position);
    this.chunks.push(piece);
    this.chunkBytes += piece.length;
    // The piece keeps the old scratch memory; continue in a fresh one.
    this.buffer = Buffer.allocUnsafe(Math.max(256, this.buffer.length - this.position));
    this.position = 0;
  }

  /** The output as a list of buffers, for writev. Linked chunks are the caller's own bytes. */
  toChunks(): Buffer[] {
    const tail = this.buffer.subarray(0, this.position);
    if (this.chunks.length === 0) return [tail];
    return tail.length === 0 ? [...this.chunks] : [...this.chunks, tail];
  }

  /** The output as one buffer (joins the chunks when there are several). */
  toBuffer(): Buffer {
    if (this.chunks.length === 0) return this.buffer.subarray(0, this.position);
    return Buffer.concat(this.toChunks(), this.length);
  }
}
