/**
 * One batch of records for one partition, from its first record to its acknowledgement: the
 * records and the promise of each, its state, and (once it first goes out) its encoded bytes
 * with the producer id, epoch and base sequence it carries. A retry sends the same bytes; only a
 * sequence reset (a new epoch) encodes it again.
 */
import {
  type CompressionType,
  encodeRecordBatch,
  type KafkaRecordInput,
  RECORD_BATCH_HEADER_BYTES,
} from '@brook/protocol';
import { AbortedError } from '../errors.ts';
import type { RecordMetadata } from './types.ts';

/**
 * - open: the last batch of its partition, taking records;
 * - ready: closed (full, or its partition needed a new one), waiting to go out;
 * - inflight: in a Produce request awaiting its answer;
 * - retry: failed with a retriable error, waiting to go out again;
 * - done: acknowledged or failed for good.
 */
export type BatchState = 'open' | 'ready' | 'inflight' | 'retry' | 'done';

/** Settles the promise `send` returned; see `QueuedRecord`. */
type Resolve = (metadata: RecordMetadata) => void;
type Reject = (error: Error) => void;

let capturedResolve: Resolve | undefined;
let capturedReject: Reject | undefined;
/** One executor for every record's promise (no closure per record). */
function capture(resolve: Resolve, reject: Reject): void {
  capturedResolve = resolve;
  capturedReject = reject;
}

/**
 * The records of one `sendBatch`: one promise for all of them (their metadata in order), which
 * rejects with the first failure, as `Promise.all` would, without a promise per record.
 */
export class RecordGroup {
  readonly results: RecordMetadata[];
  private remaining: number;
  private settled = false;
  readonly promise: Promise<RecordMetadata[]>;
  private readonly resolvePromise: (results: RecordMetadata[]) => void;
  private readonly rejectPromise: Reject;

  constructor(count: number) {
    this.results = new Array(count);
    this.remaining = count;
    const { promise, resolve, reject } = Promise.withResolvers<RecordMetadata[]>();
    this.promise = promise;
    this.resolvePromise = resolve;
    this.rejectPromise = reject;
  }

  done(index: number, metadata: RecordMetadata): void {
    this.results[index] = metadata;
    if (--this.remaining === 0 && !this.settled) {
      this.settled = true;
      this.resolvePromise(this.results);
    }
  }

  fail(error: Error): void {
    if (this.settled) return;
    this.settled = true;
    this.rejectPromise(error);
  }
}

/**
 * One record from `send` to its answer: what goes in the batch (key, value, headers, timestamp
 * delta; the shape `encodeRecordBatch` reads), how it is answered (its own promise, or its place
 * in a `sendBatch` group), and where it waits. A single object per record, as the producer's hot
 * path allocates little else.
 */
export class QueuedRecord {
  readonly topic: string;
  /** The partition asked for; undefined: the partitioner chooses. */
  readonly partition: number | undefined;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: readonly EncodedHeader[] | undefined;
  readonly timestampMs: number;
  /** Set when the record joins a batch: its timestamp minus the batch's first. */
  timestampDelta = 0;
  /** Buffer memory the record holds while it waits. */
  readonly sizeBytes: number;
  /** When `send` took it (its wait for metadata or room is bounded from here). */
  readonly sentMs: number;
  /** The promise `send` returned (undefined in a group). */
  readonly promise: Promise<RecordMetadata> | undefined;
  private readonly resolvePromise: Resolve | undefined;
  private readonly rejectPromise: Reject | undefined;
  private readonly group: RecordGroup | undefined;
  private readonly index: number;
  settled = false;
  /** Set for sends with an AbortSignal: removes the listener when the record settles. */
  cleanup: (() => void) | undefined = undefined;
  /** The batch the record went into. */
  batch: ProducerBatch | undefined = undefined;

