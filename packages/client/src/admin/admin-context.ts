/**
 * What every admin operation is built from. An operation is a list of items (topics, groups,
 * partitions, config resources). `settle` runs rounds until each item has a final result: a
 * round routes every pending item to its broker (the controller, a group's coordinator, a
 * partition's leader), sends one request per broker (`dispatch`), and reports an outcome per
 * item. Items whose outcome is retriable are tried again after a backoff, with their routing
 * looked up afresh; when the retries or the time run out they keep their last Kafka error.
 *
 * Errors of one item are `KafkaProtocolError`s whose message names the item
 * (`topic orders: Topic 'orders' already exists.`); they are results, not rejections. An
 * operation rejects only when it cannot go on at all: a lost connection it could not get back
 * (`RetriesExhaustedError`), an API the broker lacks, an abort.
 */
import { ErrorCode, KafkaProtocolError, kafkaErrorForCode } from '@brook/protocol';
import { AbortedError, isRetriableError, RetriesExhaustedError } from '../errors.ts';
import type { ClientLogger } from '../logger.ts';
import type { Cluster, TopicInfo } from '../network/cluster.ts';
import type { Connection, RequestOptions } from '../network/connection.ts';
import { backoffMs, type RetryOptions, sleep } from '../retry.ts';

export interface OperationOptions {
  /**
   * Time for the whole operation, retries included; requests that carry a broker-side timeout
   * (CreateTopics' `timeout_ms`) are given what is left. Default: the admin's
   * `defaultApiTimeoutMs` (60 s, Kafka's `default.api.timeout.ms`).
   */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

/** One item's outcome in a round. */
export type Outcome<Result> =
  | { readonly done: Result }
  | { readonly failed: KafkaProtocolError }
  | { readonly retry: Error };

/** What a round may use for its requests. */
export interface Round {
  /** Options for each request: the time left (at most the request timeout) and the signal. */
  readonly request: RequestOptions;
  /** The same time, for the broker-side timeout fields of requests. */
  readonly timeoutMs: number;
}

/**
 * Codes that name an entity that does not exist. Kafka lists some as retriable (metadata may
 * lag behind a creation), but an admin operation asked about that entity: it is the answer.
 */
const UNKNOWN_ENTITY_CODES: ReadonlySet<number> = new Set([
  ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
  ErrorCode.UNKNOWN_TOPIC_ID,
]);

/** Codes after which a group's coordinator is looked up again. */
export const COORDINATOR_CODES: ReadonlySet<number> = new Set([
  ErrorCode.NOT_COORDINATOR,
  ErrorCode.COORDINATOR_NOT_AVAILABLE,
  ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
]);

/** Codes after which partition leaders are looked up again. */
const STALE_LEADER_CODES: ReadonlySet<number> = new Set([
  ErrorCode.NOT_LEADER_OR_FOLLOWER,
  ErrorCode.LEADER_NOT_AVAILABLE,
  ErrorCode.FENCED_LEADER_EPOCH,
  ErrorCode.UNKNOWN_LEADER_EPOCH,
  ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
  ErrorCode.KAFKA_STORAGE_ERROR,
]);

/** A Kafka error of one entity, named in the message: `group g: The group is not empty.`. */
export function entityError(
  errorCode: number,
  entity: string,
  serverMessage?: string | null,
): KafkaProtocolError {
  const detail = serverMessage || kafkaErrorForCode(errorCode).message;
  return new KafkaProtocolError(errorCode, `${entity}: ${detail}`);
}

/**
 * The outcome of an item's error code: done (no error), retried (a retriable code that does not
 * say the entity is unknown), or failed. `unknownIsRetriable` is for answers from a partition's
 * leader, where an unknown partition the metadata knows means the leader moved.
 */
export function outcomeOf<Result>(
  errorCode: number,
  entity: string,
  serverMessage: string | null,
  result: () => Result,
  options: { unknownIsRetriable?: boolean } = {},
): Outcome<Result> {
  if (errorCode === ErrorCode.NONE) return { done: result() };
  const error = entityError(errorCode, entity, serverMessage);
  const final = UNKNOWN_ENTITY_CODES.has(errorCode) && options.unknownIsRetriable !== true;
  return error.retriable && !final ? { retry: error } : { failed: error };
}

/** `${topic}-${partition}`, Kafka's way of naming a partition. */
export function partitionName(topic: string, partition: number): string {
  return `${topic}-${partition}`;
}

export class AdminContext {
  readonly cluster: Cluster;
  readonly logger: ClientLogger;
  private readonly retry: RetryOptions;
  private readonly defaultApiTimeoutMs: number;
  private controllerStale = true;

