import { StorageCorruptionError } from '../errors.ts';

/** Bytes of one entry: timestamp (int64) then relative offset (int32), as Kafka's .timeindex. */
export const TIME_INDEX_ENTRY_BYTES = 12;

/**
 * The time index of one segment (Kafka's `.timeindex`): entries map a timestamp to the offset
 * of the first batch from which every later batch has a max timestamp at least that large; both
 * columns strictly increase. An entry is added with each offset index entry when the segment's
 * max timestamp grew. Kept in memory; unwritten entries are written when the segment is flushed.
 */
export class TimeIndex {
  readonly baseOffset: bigint;
  readonly maxEntries: number;
  private entries: Buffer;
  private count = 0;
  private persistedCount = 0;

  constructor(baseOffset: bigint, options: { maxIndexBytes: number }) {
    this.baseOffset = baseOffset;
    this.maxEntries = Math.max(1, Math.floor(options.maxIndexBytes / TIME_INDEX_ENTRY_BYTES));
    this.entries = Buffer.alloc(Math.min(32, this.maxEntries) * TIME_INDEX_ENTRY_BYTES);
  }

  /** Loads a time index file's bytes; throws StorageCorruptionError when they make no sense. */
  static load(
    bytes: Buffer,
    baseOffset: bigint,
    options: { maxIndexBytes: number; nextOffset: bigint },
  ): TimeIndex {
    const index = new TimeIndex(baseOffset, options);
    if (bytes.length % TIME_INDEX_ENTRY_BYTES !== 0) {
      throw new StorageCorruptionError(`time index of ${bytes.length} bytes is not whole entries`);
    }
    const count = bytes.length / TIME_INDEX_ENTRY_BYTES;
    if (count > index.maxEntries) {
      throw new StorageCorruptionError(`time index has ${count} entries, more than its maximum`);
    }
    let lastTimestamp = -(2n ** 63n);
    let lastRelative = -1;
    for (let i = 0; i < count; i++) {
      const timestamp = bytes.readBigInt64BE(i * TIME_INDEX_ENTRY_BYTES);
      const relative = bytes.readInt32BE(i * TIME_INDEX_ENTRY_BYTES + 8);
      if (
        timestamp <= lastTimestamp ||
        relative < lastRelative ||
        relative < 0 ||
        baseOffset + BigInt(relative) >= options.nextOffset
      ) {
        throw new StorageCorruptionError(
          `time index entry ${i} is out of order or outside the segment`,
        );
      }
      lastTimestamp = timestamp;
      lastRelative = relative;
    }
    index.entries = Buffer.from(bytes);
    index.count = count;
    index.persistedCount = count;
    return index;
  }

  get entryCount(): number {
    return this.count;
  }

  get isFull(): boolean {
    return this.count >= this.maxEntries;
  }

  get memoryBytes(): number {
    return this.entries.length;
  }

  /** The largest timestamp indexed, or undefined when the index is empty. */
  get lastTimestamp(): bigint | undefined {
    if (this.count === 0) return undefined;
    return this.entries.readBigInt64BE((this.count - 1) * TIME_INDEX_ENTRY_BYTES);
  }

  private timestampAt(i: number): bigint {
    return this.entries.readBigInt64BE(i * TIME_INDEX_ENTRY_BYTES);
  }

  private relativeAt(i: number): number {
    return this.entries.readInt32BE(i * TIME_INDEX_ENTRY_BYTES + 8);
  }

  /** Adds an entry when `timestamp` is larger than the last one (otherwise nothing to record). */
  maybeAppend(timestamp: bigint, offset: bigint): void {
    if (this.isFull) return;
    const last = this.lastTimestamp;
    if (last !== undefined && timestamp <= last) return;
    const relative = Number(offset - this.baseOffset);
    if (this.count > 0 && relative < this.relativeAt(this.count - 1)) return;
    const at = this.count * TIME_INDEX_ENTRY_BYTES;
    if (at + TIME_INDEX_ENTRY_BYTES > this.entries.length) {
      // Doubling, from at least 64 entries (a loaded empty index has a zero-length buffer).
      const grown = Buffer.alloc(
        Math.min(
          Math.max(this.entries.length * 2, 64 * TIME_INDEX_ENTRY_BYTES),
          this.maxEntries * TIME_INDEX_ENTRY_BYTES,
        ),
      );
      this.entries.copy(grown, 0, 0, at);
      this.entries = grown;
    }
    this.entries.writeBigInt64BE(timestamp, at);
    this.entries.writeInt32BE(relative, at + 8);
    this.count++;
  }

  /**
   * Where to start looking for the first record with a timestamp at or after `timestamp`: the
   * offset of the last entry whose timestamp is below it (every batch before that offset has
   * smaller timestamps), or the base offset when there is none.
   */
  lookup(timestamp: bigint): bigint {
    let low = 0;
    let high = this.count - 1;
    let found = -1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      if (this.timestampAt(middle) < timestamp) {
        found = middle;
        low = middle + 1;
      } else {
        high = middle - 1;
      }
    }
    if (found < 0) return this.baseOffset;
    return this.baseOffset + BigInt(this.relativeAt(found));
  }

  /** Removes the entries whose offset is at or after `offset`. */
  truncateTo(offset: bigint): void {
    const relative = offset - this.baseOffset;
    let keep = this.count;
    while (keep > 0 && BigInt(this.relativeAt(keep - 1)) >= relative) keep--;
    this.count = keep;
    if (this.persistedCount > keep) this.persistedCount = -1;
  }

  reset(): void {
    this.count = 0;
    this.persistedCount = -1;
  }

  bytes(): Buffer {
    return this.entries.subarray(0, this.count * TIME_INDEX_ENTRY_BYTES);
  }

  pendingWrite(): { bytes: Buffer; position: number; rewrite: boolean } | undefined {
    if (this.persistedCount === this.count) return undefined;
    if (this.persistedCount < 0) return { bytes: this.bytes(), position: 0, rewrite: true };
    const from = this.persistedCount * TIME_INDEX_ENTRY_BYTES;
    return {
      bytes: this.entries.subarray(from, this.count * TIME_INDEX_ENTRY_BYTES),
      position: from,
      rewrite: false,
    };
  }

  markPersisted(): void {
    this.persistedCount = this.count;
  }
}
