import { ProtocolDecodeError } from '../errors/brook-error.ts';
import { readUuid } from './uuid.ts';

/**
 * A cursor over a Buffer. Every read checks its bounds first and throws ProtocolDecodeError
 * when the bytes run out, so a decoder fed garbage fails cleanly instead of reading past the
 * frame or allocating what a hostile length asks for.
 *
 * Byte strings come back as `subarray` views (no copy) when `zeroCopy` is asked for; they then
 * keep the whole underlying buffer alive, which is what Kafka's `zeroCopy` fields want.
 */
export class Reader {
  readonly buffer: Buffer;
  offset: number;
  readonly end: number;

  constructor(buffer: Buffer, offset = 0, end = buffer.length) {
    if (offset < 0 || end > buffer.length || offset > end) {
      throw new ProtocolDecodeError(
        `reader window ${offset}..${end} outside ${buffer.length} bytes`,
      );
    }
    this.buffer = buffer;
    this.offset = offset;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.offset;
  }

  /** Throws unless `count` more bytes are available. */
  need(count: number): void {
    if (!(count <= this.end - this.offset && count >= 0)) {
      throw new ProtocolDecodeError(
        `need ${count} bytes at offset ${this.offset}, only ${this.end - this.offset} left`,
      );
    }
  }

  skip(count: number): void {
    this.need(count);
    this.offset += count;
  }

  readInt8(): number {
    this.need(1);
    return (this.buffer[this.offset++]! << 24) >> 24;
  }

  readUInt8(): number {
    this.need(1);
    return this.buffer[this.offset++]!;
  }

  readBool(): boolean {
    return this.readInt8() !== 0;
  }

  // Integers are assembled from bytes after need(): Buffer's own read methods would check the
  // bounds a second time, which shows in profiles of large responses.

  readInt16(): number {
    this.need(2);
    const b = this.buffer;
    const o = this.offset;
    this.offset = o + 2;
    return ((b[o]! << 24) | (b[o + 1]! << 16)) >> 16;
  }

  readUInt16(): number {
    this.need(2);
    const b = this.buffer;
    const o = this.offset;
    this.offset = o + 2;
    return (b[o]! << 8) | b[o + 1]!;
  }

