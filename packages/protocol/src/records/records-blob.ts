/**
 * The `records` field of Produce and Fetch: concatenated batches (or, from old clients and on
 * old topics, legacy messages). A Fetch response may end in a partial batch, cut at the byte
 * limit the consumer asked for; that tail is reported and skipped, as Kafka's clients do, and
 * never an error. A length that cannot be a batch is an error.
 */
import { ProtocolDecodeError } from '../errors/brook-error.ts';
import {
  type DecodeRecordBatchOptions,
  decodeRecordBatch,
  LOG_OVERHEAD_BYTES,
  RECORD_BATCH_MAGIC,
  type RecordBatch,
  readRecordBatchHeader,
  setBatchBaseOffset,
} from './record-batch.ts';

/** The smallest legacy message after its offset and size (a v0 message with null key and value). */
export const MIN_LEGACY_MESSAGE_BYTES = 14;
const MAGIC_AT = 16;

export interface RecordsBlobEntry {
  /** Byte position of the entry in the blob. */
  position: number;
  /** 2 for a record batch, 0 or 1 for a legacy message (possibly a compressed wrapper). */
  magic: number;
  /** The whole entry, as a view into the blob. */
  bytes: Buffer;
}

export interface RecordsBlobSplit {
  entries: RecordsBlobEntry[];
  /** Bytes of a partial last entry that were skipped (0 when the blob ends on a boundary). */
  truncatedBytes: number;
}

/**
 * Yields the entries of a records blob, as views. Its return value (seen by `next()`, not by
 * `for…of`) is the count of trailing bytes of a partial entry. Throws ProtocolDecodeError for a
 * length below the smallest entry.
 */
export function* iterateRecordsBlob(blob: Buffer): Generator<RecordsBlobEntry, number, undefined> {
  let position = 0;
  while (position < blob.length) {
    const left = blob.length - position;
    if (left < LOG_OVERHEAD_BYTES) return left;
    const length = blob.readInt32BE(position + 8);
    if (length < MIN_LEGACY_MESSAGE_BYTES) {
      throw new ProtocolDecodeError(`records entry at ${position} has invalid length ${length}`);
    }
    const size = LOG_OVERHEAD_BYTES + length;
    if (left < size) return left;
    const magic = blob.readInt8(position + MAGIC_AT);
    if (magic < 0 || magic > RECORD_BATCH_MAGIC) {
      throw new ProtocolDecodeError(`records entry at ${position} has unknown magic ${magic}`);
    }
    yield { position, magic, bytes: blob.subarray(position, position + size) };
    position += size;
  }
  return 0;
}

export function splitRecordsBlob(blob: Buffer): RecordsBlobSplit {
  const entries: RecordsBlobEntry[] = [];
  const iterator = iterateRecordsBlob(blob);
  for (;;) {
    const step = iterator.next();
    if (step.done) return { entries, truncatedBytes: step.value };
    entries.push(step.value);
  }
}

export interface DecodedRecordBatches {
  batches: RecordBatch[];
  truncatedBytes: number;
}

/** Decodes every v2 batch of a blob; a legacy entry is an error (see legacy-message-set.ts). */
export function decodeRecordBatches(
  blob: Buffer,
  options: DecodeRecordBatchOptions = {},
): DecodedRecordBatches {
  const { entries, truncatedBytes } = splitRecordsBlob(blob);
  const batches: RecordBatch[] = new Array(entries.length);
  for (let index = 0; index < entries.length; index++) {
    const entry = entries[index]!;
    if (entry.magic !== RECORD_BATCH_MAGIC) {
      throw new ProtocolDecodeError(`legacy message (magic ${entry.magic}) at ${entry.position}`);
    }
    batches[index] = decodeRecordBatch(entry.bytes, options);
  }
  return { batches, truncatedBytes };
}

/**
 * Gives the v2 batches of a blob consecutive offsets from `firstOffset`, in place, as the leader
 * does on append: each batch's baseOffset is set and the next batch starts after its
 * `lastOffsetDelta`. CRCs stay valid. Returns the offset after the last batch. The whole blob
 * must be batches (a partial tail or a legacy entry is an error); records are not read, so their
 * offsetDeltas are trusted to match lastOffsetDelta.
 */
export function assignOffsets(blob: Buffer, firstOffset: bigint): bigint {
  const { entries, truncatedBytes } = splitRecordsBlob(blob);
  if (truncatedBytes !== 0) {
    throw new ProtocolDecodeError(`records end in a partial batch of ${truncatedBytes} bytes`);
  }
  let next = firstOffset;
  for (const entry of entries) {
    const header = readRecordBatchHeader(blob, entry.position);
    if (header.lastOffsetDelta < 0) {
      throw new ProtocolDecodeError(`record batch lastOffsetDelta ${header.lastOffsetDelta}`);
    }
    setBatchBaseOffset(blob, next, entry.position);
    next += BigInt(header.lastOffsetDelta) + 1n;
  }
  return next;
}
