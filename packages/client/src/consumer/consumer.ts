/**
 * The consumer: subscribe to topics or a pattern as a group member (or assign partitions by
 * hand), then read records with `for await (const record of consumer)` or per-partition batches
 * with `consumer.batches()`.
 *
 * Around the records: group membership (group-membership.ts) hands partitions in and out and
 * calls the rebalance listeners; a fetcher (fetcher.ts) prefetches within `maxBufferedBytes`;
 * positions come from the group's committed offsets or `autoOffsetReset`; offsets are committed
 * every `autoCommitIntervalMs`, before partitions are given up and on close (auto-commit), or
 * with `commit()` / `commitAsync()`.
 *
 * What counts as processed: a record (or batch) handed out is done when the application asks
 * for the next one, leaves the loop, or closes the consumer. Auto-commit and rebalances commit
 * only what is done, and a rebalance waits for the record in hand before it gives partitions
 * up (at most `rebalanceTimeoutMs`, Kafka's max.poll.interval.ms: an application that holds a
 * record longer leaves the group, and joins again when it next asks for a record). `commit()`
 * without offsets commits every record handed out, the one in hand included.
 */
import { ErrorCode } from '@brook/protocol';
import { AbortedError } from '../errors.ts';
import { type ClientLogger, silentLogger } from '../logger.ts';
import { Cluster, type ClusterOptions } from '../network/cluster.ts';
import { backoffMs, sleep } from '../retry.ts';
import type { Deserializer } from '../serializers.ts';
import type { Assignor } from './assignors/assignor.ts';
import { cooperativeStickyAssignor } from './assignors/cooperative-sticky-assignor.ts';
import { rangeAssignor } from './assignors/range-assignor.ts';
import {
  CommitFailedError,
  ConsumerStateError,
  NoOffsetForPartitionError,
  RecordDeserializationError,
} from './consumer-errors.ts';
import { Fetcher } from './fetcher.ts';
import { GroupMembership } from './group-membership.ts';
import {
  type CommitIdentity,
  commitOffsets,
  fetchCommittedOffsets,
  IsolationLevel,
  listOffsets,
  OffsetSpec,
} from './offset-client.ts';
import { PartitionState, type ResetStrategy } from './partition-state.ts';
import {
  type CommittedOffset,
  type ConsumerBatch,
  type ConsumerRecord,
  comparePartitions,
  type OffsetToCommit,
  type PartitionKey,
  partitionKey,
  type RebalanceListener,
  type TopicPartition,
} from './types.ts';
import { Wakeup } from './wakeup.ts';

export type AutoOffsetReset = ResetStrategy;
export type IsolationLevelName = 'read_uncommitted' | 'read_committed';

export interface ConsumerOptions<K = Buffer | null, V = Buffer | null> extends ClusterOptions {
  /** The consumer group (needed for subscribe and for commits). */
  readonly groupId?: string;
  /** Static membership (KIP-345): a restart within the session keeps the assignment. */
  readonly groupInstanceId?: string;
  /** Default 45 s (Kafka's `session.timeout.ms`). */
  readonly sessionTimeoutMs?: number;
  /**
   * How long a rebalance waits for members, and the longest the application may hold a record
   * or batch before the consumer leaves the group (Kafka's `max.poll.interval.ms`). Default 5 min.
   */
  readonly rebalanceTimeoutMs?: number;
  /** Default 3 s. */
  readonly heartbeatIntervalMs?: number;
  /** In order of preference. Default `[rangeAssignor, cooperativeStickyAssignor]`, as Kafka's. */
  readonly assignors?: readonly Assignor[];
  /** Default true with a group. */
  readonly autoCommit?: boolean;
  /** Default 5 s. */
  readonly autoCommitIntervalMs?: number;
  /** Where to start without a committed offset (or out of range). Default 'latest'. */
  readonly autoOffsetReset?: AutoOffsetReset;
  /** Default 'read_uncommitted'. */
  readonly isolationLevel?: IsolationLevelName;
  /** Default 500 ms. */
  readonly fetchMaxWaitMs?: number;
  /** Default 1. */
  readonly fetchMinBytes?: number;
  /** Default 50 MiB. */
  readonly fetchMaxBytes?: number;
  /** Default 1 MiB. */
  readonly maxPartitionFetchBytes?: number;
  /** The bound on prefetched record bytes across partitions. Default 32 MiB. */
  readonly maxBufferedBytes?: number;
  /** Records handed out from one partition before moving to the next. Default 500. */
  readonly maxPollRecords?: number;
  /** Check record batch CRCs. Default true. */
  readonly checkCrcs?: boolean;
  /** Send LeaveGroup on close. Default: true for dynamic members, false for static ones. */
  readonly leaveGroupOnClose?: boolean;
  readonly keyDeserializer?: Deserializer<K>;
  readonly valueDeserializer?: Deserializer<V>;
}

export interface SubscribeOptions {
  readonly topics?: readonly string[];
  /** Every topic whose name matches (internal topics excluded), checked at each metadata refresh. */
  readonly pattern?: RegExp;
  readonly listener?: RebalanceListener;
}

export interface IterateOptions {
  /** Aborting ends the iteration with an AbortedError. */
  readonly signal?: AbortSignal;
}

export interface BatchOptions extends IterateOptions {
  /** Default `maxPollRecords`. */
  readonly maxRecords?: number;
}

/** What a `RecordIterator` needs of its consumer. */
interface IteratorHooks<T> {
  begin(): void;
  end(): void;
  /** The next record in hand; undefined: wait for data; null: the consumer is closed. */
  poll(signal: AbortSignal | undefined): T | undefined | null;
  wait(signal: AbortSignal | undefined): Promise<void>;
}

const ITERATION_DONE: IteratorReturnResult<undefined> = Object.freeze({
  done: true,
  value: undefined,
});

