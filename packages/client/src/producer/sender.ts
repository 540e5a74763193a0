/**
 * Moves batches from the accumulator to the brokers and answers their records.
 *
 * One pass (`drain`, run on setImmediate after a batch closes, when a linger or backoff timer
 * fires, and after every answer): for each partition with work, the first batch that is not in
 * flight goes out when it is closed, lingered long enough, waiting for a retry, or the producer
 * is flushing. Batches are grouped by the partition's leader, one batch per partition in a
 * Produce request of at most `maxRequestSizeBytes`, and up to `maxInFlightRequestsPerConnection`
 * requests are pipelined on each broker's connection (a partition has at most
 * `maxInFlightPerPartition` batches in flight: 5 with idempotence).
 *
 * Order across retries: when a batch fails with a retriable error, nothing more of its partition
 * goes out until every batch of it in flight has come back; then the failed ones go out again,
 * in their order, with the bytes (and sequences) they had. Kafka's brokers answer a batch they
 * already have with its original offset, so nothing is written twice.
 *
 * Idempotence (Kafka's rules): sequences are given when a batch first goes out. An
 * OUT_OF_ORDER_SEQUENCE_NUMBER (or UNKNOWN_PRODUCER_ID) for a batch that is not the first
 * unacknowledged one of its partition is a consequence of an earlier failure and is retried;
 * for the first one, at exactly the next sequence, the broker lost the producer's state: the
 * partition's stream starts over with a new epoch. So it does when a batch with sequences fails
 * for good (a gap would follow it).
 */
import {
  ErrorCode,
  KafkaProtocolError,
  ProduceRequest,
  type ProduceRequestTopicProduceDataInput,
  ProduceResponse,
} from '@brook/protocol';
import {
  AbortedError,
  ConnectionError,
  isRetriableError,
  RequestTimeoutError,
  RetriesExhaustedError,
  UnsupportedApiError,
} from '../errors.ts';
import type { ClientLogger } from '../logger.ts';
import type { Cluster } from '../network/cluster.ts';
import type { Connection } from '../network/connection.ts';
import { backoffMs } from '../retry.ts';
import {
  type BufferMemory,
  invalidatesMetadata,
  type PartitionQueue,
  type RecordAccumulator,
} from './accumulator.ts';
import { addSequence, type ProducerIdentity } from './idempotence.ts';
import type { ProducerBatch } from './producer-batch.ts';
import type { ResolvedProducerOptions } from './producer-options.ts';

/** Produce v3 is the first with record batches v2 (all this producer writes). */
const MIN_PRODUCE_VERSION = 3;

interface NodeState {
  readonly nodeId: number;
  connection: Connection | undefined;
  connecting: boolean;
  nextConnectMs: number;
  connectFailures: number;
  /** Produce requests awaiting an answer. */
  inflight: number;
  /** Where the next request starts among the node's partitions (fairness). */
  rotation: number;
}

/** A request's batches, by topic then partition, to match the answer. */
type RequestBatches = Map<string, Map<number, ProducerBatch>>;

/**
 * A batch does not wait for `lingerMs` while its leader has fewer Produce requests in flight than
 * this (unless `lingerWhenIdle`): one request being handled and the next one ready keep the
 * broker busy; behind more, batches fill up until an answer comes or `lingerMs` passes. With 1
 * (nothing in flight), keyed sends of 100 B records ran at 300 – 320 k records/s, with 2 at
 * 410 – 440 k (bench/README.md, "Client").
 */
const EAGER_IN_FLIGHT = 2;
/** Between two refreshes for the metadata's age (they fail while no broker answers). */
const AGE_REFRESH_INTERVAL_MS = 100;

export interface SenderOptions {
  readonly options: ResolvedProducerOptions<unknown, unknown>;
  readonly cluster: Cluster;
  readonly accumulator: RecordAccumulator;
  readonly memory: BufferMemory;
  readonly identity: ProducerIdentity | undefined;
  readonly logger: ClientLogger;
}