  constructor(
    topic: string,
    partition: number | undefined,
    key: Buffer | null,
    value: Buffer | null,
    headers: readonly EncodedHeader[] | undefined,
    timestampMs: number,
    sizeBytes: number,
    sentMs: number,
    group: RecordGroup | undefined,
    index: number,
  ) {
    this.topic = topic;
    this.partition = partition;
    this.key = key;
    this.value = value;
    this.headers = headers;
    this.timestampMs = timestampMs;
    this.sizeBytes = sizeBytes;
    this.sentMs = sentMs;
    this.group = group;
    this.index = index;
    if (group === undefined) {
      this.promise = new Promise<RecordMetadata>(capture);
      this.resolvePromise = capturedResolve;
      this.rejectPromise = capturedReject;
    } else {
      this.promise = undefined;
      this.resolvePromise = undefined;
      this.rejectPromise = undefined;
    }
  }

  /** Settles when the record does (for flush; never rejects). */
  whenSettled(): Promise<unknown> {
    return (this.promise ?? this.group!.promise).catch(() => {});
  }

  resolve(metadata: RecordMetadata): void {
    if (this.settled) return;
    this.settled = true;
    this.cleanup?.();
    if (this.group === undefined) this.resolvePromise!(metadata);
    else this.group.done(this.index, metadata);
  }

  reject(error: Error): void {
    if (this.settled) return;
    this.settled = true;
    this.cleanup?.();
    if (this.group === undefined) this.rejectPromise!(error);
    else this.group.fail(error);
  }
}

/** One header, serialized. */
export interface EncodedHeader {
  readonly key: string;
  readonly value: Buffer | null;
}

/** The bytes a record takes in a batch, at most (length, attributes, deltas, key, value, headers). */
export function estimateRecordBytes(
  key: Buffer | null,
  value: Buffer | null,
  headers: readonly EncodedHeader[] | undefined,
): number {
  let size = 21 + (key === null ? 0 : key.length) + (value === null ? 0 : value.length);
  if (headers !== undefined) {
    for (const header of headers) {
      size += 10 + header.key.length * 3 + (header.value === null ? 0 : header.value.length);
    }
  }
  return size;
}

export class ProducerBatch {
  readonly topic: string;
  readonly partition: number;
  readonly createdMs: number;
  /** When the delivery timeout fails the batch's records. */
  readonly deadlineMs: number;
  /** CreateTime of the first record; the others are deltas from it. */
  readonly baseTimestampMs: number;
  /** The records, in order (each also carries its promise). */
  readonly records: QueuedRecord[] = [];
  /** Buffer memory held by the records (released when the batch is done). */
  memoryBytes = 0;
  /** Estimated encoded size, uncompressed. */
  sizeBytes = RECORD_BATCH_HEADER_BYTES;
  state: BatchState = 'open';
  /** Times the batch was put in a request. */
  attempts = 0;
  encoded: Buffer | undefined;
  producerId = -1n;
  producerEpoch = -1;
  /** -1 until the batch is given its sequences (when it first goes out, if idempotent). */
  baseSequence = -1;
  /** The last failure, for the error a batch that gives up reports. */
  lastError: unknown;
  private waiters: (() => void)[] | undefined;

  constructor(
    topic: string,
    partition: number,
    nowMs: number,
    timestampMs: number,
    deliveryTimeoutMs: number,
  ) {
    this.topic = topic;
    this.partition = partition;
    this.createdMs = nowMs;
    this.deadlineMs = nowMs + deliveryTimeoutMs;
    this.baseTimestampMs = timestampMs;
  }

  get recordCount(): number {
    return this.records.length;
  }

  /** Whether the batch has not been put in a request (its records can still be withdrawn). */
  get unsent(): boolean {
    return this.state === 'open' || (this.state === 'ready' && this.encoded === undefined);
  }

  add(record: QueuedRecord): void {
    record.timestampDelta = record.timestampMs - this.baseTimestampMs;
    record.batch = this;
    this.records.push(record);
    this.sizeBytes += record.sizeBytes;
    this.memoryBytes += record.sizeBytes;
  }

