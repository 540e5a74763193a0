/**
 * The storage shared by the offset and time indexes (Kafka's AbstractIndex): fixed-size
 * entries in a buffer that grows up to a maximum, and which of them are already in the file.
 * After a truncation below what the file holds, the whole file must be rewritten.
 */
export class IndexEntries {
  readonly entryBytes: number;
  readonly maxEntries: number;
  private buffer: Buffer;
  private count = 0;
  /** Entries already written to the file; -1 when the file must be rewritten whole. */
  private persistedCount = 0;

  constructor(options: { entryBytes: number; maxIndexBytes: number; initialEntries: number }) {
    this.entryBytes = options.entryBytes;
    this.maxEntries = Math.max(1, Math.floor(options.maxIndexBytes / options.entryBytes));
    this.buffer = Buffer.alloc(Math.min(options.initialEntries, this.maxEntries) * this.entryBytes);
  }

  /** Takes the bytes of an index file (checked by the caller) as the persisted entries. */
  load(bytes: Buffer): void {
    // A copy of its own: Buffer.from would slice Node's shared 8 KiB pool for a small index and
    // keep the whole slab alive, 7 KiB per idle partition.
    this.buffer = Buffer.alloc(bytes.length);
    bytes.copy(this.buffer);
    this.count = bytes.length / this.entryBytes;
    this.persistedCount = this.count;
  }

  get length(): number {
    return this.count;
  }

  get isFull(): boolean {
    return this.count >= this.maxEntries;
  }

  get memoryBytes(): number {
    return this.buffer.length;
  }

  /** The byte position of entry `i` in the buffer (for reading its fields). */
  at(i: number): number {
    return i * this.entryBytes;
  }

  get bytesView(): Buffer {
    return this.buffer;
  }

  /** Room for one more entry; returns its byte position. The caller writes the fields. */
  push(): number {
    const at = this.count * this.entryBytes;
    if (at + this.entryBytes > this.buffer.length) {
      // Doubling, from at least 64 entries (a loaded empty index has a zero-length buffer).
      const grown = Buffer.alloc(
        Math.min(
          Math.max(this.buffer.length * 2, 64 * this.entryBytes),
          this.maxEntries * this.entryBytes,
        ),
      );
      this.buffer.copy(grown, 0, 0, at);
      this.buffer = grown;
    }
    this.count++;
    return at;
  }

  /** Keeps the first `count` entries. */
  truncate(count: number): void {
    this.count = count;
    if (this.persistedCount > count) this.persistedCount = -1;
  }

  /**
   * Removes every entry and marks the file for a whole rewrite: what it holds is unknown (an
   * index rebuilt from the log, whose file may keep stale entries past the new ones).
   */
  reset(): void {
    this.count = 0;
    this.persistedCount = -1;
  }

  /** The entries as they belong in the file. */
  bytes(): Buffer {
    return this.buffer.subarray(0, this.count * this.entryBytes);
  }

  /**
   * What the file needs: the entries to append at `position`, or, after a truncation, the whole
   * index to write at 0 (with `rewrite` set, so the caller truncates the file first).
   */
  pendingWrite(): { bytes: Buffer; position: number; rewrite: boolean } | undefined {
    if (this.persistedCount === this.count) return undefined;
    if (this.persistedCount < 0) return { bytes: this.bytes(), position: 0, rewrite: true };
    const from = this.persistedCount * this.entryBytes;
    return {
      bytes: this.buffer.subarray(from, this.count * this.entryBytes),
      position: from,
      rewrite: false,
    };
  }

  markPersisted(): void {
    this.persistedCount = this.count;
  }
}
