/**
 * Topics: create, delete, list, describe, and add partitions. Creations, deletions and new
 * partitions go to the controller (any broker when the metadata names none: KRaft-era brokers
 * forward them); NOT_CONTROLLER looks the controller up again. Listing and describing ask any
 * broker for metadata.
 */
import {
  CreatePartitionsRequest,
  CreatePartitionsResponse,
  CreateTopicsRequest,
  CreateTopicsResponse,
  DeleteTopicsRequest,
  DeleteTopicsResponse,
  ErrorCode,
  KafkaProtocolError,
  MetadataRequest,
  MetadataResponse,
  ZERO_UUID,
} from '@brook/protocol';
import { metadataRequestBody } from '../network/cluster.ts';
import type { Connection } from '../network/connection.ts';
import {
  type AdminContext,
  type OperationOptions,
  type Outcome,
  outcomeOf,
  type Round,
} from './admin-context.ts';
import { type ConfigSource, configSourceName } from './configs.ts';

export interface NewTopic {
  readonly name: string;
  /** Default: the broker's `num.partitions` (-1 asks for it; CreateTopics v4+). */
  readonly partitions?: number;
  /** Default: the broker's `default.replication.factor`. */
  readonly replicationFactor?: number;
  /**
   * Replicas of each partition by broker id (partition i is `replicaAssignment[i]`); instead of
   * `partitions` and `replicationFactor`.
   */
  readonly replicaAssignment?: readonly (readonly number[])[];
  /** Topic configs (`retention.ms`, `cleanup.policy`, …). */
  readonly configs?: Readonly<Record<string, string>>;
}

export interface CreateTopicsOptions extends OperationOptions {
  /** Check everything, create nothing. Default false. */
  readonly validateOnly?: boolean;
}

export interface CreatedTopicConfig {
  readonly name: string;
  readonly value: string | null;
  readonly readOnly: boolean;
  readonly source: ConfigSource;
  readonly isSensitive: boolean;
}

export interface CreatedTopic {
  readonly name: string;
  /** Null when the broker does not say (before v7) or on error. */
  readonly topicId: string | null;
  /** -1 when the broker does not say (before v5) or on error. */
  readonly partitions: number;
  readonly replicationFactor: number;
  /** The topic's configs as created (v5+); null when the broker does not say. */
  readonly configs: readonly CreatedTopicConfig[] | null;
  readonly error: KafkaProtocolError | null;
}

export interface DeletedTopic {
  readonly name: string;
  readonly topicId: string | null;
  readonly error: KafkaProtocolError | null;
}

export interface TopicListing {
  readonly name: string;
  readonly topicId: string | null;
  readonly isInternal: boolean;
  readonly partitions: number;
}

export interface ListTopicsOptions extends OperationOptions {
  /** Include internal topics (`__consumer_offsets`). Default false. */
  readonly includeInternal?: boolean;
}

export interface TopicPartitionDescription {
  readonly partition: number;
  /** -1 when the partition has no leader. */
  readonly leader: number;
  readonly leaderEpoch: number;
  readonly replicas: readonly number[];
  readonly isr: readonly number[];
  readonly offlineReplicas: readonly number[];
}

export interface TopicDescription {
  readonly name: string;
  readonly topicId: string | null;
  readonly isInternal: boolean;
  readonly partitions: readonly TopicPartitionDescription[];
  readonly error: KafkaProtocolError | null;
}

export interface NewPartitions {
  readonly topic: string;
  /** The topic's new partition count (more than it has). */
  readonly count: number;
  /** Replicas of each new partition by broker id; default: the broker places them. */
  readonly replicaAssignment?: readonly (readonly number[])[];
}

export interface CreatePartitionsOptions extends OperationOptions {
  /** Check everything, change nothing. Default false. */
  readonly validateOnly?: boolean;
}

export interface CreatedPartitions {
  readonly topic: string;
  readonly error: KafkaProtocolError | null;
}

function topicIdOrNull(topicId: string): string | null {
  return topicId === ZERO_UUID ? null : topicId;
}

/**
 * One request to the controller with `items`; a NOT_CONTROLLER answer (or a lost connection)
 * marks the controller to be looked up again.
 */