  /** Takes back a record that has not gone out; returns the memory it held (0: it cannot). */
  withdraw(record: QueuedRecord): number {
    if (!this.unsent) return 0;
    const index = this.records.indexOf(record);
    if (index < 0) return 0;
    this.records.splice(index, 1);
    this.sizeBytes -= record.sizeBytes;
    this.memoryBytes -= record.sizeBytes;
    return record.sizeBytes;
  }

  /** Gives the batch its producer id, epoch and sequences; it is encoded again when they change. */
  assignSequence(producerId: bigint, producerEpoch: number, baseSequence: number): void {
    if (
      this.producerId !== producerId ||
      this.producerEpoch !== producerEpoch ||
      this.baseSequence !== baseSequence
    ) {
      this.producerId = producerId;
      this.producerEpoch = producerEpoch;
      this.baseSequence = baseSequence;
      this.encoded = undefined;
    }
  }

  /** The batch's bytes, encoded (and compressed) on first use. */
  encode(compression: CompressionType, compressionLevel: number | undefined): Buffer {
    if (this.encoded === undefined) {
      this.encoded = encodeRecordBatch(
        {
          baseTimestamp: BigInt(this.baseTimestampMs),
          compression,
          producerId: this.producerId,
          producerEpoch: this.producerEpoch,
          baseSequence: this.baseSequence,
          // A QueuedRecord has the fields of a record to encode (headers may be undefined).
          records: this.records as unknown as KafkaRecordInput[],
        },
        compressionLevel === undefined ? {} : { compressionLevel },
      );
    }
    return this.encoded;
  }

  /** Resolves every record's promise: offsets from `baseOffset` (-1: unknown). */
  succeed(baseOffset: bigint, logAppendTimeMs: bigint): void {
    this.state = 'done';
    const topic = this.topic;
    const partition = this.partition;
    const records = this.records;
    const known = baseOffset >= 0n;
    // Offsets below 2^53 (all in practice) are counted as numbers: one bigint per record.
    const base = known && baseOffset < 9007199254740000n ? Number(baseOffset) : -1;
    const appendTime = logAppendTimeMs >= 0n;
    let lastMs = -1;
    let lastTimestamp = -1n;
    for (let i = 0; i < records.length; i++) {
      const record = records[i]!;
      if (record.settled) continue;
      let timestamp = logAppendTimeMs;
      if (!appendTime) {
        // Records of a batch mostly share their millisecond: one bigint for all of them.
        if (record.timestampMs !== lastMs) {
          lastMs = record.timestampMs;
          lastTimestamp = BigInt(lastMs);
        }
        timestamp = lastTimestamp;
      }
      record.resolve({
        topic,
        partition,
        offset: base >= 0 ? BigInt(base + i) : known ? baseOffset + BigInt(i) : -1n,
        timestamp,
      });
    }
    this.finish();
  }

  /** Rejects every record's promise. */
  fail(error: Error): void {
    this.state = 'done';
    for (const record of this.records) record.reject(error);
    this.finish();
  }

  /** Drops a batch left empty (every record withdrawn). */
  discard(): void {
    this.state = 'done';
    this.finish();
  }

  /** Resolves once the batch is done (for flush). */
  whenDone(): Promise<void> {
    if (this.state === 'done') return Promise.resolve();
    const { promise, resolve } = Promise.withResolvers<void>();
    this.waiters ??= [];
    this.waiters.push(resolve);
    return promise;
  }

  private finish(): void {
    const waiters = this.waiters;
    this.waiters = undefined;
    if (waiters !== undefined) for (const waiter of waiters) waiter();
  }
}

/** The error a record gets when its AbortSignal fires after it went out. */
export function abortedInFlight(reason: unknown): AbortedError {
  return new AbortedError('send aborted after the record went out: it may still be written', {
    cause: reason,
  });
}
