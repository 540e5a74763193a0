/** The producer's public value types: the records it takes and what it answers for each. */

/** A header value: bytes, UTF-8 text, or null. */
export type HeaderValue = Buffer | Uint8Array | string | null;

/**
 * Record headers: a plain object (one value per key), or a list of pairs when a key repeats or
 * the order matters (Kafka keeps both).
 */
export type RecordHeadersInput =
  | Readonly<Record<string, HeaderValue>>
  | readonly { readonly key: string; readonly value: HeaderValue }[];

/** What `send` takes. `K` and `V` are whatever the key and value serializers take. */
export interface ProducerRecord<K, V> {
  readonly topic: string;
  /** Absent or undefined: no key (null). */
  readonly key?: K;
  readonly value: V;
  readonly headers?: RecordHeadersInput;
  /** A partition of the topic; absent: the partitioner chooses. */
  readonly partition?: number;
  /** CreateTime in ms since the epoch (Date, number or bigint); absent: now. */
  readonly timestamp?: number | bigint | Date;
}

/** Where a record was written. */
export interface RecordMetadata {
  readonly topic: string;
  readonly partition: number;
  /** The record's offset; -1 with `acks: 0` (the broker answers nothing). */
  readonly offset: bigint;
  /** The record's timestamp as stored: its CreateTime, or the broker's LogAppendTime. */
  readonly timestamp: bigint;
}

export interface SendOptions {
  /**
   * Withdraws the record while it has not gone out yet (the promise rejects with AbortedError
   * and the record is never written). Once it is in a request, the promise still rejects at
   * once, but the record may be written.
   */
  readonly signal?: AbortSignal;
}