function toController<Item, Result>(
  context: AdminContext,
  items: readonly Item[],
  send: (connection: Connection, items: readonly Item[]) => Promise<readonly Outcome<Result>[]>,
): Promise<Outcome<Result>[]> {
  return context.dispatch(
    items,
    () => context.controller(),
    async (connection, batch) => {
      const outcomes = await send(connection, batch);
      const moved = outcomes.some(
        (o) =>
          'retry' in o &&
          o.retry instanceof KafkaProtocolError &&
          o.retry.errorCode === ErrorCode.NOT_CONTROLLER,
      );
      if (moved) context.controllerMoved();
      return outcomes;
    },
    () => context.controllerMoved(),
  );
}

export async function createTopics(
  context: AdminContext,
  topics: readonly NewTopic[],
  options: CreateTopicsOptions = {},
): Promise<CreatedTopic[]> {
  const failed = (name: string, error: KafkaProtocolError | null): CreatedTopic => ({
    name,
    topicId: null,
    partitions: -1,
    replicationFactor: -1,
    configs: null,
    error,
  });
  const results = await context.settle(
    topics,
    options,
    (pending, round: Round) =>
      toController(context, pending, async (connection, batch) => {
        const { response, version } = await connection.requestWithVersion(
          CreateTopicsRequest,
          CreateTopicsResponse,
          (v) => ({
            topics: batch.map((topic) => ({
              name: topic.name,
              numPartitions: topic.replicaAssignment ? -1 : (topic.partitions ?? -1),
              replicationFactor: topic.replicaAssignment ? -1 : (topic.replicationFactor ?? -1),
              assignments: (topic.replicaAssignment ?? []).map((brokerIds, partitionIndex) => ({
                partitionIndex,
                brokerIds,
              })),
              configs: Object.entries(topic.configs ?? {}).map(([name, value]) => ({
                name,
                value,
              })),
            })),
            timeoutMs: round.timeoutMs,
            // v0 has no validate_only: a validate-only request cannot be sent to it.
            ...(v >= 1 || options.validateOnly
              ? { validateOnly: options.validateOnly ?? false }
              : {}),
          }),
          round.request,
        );
        const byName = new Map(response.topics.map((t) => [t.name, t]));
        return batch.map((topic) => {
          const answer = byName.get(topic.name);
          if (answer === undefined) {
            return outcomeOf(
              ErrorCode.UNKNOWN_SERVER_ERROR,
              `topic ${topic.name}`,
              'no answer',
              () => failed(topic.name, null),
            );
          }
          return outcomeOf(answer.errorCode, `topic ${topic.name}`, answer.errorMessage, () => ({
            name: topic.name,
            topicId: version >= 7 ? topicIdOrNull(answer.topicId) : null,
            partitions: answer.numPartitions,
            replicationFactor: answer.replicationFactor,
            configs:
              version >= 5 && answer.configs !== null
                ? answer.configs.map((c) => ({
                    name: c.name,
                    value: c.value,
                    readOnly: c.readOnly,
                    source: configSourceName(c.configSource),
                    isSensitive: c.isSensitive,
                  }))
                : null,
            error: null,
          }));
        });
      }),
    (topic, error) => failed(topic.name, error),
  );
  if (!options.validateOnly) context.cluster.invalidateMetadata();
  return results;
}

export async function deleteTopics(
  context: AdminContext,
  names: readonly string[],
  options: OperationOptions = {},
): Promise<DeletedTopic[]> {
  const results = await context.settle(
    names,
    options,
    (pending, round) =>
      toController(context, pending, async (connection, batch) => {
        const { response } = await connection.requestWithVersion(
          DeleteTopicsRequest,
          DeleteTopicsResponse,
          (v) => ({
            // v6 names topics in `topics` (by name or id), earlier versions in `topic_names`.
            ...(v >= 6
              ? { topics: batch.map((name) => ({ name, topicId: ZERO_UUID })) }
              : { topicNames: batch }),
            timeoutMs: round.timeoutMs,
          }),
          round.request,
        );
        const byName = new Map(response.responses.map((r) => [r.name, r]));
        return batch.map((name) => {
          const answer = byName.get(name);
          const errorCode = answer?.errorCode ?? ErrorCode.UNKNOWN_SERVER_ERROR;
          return outcomeOf(errorCode, `topic ${name}`, answer?.errorMessage ?? null, () => ({
            name,
            topicId: answer ? topicIdOrNull(answer.topicId) : null,
            error: null,
          }));
        });
      }),
    (name, error): DeletedTopic => ({ name, topicId: null, error }),
  );
  context.cluster.invalidateMetadata();
  return results;
}

