/**
 * One partition's records from one Fetch response, read lazily: the records blob stays as it
 * came (the bytes counted against the prefetch bound) and each batch is decoded when the
 * consumer reaches it. Records before the fetch offset (the start of a batch fetched from its
 * middle) are skipped, and so are control batches and, under read_committed, the batches of
 * aborted transactions (the response lists them; a batch of a listed producer at or after the
 * transaction's first offset is aborted until that producer's abort marker), as Kafka's
 * consumers do. Legacy entries (message format v0/v1) are read too.
 */
import {
  ControlRecordType,
  decodeLegacyMessageSet,
  decodeRecordBatch,
  decodeRecordBatchWith,
  RECORD_BATCH_MAGIC,
  type RecordsBlobEntry,
  readControlRecord,
  readRecordBatchHeader,
  splitRecordsBlob,
  TimestampType,
} from '@brook/protocol';
import type { ConsumerRecord } from './types.ts';

/**
 * A record as read, with its key and value as bytes: the consumer hands it out as it is when
 * no deserializer is set, so a record costs one object.
 */
export type RawRecord = ConsumerRecord<Buffer | null, Buffer | null>;

export interface FetchedRecordsInput {
  readonly topic: string;
  readonly partition: number;
  readonly blob: Buffer;
  readonly fetchOffset: bigint;
  readonly readCommitted: boolean;
  readonly abortedTransactions: readonly { producerId: bigint; firstOffset: bigint }[] | null;
  readonly verifyCrc: boolean;
}

const NO_RECORDS: readonly RawRecord[] = [];

/** The offset after an entry: a batch's base offset plus its last delta; a legacy entry's own
 * offset (a compressed wrapper carries its last inner message's). */
function entryEndOffset(blob: Buffer, entry: RecordsBlobEntry): bigint {
  if (entry.magic === RECORD_BATCH_MAGIC) {
    const header = readRecordBatchHeader(blob, entry.position);
    return header.baseOffset + BigInt(header.lastOffsetDelta) + 1n;
  }
  return blob.readBigInt64BE(entry.position) + 1n;
}

export class FetchedRecords {
  /** The size of the records blob: what this holds in memory. */
  readonly bytes: number;
  /** The offset after the last entry read so far (control and skipped batches included). */
  nextOffset: bigint;
  /** The offset after the last whole entry: where the next fetch starts. */
  readonly endOffset: bigint;
  private readonly topic: string;
  private readonly partition: number;
  private readonly blob: Buffer;
  private readonly entries: RecordsBlobEntry[];
  private readonly fetchOffset: bigint;
  private readonly readCommitted: boolean;
  private readonly verifyCrc: boolean;
  /** Aborted transactions not yet reached, by first offset. */
  private readonly aborted: { producerId: bigint; firstOffset: bigint }[];
  private readonly abortedProducers = new Set<bigint>();
  private entryIndex = 0;
  private records: readonly RawRecord[] = NO_RECORDS;
  private recordIndex = 0;

  constructor(input: FetchedRecordsInput) {
    this.topic = input.topic;
    this.partition = input.partition;
    this.blob = input.blob;
    this.bytes = input.blob.length;
    this.entries = splitRecordsBlob(input.blob).entries;
    this.fetchOffset = input.fetchOffset;
    this.nextOffset = input.fetchOffset;
    this.readCommitted = input.readCommitted;
    this.verifyCrc = input.verifyCrc;
    this.endOffset = input.fetchOffset;
    const last = this.entries[this.entries.length - 1];
    if (last !== undefined) {
      const end = entryEndOffset(input.blob, last);
      if (end > this.endOffset) this.endOffset = end;
    }
    this.aborted = [...(input.abortedTransactions ?? [])].sort((a, b) =>
      a.firstOffset < b.firstOffset ? -1 : a.firstOffset > b.firstOffset ? 1 : 0,
    );
  }

  /** Whether the response held whole entries at all (false: one too large for the fetch). */
  get hasEntries(): boolean {
    return this.entries.length > 0;
  }

  /** The next record, decoding the next batch when needed; undefined at the end. */
  peek(): RawRecord | undefined {
    while (this.recordIndex >= this.records.length) {
      const entry = this.entries[this.entryIndex];
      if (entry === undefined) return undefined;
      this.entryIndex++;
      this.records = NO_RECORDS;
      this.recordIndex = 0;
      this.records =
        entry.magic === RECORD_BATCH_MAGIC ? this.readBatch(entry) : this.readLegacy(entry);
    }
    return this.records[this.recordIndex];
  }

  /** Moves past the record `peek` returned. */
  advance(): void {
    this.recordIndex++;
  }

  private readBatch(entry: RecordsBlobEntry): readonly RawRecord[] {
    const header = readRecordBatchHeader(this.blob, entry.position);
    const lastOffset = header.baseOffset + BigInt(header.lastOffsetDelta);
    if (lastOffset + 1n > this.nextOffset) this.nextOffset = lastOffset + 1n;
    if (lastOffset < this.fetchOffset) return NO_RECORDS;
    if (this.readCommitted && header.isTransactional) {
      while (this.aborted.length > 0 && this.aborted[0]!.firstOffset <= lastOffset) {
        this.abortedProducers.add(this.aborted.shift()!.producerId);
      }
    }
    if (header.isControlBatch) {
      if (this.readCommitted && this.abortedProducers.has(header.producerId)) {
        const batch = decodeRecordBatch(entry.bytes, { verifyCrc: this.verifyCrc });
        if (
          batch.records.length > 0 &&
          readControlRecord(batch).key.type === ControlRecordType.abort
        ) {
          this.abortedProducers.delete(header.producerId);
        }
      }
      return NO_RECORDS;
    }
    if (
      this.readCommitted &&
      header.isTransactional &&
      this.abortedProducers.has(header.producerId)
    ) {
      return NO_RECORDS;
    }
    const { topic, partition, fetchOffset } = this;
    const { baseOffset, baseTimestamp, maxTimestamp, timestampType, partitionLeaderEpoch } = header;
    const logAppendTime = timestampType === TimestampType.logAppendTime;
    // The consumer's records built straight from the bytes (no intermediate record objects).
    return decodeRecordBatchWith(
      entry.bytes,
      { verifyCrc: this.verifyCrc },
      (_attributes, timestampDelta, offsetDelta, key, value, headers): RawRecord | undefined => {
        const offset = baseOffset + BigInt(offsetDelta);
        if (offset < fetchOffset) return undefined;
        return {
          topic,
          partition,
          offset,
          // Records of a batch often share its first timestamp: no new bigint for those.
          timestamp: logAppendTime
            ? maxTimestamp
            : timestampDelta === 0
              ? baseTimestamp
              : baseTimestamp + BigInt(timestampDelta),
          timestampType,
          key,
          value,
          headers,
          leaderEpoch: partitionLeaderEpoch,
        };
      },
    ).records;
  }

  private readLegacy(entry: RecordsBlobEntry): readonly RawRecord[] {
    const { messages } = decodeLegacyMessageSet(entry.bytes, { verifyCrc: this.verifyCrc });
    const records: RawRecord[] = [];
    for (const message of messages) {
      if (message.offset + 1n > this.nextOffset) this.nextOffset = message.offset + 1n;
      if (message.offset < this.fetchOffset) continue;
      records.push({
        topic: this.topic,
        partition: this.partition,
        offset: message.offset,
        timestamp: message.timestamp,
        timestampType: message.timestampType,
        key: message.key,
        value: message.value,
        headers: [],
        leaderEpoch: -1,
      });
    }
    return records;
  }
}
