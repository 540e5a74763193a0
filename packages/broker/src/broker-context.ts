/**
 * What every handler shares: config, metadata, the logs, and the topic operations that several
 * APIs need (creation with Kafka's validation, auto-creation, deletion). Handlers reach the
 * broker only through this.
 */
import { ErrorCode } from '@brook/protocol';
import { type LogConfig, type LogManager, type PartitionLog, parseLogConfig } from '@brook/storage';
import type { BrokerConfig } from './config/broker-config.ts';
import {
  brokerLogConfig,
  type DynamicBrokerConfigs,
  decodeDynamicBrokerConfigs,
  encodeDynamicBrokerConfigs,
} from './config/config-resources.ts';
import { FetchSessionCache } from './fetch/fetch-session-cache.ts';
import { ReadBufferPool } from './fetch/read-buffer-pool.ts';
import { GroupCoordinator } from './group/group-coordinator.ts';
import type { HandlerRegistry } from './handlers/registry.ts';
import type { Logger } from './logger.ts';
import type { MetadataStore, TopicMetadata } from './metadata/metadata-store.ts';
import { ProducerIdManager } from './metadata/producer-id-manager.ts';

/** Kafka's limit on topic names. */
export const MAX_TOPIC_NAME_LENGTH = 249;
const LEGAL_TOPIC_NAME = /^[a-zA-Z0-9._-]+$/;

/** The internal topic of committed offsets. */
export const CONSUMER_OFFSETS_TOPIC = '__consumer_offsets';

export interface TopicError {
  readonly errorCode: number;
  readonly errorMessage: string;
}

/** Kafka's topic name rules; undefined when the name is legal. */
export function validateTopicName(name: string): string | undefined {
  if (name.length === 0) return "Topic name is illegal, it can't be empty";
  if (name === '.' || name === '..') return 'Topic name cannot be "." or ".."';
  if (name.length > MAX_TOPIC_NAME_LENGTH) {
    return `Topic name is illegal, it can't be longer than ${MAX_TOPIC_NAME_LENGTH} characters, topic name: ${name}`;
  }
  if (!LEGAL_TOPIC_NAME.test(name)) {
    return `Topic name ${name} is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'`;
  }
  return undefined;
}

export class BrokerContext {
  readonly config: BrokerConfig;
  readonly metadata: MetadataStore;
  readonly logs: LogManager;
  readonly logger: Logger;
  readonly registry: HandlerRegistry;
  /** Incremental fetch sessions (KIP-227), bounded by `max.incremental.fetch.session.cache.slots`. */
  readonly fetchSessions: FetchSessionCache;
  /**
   * The buffers fetches read records into, reused once their response is written: up to two
   * responses' worth (`fetch.max.bytes` each) kept, for 10 s.
   */
  readonly readBuffers: ReadBufferPool;
  /** Producer ids for InitProducerId, reserved in blocks in the metadata store. */
  readonly producerIds: ProducerIdManager;
  /** Consumer groups and committed offsets (in `__consumer_offsets`). */
  readonly groups: GroupCoordinator;
  private offsetsTopicCreation: Promise<number> | undefined;
  private readonly appendWaiters = new Set<() => void>();
  /**
   * Topics between their checks and their stored metadata (see createTopic), with the write of
   * that metadata.
   */
  private readonly topicsBeingCreated = new Map<string, Promise<unknown>>();
  /** The broker defaults of topic configs with the dynamic broker configs applied (cached). */
  private brokerLog: LogConfig | undefined;
  /** Admin changes (topic deletion, partitions, configs) run one at a time, as on a controller. */
  private adminChain: Promise<unknown> = Promise.resolve();
  /** Counts appends, so a fetch can tell whether one happened since it last read. */
  appendCount = 0;

  constructor(options: {
    config: BrokerConfig;
    metadata: MetadataStore;
    logs: LogManager;
    logger: Logger;
    registry: HandlerRegistry;
  }) {
    this.config = options.config;
    this.metadata = options.metadata;
    this.logs = options.logs;
    this.logger = options.logger;
    this.registry = options.registry;
    this.producerIds = new ProducerIdManager(options.metadata);
    this.groups = new GroupCoordinator({
      config: options.config,
      logger: options.logger,
      offsetsTopic: {
        partitionCount: () => this.metadata.topic(CONSUMER_OFFSETS_TOPIC)?.partitionCount,
        ensureTopic: () => this.ensureOffsetsTopic(),
        log: (partition) => this.partitionLog(CONSUMER_OFFSETS_TOPIC, partition),
        partitionExists: (topic, partition) => {
          const metadata = this.metadata.topic(topic);
          return metadata !== undefined && partition >= 0 && partition < metadata.partitionCount;
        },
      },
    });
    this.readBuffers = new ReadBufferPool({
      maxIdleBytes: 2 * options.config.fetchMaxBytes,
      maxBufferBytes: options.config.fetchMaxBytes,
      idleMs: 10_000,
    });
    this.fetchSessions = new FetchSessionCache({
      maxSlots: options.config.maxIncrementalFetchSessionCacheSlots,
      evictionMs: options.config.incrementalFetchSessionEvictionMs,
      maxPartitions: options.config.incrementalFetchSessionCacheMaxPartitions,
    });
  }

