/**
 * What a client knows of the cluster: its brokers, topics and partition leaders (from Metadata),
 * a connection per broker, and the coordinators of groups. Metadata is refreshed when it is
 * older than `metadataMaxAgeMs`, and whenever a caller reports it stale (a NOT_LEADER error, a
 * lost connection). Refreshes that overlap share one request.
 */
import {
  ErrorCode,
  FindCoordinatorRequest,
  FindCoordinatorResponse,
  KafkaProtocolError,
  MetadataRequest,
  MetadataResponse,
} from '@brook/protocol';
import { AbortedError, ConnectionError } from '../errors.ts';
import { type ClientLogger, silentLogger } from '../logger.ts';
import { type RetryOptions, withRetries } from '../retry.ts';
import { Connection } from './connection.ts';

export interface ClusterOptions {
  /** `host:port` of one or more brokers to learn the cluster from. */
  readonly bootstrapServers: readonly string[];
  readonly clientId?: string;
  readonly logger?: ClientLogger;
  readonly connectTimeoutMs?: number;
  readonly requestTimeoutMs?: number;
  /** Metadata older than this is refreshed before use. Default 5 minutes (Kafka's). */
  readonly metadataMaxAgeMs?: number;
  readonly retry?: RetryOptions;
}

export interface BrokerInfo {
  readonly nodeId: number;
  readonly host: string;
  readonly port: number;
  readonly rack: string | null;
}

export interface PartitionInfo {
  readonly partition: number;
  readonly leader: number;
  readonly leaderEpoch: number;
  readonly replicas: readonly number[];
  readonly isr: readonly number[];
  readonly errorCode: number;
}

export interface TopicInfo {
  readonly name: string;
  readonly topicId: string;
  readonly isInternal: boolean;
  readonly partitions: readonly PartitionInfo[];
}

export const CoordinatorType = { group: 0, transaction: 1 } as const;

const ZERO_UUID = '00000000-0000-0000-0000-000000000000';

function parseAddress(address: string): { host: string; port: number } {
  const match = /^\[?([^\]]*?)\]?:(\d+)$/.exec(address.trim());
  if (!match) return { host: address.trim(), port: 9092 };
  return { host: match[1]!, port: Number(match[2]) };
}

export class Cluster {
  readonly clientId: string;
  readonly logger: ClientLogger;
  readonly retry: RetryOptions;
  readonly requestTimeoutMs: number;
  private readonly bootstrap: readonly { host: string; port: number }[];
  private readonly connectTimeoutMs: number;
  private readonly metadataMaxAgeMs: number;
  private readonly connections = new Map<string, Promise<Connection>>();
  private readonly coordinators = new Map<string, number>();
  private readonly abort = new AbortController();
  private brokersById = new Map<number, BrokerInfo>();
  private topicsByName = new Map<string, TopicInfo>();
  /** Topics whose metadata is kept fresh (the ones the client has used). */
  private readonly interesting = new Set<string>();
  private metadataAtMs = 0;
  private refreshing: Promise<void> | undefined;
  private nextBootstrap = 0;
  clusterId: string | null = null;
  controllerId = -1;

