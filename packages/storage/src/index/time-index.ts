import { StorageCorruptionError } from '../errors.ts';
import { IndexEntries } from './index-entries.ts';

/** Bytes of one entry: timestamp (int64) then relative offset (int32), as Kafka's .timeindex. */
export const TIME_INDEX_ENTRY_BYTES = 12;

/**
 * The time index of one segment (Kafka's `.timeindex`): entries map a timestamp to the offset
 * of the first batch that reached it, so every batch before that offset has smaller timestamps;
 * both columns increase. An entry is added with each offset index entry when the segment's max
 * timestamp grew. Kept in memory; unwritten entries are written when the segment is flushed.
 */
export class TimeIndex {
  readonly baseOffset: bigint;
  private readonly entries: IndexEntries;

  constructor(baseOffset: bigint, options: { maxIndexBytes: number }) {
    this.baseOffset = baseOffset;
    this.entries = new IndexEntries({
      entryBytes: TIME_INDEX_ENTRY_BYTES,
      maxIndexBytes: options.maxIndexBytes,
      initialEntries: 32,
    });
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
    if (count > index.entries.maxEntries) {
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
    index.entries.load(bytes);
    return index;
  }

  get entryCount(): number {
    return this.entries.length;
  }

  /**
   * Full one entry early, as Kafka's time index: the last slot is kept for the segment's final
   * max timestamp (`maybeAppend` with `final`), so it survives a restart. Even when it is the
   * only slot (`segment.index.bytes` under two entries): such an index takes no entry on the way
   * and is full from the start, so each append gets a segment of its own (Kafka rolls on a full
   * time index too). Were that slot handed out, the final entry would find no room, and a clean
   * restart, which trusts the last entry, would lose the max of the batches after it.
   */
  get isFull(): boolean {
    return this.entries.length >= this.entries.maxEntries - 1;
  }

  get memoryBytes(): number {
    return this.entries.memoryBytes;
  }

  /** The largest timestamp indexed, or undefined when the index is empty. */
  get lastTimestamp(): bigint | undefined {
    const count = this.entries.length;
    return count === 0 ? undefined : this.timestampAt(count - 1);
  }

  /** The offset of the last entry, or undefined when the index is empty. */
  get lastOffset(): bigint | undefined {
    const count = this.entries.length;
    return count === 0 ? undefined : this.baseOffset + BigInt(this.relativeAt(count - 1));
  }

  private timestampAt(i: number): bigint {
    return this.entries.bytesView.readBigInt64BE(this.entries.at(i));
  }

  private relativeAt(i: number): number {
    return this.entries.bytesView.readInt32BE(this.entries.at(i) + 8);
  }

  /**
   * Adds an entry when `timestamp` is larger than the last one (otherwise nothing to record).
   * `final` (when the segment stops taking appends) may use the slot kept in reserve.
   */
  maybeAppend(timestamp: bigint, offset: bigint, options: { final?: boolean } = {}): void {
    if (options.final === true ? this.entries.isFull : this.isFull) return;
    const last = this.lastTimestamp;
    if (last !== undefined && timestamp <= last) return;
    const relative = Number(offset - this.baseOffset);
    const count = this.entries.length;
    if (count > 0 && relative < this.relativeAt(count - 1)) return;
    const at = this.entries.push();
    this.entries.bytesView.writeBigInt64BE(timestamp, at);
    this.entries.bytesView.writeInt32BE(relative, at + 8);
  }

  /**
   * Where to start looking for the first record with a timestamp at or after `timestamp`: the
   * offset of the last entry whose timestamp is below it (every batch before that offset has
   * smaller timestamps), or the base offset when there is none.
   */
  lookup(timestamp: bigint): bigint {
    let low = 0;
    let high = this.entries.length - 1;
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
    let keep = this.entries.length;
    while (keep > 0 && BigInt(this.relativeAt(keep - 1)) >= relative) keep--;
    this.entries.truncate(keep);
  }

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
