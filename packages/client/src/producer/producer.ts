/**
 * The producer: `send` serializes a record, picks its partition, and adds it to that
 * partition's open batch; the sender (sender.ts) takes batches to the brokers and settles each
 * record's promise with its partition and offset.
 *
 * `send` takes records in call order. A record that cannot be added at once (its topic's
 * metadata is not known yet, or the buffer is full) waits in a queue, and every record sent
 * after it waits behind it, so records keep their order. The queue waits up to `maxBlockMs`.
 *
 *   const producer = new Producer({ bootstrapServers: ['127.0.0.1:9092'] });
 *   const { partition, offset } = await producer.send({ topic: 'orders', key: 'k', value: 'v' });
 *   await producer.close();
 */
import { ErrorCode } from '@brook/protocol';
import { AbortedError, KafkaProtocolError } from '../errors.ts';
import { type ClientLogger, silentLogger } from '../logger.ts';
import { Cluster, type TopicInfo } from '../network/cluster.ts';
import { sleep } from '../retry.ts';
import { BufferMemory, RecordAccumulator } from './accumulator.ts';
import { ProducerIdentity } from './idempotence.ts';
import {
  allPartitions,
  keyedPartition,
  RoundRobinPartitions,
  StickyPartitions,
} from './partitioners.ts';
import {
  abortedInFlight,
  type EncodedHeader,
  estimateRecordBytes,
  type ProducerBatch,
  QueuedRecord,
  RecordGroup,
} from './producer-batch.ts';
import {
  InvalidRecordError,
  ProducerBlockedError,
  RecordTooLargeError,
  SerializationError,
} from './producer-errors.ts';
import {
  type ProducerOptions,
  type RecordBytes,
  type ResolvedProducerOptions,
  resolveProducerOptions,
} from './producer-options.ts';
import { Sender } from './sender.ts';
import type {
  HeaderValue,
  ProducerRecord,
  RecordHeadersInput,
  RecordMetadata,
  SendOptions,
} from './types.ts';

/** What adding a record came to: added, must wait, or cannot be added at all. */
type AppendOutcome = ProducerBatch | 'wait' | Error;

function toBuffer(bytes: Buffer | Uint8Array | null): Buffer | null {
  if (bytes === null || Buffer.isBuffer(bytes)) return bytes;
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function headerValue(value: HeaderValue | undefined): Buffer | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  return toBuffer(value);
}

function encodeHeaders(headers: RecordHeadersInput | undefined): EncodedHeader[] | undefined {
  if (headers === undefined) return undefined;
  const encoded: EncodedHeader[] = [];
  if (Array.isArray(headers)) {
    for (const header of headers as readonly { key: string; value: HeaderValue }[]) {
      if (typeof header.key !== 'string') throw new TypeError('a header key must be a string');
      encoded.push({ key: header.key, value: headerValue(header.value) });
    }
  } else {
    for (const key of Object.keys(headers)) {
      encoded.push({ key, value: headerValue((headers as Record<string, HeaderValue>)[key]) });
    }
  }
  return encoded.length === 0 ? undefined : encoded;
}

function timestampOf(timestamp: number | bigint | Date | undefined, nowMs: number): number {
  if (timestamp === undefined) return nowMs;
  const ms =
    typeof timestamp === 'number'
      ? timestamp
      : typeof timestamp === 'bigint'
        ? Number(timestamp)
        : timestamp.getTime();
  if (!Number.isSafeInteger(ms) || ms < 0) {
    throw new InvalidRecordError(
      `a record timestamp must be a whole number of ms >= 0, got ${timestamp}`,
    );
  }
  return ms;
}

export class Producer<K = RecordBytes, V = RecordBytes> {
  /** The producer's view of the cluster (its own connections and metadata). */
  readonly cluster: Cluster;
  private readonly options: ResolvedProducerOptions<K, V>;
  private readonly logger: ClientLogger;
  private readonly memory: BufferMemory;
  private readonly accumulator: RecordAccumulator;
  private readonly sender: Sender;
  private readonly sticky = new StickyPartitions();
  private readonly roundRobin = new RoundRobinPartitions();
  /** The record the sticky partitioner is choosing for (no closure per record). */
  private stickyTopic = '';
  private stickySizeBytes = 0;
  private readonly stickyOpenBatch = (partition: number) =>
    this.accumulator.openBatch(this.stickyTopic, partition, this.stickySizeBytes);
  private readonly availableByTopic = new WeakMap<TopicInfo, readonly number[]>();
  /** Records waiting to be added, in send order (`waitingHead` is the first). */
  private waiting: (QueuedRecord | undefined)[] = [];
  private waitingHead = 0;
  private pumping = false;
  /** Wakes the queue's wait early (an abort, a close). */
  private kick: (() => void) | undefined;
  private closing: Promise<void> | undefined;

