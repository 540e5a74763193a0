import { StorageCorruptionError } from '../errors.ts';
import { IndexEntries } from './index-entries.ts';

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
  private readonly entries: IndexEntries;

  constructor(baseOffset: bigint, options: { maxIndexBytes: number }) {
    this.baseOffset = baseOffset;
    this.entries = new IndexEntries({
      entryBytes: OFFSET_INDEX_ENTRY_BYTES,
      maxIndexBytes: options.maxIndexBytes,
      initialEntries: 64,
    });
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
    if (count > index.entries.maxEntries) {
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
    index.entries.load(bytes);
    return index;
  }

  get entryCount(): number {
    return this.entries.length;
  }

  get isFull(): boolean {
    return this.entries.isFull;
  }

  /** Bytes of memory this index holds. */
  get memoryBytes(): number {
    return this.entries.memoryBytes;
  }

  /** The offset of the last entry, or the base offset when there is none. */
  get lastOffset(): bigint {
    const count = this.entries.length;
    return count === 0 ? this.baseOffset : this.baseOffset + BigInt(this.relativeAt(count - 1));
  }

  private relativeAt(i: number): number {
    return this.entries.bytesView.readInt32BE(this.entries.at(i));
  }

  private positionAt(i: number): number {
    return this.entries.bytesView.readInt32BE(this.entries.at(i) + 4);
  }

  /** Adds an entry; offsets and positions must increase. Ignored when the index is full. */
  append(offset: bigint, position: number): void {
    if (this.entries.isFull) return;
    const relative = Number(offset - this.baseOffset);
    const count = this.entries.length;
    if (
      count > 0 &&
      (relative <= this.relativeAt(count - 1) || position <= this.positionAt(count - 1))
    ) {
      throw new StorageCorruptionError(
        `offset index entry ${offset} → ${position} does not follow the last entry`,
      );
    }
    const at = this.entries.push();
    this.entries.bytesView.writeInt32BE(relative, at);
    this.entries.bytesView.writeInt32BE(position, at + 4);
  }

  /**
   * The entry with the largest offset at or below `offset`: where to start scanning the log for
   * it. The segment's start (base offset, position 0) when no entry qualifies.
   */
  lookup(offset: bigint): { offset: bigint; position: number } {
    const found = this.floor(offset);
    if (found < 0) return { offset: this.baseOffset, position: 0 };
    return {
      offset: this.baseOffset + BigInt(this.relativeAt(found)),
      position: this.positionAt(found),
    };
  }

  /**
   * Where the batch holding `offset` can be, as far as the index tells: at or after `position`
   * (as `lookup`), and at or before `upTo`, the position of the next entry (whose batch ends
   * after `offset`); `upTo` is undefined when no entry follows.
   */
  bounds(offset: bigint): { position: number; upTo: number | undefined } {
    const found = this.floor(offset);
    const next = found + 1;
    return {
      position: found < 0 ? 0 : this.positionAt(found),
      upTo: next < this.entries.length ? this.positionAt(next) : undefined,
    };
  }

  /** The index of the last entry at or below `offset`, -1 when none is. */
  private floor(offset: bigint): number {
    const relative = offset - this.baseOffset;
    // Entries hold int32 relative offsets: compare as numbers once the target is in that range.
    if (relative < 0n) return -1;
    const target = relative > 0x7fffffffn ? 0x7fffffff : Number(relative);
    let low = 0;
    let high = this.entries.length - 1;
    let found = -1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      if (this.relativeAt(middle) <= target) {
        found = middle;
        low = middle + 1;
      } else {
        high = middle - 1;
      }
    }
    return found;
  }

  /** Removes the entries at or after `offset` (the log is being truncated there). */
  truncateTo(offset: bigint): void {
    const relative = offset - this.baseOffset;
    let keep = this.entries.length;
    while (keep > 0 && BigInt(this.relativeAt(keep - 1)) >= relative) keep--;
    this.entries.truncate(keep);
  }

  /** Removes every entry. */
  reset(): void {
    this.entries.reset();
  }

  bytes(): Buffer {
    return this.entries.bytes();
  }

  pendingWrite(): { bytes: Buffer; position: number; rewrite: boolean } | undefined {
    return this.entries.pendingWrite();
  }

  markPersisted(): void {
    this.entries.markPersisted();
  }
}