  readInt32(): number {
    this.need(4);
    const b = this.buffer;
    const o = this.offset;
    this.offset = o + 4;
    return (b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!;
  }

  readUInt32(): number {
    this.need(4);
    const b = this.buffer;
    const o = this.offset;
    this.offset = o + 4;
    return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
  }

  readInt64(): bigint {
    this.need(8);
    const value = this.buffer.readBigInt64BE(this.offset);
    this.offset += 8;
    return value;
  }

  readFloat64(): number {
    this.need(8);
    const value = this.buffer.readDoubleBE(this.offset);
    this.offset += 8;
    return value;
  }

  readUuid(): string {
    this.need(16);
    const value = readUuid(this.buffer, this.offset);
    this.offset += 16;
    return value;
  }

  /** Unsigned LEB128 of at most 5 bytes (a uint32), as Kafka's ByteUtils.readUnsignedVarint. */
  readUVarint(): number {
    // Most varints (lengths, deltas, counts) take one or two bytes: a small function V8 inlines.
    const offset = this.offset;
    if (offset < this.end) {
      const first = this.buffer[offset]!;
      if (first < 0x80) {
        this.offset = offset + 1;
        return first;
      }
      if (offset + 1 < this.end) {
        const second = this.buffer[offset + 1]!;
        if (second < 0x80) {
          this.offset = offset + 2;
          return (first & 0x7f) | (second << 7);
        }
      }
    }
    return this.readUVarintLong();
  }

  private readUVarintLong(): number {
    const buffer = this.buffer;
    let offset = this.offset;
    let value = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      if (offset >= this.end) {
        throw new ProtocolDecodeError(`varint runs past the end at offset ${this.offset}`);
      }
      const byte = buffer[offset++]!;
      if (shift === 28 && byte > 0x0f) {
        throw new ProtocolDecodeError(`varint is longer than 32 bits at offset ${this.offset}`);
      }
      value += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) {
        this.offset = offset;
        return value;
      }
    }
    throw new ProtocolDecodeError(`varint is longer than 5 bytes at offset ${this.offset}`);
  }

  /** Zigzag-encoded signed varint (an int32). */
  readVarint(): number {
    const raw = this.readUVarint();
    return (raw >>> 1) ^ -(raw & 1);
  }

  /** Unsigned LEB128 of at most 10 bytes (a uint64). */
  readUVarlong(): bigint {
    const buffer = this.buffer;
    let offset = this.offset;
    // Fast path: most varlongs in practice fit in 4 bytes (28 bits).
    let small = 0;
    for (let shift = 0; shift < 28; shift += 7) {
      if (offset >= this.end) {
        throw new ProtocolDecodeError(`varlong runs past the end at offset ${this.offset}`);
      }
      const byte = buffer[offset++]!;
      small |= (byte & 0x7f) << shift;
      if (byte < 0x80) {
        this.offset = offset;
        return BigInt(small);
      }
    }
    let value = BigInt(small);
    for (let shift = 28n; shift < 70n; shift += 7n) {
      if (offset >= this.end) {
        throw new ProtocolDecodeError(`varlong runs past the end at offset ${this.offset}`);
      }
      const byte = buffer[offset++]!;
      if (shift === 63n && byte > 0x01) {
        throw new ProtocolDecodeError(`varlong is longer than 64 bits at offset ${this.offset}`);
      }
      value |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) {
        this.offset = offset;
        return value;
      }
    }
    throw new ProtocolDecodeError(`varlong is longer than 10 bytes at offset ${this.offset}`);
  }

  /** Zigzag-encoded signed varlong (an int64). */
  readVarlong(): bigint {
    const raw = this.readUVarlong();
    return (raw >> 1n) ^ -(raw & 1n);
  }

  /**
   * Zigzag varlong returned as a number; for deltas (timestamps, offsets) that fit in 53 bits.
   * Throws when the value would lose precision, rather than silently rounding.
   */
  readVarlongNumber(): number {
    const offset = this.offset;
    if (offset < this.end) {
      const byte = this.buffer[offset]!;
      if (byte < 0x80) {
        this.offset = offset + 1;
        return byte & 1 ? -(byte + 1) / 2 : byte / 2;
      }
    }
    return this.readVarlongNumberLong();
  }

  private readVarlongNumberLong(): number {
    const buffer = this.buffer;
    let offset = this.offset;
    let raw = 0;
    for (let shift = 0; shift < 49; shift += 7) {
      if (offset >= this.end) {
        throw new ProtocolDecodeError(`varlong runs past the end at offset ${this.offset}`);
      }
      const byte = buffer[offset++]!;
      raw += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) {
        this.offset = offset;
        // zigzag without 32-bit operators, which would truncate
        return raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
      }
    }
    const value = this.readVarlong();
    if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw new ProtocolDecodeError(`varlong ${value} does not fit in a number`);
    }
    return Number(value);
  }

  /** `length` bytes as a view into the underlying buffer (no copy). */
  readSlice(length: number): Buffer {
    this.need(length);
    const start = this.offset;
    this.offset += length;
    return this.buffer.subarray(start, this.offset);
  }

  /** `length` bytes copied out, so the result does not pin the request buffer. */
  readCopy(length: number): Buffer {
    this.need(length);
    const start = this.offset;
    this.offset += length;
    return Buffer.from(this.buffer.subarray(start, this.offset));
  }

  readUtf8(length: number): string {
    this.need(length);
    const start = this.offset;
    this.offset += length;
    return this.buffer.toString('utf8', start, this.offset);
  }

  // ---- Kafka's length-prefixed types -------------------------------------------------------

  /** Length of a classic STRING (int16, -1 = null). */
  readStringLength(nullable: boolean): number {
    const length = this.readInt16();
    if (length < -1 || (length === -1 && !nullable)) {
      throw new ProtocolDecodeError(`invalid string length ${length} at offset ${this.offset - 2}`);
    }
    return length;
  }

  /** Length of a COMPACT_STRING / COMPACT_BYTES / COMPACT_ARRAY (uvarint N+1, 0 = null). */
  readCompactLength(nullable: boolean): number {
    const length = this.readUVarint() - 1;
    if (length === -1 && !nullable) {
      throw new ProtocolDecodeError(`null where none is allowed at offset ${this.offset}`);
    }
    return length;
  }

  /** Length of classic BYTES / ARRAY (int32, -1 = null). */
  readInt32Length(nullable: boolean): number {
    const length = this.readInt32();
    if (length < -1 || (length === -1 && !nullable)) {
      throw new ProtocolDecodeError(`invalid length ${length} at offset ${this.offset - 4}`);
    }
    return length;
  }

  readString(): string {
    return this.readUtf8(this.readStringLength(false));
  }

  readNullableString(): string | null {
    const length = this.readStringLength(true);
    return length === -1 ? null : this.readUtf8(length);
  }

  readCompactString(): string {
    return this.readUtf8(this.readCompactLength(false));
  }

  readCompactNullableString(): string | null {
    const length = this.readCompactLength(true);
    return length === -1 ? null : this.readUtf8(length);
  }

  /** Array element count, bounded by the bytes left (each element takes at least one byte). */
  readArrayLength(compact: boolean, nullable: boolean): number {
    const length = compact ? this.readCompactLength(nullable) : this.readInt32Length(nullable);
    if (length > this.end - this.offset) {
      throw new ProtocolDecodeError(
        `array of ${length} elements cannot fit in the ${this.end - this.offset} bytes left`,
      );
    }
    return length;
  }
}