  constructor(options: ProducerOptions<K, V>) {
    this.options = resolveProducerOptions(options);
    this.logger = this.options.logger ?? silentLogger;
    this.cluster = new Cluster({
      bootstrapServers: this.options.bootstrapServers,
      clientId: this.options.clientId,
      logger: this.logger,
      connectTimeoutMs: this.options.connectTimeoutMs,
      requestTimeoutMs: this.options.requestTimeoutMs,
      metadataMaxAgeMs: this.options.metadataMaxAgeMs,
      retry: {
        initialBackoffMs: this.options.retryBackoffMs,
        maxBackoffMs: this.options.retryBackoffMaxMs,
      },
    });
    this.memory = new BufferMemory(this.options.bufferMemoryBytes);
    let sender: Sender | undefined;
    this.accumulator = new RecordAccumulator({
      batchSizeBytes: this.options.batchSizeBytes,
      maxRequestSizeBytes: this.options.maxRequestSizeBytes,
      deliveryTimeoutMs: this.options.deliveryTimeoutMs,
      compression: this.options.compression,
      onReady: () => sender?.wake(),
      onOpen: (batch) => sender?.batchOpened(batch),
    });
    sender = new Sender({
      options: this.options as ResolvedProducerOptions<unknown, unknown>,
      cluster: this.cluster,
      accumulator: this.accumulator,
      memory: this.memory,
      identity: this.options.idempotent
        ? new ProducerIdentity(this.cluster, {
            retries: 10,
            initialBackoffMs: this.options.retryBackoffMs,
            maxBackoffMs: this.options.retryBackoffMaxMs,
          })
        : undefined,
      logger: this.logger,
    });
    this.sender = sender;
  }

  /** Whether the producer is idempotent (after the defaults and the checks between options). */
  get idempotent(): boolean {
    return this.options.idempotent;
  }

  /** Bytes of records accepted and not yet acknowledged (or failed). */
  get bufferedBytes(): number {
    return this.memory.usedBytes;
  }

  /** Records waiting to be accepted (for metadata or buffer room). */
  get waitingRecords(): number {
    return this.waiting.length - this.waitingHead;
  }

  /**
   * Sends a record; resolves with its partition and offset once the broker acknowledged it
   * (with `acks: 0`, once it is written to the socket; offset -1).
   */
  send(record: ProducerRecord<K, V>, options?: SendOptions): Promise<RecordMetadata> {
    const signal = options?.signal;
    const refused = this.refusal(signal);
    if (refused !== undefined) return Promise.reject(refused);
    const queued = this.prepare(record, Date.now(), undefined, 0);
    if (queued instanceof Error) return Promise.reject(queued);
    this.submit(queued, signal);
    return queued.promise!;
  }

  /**
   * Sends records in order, with one promise for all of them: their metadata in order, or the
   * first failure (as `Promise.all` of `send`s, for less). A record that cannot be serialized
   * or is invalid refuses the whole call before anything is sent.
   */
  sendBatch(
    records: readonly ProducerRecord<K, V>[],
    options?: SendOptions,
  ): Promise<RecordMetadata[]> {
    const signal = options?.signal;
    const refused = this.refusal(signal);
    if (refused !== undefined) return Promise.reject(refused);
    if (records.length === 0) return Promise.resolve([]);
    const group = new RecordGroup(records.length);
    const nowMs = Date.now();
    const queued: QueuedRecord[] = new Array(records.length);
    for (let i = 0; i < records.length; i++) {
      const prepared = this.prepare(records[i]!, nowMs, group, i);
      if (prepared instanceof Error) return Promise.reject(prepared);
      queued[i] = prepared;
    }
    for (const record of queued) this.submit(record, signal);
    return group.promise;
  }