export class Sender {
  private readonly options: ResolvedProducerOptions<unknown, unknown>;
  private readonly cluster: Cluster;
  private readonly accumulator: RecordAccumulator;
  private readonly memory: BufferMemory;
  private readonly identity: ProducerIdentity | undefined;
  private readonly logger: ClientLogger;
  private readonly nodes = new Map<number, NodeState>();
  private readonly byNode = new Map<number, PartitionQueue[]>();
  private scheduled = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private timerAtMs = Number.POSITIVE_INFINITY;
  private refreshing = false;
  private metadataWanted = false;
  private lastRefreshMs = 0;
  private lastAgeCheckMs = 0;
  private identityRetryAtMs = 0;
  private identityFailures = 0;
  /** Why nothing is retried any more (the producer is closing without waiting). */
  private stopped: Error | undefined;
  /** While above 0, open batches go out without waiting for `lingerMs`. */
  flushing = 0;

  constructor(options: SenderOptions) {
    this.options = options.options;
    this.cluster = options.cluster;
    this.accumulator = options.accumulator;
    this.memory = options.memory;
    this.identity = options.identity;
    this.logger = options.logger;
  }

  /** Runs a pass soon (after the current macrotask, so records sent together batch together). */
  wake(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    setImmediate(this.run);
  }

  /**
   * A batch was opened: it goes out after `lingerMs` at the latest, and at the next pass when its
   * leader is idle (unless `lingerWhenIdle`).
   */
  batchOpened(batch: ProducerBatch): void {
    if (this.options.lingerMs === 0 || this.flushing > 0 || !this.options.lingerWhenIdle) {
      this.wake();
    } else {
      this.wakeAt(batch.createdMs + this.options.lingerMs);
    }
  }