  constructor(options: {
    cluster: Cluster;
    logger: ClientLogger;
    retry: RetryOptions;
    defaultApiTimeoutMs: number;
  }) {
    this.cluster = options.cluster;
    this.logger = options.logger;
    this.retry = options.retry;
    this.defaultApiTimeoutMs = options.defaultApiTimeoutMs;
  }

  /**
   * Runs `round` for the items without a final result until there are none. `failed` makes the
   * result of an item whose error is final (or whose retries ran out with a Kafka error).
   * Results come in the order of `items`.
   */
  async settle<Item, Result>(
    items: readonly Item[],
    options: OperationOptions,
    round: (pending: readonly Item[], round: Round) => Promise<readonly Outcome<Result>[]>,
    failed: (item: Item, error: KafkaProtocolError) => Result,
  ): Promise<Result[]> {
    const retries = this.retry.retries ?? 10;
    const deadline = Date.now() + (options.timeoutMs ?? this.defaultApiTimeoutMs);
    const signal = options.signal;
    const results = new Array<Result>(items.length);
    let pending = items.map((item, index) => ({ item, index }));
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (signal?.aborted) throw new AbortedError('aborted', { cause: signal.reason });
      const timeoutMs = Math.max(1, Math.min(this.cluster.requestTimeoutMs, deadline - Date.now()));
      const request: RequestOptions = signal === undefined ? { timeoutMs } : { timeoutMs, signal };
      const outcomes = await round(
        pending.map((p) => p.item),
        { request, timeoutMs },
      );
      const again: { item: Item; index: number; error: Error }[] = [];
      pending.forEach((entry, k) => {
        const outcome = outcomes[k];
        if (outcome === undefined) throw new Error(`round answered ${outcomes.length} items`);
        if ('done' in outcome) results[entry.index] = outcome.done;
        else if ('failed' in outcome) results[entry.index] = failed(entry.item, outcome.failed);
        else again.push({ ...entry, error: outcome.retry });
      });
      if (again.length === 0) break;
      const backoff = backoffMs(attempt + 1, this.retry);
      if (attempt >= retries || Date.now() + backoff >= deadline) {
        for (const entry of again) {
          if (!(entry.error instanceof KafkaProtocolError)) {
            throw new RetriesExhaustedError(
              `gave up after ${attempt + 1} attempts: ${entry.error.message}`,
              { cause: entry.error },
            );
          }
          results[entry.index] = failed(entry.item, entry.error);
        }
        break;
      }
      this.logger.log('debug', 'admin: retrying', {
        attempt: attempt + 1,
        items: again.length,
        error: again[0]?.error.message,
      });
      await sleep(backoff, signal);
      pending = again;
    }
    return results;
  }

  /**
   * One round: routes each item, sends one request per broker with its items, and returns the
   * outcomes in item order. A routing or request failure becomes the outcome of the items it
   * concerns (`stale` is told, to forget the routing); one that is neither a Kafka error nor
   * retriable rejects the round.
   */
  async dispatch<Item, Result>(
    items: readonly Item[],
    route: (item: Item) => Promise<Connection>,
    send: (connection: Connection, items: readonly Item[]) => Promise<readonly Outcome<Result>[]>,
    stale: (item: Item) => void = () => {},
  ): Promise<Outcome<Result>[]> {
    const outcomes = new Array<Outcome<Result>>(items.length);
    const byConnection = new Map<Connection, number[]>();
    await Promise.all(
      items.map(async (item, index) => {
        try {
          const connection = await route(item);
          const indexes = byConnection.get(connection);
          if (indexes === undefined) byConnection.set(connection, [index]);
          else indexes.push(index);
        } catch (error) {
          stale(item);
          outcomes[index] = failureOutcome(error);
        }
      }),
    );
    await Promise.all(
      [...byConnection].map(async ([connection, indexes]) => {
        const batch = indexes.map((i) => items[i]!);
        try {
          const answers = await send(connection, batch);
          indexes.forEach((i, k) => {
            outcomes[i] = answers[k]!;
          });
        } catch (error) {
          const outcome = failureOutcome<Result>(error);
          for (const [k, i] of indexes.entries()) {
            stale(batch[k]!);
            outcomes[i] = outcome;
          }
        }
      }),
    );
    return outcomes;
  }

  /**
   * Options for the steps of an operation made of several (each a `settle`): the same signal,
   * and what is left of the operation's time.
   */
  budget(options: OperationOptions): () => OperationOptions {
    const deadline = Date.now() + (options.timeoutMs ?? this.defaultApiTimeoutMs);
    const signal = options.signal;
    return () => {
      const timeoutMs = Math.max(1, deadline - Date.now());
      return signal === undefined ? { timeoutMs } : { timeoutMs, signal };
    };
  }