  /** A topic's log settings: broker defaults, then dynamic broker configs, then its overrides. */
  topicLogConfig(topic: string): LogConfig {
    const overrides = this.metadata.topic(topic)?.configs ?? {};
    return parseLogConfig(overrides, this.brokerLogConfig()).config;
  }

  /** The broker defaults of topic configs: static properties, then dynamic broker configs. */
  brokerLogConfig(): LogConfig {
    this.brokerLog ??= brokerLogConfig(this.config, this.dynamicBrokerConfigs());
    return this.brokerLog;
  }

  /** The dynamic broker configs (AlterConfigs on a broker resource): this broker's and defaults. */
  dynamicBrokerConfigs(): DynamicBrokerConfigs {
    return decodeDynamicBrokerConfigs(this.metadata.brokerConfigs());
  }

  /** Stores new dynamic broker configs and applies them to every topic's logs. */
  async setDynamicBrokerConfigs(configs: DynamicBrokerConfigs): Promise<void> {
    await this.metadata.setBrokerConfigs(encodeDynamicBrokerConfigs(configs));
    this.brokerLog = undefined;
    for (const topic of this.metadata.topics()) this.logs.reconfigure(topic.name);
    this.logger.log('info', 'dynamic broker configs changed', { ...configs });
  }

  /** Replaces a topic's config overrides (already validated) and applies them to its logs. */
  async setTopicConfigs(name: string, configs: Record<string, string>): Promise<void> {
    await this.metadata.updateTopic(name, { configs });
    this.logs.reconfigure(name);
    this.logger.log('info', 'topic configs changed', { topic: name, configs });
  }

  /** Raises a topic's partition count (already validated) and creates the new partitions' logs. */
  async createPartitions(name: string, count: number): Promise<void> {
    const before = this.metadata.topic(name)?.partitionCount ?? 0;
    await this.metadata.updateTopic(name, { partitionCount: count });
    for (let partition = before; partition < count; partition++) {
      await this.logs.getOrCreate({ topic: name, partition });
    }
    this.logger.log('info', 'partitions created', { topic: name, from: before, to: count });
  }

  /** Runs an admin change after the ones before it (a controller handles one at a time). */
  exclusive<T>(change: () => Promise<T>): Promise<T> {
    const run = this.adminChain.then(change);
    this.adminChain = run.catch(() => {});
    return run;
  }

  /** The log of a partition that exists in the metadata (created on first use). */
  async partitionLog(topic: string, partition: number): Promise<PartitionLog | undefined> {
    const metadata = this.metadata.topic(topic);
    if (metadata === undefined || partition < 0 || partition >= metadata.partitionCount)
      return undefined;
    return (
      this.logs.get({ topic, partition }) ?? (await this.logs.getOrCreate({ topic, partition }))
    );
  }

  /** Creates a topic after Kafka's checks; nothing is created when `validateOnly`. */
  async createTopic(request: {
    name: string;
    partitions: number;
    replicationFactor: number;
    configs: Record<string, string>;
    validateOnly: boolean;
    isInternal?: boolean;
  }): Promise<{ topic?: TopicMetadata; error?: TopicError }> {
    const nameError = validateTopicName(request.name);
    if (nameError)
      return { error: { errorCode: ErrorCode.INVALID_TOPIC_EXCEPTION, errorMessage: nameError } };
    if (this.metadata.topic(request.name) || this.topicsBeingCreated.has(request.name)) {
      return {
        error: {
          errorCode: ErrorCode.TOPIC_ALREADY_EXISTS,
          errorMessage: `Topic '${request.name}' already exists.`,
        },
      };
    }
    const collision = [
      ...this.metadata.topics().map((t) => t.name),
      ...this.topicsBeingCreated.keys(),
    ].find((name) => name.replaceAll('.', '_') === request.name.replaceAll('.', '_'));
    if (collision) {
      return {
        error: {
          errorCode: ErrorCode.INVALID_TOPIC_EXCEPTION,
          errorMessage: `Topic '${request.name}' collides with existing topic: ${collision}`,
        },
      };
    }
    const partitions = request.partitions === -1 ? this.config.numPartitions : request.partitions;
    if (partitions <= 0) {
      return {
        error: {
          errorCode: ErrorCode.INVALID_PARTITIONS,
          errorMessage: 'Number of partitions must be larger than 0.',
        },
      };
    }
    const replicationFactor =
      request.replicationFactor === -1
        ? this.config.defaultReplicationFactor
        : request.replicationFactor;
    if (replicationFactor <= 0) {
      return {
        error: {
          errorCode: ErrorCode.INVALID_REPLICATION_FACTOR,
          errorMessage: 'Replication factor must be larger than 0.',
        },
      };
    }
    if (replicationFactor > 1) {
      return {
        error: {
          errorCode: ErrorCode.INVALID_REPLICATION_FACTOR,
          errorMessage: `Unable to replicate the partition ${replicationFactor} time(s): The target replication factor of ${replicationFactor} cannot be reached because only 1 broker(s) are registered.`,
        },
      };
    }
    const { errors } = parseLogConfig(request.configs, this.brokerLogConfig());
    const [configError] = errors;
    if (configError) {
      return { error: { errorCode: ErrorCode.INVALID_CONFIG, errorMessage: configError.message } };
    }
    if (request.validateOnly) {
      return {
        topic: {
          name: request.name,
          topicId: '00000000-0000-0000-0000-000000000000',
          partitionCount: partitions,
          replicationFactor,
          configs: request.configs,
          isInternal: request.isInternal ?? false,
        },
      };
    }
    // From the checks above (no await between) to the stored topic, the name is taken: a second
    // creation of it at the same time gets TOPIC_ALREADY_EXISTS rather than a second topic.
    const stored = this.metadata.createTopic({
      name: request.name,
      partitionCount: partitions,
      replicationFactor,
      configs: request.configs,
      isInternal: request.isInternal ?? false,
    });
    this.topicsBeingCreated.set(request.name, stored);
    let topic: TopicMetadata;
    try {
      topic = await stored;
    } finally {
      this.topicsBeingCreated.delete(request.name);
    }
    for (let partition = 0; partition < partitions; partition++) {
      await this.logs.getOrCreate({ topic: request.name, partition });
    }
    this.logger.log('info', 'topic created', {
      topic: request.name,
      partitions,
      topicId: topic.topicId,
    });
    return { topic };
  }