  constructor(options: ClusterOptions) {
    if (options.bootstrapServers.length === 0) throw new Error('bootstrapServers is empty');
    this.bootstrap = options.bootstrapServers.map(parseAddress);
    this.clientId = options.clientId ?? 'brook-client';
    this.logger = options.logger ?? silentLogger;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    this.metadataMaxAgeMs = options.metadataMaxAgeMs ?? 300_000;
    this.retry = options.retry ?? {};
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  get brokers(): readonly BrokerInfo[] {
    return [...this.brokersById.values()];
  }

  private connectionTo(host: string, port: number): Promise<Connection> {
    const key = `${host}:${port}`;
    const existing = this.connections.get(key);
    if (existing) {
      return existing.then((connection) => {
        if (!connection.closed) return connection;
        if (this.connections.get(key) === existing) this.connections.delete(key);
        return this.connectionTo(host, port);
      });
    }
    if (this.abort.signal.aborted) return Promise.reject(new AbortedError('client closed'));
    const created = Connection.connect({
      host,
      port,
      clientId: this.clientId,
      logger: this.logger,
      connectTimeoutMs: this.connectTimeoutMs,
      requestTimeoutMs: this.requestTimeoutMs,
      signal: this.abort.signal,
    });
    this.connections.set(key, created);
    created.catch(() => {
      if (this.connections.get(key) === created) this.connections.delete(key);
    });
    return created;
  }

  /** The connection to a broker by node id (known from metadata). */
  async connection(nodeId: number): Promise<Connection> {
    let broker = this.brokersById.get(nodeId);
    if (broker === undefined) {
      await this.refreshMetadata();
      broker = this.brokersById.get(nodeId);
    }
    if (broker === undefined) throw new ConnectionError(`broker ${nodeId} is not in the cluster`);
    return this.connectionTo(broker.host, broker.port);
  }

  /** Any broker: a known one when there are some, else the bootstrap servers in turn. */
  async anyConnection(): Promise<Connection> {
    const candidates = [
      ...[...this.brokersById.values()].map((b) => ({ host: b.host, port: b.port })),
      ...this.bootstrap,
    ];
    let lastError: unknown;
    for (let i = 0; i < candidates.length; i++) {
      const index = (this.nextBootstrap + i) % candidates.length;
      const candidate = candidates[index]!;
      try {
        const connection = await this.connectionTo(candidate.host, candidate.port);
        this.nextBootstrap = index;
        return connection;
      } catch (error) {
        lastError = error;
        if (error instanceof AbortedError) throw error;
      }
    }
    throw new ConnectionError(
      `no broker reachable (${candidates.map((c) => `${c.host}:${c.port}`).join(', ')})`,
      { cause: lastError },
    );
  }

  /**
   * Fetches metadata for the topics of interest (plus `topics`), or all topics when `topics`
   * is null. Concurrent calls share one request.
   */
  async refreshMetadata(
    topics: readonly string[] | null = [],
    options: { allowAutoTopicCreation?: boolean } = {},
  ): Promise<void> {
    if (topics !== null) for (const topic of topics) this.interesting.add(topic);
    const refreshing = this.refreshing;
    if (refreshing !== undefined && topics?.every((t) => this.topicsByName.has(t))) {
      return refreshing;
    }
    const run = withRetries(() => this.fetchMetadata(topics, options), {
      ...this.retry,
      signal: this.abort.signal,
    });
    this.refreshing = run;
    try {
      await run;
    } finally {
      if (this.refreshing === run) this.refreshing = undefined;
    }
  }

  private async fetchMetadata(
    topics: readonly string[] | null,
    options: { allowAutoTopicCreation?: boolean },
  ): Promise<void> {
    const connection = await this.anyConnection();
    const names = topics === null ? null : [...this.interesting];
    const { response } = await connection.requestWithVersion(
      MetadataRequest,
      MetadataResponse,
      (v) => metadataRequestBody(v, names, options.allowAutoTopicCreation ?? false),
    );
    this.brokersById = new Map(
      response.brokers.map((b) => [
        b.nodeId,
        { nodeId: b.nodeId, host: b.host, port: b.port, rack: b.rack },
      ]),
    );
    this.clusterId = response.clusterId;
    this.controllerId = response.controllerId;
    const topicsByName = names === null ? new Map<string, TopicInfo>() : new Map(this.topicsByName);
    let retriable: KafkaProtocolError | undefined;
    for (const topic of response.topics) {
      if (topic.name === null) continue;
      if (topic.errorCode !== ErrorCode.NONE) {
        topicsByName.delete(topic.name);
        const error = new KafkaProtocolError(topic.errorCode, `topic ${topic.name}`);
        // A topic being created (LEADER_NOT_AVAILABLE) is worth waiting for; unknown is not.
        if (error.retriable && topic.errorCode !== ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
          retriable = error;
        continue;
      }
      topicsByName.set(topic.name, {
        name: topic.name,
        topicId: topic.topicId,
        isInternal: topic.isInternal,
        partitions: topic.partitions
          .map((p) => ({
            partition: p.partitionIndex,
            leader: p.leaderId,
            leaderEpoch: p.leaderEpoch,
            replicas: p.replicaNodes,
            isr: p.isrNodes,
            errorCode: p.errorCode,
          }))
          .sort((a, b) => a.partition - b.partition),
      });
    }
    this.topicsByName = topicsByName;
    this.metadataAtMs = Date.now();
    if (retriable) throw retriable;
  }

  /** A topic's metadata, fetched when unknown or stale; UNKNOWN_TOPIC_OR_PARTITION when absent. */
  async topic(
    name: string,
    options: { allowAutoTopicCreation?: boolean } = {},
  ): Promise<TopicInfo> {
    const known = this.topicsByName.get(name);
    if (known && Date.now() - this.metadataAtMs < this.metadataMaxAgeMs) return known;
    await this.refreshMetadata([name], options);
    const topic = this.topicsByName.get(name);
    if (topic === undefined) {
      throw new KafkaProtocolError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic ${name}`);
    }
    return topic;
  }

  /** Whether the metadata is older than `metadataMaxAgeMs` (then the next look-up refreshes it). */
  metadataStale(nowMs = Date.now()): boolean {
    return nowMs - this.metadataAtMs >= this.metadataMaxAgeMs;
  }

  /** A topic's metadata as last seen, without a request. */
  cachedTopic(name: string): TopicInfo | undefined {
    return this.topicsByName.get(name);
  }

  /** Every topic of the last full refresh (`refreshMetadata(null)`). */
  cachedTopics(): readonly TopicInfo[] {
    return [...this.topicsByName.values()];
  }

  /** The leader of a partition, refreshing metadata when it is not known. */
  async leaderFor(topic: string, partition: number): Promise<number> {
    const info = await this.topic(topic);
    const entry = info.partitions[partition];
    if (entry === undefined || entry.partition !== partition) {
      throw new KafkaProtocolError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `${topic}-${partition}`);
    }
    if (entry.leader < 0) {
      throw new KafkaProtocolError(ErrorCode.LEADER_NOT_AVAILABLE, `${topic}-${partition}`);
    }
    return entry.leader;
  }

  /** Marks metadata stale: the next `topic()` fetches it again. */
  invalidateMetadata(): void {
    this.metadataAtMs = 0;
  }

  /** The coordinator of a group (or transactional id), found once and cached. */
  async coordinator(key: string, type: number = CoordinatorType.group): Promise<Connection> {
    const cacheKey = `${type}:${key}`;
    const known = this.coordinators.get(cacheKey);
    if (known !== undefined) return this.connection(known);
    const nodeId = await withRetries(
      async () => {
        const connection = await this.anyConnection();
        const { response, version } = await connection.requestWithVersion(
          FindCoordinatorRequest,
          FindCoordinatorResponse,
          (v) => (v >= 4 ? { keyType: type, coordinatorKeys: [key] } : { key, keyType: type }),
        );
        const answer =
          version >= 4
            ? response.coordinators[0]
            : {
                errorCode: response.errorCode,
                errorMessage: response.errorMessage,
                nodeId: response.nodeId,
              };
        if (answer === undefined) throw new ConnectionError('FindCoordinator answered no key');
        if (answer.errorCode !== ErrorCode.NONE)
          throw new KafkaProtocolError(answer.errorCode, answer.errorMessage);
        return answer.nodeId;
      },
      { ...this.retry, retries: this.retry.retries ?? 10, signal: this.abort.signal },
    );
    this.coordinators.set(cacheKey, nodeId);
    return this.connection(nodeId);
  }

  /** Forgets a coordinator after NOT_COORDINATOR or COORDINATOR_NOT_AVAILABLE. */
  invalidateCoordinator(key: string, type: number = CoordinatorType.group): void {
    this.coordinators.delete(`${type}:${key}`);
  }

  /** Closes every connection; requests waiting fail, and no new ones start. */
  async close(): Promise<void> {
    this.abort.abort(new AbortedError('client closed'));
    const connections = [...this.connections.values()];
    this.connections.clear();
    for (const pending of connections) {
      try {
        (await pending).close();
      } catch {
        // It never connected.
      }
    }
  }
}

/**
 * The body of a Metadata request at version `version`: every topic (`names` null: an empty list
 * at v0, null from v1) or the ones named. Before v4 brokers auto-create topics as they are
 * configured: the field cannot be sent.
 */
export function metadataRequestBody(
  version: number,
  names: readonly string[] | null,
  allowAutoTopicCreation: boolean,
) {
  return {
    topics:
      names === null
        ? version === 0
          ? []
          : null
        : names.map((name) => ({ name, topicId: ZERO_UUID })),
    ...(version >= 4 ? { allowAutoTopicCreation } : {}),
  };
}