  /** Why a send is refused before looking at the record (closed, aborted). */
  private refusal(signal: AbortSignal | undefined): Error | undefined {
    if (this.closing !== undefined) return new AbortedError('the producer is closed');
    if (signal?.aborted) return new AbortedError('aborted', { cause: signal.reason });
    return undefined;
  }

  /** Checks and serializes a record. */
  private prepare(
    record: ProducerRecord<K, V>,
    nowMs: number,
    group: RecordGroup | undefined,
    index: number,
  ): QueuedRecord | Error {
    const topic = record.topic;
    const partition = record.partition;
    if (typeof topic !== 'string' || topic === '') {
      return new InvalidRecordError('a record needs a topic');
    }
    if (partition !== undefined && !(Number.isInteger(partition) && partition >= 0)) {
      return new InvalidRecordError(`invalid partition ${partition}`);
    }
    let timestampMs: number;
    try {
      timestampMs = timestampOf(record.timestamp, nowMs);
    } catch (error) {
      return error as Error;
    }
    let key: Buffer | null;
    let value: Buffer | null;
    let headers: EncodedHeader[] | undefined;
    try {
      const rawKey = record.key;
      key =
        rawKey === undefined || rawKey === null
          ? null
          : toBuffer(this.options.keySerializer(rawKey));
      const rawValue = record.value;
      value =
        rawValue === undefined || rawValue === null
          ? null
          : toBuffer(this.options.valueSerializer(rawValue));
      headers = encodeHeaders(record.headers);
    } catch (error) {
      return new SerializationError(
        `cannot serialize a record for ${topic}: ${(error as Error)?.message ?? error}`,
        { cause: error },
      );
    }
    const sizeBytes = estimateRecordBytes(key, value, headers);
    if (
      sizeBytes > this.options.maxRequestSizeBytes ||
      sizeBytes > this.options.bufferMemoryBytes
    ) {
      return new RecordTooLargeError(
        `a record of about ${sizeBytes} bytes is larger than maxRequestSizeBytes ` +
          `(${this.options.maxRequestSizeBytes}) or bufferMemoryBytes (${this.options.bufferMemoryBytes})`,
      );
    }
    return new QueuedRecord(
      topic,
      partition,
      key,
      value,
      headers,
      timestampMs,
      sizeBytes,
      nowMs,
      group,
      index,
    );
  }

  /** Adds a record to its batch now, or queues it behind the records waiting already. */
  private submit(queued: QueuedRecord, signal: AbortSignal | undefined): void {
    if (this.waitingHead === this.waiting.length) {
      const outcome = this.tryAppend(queued, queued.sentMs);
      if (outcome instanceof Error) {
        queued.reject(outcome);
        return;
      }
      if (outcome !== 'wait') {
        if (signal !== undefined) this.watchAbort(signal, queued);
        return;
      }
    }
    this.waiting.push(queued);
    if (signal !== undefined) this.watchAbort(signal, queued);
    void this.pump();
  }