  /**
   * Creates `__consumer_offsets` (compacted, `offsets.topic.num.partitions` partitions) unless it
   * exists; its partition count. Concurrent callers share one creation.
   */
  ensureOffsetsTopic(): Promise<number> {
    const existing = this.metadata.topic(CONSUMER_OFFSETS_TOPIC);
    if (existing) return Promise.resolve(existing.partitionCount);
    this.offsetsTopicCreation ??= this.exclusive(async () => {
      const result = await this.createTopic({
        name: CONSUMER_OFFSETS_TOPIC,
        partitions: this.config.offsetsTopicNumPartitions,
        replicationFactor: 1,
        configs: {
          'cleanup.policy': 'compact',
          'segment.bytes': String(this.config.offsetsTopicSegmentBytes),
          'compression.type': 'producer',
        },
        validateOnly: false,
        isInternal: true,
      });
      const topic = this.metadata.topic(CONSUMER_OFFSETS_TOPIC);
      if (topic === undefined) {
        throw new Error(`cannot create ${CONSUMER_OFFSETS_TOPIC}: ${result.error?.errorMessage}`);
      }
      return topic.partitionCount;
    }).finally(() => {
      this.offsetsTopicCreation = undefined;
    });
    return this.offsetsTopicCreation;
  }

  /** Creates a topic with the broker defaults when auto-creation allows it. */
  async autoCreateTopic(name: string): Promise<TopicError | undefined> {
    if (this.metadata.topic(name)) return undefined;
    const result = await this.createTopic({
      name,
      partitions: -1,
      replicationFactor: -1,
      configs: {},
      validateOnly: false,
    });
    if (result.error?.errorCode === ErrorCode.TOPIC_ALREADY_EXISTS) {
      // Another request is creating it (a client asking on two connections at once): its
      // metadata is stored in a moment, and the caller describes the topic once it is.
      await this.topicsBeingCreated.get(name)?.catch(() => {});
      return undefined;
    }
    return result.error;
  }

  async deleteTopic(name: string): Promise<void> {
    const topic = this.metadata.topic(name);
    if (topic === undefined) return;
    await this.metadata.deleteTopic(name);
    for (let partition = 0; partition < topic.partitionCount; partition++) {
      await this.logs.delete({ topic: name, partition });
    }
    await this.groups.onTopicDeleted(name);
    this.logger.log('info', 'topic deleted', { topic: name });
  }

  /** Wakes every waiting fetch (called after each append). */
  notifyAppend(): void {
    this.appendCount++;
    const waiters = [...this.appendWaiters];
    this.appendWaiters.clear();
    for (const wake of waiters) wake();
  }

  /**
   * Resolves on the next append after the one numbered `sinceAppendCount` (at once if it already
   * happened), after `timeoutMs`, or when `signal` aborts: the long poll of Fetch.
   */
  waitForAppend(sinceAppendCount: number, timeoutMs: number, signal: AbortSignal): Promise<void> {
    if (timeoutMs <= 0 || signal.aborted || this.appendCount !== sinceAppendCount)
      return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.appendWaiters.delete(done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.appendWaiters.add(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }
}