  private wakeAt(atMs: number): void {
    if (atMs >= this.timerAtMs || this.stopped) return;
    clearTimeout(this.timer);
    this.timerAtMs = atMs;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.timerAtMs = Number.POSITIVE_INFINITY;
        this.wake();
      },
      Math.max(0, atMs - Date.now()),
    );
  }

  private readonly run = (): void => {
    this.scheduled = false;
    if (this.stopped) return;
    try {
      this.drain(Date.now());
    } catch (error) {
      this.logger.log('error', 'producer send loop failed', { error: String(error) });
      this.wakeAt(Date.now() + this.options.retryBackoffMs);
    }
  };

  /**
   * Stops: batches not in flight fail with `error` now, batches in flight when their answer
   * (or the closing of their connection) comes. Nothing is retried any more.
   */
  stop(error: Error): void {
    this.stopped = error;
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const queue of this.accumulator.queues()) {
      for (const batch of [...queue.batches]) {
        if (batch.state !== 'inflight') this.fail(batch, queue, error);
      }
    }
  }

  // ---- one pass -----------------------------------------------------------------------------

  private drain(now: number): void {
    let nextWakeMs = Number.POSITIVE_INFINITY;
    let needMetadata = this.metadataWanted;
    const identity = this.identity;
    const identityReady = identity === undefined || identity.ready;
    const byNode = this.byNode;
    byNode.clear();
    for (const queue of this.accumulator.active) {
      if (queue.batches.length === 0) {
        queue.active = false;
        this.accumulator.active.delete(queue);
        continue;
      }
      const expiresAtMs = this.expire(queue, now);
      if (expiresAtMs < nextWakeMs) nextWakeMs = expiresAtMs;
      const blocked = queue.retrying || queue.needsReset;
      if (blocked && queue.inflight > 0) continue;
      if (queue.retrying && now < queue.retryAtMs) {
        if (queue.retryAtMs < nextWakeMs) nextWakeMs = queue.retryAtMs;
        continue;
      }
      if (queue.inflight >= this.options.maxInFlightPerPartition) continue;
      const batch = this.sendable(queue, now);
      if (batch === undefined) {
        const open = queue.open;
        if (open !== undefined && open === this.firstUnsent(queue)) {
          const lingerEndMs = open.createdMs + this.options.lingerMs;
          if (lingerEndMs < nextWakeMs) nextWakeMs = lingerEndMs;
        }
        continue;
      }
      if (!identityReady) continue;
      const leader = this.leaderOf(queue);
      if (leader === undefined) {
        needMetadata = true;
        continue;
      }
      let queues = byNode.get(leader);
      if (queues === undefined) {
        queues = [];
        byNode.set(leader, queues);
      }
      queues.push(queue);
    }

    if (!identityReady && this.accumulator.active.size > 0) {
      this.initIdentity(now);
      if (this.identityRetryAtMs < nextWakeMs) nextWakeMs = this.identityRetryAtMs;
    }

    for (const [nodeId, queues] of byNode) {
      const node = this.node(nodeId);
      const connection = this.connectionOf(node, now);
      if (connection === undefined) {
        if (!node.connecting && node.nextConnectMs < nextWakeMs) nextWakeMs = node.nextConnectMs;
        continue;
      }
      while (node.inflight < this.options.maxInFlightRequestsPerConnection) {
        const batches = this.collect(node, queues, now);
        if (batches.length === 0) break;
        this.sendRequest(node, connection, batches);
      }
    }

    if (needMetadata) {
      const refreshAtMs = this.refreshMetadata(now);
      if (refreshAtMs < nextWakeMs) nextWakeMs = refreshAtMs;
    } else if (
      this.accumulator.active.size > 0 &&
      this.cluster.metadataStale(now) &&
      now - this.lastAgeCheckMs >= AGE_REFRESH_INTERVAL_MS
    ) {
      // Metadata older than metadataMaxAgeMs: refreshed in the background (the records already
      // placed keep their partitions; the next ones see new partitions and leaders), as Kafka's
      // producer does. At most one such refresh per interval while the brokers cannot answer.
      this.lastAgeCheckMs = now;
      this.cluster.refreshMetadata([]).catch(() => {});
    }
    // Everything that can be due is in nextWakeMs: a timer set for anything later is stale.
    if (nextWakeMs !== this.timerAtMs) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.timerAtMs = Number.POSITIVE_INFINITY;
      if (nextWakeMs !== Number.POSITIVE_INFINITY) this.wakeAt(nextWakeMs);
    }
  }

  /** The first batch of a queue that is not in flight. */
  private firstUnsent(queue: PartitionQueue): ProducerBatch | undefined {
    for (const batch of queue.batches) if (batch.state !== 'inflight') return batch;
    return undefined;
  }

  /** The batch of a queue that should go out now, if any. */
  private sendable(queue: PartitionQueue, now: number): ProducerBatch | undefined {
    const batch = this.firstUnsent(queue);
    if (batch === undefined || batch.state !== 'open') return batch;
    if (batch.recordCount === 0) return undefined;
    if (this.flushing > 0 || now >= batch.createdMs + this.options.lingerMs) return batch;
    // A leader with less than EAGER_IN_FLIGHT requests out: waiting would only add latency (a
    // request's answer wakes the sender, so batches behind requests in flight go out then or
    // when full).
    if (!this.options.lingerWhenIdle && this.leaderIdle(queue)) return batch;
    return undefined;
  }

  /** Whether the queue's leader has fewer than EAGER_IN_FLIGHT Produce requests out. */
  private leaderIdle(queue: PartitionQueue): boolean {
    const leader = this.leaderOf(queue);
    if (leader === undefined) return false;
    const node = this.nodes.get(leader);
    return node === undefined || node.inflight < EAGER_IN_FLIGHT;
  }

  /** Fails batches not in flight whose delivery timeout passed; the next deadline otherwise. */
  private expire(queue: PartitionQueue, now: number): number {
    const batches = queue.batches;
    for (let i = 0; i < batches.length; ) {
      const batch = batches[i]!;
      if (batch.state === 'inflight') {
        i++;
        continue;
      }
      if (now < batch.deadlineMs) return batch.deadlineMs;
      const cause = batch.lastError;
      this.fail(
        batch,
        queue,
        new RetriesExhaustedError(
          `${batch.recordCount} record(s) for ${batch.topic}-${batch.partition} expired: ` +
            `${now - batch.createdMs} ms passed since the batch was created ` +
            `(deliveryTimeoutMs ${this.options.deliveryTimeoutMs})` +
            (cause === undefined ? '' : `; last error: ${(cause as Error).message}`),
          { cause },
        ),
      );
    }
    return Number.POSITIVE_INFINITY;
  }

  private leaderOf(queue: PartitionQueue): number | undefined {
    const topic = this.cluster.cachedTopic(queue.topic);
    const entry = topic?.partitions[queue.partition];
    if (entry === undefined || entry.partition !== queue.partition || entry.leader < 0) {
      return undefined;
    }
    return entry.leader;
  }

  private node(nodeId: number): NodeState {
    let node = this.nodes.get(nodeId);
    if (node === undefined) {
      node = {
        nodeId,
        connection: undefined,
        connecting: false,
        nextConnectMs: 0,
        connectFailures: 0,
        inflight: 0,
        rotation: 0,
      };
      this.nodes.set(nodeId, node);
    }
    return node;
  }

  /** The node's connection when it is up; otherwise starts connecting (with backoff). */
  private connectionOf(node: NodeState, now: number): Connection | undefined {
    const connection = node.connection;
    if (connection !== undefined && !connection.closed) return connection;
    node.connection = undefined;
    if (node.connecting || now < node.nextConnectMs) return undefined;
    node.connecting = true;
    this.cluster
      .connection(node.nodeId)
      .then(
        (connected) => {
          node.connection = connected;
          node.connectFailures = 0;
        },
        (error: unknown) => {
          node.connectFailures++;
          node.nextConnectMs = Date.now() + this.backoff(node.connectFailures);
          this.metadataWanted = true;
          this.cluster.invalidateMetadata();
          this.logger.log('warn', 'producer cannot connect to broker', {
            nodeId: node.nodeId,
            error: String(error),
          });
        },
      )
      .finally(() => {
        node.connecting = false;
        this.wake();
      });
    return undefined;
  }

  private backoff(attempt: number): number {
    return backoffMs(attempt, {
      initialBackoffMs: this.options.retryBackoffMs,
      maxBackoffMs: this.options.retryBackoffMaxMs,
    });
  }

  /** Starts a metadata refresh unless one runs or ran just now; when the next may start. */
  private refreshMetadata(now: number): number {
    if (this.refreshing) return Number.POSITIVE_INFINITY;
    const earliest = this.lastRefreshMs + this.options.retryBackoffMs;
    if (now < earliest) return earliest;
    this.refreshing = true;
    this.metadataWanted = false;
    const topics = new Set<string>();
    for (const queue of this.accumulator.active) topics.add(queue.topic);
    this.cluster
      .refreshMetadata([...topics], { allowAutoTopicCreation: this.options.allowAutoTopicCreation })
      .catch((error: unknown) => {
        this.logger.log('warn', 'producer metadata refresh failed', { error: String(error) });
      })
      .finally(() => {
        this.refreshing = false;
        this.lastRefreshMs = Date.now();
        this.wake();
      });
    return Number.POSITIVE_INFINITY;
  }

  private initIdentity(now: number): void {
    const identity = this.identity;
    if (identity === undefined || now < this.identityRetryAtMs) return;
    this.identityRetryAtMs = Number.POSITIVE_INFINITY;
    identity.init().then(
      () => {
        this.identityFailures = 0;
        this.identityRetryAtMs = 0;
        this.wake();
      },
      (error: unknown) => {
        this.identityFailures++;
        this.identityRetryAtMs = Date.now() + this.backoff(this.identityFailures);
        this.logger.log('warn', 'producer cannot get a producer id', { error: String(error) });
        if (!isRetriableError(error) && !(error instanceof RetriesExhaustedError)) {
          // Not allowed or not supported: the records waiting cannot go out idempotently.
          for (const queue of this.accumulator.queues()) {
            for (const batch of [...queue.batches]) {
              if (batch.state !== 'inflight') this.fail(batch, queue, error as Error);
            }
          }
        }
        this.wakeAt(this.identityRetryAtMs);
      },
    );
  }

  // ---- requests -----------------------------------------------------------------------------

  /** One batch per partition of the node, within the request size. */
  private collect(node: NodeState, queues: PartitionQueue[], now: number): ProducerBatch[] {
    const batches: ProducerBatch[] = [];
    let budget = this.options.maxRequestSizeBytes;
    const count = queues.length;
    const start = node.rotation++ % count;
    for (let i = 0; i < count; i++) {
      const queue = queues[(start + i) % count]!;
      if (queue.inflight >= this.options.maxInFlightPerPartition) continue;
      if ((queue.retrying || queue.needsReset) && queue.inflight > 0) continue;
      if (queue.retrying && now < queue.retryAtMs) continue;
      const batch = this.sendable(queue, now);
      if (batch === undefined) continue;
      if (!this.prepare(queue, batch)) continue;
      const bytes = this.encode(queue, batch);
      if (bytes === undefined) continue;
      if (bytes.length > budget && batches.length > 0) continue;
      budget -= bytes.length;
      batches.push(batch);
      batch.state = 'inflight';
      batch.attempts++;
      queue.inflight++;
      queue.retrying = false;
      if (queue.open === batch) queue.open = undefined;
    }
    return batches;
  }

  /** Gives the batch its sequences (restarting the partition's stream first when needed). */
  private prepare(queue: PartitionQueue, batch: ProducerBatch): boolean {
    const identity = this.identity;
    if (identity === undefined) return true;
    if (queue.needsReset) {
      if (!identity.bumpFrom(queue.producerId, queue.producerEpoch)) {
        this.initIdentity(Date.now());
        return false;
      }
      this.restartStream(queue, identity);
    }
    if (batch.baseSequence >= 0) return true;
    if (
      queue.batches[0] === batch &&
      (queue.producerId !== identity.producerId || queue.producerEpoch !== identity.producerEpoch)
    ) {
      // Nothing of the partition is unacknowledged: it moves to the current id and epoch.
      queue.producerId = identity.producerId;
      queue.producerEpoch = identity.producerEpoch;
      queue.nextSequence = 0;
      queue.lastAckedSequence = -1;
    }
    batch.assignSequence(queue.producerId, queue.producerEpoch, queue.nextSequence);
    queue.nextSequence = addSequence(queue.nextSequence, batch.recordCount);
    return true;
  }

  /** A new epoch for the partition: its unacknowledged batches get sequences from 0, in order. */
  private restartStream(queue: PartitionQueue, identity: ProducerIdentity): void {
    this.logger.log('info', 'producer restarts the sequences of a partition', {
      topic: queue.topic,
      partition: queue.partition,
      producerId: identity.producerId.toString(),
      producerEpoch: identity.producerEpoch,
    });
    queue.producerId = identity.producerId;
    queue.producerEpoch = identity.producerEpoch;
    queue.lastAckedSequence = -1;
    queue.needsReset = false;
    let sequence = 0;
    for (const batch of queue.batches) {
      if (batch.baseSequence < 0) break;
      batch.assignSequence(queue.producerId, queue.producerEpoch, sequence);
      sequence = addSequence(sequence, batch.recordCount);
    }
    queue.nextSequence = sequence;
  }

  /** The batch's bytes; a batch that cannot be encoded fails (undefined) without a gap. */
  private encode(queue: PartitionQueue, batch: ProducerBatch): Buffer | undefined {
    if (batch.encoded !== undefined) return batch.encoded;
    let bytes: Buffer;
    try {
      bytes = batch.encode(this.options.compression, this.options.compressionLevel);
    } catch (error) {
      // Nothing went out: give its sequences back when they were the last ones handed out.
      if (
        batch.baseSequence >= 0 &&
        batch.attempts === 0 &&
        addSequence(batch.baseSequence, batch.recordCount) === queue.nextSequence
      ) {
        queue.nextSequence = batch.baseSequence;
        batch.baseSequence = -1;
      }
      this.fail(batch, queue, error as Error);
      return undefined;
    }
    this.accumulator.observeCompression(batch, bytes.length);
    return bytes;
  }

  private sendRequest(node: NodeState, connection: Connection, batches: ProducerBatch[]): void {
    const version = connection.versionFor(ProduceRequest);
    if (version === undefined || version < MIN_PRODUCE_VERSION) {
      const error = new UnsupportedApiError(
        `${connection.address} does not serve Produce v${MIN_PRODUCE_VERSION}+ (record batches v2)`,
      );
      for (const batch of batches) this.settleFailure(batch, error);
      return;
    }
    const topicData: ProduceRequestTopicProduceDataInput[] = [];
    const sent: RequestBatches = new Map();
    for (const batch of batches) {
      let partitions = sent.get(batch.topic);
      let entry: ProduceRequestTopicProduceDataInput | undefined;
      if (partitions === undefined) {
        partitions = new Map();
        sent.set(batch.topic, partitions);
        entry = { name: batch.topic, partitionData: [] };
        topicData.push(entry);
      } else {
        entry = topicData.find((t) => t.name === batch.topic)!;
      }
      partitions.set(batch.partition, batch);
      (entry.partitionData as { index: number; records: Buffer }[]).push({
        index: batch.partition,
        records: batch.encoded!,
      });
    }
    node.inflight++;
    const body = {
      transactionalId: null,
      acks: this.options.acks,
      timeoutMs: this.options.requestTimeoutMs,
      topicData,
    };
    if (this.options.acks === 0) {
      connection
        .request(ProduceRequest, ProduceResponse, body, { version, noResponse: true })
        .then(
          () => {
            node.inflight--;
            for (const batch of batches) this.succeed(batch, -1n, -1n);
            this.wake();
          },
          (error: unknown) => this.onRequestError(node, batches, error),
        )
        .catch(this.onBug);
      return;
    }
    connection
      .request(ProduceRequest, ProduceResponse, body, {
        version,
        timeoutMs: this.options.requestTimeoutMs,
      })
      .then(
        (response) => this.onResponse(node, sent, batches, response),
        (error: unknown) => this.onRequestError(node, batches, error),
      )
      .catch(this.onBug);
  }

  /** A throw in the handling of an answer: logged, and the loop goes on. */
  private readonly onBug = (error: unknown): void => {
    this.logger.log('error', 'producer failed handling an answer', { error: String(error) });
    this.wake();
  };

  // ---- answers ------------------------------------------------------------------------------

  private onResponse(
    node: NodeState,
    sent: RequestBatches,
    batches: ProducerBatch[],
    response: ProduceResponse,
  ): void {
    node.inflight--;
    const now = Date.now();
    const answered = new Set<ProducerBatch>();
    for (const topic of response.responses) {
      const partitions = sent.get(topic.name);
      if (partitions === undefined) continue;
      for (const result of topic.partitionResponses) {
        const batch = partitions.get(result.index);
        if (batch === undefined || answered.has(batch)) continue;
        answered.add(batch);
        this.onPartitionResult(batch, result, now);
      }
    }
    if (answered.size !== batches.length) {
      for (const batch of batches) {
        if (answered.has(batch)) continue;
        this.onFailure(
          batch,
          new KafkaProtocolError(ErrorCode.UNKNOWN_SERVER_ERROR, 'the answer left out a partition'),
          true,
          now,
        );
      }
    }
    this.wake();
  }

  private onPartitionResult(
    batch: ProducerBatch,
    result: ProduceResponse['responses'][number]['partitionResponses'][number],
    now: number,
  ): void {
    const code = result.errorCode;
    if (code === ErrorCode.NONE || code === ErrorCode.DUPLICATE_SEQUENCE_NUMBER) {
      // A duplicate was written before; Kafka's clients count it as delivered (offset unknown).
      this.succeed(
        batch,
        code === ErrorCode.NONE ? result.baseOffset : -1n,
        code === ErrorCode.NONE ? result.logAppendTimeMs : -1n,
      );
      return;
    }
    const error = new KafkaProtocolError(code, result.errorMessage);
    if (invalidatesMetadata(code)) {
      this.cluster.invalidateMetadata();
      this.metadataWanted = true;
    }
    const queue = this.accumulator.queue(batch.topic, batch.partition);
    const identity = this.identity;
    if (
      identity !== undefined &&
      (code === ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER || code === ErrorCode.UNKNOWN_PRODUCER_ID)
    ) {
      queue.inflight--;
      if (
        queue.firstSequenced() === batch &&
        batch.producerId === queue.producerId &&
        batch.producerEpoch === queue.producerEpoch &&
        batch.baseSequence === addSequence(queue.lastAckedSequence, 1)
      ) {
        // The next batch in sequence, refused: the broker lost this producer's state.
        queue.needsReset = true;
      }
      this.retryOrFail(batch, queue, error, true, now);
      return;
    }
    if (
      identity !== undefined &&
      (code === ErrorCode.INVALID_PRODUCER_EPOCH || code === ErrorCode.PRODUCER_FENCED)
    ) {
      // No other producer shares an idempotent producer's id: start over with a new one.
      queue.inflight--;
      if (identity.producerId === batch.producerId) identity.reset();
      queue.needsReset = true;
      this.retryOrFail(batch, queue, error, true, now);
      return;
    }
    this.onFailure(batch, error, error.retriable, now);
  }

  private onRequestError(node: NodeState, batches: ProducerBatch[], error: unknown): void {
    node.inflight--;
    if (error instanceof ConnectionError || error instanceof RequestTimeoutError) {
      if (node.connection?.closed) node.connection = undefined;
      this.cluster.invalidateMetadata();
      this.metadataWanted = true;
    }
    const now = Date.now();
    const failure = error instanceof Error ? error : new ConnectionError(String(error));
    for (const batch of batches) this.onFailure(batch, failure, isRetriableError(error), now);
    this.wake();
  }

  private onFailure(batch: ProducerBatch, error: Error, retriable: boolean, now: number): void {
    const queue = this.accumulator.queue(batch.topic, batch.partition);
    queue.inflight--;
    this.retryOrFail(batch, queue, error, retriable, now);
  }

  private retryOrFail(
    batch: ProducerBatch,
    queue: PartitionQueue,
    error: Error,
    retriable: boolean,
    now: number,
  ): void {
    batch.lastError = error;
    if (this.stopped) {
      this.fail(batch, queue, new AbortedError(this.stopped.message, { cause: error }));
      return;
    }
    if (!retriable) {
      this.fail(batch, queue, error);
      return;
    }
    if (batch.attempts > this.options.retries || now >= batch.deadlineMs) {
      this.fail(
        batch,
        queue,
        new RetriesExhaustedError(
          `${batch.recordCount} record(s) for ${batch.topic}-${batch.partition} failed after ` +
            `${batch.attempts} attempt(s): ${error.message}`,
          { cause: error },
        ),
      );
      return;
    }
    batch.state = 'retry';
    queue.retrying = true;
    queue.retryAtMs = now + this.backoff(batch.attempts);
    this.logger.log('debug', 'producer retries a batch', {
      topic: batch.topic,
      partition: batch.partition,
      attempt: batch.attempts,
      error: error.message,
    });
  }

  private succeed(batch: ProducerBatch, baseOffset: bigint, logAppendTimeMs: bigint): void {
    const queue = this.accumulator.queue(batch.topic, batch.partition);
    queue.inflight--;
    if (
      batch.baseSequence >= 0 &&
      batch.producerId === queue.producerId &&
      batch.producerEpoch === queue.producerEpoch
    ) {
      queue.lastAckedSequence = addSequence(batch.baseSequence, batch.recordCount - 1);
    }
    queue.remove(batch);
    this.memory.release(batch.memoryBytes);
    batch.succeed(baseOffset, logAppendTimeMs);
  }

  /** A batch taken for a request that cannot go out: it fails without having been sent. */
  private settleFailure(batch: ProducerBatch, error: Error): void {
    const queue = this.accumulator.queue(batch.topic, batch.partition);
    queue.inflight--;
    this.fail(batch, queue, error);
  }

  /** Fails a batch for good. A batch with sequences leaves a gap: its partition starts over. */
  private fail(batch: ProducerBatch, queue: PartitionQueue, error: Error): void {
    if (batch.state === 'done') return;
    if (this.identity !== undefined && batch.baseSequence >= 0) queue.needsReset = true;
    queue.remove(batch);
    this.memory.release(batch.memoryBytes);
    batch.fail(error);
  }
}
