import { StorageCorruptionError } from '../errors.ts';

/** Bytes of one entry: relative offset (int32) then file position (int32), as Kafka's .index. */
export const OFFSET_INDEX_ENTRY_BYTES = 8;

/**
 * The sparse offset index of one segment (Kafka's `.index`): entries map an offset (relative to
 * the segment's base offset) to the byte position of the batch holding it, one entry every
 * `index.interval.bytes` of log. Kept in memory; the entries not yet on disk are written when
 * the segment is flushed. Entries are strictly increasing in both offset and position.
 */
export class OffsetIndex {
  readonly baseOffset: bigint;
  readonly maxEntries: number;
  private entries: Buffer;
  private count = 0;
  /** Entries already written to the index file. */
  private persistedCount = 0;

  constructor(baseOffset: bigint, options: { maxIndexBytes: number }) {
    this.baseOffset = baseOffset;
    this.maxEntries = Math.max(1, Math.floor(options.maxIndexBytes / OFFSET_INDEX_ENTRY_BYTES));
    this.entries = Buffer.alloc(Math.min(64, this.maxEntries) * OFFSET_INDEX_ENTRY_BYTES);
  }

  /**
   * Loads an index file's bytes, checking that they make sense for a segment of `segmentBytes`
   * whose offsets end before `nextOffset`. Throws StorageCorruptionError when they do not: the
   * caller rebuilds the index from the log instead of trusting it.
   */
  static load(
    bytes: Buffer,
    baseOffset: bigint,
    options: { maxIndexBytes: number; segmentBytes: number; nextOffset: bigint },
  ): OffsetIndex {
    const index = new OffsetIndex(baseOffset, options);
    if (bytes.length % OFFSET_INDEX_ENTRY_BYTES !== 0) {
      throw new StorageCorruptionError(
        `offset index of ${bytes.length} bytes is not whole entries`,
      );
    }
    const count = bytes.length / OFFSET_INDEX_ENTRY_BYTES;
    if (count > index.maxEntries) {
      throw new StorageCorruptionError(`offset index has ${count} entries, more than its maximum`);
    }
    let lastRelative = -1;
    let lastPosition = -1;
    for (let i = 0; i < count; i++) {
      const relative = bytes.readInt32BE(i * OFFSET_INDEX_ENTRY_BYTES);
      const position = bytes.readInt32BE(i * OFFSET_INDEX_ENTRY_BYTES + 4);
      const increasing = relative > lastRelative && position > lastPosition;
      const inSegment =
        position < options.segmentBytes && baseOffset + BigInt(relative) < options.nextOffset;
      if (!increasing || !inSegment || relative < 0) {
        throw new StorageCorruptionError(
          `offset index entry ${i} (${relative} → ${position}) is out of order or outside the segment`,
        );
      }
      lastRelative = relative;
      lastPosition = position;
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

  /** Bytes held in memory by this index. */
  get memoryBytes(): number {
    return this.entries.length;
  }

  /** The offset of the last entry, or the base offset when there is none. */
  get lastOffset(): bigint {
    if (this.count === 0) return this.baseOffset;
    return this.baseOffset + BigInt(this.relativeAt(this.count - 1));
  }

  private relativeAt(i: number): number {
    return this.entries.readInt32BE(i * OFFSET_INDEX_ENTRY_BYTES);
  }

  private positionAt(i: number): number {
    return this.entries.readInt32BE(i * OFFSET_INDEX_ENTRY_BYTES + 4);
  }

  /** Adds an entry; offsets and positions must increase. Ignored when the index is full. */
  append(offset: bigint, position: number): void {
    if (this.isFull) return;
    const relative = Number(offset - this.baseOffset);
    if (
      this.count > 0 &&
      (relative <= this.relativeAt(this.count - 1) || position <= this.positionAt(this.count - 1))
    ) {
      throw new StorageCorruptionError(
        `offset index entry ${offset} → ${position} does not follow the last entry`,
      );
    }
    const at = this.count * OFFSET_INDEX_ENTRY_BYTES;
    if (at + OFFSET_INDEX_ENTRY_BYTES > this.entries.length) {
      // Doubling, from at least 64 entries (a loaded empty index has a zero-length buffer).
      const grown = Buffer.alloc(
        Math.min(
          Math.max(this.entries.length * 2, 64 * OFFSET_INDEX_ENTRY_BYTES),
          this.maxEntries * OFFSET_INDEX_ENTRY_BYTES,
        ),
      );
      this.entries.copy(grown, 0, 0, at);
      this.entries = grown;
    }
    this.entries.writeInt32BE(relative, at);
    this.entries.writeInt32BE(position, at + 4);
    this.count++;
  }

  /**
   * The entry with the largest offset at or below `offset`: where to start scanning the log for
   * it. The segment's start (base offset, position 0) when no entry qualifies.
   */
  lookup(offset: bigint): { offset: bigint; position: number } {
    const relative = offset - this.baseOffset;
    let low = 0;
    let high = this.count - 1;
    let found = -1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      if (BigInt(this.relativeAt(middle)) <= relative) {
        found = middle;
        low = middle + 1;
      } else {
        high = middle - 1;
      }
    }
    if (found < 0) return { offset: this.baseOffset, position: 0 };
    return {
      offset: this.baseOffset + BigInt(this.relativeAt(found)),
      position: this.positionAt(found),
    };
  }

  /** Removes the entries at or after `offset` (the log is being truncated there). */
  truncateTo(offset: bigint): void {
    const relative = offset - this.baseOffset;
    let keep = this.count;
    while (keep > 0 && BigInt(this.relativeAt(keep - 1)) >= relative) keep--;
    this.count = keep;
    if (this.persistedCount > keep) this.persistedCount = -1; // the file must be rewritten
  }

  /** Removes every entry. */
  reset(): void {
    this.count = 0;
    this.persistedCount = -1;
  }

  /** The whole index as it belongs in its file. */
  bytes(): Buffer {
    return this.entries.subarray(0, this.count * OFFSET_INDEX_ENTRY_BYTES);
  }

  /**
   * What the file needs: the entries to append at `position`, or, after a truncation, the whole
   * index to write at 0 (with `rewrite` set, so the caller truncates the file first).
   */
  pendingWrite(): { bytes: Buffer; position: number; rewrite: boolean } | undefined {
    if (this.persistedCount === this.count) return undefined;
    if (this.persistedCount < 0) return { bytes: this.bytes(), position: 0, rewrite: true };
    const from = this.persistedCount * OFFSET_INDEX_ENTRY_BYTES;
    return {
      bytes: this.entries.subarray(from, this.count * OFFSET_INDEX_ENTRY_BYTES),
      position: from,
      rewrite: false,
    };
  }

  markPersisted(): void {
    this.persistedCount = this.count;
  }
}