/** One Metadata request: every topic (`names` null) or the ones named. */
async function requestMetadata(
  connection: Connection,
  names: readonly string[] | null,
  round: Round,
): Promise<MetadataResponse> {
  const { response } = await connection.requestWithVersion(
    MetadataRequest,
    MetadataResponse,
    (v) => metadataRequestBody(v, names, false),
    round.request,
  );
  return response;
}

export async function listTopics(
  context: AdminContext,
  options: ListTopicsOptions = {},
): Promise<TopicListing[]> {
  const [response] = await context.settle(
    [null],
    options,
    (pending, round) =>
      context.dispatch(
        pending,
        () => context.cluster.anyConnection(),
        async (connection) => [{ done: await requestMetadata(connection, null, round) }],
      ),
    (_, error) => {
      throw error;
    },
  );
  return response!.topics
    .filter((t) => t.errorCode === ErrorCode.NONE && t.name !== null)
    .filter((t) => options.includeInternal === true || !t.isInternal)
    .map((t) => ({
      name: t.name!,
      topicId: topicIdOrNull(t.topicId),
      isInternal: t.isInternal,
      partitions: t.partitions.length,
    }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export async function describeTopics(
  context: AdminContext,
  names: readonly string[],
  options: OperationOptions = {},
): Promise<TopicDescription[]> {
  return context.settle(
    names,
    options,
    (pending, round) =>
      context.dispatch(
        pending,
        () => context.cluster.anyConnection(),
        async (connection, batch) => {
          const response = await requestMetadata(connection, batch, round);
          const byName = new Map(response.topics.map((t) => [t.name, t]));
          return batch.map((name) => {
            const topic = byName.get(name);
            // A topic being created answers LEADER_NOT_AVAILABLE: retried.
            return outcomeOf(
              topic?.errorCode ?? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
              `topic ${name}`,
              null,
              () => describedTopic(name, topic!),
            );
          });
        },
      ),
    (name, error): TopicDescription => ({
      name,
      topicId: null,
      isInternal: false,
      partitions: [],
      error,
    }),
  );
}

function describedTopic(name: string, topic: MetadataResponse['topics'][number]): TopicDescription {
  return {
    name,
    topicId: topicIdOrNull(topic.topicId),
    isInternal: topic.isInternal,
    partitions: topic.partitions
      .map((p) => ({
        partition: p.partitionIndex,
        leader: p.leaderId,
        leaderEpoch: p.leaderEpoch,
        replicas: p.replicaNodes,
        isr: p.isrNodes,
        offlineReplicas: p.offlineReplicas,
      }))
      .sort((a, b) => a.partition - b.partition),
    error: null,
  };
}

export async function createPartitions(
  context: AdminContext,
  requests: readonly NewPartitions[],
  options: CreatePartitionsOptions = {},
): Promise<CreatedPartitions[]> {
  const results = await context.settle(
    requests,
    options,
    (pending, round) =>
      toController(context, pending, async (connection, batch) => {
        const response = await connection.request(
          CreatePartitionsRequest,
          CreatePartitionsResponse,
          {
            topics: batch.map((wanted) => ({
              name: wanted.topic,
              count: wanted.count,
              assignments: wanted.replicaAssignment?.map((brokerIds) => ({ brokerIds })) ?? null,
            })),
            timeoutMs: round.timeoutMs,
            validateOnly: options.validateOnly ?? false,
          },
          round.request,
        );
        const byName = new Map(response.results.map((r) => [r.name, r]));
        return batch.map((wanted) => {
          const answer = byName.get(wanted.topic);
          return outcomeOf(
            answer?.errorCode ?? ErrorCode.UNKNOWN_SERVER_ERROR,
            `topic ${wanted.topic}`,
            answer?.errorMessage ?? null,
            () => ({ topic: wanted.topic, error: null }),
          );
        });
      }),
    (wanted, error): CreatedPartitions => ({ topic: wanted.topic, error }),
  );
  if (!options.validateOnly) context.cluster.invalidateMetadata();
  return results;
}