  /**
   * Sends every record accepted so far without waiting for `lingerMs`, and resolves when each
   * of them (and each record waiting to be accepted) is acknowledged or failed; the records'
   * own promises tell which. The signal stops the wait (AbortedError), not the sending.
   */
  async flush(options: { signal?: AbortSignal } = {}): Promise<void> {
    const signal = options.signal;
    if (signal?.aborted) throw new AbortedError('aborted', { cause: signal.reason });
    this.sender.flushing++;
    this.sender.wake();
    let onAbort: (() => void) | undefined;
    try {
      const waits: Promise<unknown>[] = [];
      for (let i = this.waitingHead; i < this.waiting.length; i++) {
        const queued = this.waiting[i];
        if (queued !== undefined) waits.push(queued.whenSettled());
      }
      for (const queue of this.accumulator.queues()) {
        for (const batch of queue.batches) waits.push(batch.whenDone());
      }
      const all = Promise.all(waits);
      if (signal === undefined) {
        await all;
        return;
      }
      await new Promise<void>((resolve, reject) => {
        onAbort = () => reject(new AbortedError('aborted', { cause: signal.reason }));
        signal.addEventListener('abort', onAbort, { once: true });
        all.then(() => resolve(), reject);
      });
    } finally {
      if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort);
      this.sender.flushing--;
    }
  }

  /**
   * Closes the producer: no more sends; by default the records accepted are flushed first (at
   * most `timeoutMs`, default unbounded). Records still not acknowledged then (all of them with
   * `flush: false`) fail with AbortedError. Connections are closed last.
   */
  close(options: { flush?: boolean; timeoutMs?: number } = {}): Promise<void> {
    this.closing ??= this.shutDown(options);
    return this.closing;
  }

  private async shutDown(options: { flush?: boolean; timeoutMs?: number }): Promise<void> {
    if (options.flush !== false) {
      const flushed = this.flush();
      if (options.timeoutMs === undefined) await flushed;
      else {
        let timer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([
          flushed,
          new Promise<void>((resolve) => {
            timer = setTimeout(resolve, options.timeoutMs);
          }),
        ]);
        clearTimeout(timer);
      }
    }
    const error = new AbortedError('the producer was closed before the record was acknowledged');
    for (let i = this.waitingHead; i < this.waiting.length; i++) {
      this.waiting[i]?.reject(error);
    }
    this.waiting = [];
    this.waitingHead = 0;
    this.kick?.();
    this.sender.stop(error);
    await this.cluster.close();
  }

  // ---- adding records -----------------------------------------------------------------------

  private tryAppend(record: QueuedRecord, nowMs: number): AppendOutcome {
    const topic = record.topic;
    const info = this.cluster.cachedTopic(topic);
    if (info === undefined) return 'wait';
    const partitionCount = info.partitions.length;
    if (partitionCount === 0) return 'wait';
    let partition = record.partition;
    if (partition !== undefined && partition >= partitionCount) return 'wait';
    const sizeBytes = record.sizeBytes;
    if (!this.memory.tryReserve(sizeBytes)) return 'wait';
    const key = record.key;
    let sticky = false;
    if (partition === undefined) {
      const partitioner = this.options.partitioner;
      if (typeof partitioner === 'function') {
        let chosen: number | undefined;
        try {
          chosen = partitioner({
            topic,
            key,
            value: record.value,
            partitionCount,
            availablePartitions: this.available(info),
          });
        } catch (error) {
          this.memory.release(sizeBytes);
          return new InvalidRecordError(`the partitioner threw: ${(error as Error)?.message}`, {
            cause: error,
          });
        }
        if (
          chosen !== undefined &&
          !(Number.isInteger(chosen) && chosen >= 0 && chosen < partitionCount)
        ) {
          this.memory.release(sizeBytes);
          return new InvalidRecordError(
            `the partitioner chose partition ${chosen} of ${topic}, which has ${partitionCount}`,
          );
        }
        partition = chosen;
      } else if (partitioner === 'round-robin') {
        partition = this.roundRobin.choose(topic, this.available(info), partitionCount);
      }
      if (partition === undefined) {
        if (key !== null) partition = keyedPartition(key, partitionCount);
        else {
          sticky = true;
          this.stickyTopic = topic;
          this.stickySizeBytes = sizeBytes;
          partition = this.sticky.choose(
            topic,
            this.available(info),
            partitionCount,
            this.stickyOpenBatch,
          );
        }
      }
    }
    const batch = this.accumulator.append(partition, record, nowMs);
    if (sticky) this.sticky.appended(topic, partition, batch);
    return batch;
  }

  /** The partitions of a topic that have a leader (cached per metadata snapshot). */
  private available(info: TopicInfo): readonly number[] {
    let available = this.availableByTopic.get(info);
    if (available === undefined) {
      const withLeader = info.partitions.filter((p) => p.leader >= 0).map((p) => p.partition);
      available =
        withLeader.length === info.partitions.length
          ? allPartitions(withLeader.length)
          : withLeader;
      this.availableByTopic.set(info, available);
    }
    return available;
  }

  /** Adds the waiting records in order, waiting for metadata or room as the first needs. */
  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.waitingHead < this.waiting.length) {
        const head = this.waiting[this.waitingHead];
        if (head === undefined || head.settled) {
          this.shift();
          continue;
        }
        const outcome = this.tryAppend(head, Date.now());
        if (outcome === 'wait') {
          try {
            await this.waitForRoom(head);
          } catch (error) {
            this.shift();
            head.reject(error as Error);
          }
          continue;
        }
        this.shift();
        if (outcome instanceof Error) head.reject(outcome);
      }
    } finally {
      this.pumping = false;
    }
  }

  private shift(): void {
    this.waiting[this.waitingHead++] = undefined;
    if (this.waitingHead === this.waiting.length) {
      this.waiting = [];
      this.waitingHead = 0;
    } else if (this.waitingHead > 1024 && this.waitingHead * 2 > this.waiting.length) {
      this.waiting = this.waiting.slice(this.waitingHead);
      this.waitingHead = 0;
    }
  }

  /**
   * Waits until the first waiting record may fit: its topic's metadata (and partition) known,
   * or buffer memory released. Throws when `maxBlockMs` has passed.
   */
  private async waitForRoom(head: QueuedRecord): Promise<void> {
    const deadlineMs = head.sentMs + this.options.maxBlockMs;
    const info = this.cluster.cachedTopic(head.topic);
    if (
      info === undefined ||
      info.partitions.length === 0 ||
      (head.partition ?? 0) >= info.partitions.length
    ) {
      let lastError: unknown;
      for (;;) {
        const remainingMs = deadlineMs - Date.now();
        if (remainingMs <= 0 || head.settled) break;
        try {
          await this.waitUntil(
            this.cluster.refreshMetadata([head.topic], {
              allowAutoTopicCreation: this.options.allowAutoTopicCreation,
            }),
            deadlineMs,
          );
        } catch (error) {
          lastError = error;
          if (error instanceof AbortedError) throw error;
        }
        const known = this.cluster.cachedTopic(head.topic);
        if (known !== undefined && known.partitions.length > 0) {
          if (head.partition === undefined || head.partition < known.partitions.length) return;
          throw new InvalidRecordError(
            `partition ${head.partition} of ${head.topic} does not exist (it has ${known.partitions.length})`,
          );
        }
        if (Date.now() >= deadlineMs || head.settled) break;
        await sleep(Math.min(this.options.retryBackoffMs, Math.max(0, deadlineMs - Date.now())));
      }
      if (head.settled) return;
      throw new ProducerBlockedError(
        `topic ${head.topic} not present in metadata after ${this.options.maxBlockMs} ms`,
        {
          cause:
            lastError ??
            new KafkaProtocolError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic ${head.topic}`),
        },
      );
    }
    if (Date.now() >= deadlineMs) {
      throw new ProducerBlockedError(
        `no room in the buffer (bufferMemoryBytes ${this.options.bufferMemoryBytes}) after ` +
          `${this.options.maxBlockMs} ms`,
      );
    }
    await this.waitUntil(this.memory.whenReleased(), deadlineMs);
  }

  /** Waits for `promise`, the deadline, or a kick (abort, close), whichever comes first. */
  private async waitUntil(promise: Promise<unknown>, deadlineMs: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const kicked = new Promise<void>((resolve) => {
      this.kick = resolve;
      timer = setTimeout(resolve, Math.max(0, deadlineMs - Date.now()));
    });
    try {
      await Promise.race([promise, kicked]);
    } finally {
      clearTimeout(timer);
      this.kick = undefined;
      promise.catch(() => {});
    }
  }

  /** The AbortSignal of a send: withdraws the record while it can. */
  private watchAbort(signal: AbortSignal, record: QueuedRecord): void {
    const onAbort = () => {
      if (record.settled) return;
      const batch = record.batch;
      if (batch === undefined) {
        // Still waiting to be added: the queue skips it.
        record.reject(new AbortedError('aborted', { cause: signal.reason }));
        if (this.waiting[this.waitingHead] === record) this.kick?.();
        return;
      }
      const freed = batch.withdraw(record);
      if (freed === 0) {
        record.reject(abortedInFlight(signal.reason));
        return;
      }
      this.memory.release(freed);
      if (batch.recordCount === 0) {
        this.accumulator.queue(batch.topic, batch.partition).remove(batch);
        batch.discard();
      }
      record.reject(
        new AbortedError('aborted before the record went out', { cause: signal.reason }),
      );
    };
    signal.addEventListener('abort', onAbort, { once: true });
    record.cleanup = () => signal.removeEventListener('abort', onAbort);
  }
}