  /**
   * The broker topic changes go to: the controller the metadata names, or any broker when it
   * names none (KRaft-era brokers forward these requests to the controller themselves).
   */
  async controller(): Promise<Connection> {
    if (this.controllerStale) {
      this.controllerStale = false;
      await this.cluster.refreshMetadata([]);
    }
    const id = this.cluster.controllerId;
    return id >= 0 ? this.cluster.connection(id) : this.cluster.anyConnection();
  }

  /** After NOT_CONTROLLER or a lost connection: the next `controller()` asks the metadata. */
  controllerMoved(): void {
    this.controllerStale = true;
  }

  /**
   * The metadata of the topics of `partitions`, each topic once. When a partition is beyond what
   * the cached metadata knows (partitions just added), the metadata is fetched again first.
   */
  async topics(
    partitions: Iterable<{ readonly topic: string; readonly partition: number }>,
  ): Promise<Map<string, TopicInfo | Error>> {
    const highest = new Map<string, number>();
    for (const { topic, partition } of partitions) {
      highest.set(topic, Math.max(partition, highest.get(topic) ?? -1));
    }
    const found = new Map<string, TopicInfo | Error>();
    const lookup = async (name: string) => {
      try {
        found.set(name, await this.cluster.topic(name));
      } catch (error) {
        found.set(name, error as Error);
      }
    };
    await Promise.all([...highest.keys()].map(lookup));
    const short = [...highest].filter(([name, partition]) => {
      const info = found.get(name);
      return info !== undefined && !(info instanceof Error) && partition >= info.partitions.length;
    });
    if (short.length > 0) {
      this.cluster.invalidateMetadata();
      await Promise.all(short.map(([name]) => lookup(name)));
    }
    return found;
  }

  /**
   * The leader of a partition, from `topics()`'s answer. The partition may be unknown (final),
   * leaderless (retriable) or the lookup may have failed.
   */
  leader(
    known: ReadonlyMap<string, TopicInfo | Error>,
    topic: string,
    partition: number,
  ): Promise<Connection> {
    const info = known.get(topic);
    if (info === undefined || info instanceof Error) {
      return Promise.reject(
        info instanceof KafkaProtocolError
          ? entityError(info.errorCode, `topic ${topic}`)
          : (info ?? entityError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic ${topic}`)),
      );
    }
    const entry = info.partitions.find((p) => p.partition === partition);
    if (entry === undefined) {
      return Promise.reject(
        entityError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, partitionName(topic, partition)),
      );
    }
    if (entry.leader < 0) {
      return Promise.reject(
        entityError(ErrorCode.LEADER_NOT_AVAILABLE, partitionName(topic, partition)),
      );
    }
    return this.cluster.connection(entry.leader);
  }

  /** A group's coordinator; a failed lookup's Kafka error names the group. */
  async coordinator(groupId: string): Promise<Connection> {
    try {
      return await this.cluster.coordinator(groupId);
    } catch (error) {
      if (!(error instanceof KafkaProtocolError)) throw error;
      throw entityError(error.errorCode, `group ${groupId}`);
    }
  }

  /** After an error from a leader that says the metadata is stale. */
  leaderMoved(errorCode?: number): void {
    if (errorCode === undefined || STALE_LEADER_CODES.has(errorCode)) {
      this.cluster.invalidateMetadata();
    }
  }
}

/** A routing or request failure as an outcome (rethrown when it is not one). */
function failureOutcome<Result>(error: unknown): Outcome<Result> {
  if (error instanceof KafkaProtocolError) {
    return error.retriable && !UNKNOWN_ENTITY_CODES.has(error.errorCode)
      ? { retry: error }
      : { failed: error };
  }
  if (isRetriableError(error)) return { retry: error as Error };
  throw error;
}

/**
 * Sends `items` in as few requests as keep each `key` once per request (Kafka refuses a
 * partition named twice in one ListOffsets), and returns the outcomes in item order.
 */
export async function sendUnique<Item, Result>(
  items: readonly Item[],
  key: (item: Item) => string,
  send: (items: readonly Item[]) => Promise<readonly Outcome<Result>[]>,
): Promise<Outcome<Result>[]> {
  const layers: number[][] = [];
  const seen: Set<string>[] = [];
  items.forEach((item, index) => {
    const k = key(item);
    let layer = seen.findIndex((keys) => !keys.has(k));
    if (layer < 0) {
      layer = layers.length;
      layers.push([]);
      seen.push(new Set());
    }
    layers[layer]!.push(index);
    seen[layer]!.add(k);
  });
  const outcomes = new Array<Outcome<Result>>(items.length);
  await Promise.all(
    layers.map(async (indexes) => {
      const answers = await send(indexes.map((i) => items[i]!));
      indexes.forEach((i, k) => {
        outcomes[i] = answers[k]!;
      });
    }),
  );
  return outcomes;
}