/**
 * `consumer.records()`: as an async generator over single records behaves (lazy start, done
 * after an error or `return`, calls queued while one is pending), but a record in hand costs
 * one resolved promise and one result object.
 */
class RecordIterator<T> implements AsyncIterableIterator<T> {
  private readonly hooks: IteratorHooks<T>;
  private readonly signal: AbortSignal | undefined;
  private stage: 'new' | 'running' | 'done' = 'new';
  /** A call still waiting for data: later calls wait behind it. */
  private pending: Promise<unknown> | undefined;

  constructor(hooks: IteratorHooks<T>, signal: AbortSignal | undefined) {
    this.hooks = hooks;
    this.signal = signal;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<T, undefined>> {
    if (this.pending !== undefined) return this.queue(() => this.nextNow());
    return this.nextNow();
  }

  return(): Promise<IteratorResult<T, undefined>> {
    if (this.pending !== undefined) return this.queue(() => this.returnNow());
    return this.returnNow();
  }

  throw(error?: unknown): Promise<IteratorResult<T, undefined>> {
    if (this.pending !== undefined) return this.queue(() => this.throwNow(error));
    return this.throwNow(error);
  }

  private nextNow(): Promise<IteratorResult<T, undefined>> {
    if (this.stage !== 'running') {
      if (this.stage === 'done') return Promise.resolve(ITERATION_DONE);
      this.stage = 'running';
      try {
        this.hooks.begin();
      } catch (error) {
        this.stage = 'done';
        return Promise.reject(error);
      }
    }
    let record: T | undefined | null;
    try {
      record = this.hooks.poll(this.signal);
    } catch (error) {
      this.finish();
      return Promise.reject(error);
    }
    if (record === null) {
      this.finish();
      return Promise.resolve(ITERATION_DONE);
    }
    if (record !== undefined) return Promise.resolve({ done: false, value: record });
    const waiting = this.waitAndPoll();
    // Called from the queue, the queued call covers the wait already.
    if (this.pending === undefined) this.track(waiting);
    return waiting;
  }

  private async waitAndPoll(): Promise<IteratorResult<T, undefined>> {
    try {
      for (;;) {
        await this.hooks.wait(this.signal);
        if (this.stage === 'done') return ITERATION_DONE;
        const record = this.hooks.poll(this.signal);
        if (record === null) {
          this.finish();
          return ITERATION_DONE;
        }
        if (record !== undefined) return { done: false, value: record };
      }
    } catch (error) {
      this.finish();
      throw error;
    }
  }

  private returnNow(): Promise<IteratorResult<T, undefined>> {
    this.finish();
    return Promise.resolve(ITERATION_DONE);
  }

  private throwNow(error: unknown): Promise<IteratorResult<T, undefined>> {
    this.finish();
    return Promise.reject(error);
  }

  /** Runs `call` once the pending calls have settled. */
  private queue(
    call: () => Promise<IteratorResult<T, undefined>>,
  ): Promise<IteratorResult<T, undefined>> {
    const after = this.pending!.then(call, call);
    this.track(after);
    return after;
  }

  private track(promise: Promise<unknown>): void {
    this.pending = promise;
    const clear = () => {
      if (this.pending === promise) this.pending = undefined;
    };
    promise.then(clear, clear);
  }

  private finish(): void {
    if (this.stage === 'running') this.hooks.end();
    this.stage = 'done';
  }
}

const identity: Deserializer<Buffer | null> = (bytes) => bytes;

export class Consumer<K = Buffer | null, V = Buffer | null>
  implements AsyncIterable<ConsumerRecord<K, V>>
{
  readonly groupId: string | undefined;
  private readonly cluster: Cluster;
  private readonly logger: ClientLogger;
  private readonly options: ConsumerOptions<K, V>;
  private readonly keyDeserializer: Deserializer<K>;
  private readonly valueDeserializer: Deserializer<V>;
  /** Whether a deserializer is set: without, records go out as read. */
  private readonly deserializes: boolean;
  private readonly autoCommit: boolean;
  private readonly autoOffsetReset: AutoOffsetReset;
  private readonly isolationLevel: number;
  private readonly rebalanceTimeoutMs: number;
  private readonly maxPollRecords: number;
  private readonly account = { bytes: 0 };
  private readonly assigned = new Map<PartitionKey, PartitionState>();
  private readonly fetcher: Fetcher;
  private readonly dataWakeup = new Wakeup();
  private readonly deliveryWakeup = new Wakeup();
  private mode: 'none' | 'subscribed' | 'assigned' = 'none';
  private topics: string[] = [];
  private pattern: RegExp | undefined;
  private listener: RebalanceListener = {};
  private membership: GroupMembership | undefined;
  /** The partition of the record or batch handed out last (undefined: none in hand). */
  private deliveredState: PartitionState | undefined;
  /** Its epoch then, and the position after it (what becomes `processed`). */
  private deliveredEpoch = 0;
  private deliveredNext = 0n;
  private iterating = false;
  private waitingForRecords = false;
  private lastPollMs = Date.now();
  /** Polls so far, and as counted at the last poll-interval check (see checkPollInterval). */
  private polls = 0;
  private pollsSeen = 0;
  private fatalError: Error | undefined;
  private closing: Promise<void> | undefined;
  private resolving: Promise<void> | undefined;
  private resolveAgain = false;
  private commitQueue: Promise<void> = Promise.resolve();
  private rotation = 0;
  private current: PartitionState | undefined;
  private currentCount = 0;
  private timers: ReturnType<typeof setInterval>[] = [];
  private readonly abort = new AbortController();

  constructor(options: ConsumerOptions<K, V>) {
    this.options = options;
    this.groupId = options.groupId;
    this.cluster = new Cluster(options);
    this.logger = options.logger ?? silentLogger;
    this.keyDeserializer = options.keyDeserializer ?? (identity as Deserializer<K>);
    this.valueDeserializer = options.valueDeserializer ?? (identity as Deserializer<V>);
    this.deserializes =
      options.keyDeserializer !== undefined || options.valueDeserializer !== undefined;
    this.autoCommit = options.groupId !== undefined && (options.autoCommit ?? true);
    this.autoOffsetReset = options.autoOffsetReset ?? 'latest';
    this.isolationLevel =
      options.isolationLevel === 'read_committed'
        ? IsolationLevel.readCommitted
        : IsolationLevel.readUncommitted;
    this.rebalanceTimeoutMs = options.rebalanceTimeoutMs ?? 300_000;
    this.maxPollRecords = options.maxPollRecords ?? 500;
    this.fetcher = new Fetcher(
      this.cluster,
      {
        partitions: () => this.assigned.values(),
        owns: (state) => this.assigned.get(state.key) === state,
        account: this.account,
        onData: () => this.dataWakeup.wake(),
        onOutOfRange: (state) => this.outOfRange(state),
      },
      {
        maxWaitMs: options.fetchMaxWaitMs ?? 500,
        minBytes: options.fetchMinBytes ?? 1,
        maxBytes: options.fetchMaxBytes ?? 50 * 1024 * 1024,
        maxPartitionBytes: options.maxPartitionFetchBytes ?? 1024 * 1024,
        maxBufferedBytes: options.maxBufferedBytes ?? 32 * 1024 * 1024,
        isolationLevel: this.isolationLevel,
        verifyCrc: options.checkCrcs ?? true,
        logger: this.logger,
      },
    );
  }

  // ---- subscription and assignment ---------------------------------------------------------

  /**
   * Joins the group for `topics` or every topic matching `pattern`. Resolves once the
   * subscription is in place (the group is joined in the background; `listener.onAssigned`
   * tells when partitions arrive). Subscribing again replaces the subscription.
   */
  async subscribe(subscription: SubscribeOptions): Promise<void> {
    this.checkOpen();
    if (this.groupId === undefined) throw new ConsumerStateError('subscribe needs a groupId');
    if (this.mode === 'assigned') {
      throw new ConsumerStateError('the consumer has a manual assignment: unsubscribe first');
    }
    if ((subscription.topics === undefined) === (subscription.pattern === undefined)) {
      throw new ConsumerStateError('subscribe to topics or to a pattern, one of the two');
    }
    this.pattern = subscription.pattern;
    this.listener = subscription.listener ?? {};
    this.topics = subscription.topics ? [...new Set(subscription.topics)].sort() : [];
    if (this.pattern) await this.matchPattern();
    this.lastPollMs = Date.now();
    if (this.mode === 'subscribed' && this.membership) {
      this.membership.requestRejoin('subscription changed');
      return;
    }
    this.mode = 'subscribed';
    this.membership = new GroupMembership({
      cluster: this.cluster,
      groupId: this.groupId,
      groupInstanceId: this.options.groupInstanceId ?? null,
      sessionTimeoutMs: this.options.sessionTimeoutMs ?? 45_000,
      rebalanceTimeoutMs: this.rebalanceTimeoutMs,
      heartbeatIntervalMs: this.options.heartbeatIntervalMs ?? 3000,
      assignors: this.options.assignors ?? [rangeAssignor, cooperativeStickyAssignor],
      logger: this.logger,
      hooks: {
        subscription: () => this.topics,
        owned: () =>
          [...this.assigned.values()].map(({ topic, partition }) => ({ topic, partition })),
        revoke: (partitions, { lost }) => this.revoke(partitions, lost),
        assign: (assigned, added) => this.onGroupAssignment(assigned, added),
        fatal: (error) => this.fail(error),
      },
    });
    this.membership.start();
    this.startTimers();
  }

  /** Reads `partitions` outside any group management (commits still go to `groupId`, if set). */
  assign(partitions: readonly TopicPartition[]): void {
    this.checkOpen();
    if (this.mode === 'subscribed') {
      throw new ConsumerStateError('the consumer is subscribed: unsubscribe first');
    }
    this.mode = 'assigned';
    const wanted = new Map(partitions.map((tp) => [partitionKey(tp.topic, tp.partition), tp]));
    const removed = [...this.assigned.values()].filter((state) => !wanted.has(state.key));
    if (removed.length > 0 && this.autoCommit) this.enqueueAutoCommit(removed);
    for (const state of removed) this.removeState(state);
    for (const [key, tp] of wanted) {
      if (!this.assigned.has(key)) {
        this.assigned.set(key, new PartitionState(tp.topic, tp.partition, this.account));
      }
    }
    this.startTimers();
    this.resolvePositions();
    this.fetcher.schedule();
    this.dataWakeup.wake();
  }

  /** Leaves the group (or drops the manual assignment), committing first with auto-commit. */
  async unsubscribe(): Promise<void> {
    this.checkOpen();
    await this.stopMembership({ leave: true });
    if (this.mode === 'assigned' && this.autoCommit) this.enqueueAutoCommit(this.assigned.values());
    for (const state of [...this.assigned.values()]) this.removeState(state);
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    this.mode = 'none';
    this.topics = [];
    this.pattern = undefined;
  }

  /** The partitions assigned now, sorted. */
  assignment(): TopicPartition[] {
    return [...this.assigned.values()]
      .map(({ topic, partition }) => ({ topic, partition }))
      .sort(comparePartitions);
  }

  /** The member id and generation in the group (generation -1 outside one). */
  groupMetadata(): CommitIdentity {
    return (
      this.membership?.identity() ?? {
        generationId: -1,
        memberId: '',
        groupInstanceId: this.options.groupInstanceId ?? null,
      }
    );
  }

  // ---- positions --------------------------------------------------------------------------

  /** The offset of the next record to be handed out; undefined until known. */
  position(tp: TopicPartition): bigint | undefined {
    return this.stateOf(tp).position ?? undefined;
  }

  /** The next record handed out from the partition will be the one at `offset`. */
  seek(tp: TopicPartition, offset: bigint): void {
    const state = this.stateOf(tp);
    if (offset < 0n) throw new ConsumerStateError(`cannot seek to offset ${offset}`);
    state.setPosition(offset);
    this.fetcher.schedule();
    this.dataWakeup.wake();
  }

  /** Moves to the first offset of each partition (all assigned ones by default). */
  seekToBeginning(partitions?: readonly TopicPartition[]): void {
    this.resetPositions(partitions, 'earliest');
  }

  /** Moves past the last record of each partition (all assigned ones by default). */
  seekToEnd(partitions?: readonly TopicPartition[]): void {
    this.resetPositions(partitions, 'latest');
  }

  /** Stops fetching from and handing out records of these partitions until `resume`. */
  pause(partitions: readonly TopicPartition[]): void {
    for (const tp of partitions) this.stateOf(tp).paused = true;
  }

  resume(partitions: readonly TopicPartition[]): void {
    for (const tp of partitions) this.stateOf(tp).paused = false;
    this.fetcher.schedule();
    this.dataWakeup.wake();
  }

  paused(): TopicPartition[] {
    return [...this.assigned.values()]
      .filter((state) => state.paused)
      .map(({ topic, partition }) => ({ topic, partition }))
      .sort(comparePartitions);
  }

  /** Bytes of records prefetched and not yet handed out. */
  get bufferedBytes(): number {
    return this.account.bytes;
  }

  /** The high watermark at the last fetch of the partition (-1 before any). */
  highWatermark(tp: TopicPartition): bigint {
    return this.stateOf(tp).highWatermark;
  }

  // ---- commits ----------------------------------------------------------------------------

  /**
   * Commits offsets to the group and waits: `offsets`, or else the position of every assigned
   * partition (each record handed out counts as processed). Commits go out in call order.
   */
  commit(
    offsets?: readonly OffsetToCommit[],
    options: { signal?: AbortSignal } = {},
  ): Promise<void> {
    this.checkOpen();
    const list = offsets ?? this.positionsToCommit();
    return this.enqueueCommit(list, options.signal);
  }

  /** Commits like `commit` without waiting; the outcome goes to `callback` (else to the log). */
  commitAsync(offsets?: readonly OffsetToCommit[], callback?: (error: Error | null) => void): void {
    this.checkOpen();
    const list = offsets ?? this.positionsToCommit();
    this.enqueueCommit(list).then(
      () => callback?.(null),
      (error: unknown) => {
        if (callback) callback(error as Error);
        else this.logger.log('warn', 'async commit failed', { error: (error as Error).message });
      },
    );
  }

  /** The group's committed offsets of `partitions`. */
  async committed(
    partitions: readonly TopicPartition[],
    options: { signal?: AbortSignal } = {},
  ): Promise<CommittedOffset[]> {
    if (this.groupId === undefined) throw new ConsumerStateError('committed() needs a groupId');
    const found = await fetchCommittedOffsets(this.cluster, this.groupId, partitions, {
      requireStable: this.isolationLevel === IsolationLevel.readCommitted,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    return partitions.map(
      (tp) =>
        found.get(partitionKey(tp.topic, tp.partition)) ?? {
          topic: tp.topic,
          partition: tp.partition,
          offset: -1n,
          leaderEpoch: -1,
          metadata: null,
        },
    );
  }

  // ---- reading ----------------------------------------------------------------------------

  [Symbol.asyncIterator](): AsyncIterator<ConsumerRecord<K, V>> {
    return this.records();
  }

  /**
   * Records one by one, in offset order within each partition. A hand-written iterator: a
   * record already prefetched is taken synchronously and handed out in an already-resolved
   * promise (no async generator step, no batch object per record).
   */
  records(options: IterateOptions = {}): AsyncIterableIterator<ConsumerRecord<K, V>> {
    return new RecordIterator(this.iteratorHooks, options.signal);
  }

  /** What `RecordIterator` calls (the consumer's private members, bound once). */
  private readonly iteratorHooks: IteratorHooks<ConsumerRecord<K, V>> = {
    begin: () => this.beginIteration(),
    end: () => this.endIteration(),
    poll: (signal) => this.pollRecord(signal),
    wait: (signal) => this.waitForData(signal),
  };

  /** Batches of one partition's records (up to `maxRecords`), partitions taking turns. */
  async *batches(options: BatchOptions = {}): AsyncGenerator<ConsumerBatch<K, V>, void, void> {
    const maxRecords = options.maxRecords ?? this.maxPollRecords;
    if (maxRecords < 1) throw new ConsumerStateError('maxRecords must be at least 1');
    this.beginIteration();
    try {
      for (;;) {
        const batch = await this.nextBatch(maxRecords, options.signal);
        if (batch === undefined) return;
        yield batch;
      }
    } finally {
      this.endIteration();
    }
  }

  private beginIteration(): void {
    if (this.iterating) throw new ConsumerStateError('the consumer is already being iterated');
    if (this.mode === 'none' && this.closing === undefined) {
      throw new ConsumerStateError('subscribe or assign before reading');
    }
    this.iterating = true;
  }

  private endIteration(): void {
    this.finishDelivery();
    this.iterating = false;
    this.lastPollMs = Date.now();
  }

  /** The next batch; undefined once the consumer is closed. */
  private async nextBatch(
    maxRecords: number,
    signal: AbortSignal | undefined,
  ): Promise<ConsumerBatch<K, V> | undefined> {
    this.finishDelivery();
    for (;;) {
      if (!this.checkPoll(signal)) return undefined;
      const batch = this.take(maxRecords);
      if (batch !== undefined) return batch;
      await this.waitForData(signal);
    }
  }

  /** Before taking records: throws a pending error; false once closing. */
  private checkPoll(signal: AbortSignal | undefined): boolean {
    if (this.fatalError) throw this.fatalError;
    if (this.closing) return false;
    if (signal?.aborted) throw new AbortedError('iteration aborted', { cause: signal.reason });
    // Counted, not timed: a clock read per record costs more than the rest of this check.
    this.polls++;
    if (this.membership?.isSuspended) this.membership.resume();
    return true;
  }

  private async waitForData(signal: AbortSignal | undefined): Promise<void> {
    this.waitingForRecords = true;
    try {
      await this.dataWakeup.wait(1000, signal);
    } finally {
      this.waitingForRecords = false;
    }
  }

  /**
   * The record iterator's step, synchronous: the record handed out last is done, then the next
   * record in hand (undefined: none prefetched, wait for data; null: the consumer is closed).
   */
  private pollRecord(signal: AbortSignal | undefined): ConsumerRecord<K, V> | undefined | null {
    this.finishDelivery();
    if (!this.checkPoll(signal)) return null;
    // Fast path: stay on the current partition while it has records and its turn lasts.
    const state = this.current;
    if (
      state !== undefined &&
      this.currentCount < this.maxPollRecords &&
      !state.paused &&
      !state.revoking &&
      state.error === undefined &&
      state.position !== null &&
      this.assigned.get(state.key) === state
    ) {
      const record = this.readRecord(state);
      if (record !== undefined) {
        this.currentCount++;
        this.deliveredState = state;
        this.deliveredEpoch = state.epoch;
        this.deliveredNext = state.position;
        return record;
      }
    }
    const batch = this.take(1);
    return batch === undefined ? undefined : batch.records[0]!;
  }

  /** Up to `maxRecords` records of the next partition that has some. */
  private take(maxRecords: number): ConsumerBatch<K, V> | undefined {
    const states = [...this.assigned.values()];
    if (states.length === 0) return undefined;
    const ordered: PartitionState[] = [];
    // Stay on the current partition for up to maxPollRecords records, then take turns.
    if (
      this.current !== undefined &&
      this.currentCount < this.maxPollRecords &&
      this.assigned.get(this.current.key) === this.current
    ) {
      ordered.push(this.current);
    }
    for (let i = 0; i < states.length; i++) {
      ordered.push(states[(this.rotation + i) % states.length]!);
    }
    for (const state of ordered) {
      if (state.paused || state.revoking) continue;
      if (state.error !== undefined) throw state.error;
      if (state.position === null) continue;
      const records = this.readRecords(state, maxRecords);
      if (records.length === 0) continue;
      if (state !== this.current) {
        this.current = state;
        this.currentCount = 0;
        this.rotation = (states.indexOf(state) + 1) % states.length;
      }
      this.currentCount += records.length;
      this.deliveredState = state;
      this.deliveredEpoch = state.epoch;
      this.deliveredNext = state.position!;
      return {
        topic: state.topic,
        partition: state.partition,
        records,
        highWatermark: state.highWatermark,
      };
    }
    this.current = undefined;
    return undefined;
  }

  /** Reads records of one partition from its prefetched responses, moving its position. */
  private readRecords(state: PartitionState, maxRecords: number): ConsumerRecord<K, V>[] {
    const records: ConsumerRecord<K, V>[] = [];
    const before = state.buffer.length;
    while (records.length < maxRecords) {
      let record: ConsumerRecord<K, V> | undefined;
      try {
        record = this.takeRecord(state, { inHand: records.length > 0 });
      } catch (error) {
        // The records before a bad one go out; the error comes with the next read.
        if (records.length > 0) break;
        throw error;
      }
      if (record === undefined) break;
      records.push(record);
    }
    // Only control records or skipped batches: the position moved, nothing is in hand.
    if (records.length === 0) state.processed = state.position;
    if (state.buffer.length !== before) this.fetcher.schedule();
    return records;
  }

  /** One record of a partition from its prefetched responses, moving its position. */
  private readRecord(state: PartitionState): ConsumerRecord<K, V> | undefined {
    const before = state.buffer.length;
    const record = this.takeRecord(state, { inHand: false });
    if (record === undefined) state.processed = state.position;
    if (state.buffer.length !== before) this.fetcher.schedule();
    return record;
  }

  /**
   * The next record at or after the partition's position, deserialized; undefined when the
   * prefetched responses hold no more. A response that cannot be read becomes the partition's
   * error unless records are already in hand (they go out first).
   */
  private takeRecord(
    state: PartitionState,
    options: { inHand: boolean },
  ): ConsumerRecord<K, V> | undefined {
    for (;;) {
      const fetched = state.buffer[0];
      if (fetched === undefined) return undefined;
      let raw: ReturnType<typeof fetched.peek>;
      try {
        raw = fetched.peek();
      } catch (error) {
        if (!options.inHand) state.error = error as Error;
        throw error;
      }
      if (raw === undefined) {
        if (fetched.nextOffset > state.position!) state.position = fetched.nextOffset;
        state.shift();
        continue;
      }
      if (raw.offset < state.position!) {
        fetched.advance();
        continue;
      }
      if (this.deserializes) {
        let key: K;
        let value: V;
        try {
          key = this.keyDeserializer(raw.key);
          value = this.valueDeserializer(raw.value);
        } catch (error) {
          throw new RecordDeserializationError(state.topic, state.partition, raw.offset, error);
        }
        fetched.advance();
        state.position = raw.offset + 1n;
        state.leaderEpoch = raw.leaderEpoch;
        return {
          topic: raw.topic,
          partition: raw.partition,
          offset: raw.offset,
          timestamp: raw.timestamp,
          timestampType: raw.timestampType,
          key,
          value,
          headers: raw.headers,
          leaderEpoch: raw.leaderEpoch,
        };
      }
      fetched.advance();
      state.position = raw.offset + 1n;
      state.leaderEpoch = raw.leaderEpoch;
      // Keys and values stay bytes (no deserializer set): K and V are Buffer | null.
      return raw as ConsumerRecord<K, V>;
    }
  }

  /** The record or batch handed out last is done. */
  private finishDelivery(): void {
    const state = this.deliveredState;
    if (state === undefined) return;
    this.deliveredState = undefined;
    if (state.epoch === this.deliveredEpoch && this.assigned.get(state.key) === state) {
      state.processed = this.deliveredNext;
    }
    this.deliveryWakeup.wake();
  }

  // ---- group callbacks --------------------------------------------------------------------

  private async onGroupAssignment(
    assigned: readonly TopicPartition[],
    added: readonly TopicPartition[],
  ): Promise<void> {
    const keep = new Set(assigned.map((tp) => partitionKey(tp.topic, tp.partition)));
    for (const state of [...this.assigned.values()]) {
      if (!keep.has(state.key)) this.removeState(state);
    }
    for (const tp of assigned) {
      const key = partitionKey(tp.topic, tp.partition);
      if (!this.assigned.has(key)) {
        this.assigned.set(key, new PartitionState(tp.topic, tp.partition, this.account));
      }
    }
    await this.callListener('onAssigned', [...added].sort(comparePartitions));
    this.resolvePositions();
    this.fetcher.schedule();
    this.dataWakeup.wake();
  }

  /** Gives partitions up: after the record in hand is done and committed, unless lost. */
  private async revoke(partitions: readonly TopicPartition[], lost: boolean): Promise<void> {
    const states = partitions
      .map((tp) => this.assigned.get(partitionKey(tp.topic, tp.partition)))
      .filter((state) => state !== undefined);
    for (const state of states) state.revoking = true;
    if (!lost) {
      await this.waitForDelivery(states);
      if (this.autoCommit) {
        try {
          await this.enqueueCommit(this.processedToCommit(states, false));
        } catch (error) {
          this.logger.log('warn', 'commit before giving up partitions failed', {
            error: (error as Error).message,
          });
        }
      }
    }
    await this.callListener(
      lost ? 'onLost' : 'onRevoked',
      states.map(({ topic, partition }) => ({ topic, partition })).sort(comparePartitions),
    );
    for (const state of states) this.removeState(state);
  }

  /** Waits until no record of these partitions is in the application's hands. */
  private async waitForDelivery(states: readonly PartitionState[]): Promise<void> {
    const deadline = Date.now() + this.rebalanceTimeoutMs;
    while (
      this.deliveredState !== undefined &&
      states.includes(this.deliveredState) &&
      this.closing === undefined &&
      Date.now() < deadline
    ) {
      await this.deliveryWakeup.wait(Math.max(0, deadline - Date.now()));
    }
  }

  private async callListener(
    which: 'onAssigned' | 'onRevoked' | 'onLost',
    partitions: TopicPartition[],
  ): Promise<void> {
    const callback =
      which === 'onLost' ? (this.listener.onLost ?? this.listener.onRevoked) : this.listener[which];
    if (callback === undefined) return;
    if (partitions.length === 0 && which !== 'onAssigned') return;
    try {
      await callback.call(this.listener, partitions);
    } catch (error) {
      this.logger.log('error', `rebalance listener ${which} threw`, {
        error: (error as Error).message,
      });
    }
  }

  private removeState(state: PartitionState): void {
    if (this.assigned.get(state.key) !== state) return;
    this.assigned.delete(state.key);
    state.clearBuffer();
    state.epoch++;
    if (this.current === state) this.current = undefined;
  }

  // ---- positions: committed offsets and resets ---------------------------------------------

  private resetPositions(
    partitions: readonly TopicPartition[] | undefined,
    strategy: ResetStrategy,
  ): void {
    const states = partitions
      ? partitions.map((tp) => this.stateOf(tp))
      : [...this.assigned.values()];
    for (const state of states) state.reset(strategy);
    this.resolvePositions();
  }

  private outOfRange(state: PartitionState): void {
    this.logger.log('info', 'fetch offset out of range; resetting', {
      topic: state.topic,
      partition: state.partition,
      offset: state.fetchPosition?.toString(),
      strategy: this.autoOffsetReset,
    });
    state.reset(this.autoOffsetReset);
    this.resolvePositions();
  }

  /** Finds positions for the partitions without one, in the background. */
  private resolvePositions(): void {
    if (this.resolving) {
      this.resolveAgain = true;
      return;
    }
    this.resolving = this.resolveLoop().finally(() => {
      this.resolving = undefined;
      if (this.resolveAgain && this.closing === undefined) {
        this.resolveAgain = false;
        this.resolvePositions();
      }
    });
  }

  private async resolveLoop(): Promise<void> {
    let failures = 0;
    while (this.closing === undefined) {
      this.resolveAgain = false;
      const unknown = [...this.assigned.values()].filter(
        (state) => state.position === null && state.error === undefined,
      );
      if (unknown.length === 0) return;
      try {
        await this.resolve(unknown);
        const stuck = unknown.some(
          (state) =>
            this.assigned.get(state.key) === state &&
            state.position === null &&
            state.error === undefined,
        );
        failures = stuck ? failures + 1 : 0;
        if (stuck) {
          await sleep(backoffMs(failures, this.cluster.retry), this.abort.signal).catch(() => {});
        }
      } catch (error) {
        if (this.closing) return;
        failures++;
        this.logger.log('warn', 'looking up positions failed; retrying', {
          error: (error as Error).message,
        });
        await sleep(backoffMs(failures, this.cluster.retry), this.abort.signal).catch(() => {});
      }
      this.fetcher.schedule();
      this.dataWakeup.wake();
    }
  }

  private async resolve(states: readonly PartitionState[]): Promise<void> {
    const epochs = new Map(states.map((state) => [state, state.epoch]));
    const current = (state: PartitionState) =>
      this.assigned.get(state.key) === state && state.epoch === epochs.get(state);
    const toCommitted = states.filter((state) => state.resetStrategy === undefined);
    if (toCommitted.length > 0) {
      if (this.groupId === undefined) {
        for (const state of toCommitted) state.resetStrategy = this.autoOffsetReset;
      } else {
        const committed = await fetchCommittedOffsets(this.cluster, this.groupId, toCommitted, {
          requireStable: this.isolationLevel === IsolationLevel.readCommitted,
          signal: this.abort.signal,
        });
        for (const state of toCommitted) {
          if (!current(state) || state.position !== null) continue;
          const found = committed.get(state.key);
          if (found !== undefined && found.offset >= 0n) {
            state.setPosition(found.offset, found.leaderEpoch);
            state.lastCommitted = found.offset;
            epochs.set(state, state.epoch);
          } else {
            state.resetStrategy = this.autoOffsetReset;
          }
        }
      }
    }
    const toReset = states.filter(
      (state) => current(state) && state.position === null && state.resetStrategy !== undefined,
    );
    const byTime: (TopicPartition & { timestamp: bigint })[] = [];
    for (const state of toReset) {
      if (state.resetStrategy === 'none') {
        state.error = new NoOffsetForPartitionError(
          state.topic,
          state.partition,
          `no committed offset for ${state.topic}-${state.partition} and autoOffsetReset is 'none'`,
        );
        continue;
      }
      byTime.push({
        topic: state.topic,
        partition: state.partition,
        timestamp: state.resetStrategy === 'earliest' ? OffsetSpec.earliest : OffsetSpec.latest,
      });
    }
    if (byTime.length === 0) return;
    const offsets = await listOffsets(this.cluster, byTime, {
      isolationLevel: this.isolationLevel,
      signal: this.abort.signal,
    });
    for (const state of toReset) {
      const found = offsets.get(state.key);
      if (found === undefined || !current(state) || state.position !== null) continue;
      state.setPosition(found.offset, found.leaderEpoch);
    }
  }

  // ---- commit plumbing --------------------------------------------------------------------

  private positionsToCommit(): OffsetToCommit[] {
    return [...this.assigned.values()]
      .filter((state) => state.position !== null)
      .map((state) => ({
        topic: state.topic,
        partition: state.partition,
        offset: state.position!,
        leaderEpoch: state.leaderEpoch,
      }));
  }

  private processedToCommit(
    states: Iterable<PartitionState>,
    changedOnly: boolean,
  ): OffsetToCommit[] {
    const offsets: OffsetToCommit[] = [];
    for (const state of states) {
      if (state.processed === null) continue;
      if (changedOnly && state.processed === state.lastCommitted) continue;
      offsets.push({
        topic: state.topic,
        partition: state.partition,
        offset: state.processed,
        leaderEpoch: state.leaderEpoch,
      });
    }
    return offsets;
  }

  private enqueueAutoCommit(states: Iterable<PartitionState>): void {
    const offsets = this.processedToCommit(states, true);
    if (offsets.length === 0) return;
    this.enqueueCommit(offsets).catch((error: unknown) => {
      this.logger.log('warn', 'auto-commit failed', { error: (error as Error).message });
    });
  }

  /** Commits in call order (each waits for the one before). */
  private enqueueCommit(offsets: readonly OffsetToCommit[], signal?: AbortSignal): Promise<void> {
    const groupId = this.groupId;
    if (groupId === undefined) {
      return Promise.reject(new ConsumerStateError('commits need a groupId'));
    }
    const run = async () => {
      if (offsets.length === 0) return;
      const identity = this.groupMetadata();
      try {
        await commitOffsets(this.cluster, groupId, identity, offsets, signal ? { signal } : {});
      } catch (error) {
        if (error instanceof CommitFailedError && this.membership) {
          const now = this.membership.identity();
          if (now.generationId === identity.generationId && now.memberId === identity.memberId) {
            const code = (error.cause as { errorCode?: number } | undefined)?.errorCode;
            this.membership.fenced(code !== ErrorCode.ILLEGAL_GENERATION);
          }
        }
        throw error;
      }
      for (const offset of offsets) {
        const state = this.assigned.get(partitionKey(offset.topic, offset.partition));
        if (state) state.lastCommitted = offset.offset;
      }
    };
    const result = this.commitQueue.then(run, run);
    this.commitQueue = result.catch(() => {});
    return result;
  }

  // ---- timers: auto-commit, poll interval, metadata ------------------------------------------

  private startTimers(): void {
    if (this.timers.length > 0) return;
    if (this.autoCommit) {
      const every = this.options.autoCommitIntervalMs ?? 5000;
      this.timers.push(
        setInterval(() => {
          if (this.mode === 'subscribed' && !this.membership?.stable) return;
          this.enqueueAutoCommit(this.assigned.values());
        }, every),
      );
    }
    if (this.mode === 'subscribed') {
      const checkEvery = Math.max(100, Math.min(1000, this.rebalanceTimeoutMs / 4));
      this.timers.push(setInterval(() => this.checkPollInterval(), checkEvery));
      this.timers.push(
        setInterval(
          () => {
            this.checkMetadata().catch((error: unknown) => {
              this.logger.log('debug', 'metadata check failed', {
                error: (error as Error).message,
              });
            });
          },
          Math.max(100, this.options.metadataMaxAgeMs ?? 300_000),
        ),
      );
    }
    for (const timer of this.timers) timer.unref();
  }

  /** Kafka's max.poll.interval.ms: a record held too long makes the member leave the group. */
  private checkPollInterval(): void {
    const membership = this.membership;
    if (!membership || membership.isSuspended || this.closing || this.waitingForRecords) return;
    const now = Date.now();
    if (this.polls !== this.pollsSeen) {
      // Polled since the last check: the last poll was at most one check interval ago.
      this.pollsSeen = this.polls;
      this.lastPollMs = now;
      return;
    }
    if (now - this.lastPollMs <= this.rebalanceTimeoutMs) return;
    this.logger.log('warn', 'no record asked for within rebalanceTimeoutMs: leaving the group', {
      groupId: this.groupId,
    });
    const owned = [...this.assigned.values()];
    const leave = async () => {
      await this.revoke(owned, true);
      await membership.suspend('the consumer was not polled within rebalanceTimeoutMs');
    };
    leave().catch((error: unknown) => {
      this.logger.log('warn', 'leaving the group failed', { error: (error as Error).message });
    });
  }

  /** Pattern subscriptions follow new topics; the leader follows partition counts. */
  private async checkMetadata(): Promise<void> {
    const membership = this.membership;
    if (this.mode !== 'subscribed' || !membership || this.closing) return;
    if (this.pattern) {
      const before = this.topics.join('\n');
      await this.matchPattern();
      if (this.topics.join('\n') !== before) {
        membership.requestRejoin('the pattern matches other topics now');
        return;
      }
    }
    if (membership.isLeader && membership.assignedTopicCounts.size > 0) {
      const counts = membership.assignedTopicCounts;
      await this.cluster.refreshMetadata([...counts.keys()]);
      for (const [topic, count] of counts) {
        const now = this.cluster.cachedTopic(topic)?.partitions.length ?? 0;
        if (now !== count) {
          membership.requestRejoin(`${topic} has ${now} partitions now`);
          return;
        }
      }
    }
  }

  private async matchPattern(): Promise<void> {
    const pattern = this.pattern;
    if (pattern === undefined) return;
    await this.cluster.refreshMetadata(null);
    this.topics = this.cluster
      .cachedTopics()
      .filter((topic) => !topic.isInternal && pattern.test(topic.name))
      .map((topic) => topic.name)
      .sort();
  }

  // ---- closing ----------------------------------------------------------------------------

  /**
   * Closes the consumer: iterations end, the record in hand counts as processed, offsets are
   * committed (auto-commit), `onRevoked` runs, and the member leaves its group.
   */
  close(options: { timeoutMs?: number } = {}): Promise<void> {
    this.closing ??= this.doClose(options.timeoutMs ?? 30_000);
    return this.closing;
  }

  private async doClose(timeoutMs: number): Promise<void> {
    this.finishDelivery();
    this.dataWakeup.wake();
    this.deliveryWakeup.wake();
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    const deadline = AbortSignal.timeout(timeoutMs);
    try {
      await this.stopMembership({
        leave: this.options.leaveGroupOnClose ?? this.options.groupInstanceId === undefined,
        signal: deadline,
      });
      if (this.mode === 'assigned' && this.autoCommit && this.fatalError === undefined) {
        await this.enqueueCommit(this.processedToCommit(this.assigned.values(), true), deadline);
      }
      await this.commitQueue;
    } catch (error) {
      this.logger.log('warn', 'closing: commit failed', { error: (error as Error).message });
    } finally {
      this.abort.abort(new AbortedError('consumer closed'));
      await this.fetcher.stop();
      for (const state of [...this.assigned.values()]) this.removeState(state);
      await this.resolving?.catch(() => {});
      await this.cluster.close();
    }
  }

  /** Stops group membership: commit, `onRevoked` (or `onLost`), then LeaveGroup. */
  private async stopMembership(options: { leave: boolean; signal?: AbortSignal }): Promise<void> {
    const membership = this.membership;
    if (membership === undefined) return;
    this.membership = undefined;
    await membership.stop();
    const states = [...this.assigned.values()];
    const lost = membership.generationId < 0;
    if (!lost && this.autoCommit && this.fatalError === undefined && states.length > 0) {
      try {
        const offsets = this.processedToCommit(states, true);
        if (offsets.length > 0) {
          await commitOffsets(
            this.cluster,
            membership.groupId,
            membership.identity(),
            offsets,
            options.signal ? { signal: options.signal } : {},
          );
          for (const offset of offsets) {
            const state = this.assigned.get(partitionKey(offset.topic, offset.partition));
            if (state) state.lastCommitted = offset.offset;
          }
        }
      } catch (error) {
        this.logger.log('warn', 'commit on leaving the group failed', {
          error: (error as Error).message,
        });
      }
    }
    if (states.length > 0) {
      await this.callListener(
        lost ? 'onLost' : 'onRevoked',
        states.map(({ topic, partition }) => ({ topic, partition })).sort(comparePartitions),
      );
    }
    for (const state of states) this.removeState(state);
    if (options.leave) await membership.leaveGroup('the consumer is closing');
  }

  // ---- helpers ----------------------------------------------------------------------------

  private fail(error: Error): void {
    this.logger.log('error', 'consumer failed', { error: error.message });
    this.fatalError ??= error;
    this.dataWakeup.wake();
  }

  private checkOpen(): void {
    if (this.closing) throw new ConsumerStateError('the consumer is closed');
  }

  private stateOf(tp: TopicPartition): PartitionState {
    const state = this.assigned.get(partitionKey(tp.topic, tp.partition));
    if (state === undefined) {
      throw new ConsumerStateError(`${tp.topic}-${tp.partition} is not assigned to this consumer`);
    }
    return state;
  }
}
