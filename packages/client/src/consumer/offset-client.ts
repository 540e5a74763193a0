/**
 * The consumer's offset requests: committed offsets of a group (OffsetFetch), commits
 * (OffsetCommit, with the member's generation and id), and offsets by time from partition
 * leaders (ListOffsets: earliest, latest, or the first at a timestamp). Each retries its
 * retriable errors, finding the coordinator or the leaders again when they moved.
 */
import {
  ErrorCode,
  KafkaProtocolError,
  ListOffsetsRequest,
  ListOffsetsResponse,
  OffsetCommitRequest,
  OffsetCommitResponse,
  OffsetFetchRequest,
  OffsetFetchResponse,
} from '@brook/protocol';
import type { Cluster } from '../network/cluster.ts';
import { withRetries } from '../retry.ts';
import { CommitFailedError } from './consumer-errors.ts';
import { groupByTopic } from './member-protocol.ts';
import {
  addTo,
  type CommittedOffset,
  type OffsetToCommit,
  type PartitionKey,
  partitionKey,
  type TopicPartition,
} from './types.ts';

/** ListOffsets timestamps with a meaning of their own. */
export const OffsetSpec = { earliest: -2n, latest: -1n } as const;

export const IsolationLevel = { readUncommitted: 0, readCommitted: 1 } as const;

/** Who commits: a group member (its generation and id), or -1 and '' for a consumer outside one. */
export interface CommitIdentity {
  readonly generationId: number;
  readonly memberId: string;
  readonly groupInstanceId: string | null;
}

const COORDINATOR_MOVED: ReadonlySet<number> = new Set([
  ErrorCode.NOT_COORDINATOR,
  ErrorCode.COORDINATOR_NOT_AVAILABLE,
]);

const FENCED: ReadonlySet<number> = new Set([
  ErrorCode.ILLEGAL_GENERATION,
  ErrorCode.UNKNOWN_MEMBER_ID,
  ErrorCode.FENCED_INSTANCE_ID,
]);

function coordinatorRetry(cluster: Cluster, groupId: string) {
  return (error: unknown) => {
    if (error instanceof KafkaProtocolError && COORDINATOR_MOVED.has(error.errorCode)) {
      cluster.invalidateCoordinator(groupId);
    } else if (!(error instanceof KafkaProtocolError)) {
      // A lost connection: the coordinator may have gone with it.
      cluster.invalidateCoordinator(groupId);
    }
  };
}

/** The group's committed offsets of `partitions` (offset -1 where it has none). */
export async function fetchCommittedOffsets(
  cluster: Cluster,
  groupId: string,
  partitions: readonly TopicPartition[],
  options: { requireStable?: boolean; signal?: AbortSignal } = {},
): Promise<Map<PartitionKey, CommittedOffset>> {
  const topics = groupByTopic(partitions).map((group) => ({
    name: group.topic,
    partitionIndexes: group.partitions,
  }));
  return withRetries(
    async () => {
      const connection = await cluster.coordinator(groupId);
      const { response, version } = await connection.requestWithVersion(
        OffsetFetchRequest,
        OffsetFetchResponse,
        (v) =>
          v >= 8
            ? { groups: [{ groupId, topics }], requireStable: options.requireStable ?? false }
            : {
                groupId,
                topics,
                ...(v >= 7 ? { requireStable: options.requireStable ?? false } : {}),
              },
        options.signal ? { signal: options.signal } : {},
      );
      const group =
        version >= 8
          ? response.groups[0]
          : { errorCode: response.errorCode, topics: response.topics };
      if (group === undefined) throw new KafkaProtocolError(ErrorCode.UNKNOWN_SERVER_ERROR);
      if (group.errorCode !== ErrorCode.NONE) throw new KafkaProtocolError(group.errorCode);
      const result = new Map<PartitionKey, CommittedOffset>();
      for (const topic of group.topics) {
        for (const partition of topic.partitions) {
          if (partition.errorCode === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) continue;
          // Before v2 a group-level error comes in every partition.
          if (partition.errorCode !== ErrorCode.NONE)
            throw new KafkaProtocolError(partition.errorCode);
          result.set(partitionKey(topic.name, partition.partitionIndex), {
            topic: topic.name,
            partition: partition.partitionIndex,
            offset: partition.committedOffset,
            leaderEpoch: partition.committedLeaderEpoch,
            metadata: partition.metadata,
          });
        }
      }
      return result;
    },
    {
      ...cluster.retry,
      retries: cluster.retry.retries ?? 10,
      ...(options.signal ? { signal: options.signal } : {}),
      onRetry: coordinatorRetry(cluster, groupId),
    },
  );
}

/**
 * Commits offsets for a group. A member that is no longer in the generation it commits for gets
 * CommitFailedError; REBALANCE_IN_PROGRESS comes back as its KafkaProtocolError.
 */
export async function commitOffsets(
  cluster: Cluster,
  groupId: string,
  identity: CommitIdentity,
  offsets: readonly OffsetToCommit[],
  options: { signal?: AbortSignal } = {},
): Promise<void> {
  if (offsets.length === 0) return;
  const byTopic = new Map<string, OffsetToCommit[]>();
  for (const offset of offsets) {
    addTo(byTopic, offset.topic, offset);
  }
  await withRetries(
    async () => {
      const connection = await cluster.coordinator(groupId);
      const { response } = await connection.requestWithVersion(
        OffsetCommitRequest,
        OffsetCommitResponse,
        (v) => ({
          groupId,
          ...(v >= 1
            ? { generationIdOrMemberEpoch: identity.generationId, memberId: identity.memberId }
            : {}),
          ...(v >= 7 ? { groupInstanceId: identity.groupInstanceId } : {}),
          topics: [...byTopic].map(([name, list]) => ({
            name,
            partitions: list.map((offset) => ({
              partitionIndex: offset.partition,
              committedOffset: offset.offset,
              ...(v >= 6 ? { committedLeaderEpoch: offset.leaderEpoch ?? -1 } : {}),
              committedMetadata: offset.metadata ?? '',
            })),
          })),
        }),
        options.signal ? { signal: options.signal } : {},
      );
      let retriable: KafkaProtocolError | undefined;
      for (const topic of response.topics) {
        for (const partition of topic.partitions) {
          const code = partition.errorCode;
          if (code === ErrorCode.NONE) continue;
          const error = new KafkaProtocolError(
            code,
            `commit of ${topic.name}-${partition.partitionIndex}`,
          );
          if (FENCED.has(code)) {
            throw new CommitFailedError(
              `the group ${groupId} refused the commit: ${error.errorName} (the member is no longer in generation ${identity.generationId})`,
              { cause: error },
            );
          }
          if (!error.retriable) throw error;
          retriable = error;
        }
      }
      if (retriable) throw retriable;
    },
    {
      ...cluster.retry,
      ...(options.signal ? { signal: options.signal } : {}),
      onRetry: coordinatorRetry(cluster, groupId),
    },
  );
}

export interface ListedOffset {
  readonly offset: bigint;
  readonly timestamp: bigint;
  readonly leaderEpoch: number;
}

/**
 * Offsets by timestamp (`OffsetSpec.earliest`, `OffsetSpec.latest`, or milliseconds), one
 * ListOffsets per leader. Offset -1 for a timestamp after the last record.
 */
export async function listOffsets(
  cluster: Cluster,
  requests: readonly (TopicPartition & { readonly timestamp: bigint })[],
  options: { isolationLevel?: number; signal?: AbortSignal } = {},
): Promise<Map<PartitionKey, ListedOffset>> {
  const result = new Map<PartitionKey, ListedOffset>();
  let remaining = [...requests];
  await withRetries(
    async () => {
      const byLeader = new Map<number, typeof remaining>();
      for (const request of remaining) {
        const leader = await cluster.leaderFor(request.topic, request.partition);
        addTo(byLeader, leader, request);
      }
      const failed: typeof remaining = [];
      let lastError: KafkaProtocolError | undefined;
      await Promise.all(
        [...byLeader].map(async ([leader, list]) => {
          const connection = await cluster.connection(leader);
          const byTopic = new Map<string, typeof list>();
          for (const request of list) {
            addTo(byTopic, request.topic, request);
          }
          const { response, version } = await connection.requestWithVersion(
            ListOffsetsRequest,
            ListOffsetsResponse,
            (v) => ({
              replicaId: -1,
              ...(v >= 2 ? { isolationLevel: options.isolationLevel ?? 0 } : {}),
              topics: [...byTopic].map(([name, topicList]) => ({
                name,
                partitions: topicList.map((request) => ({
                  partitionIndex: request.partition,
                  timestamp: request.timestamp,
                })),
              })),
            }),
            options.signal ? { signal: options.signal } : {},
          );
          for (const topic of response.topics) {
            for (const partition of topic.partitions) {
              const request = byTopic
                .get(topic.name)
                ?.find((r) => r.partition === partition.partitionIndex);
              if (request === undefined) continue;
              if (partition.errorCode !== ErrorCode.NONE) {
                const error = new KafkaProtocolError(
                  partition.errorCode,
                  `offsets of ${topic.name}-${partition.partitionIndex}`,
                );
                if (!error.retriable) throw error;
                failed.push(request);
                lastError = error;
                continue;
              }
              result.set(partitionKey(topic.name, partition.partitionIndex), {
                offset: version === 0 ? (partition.oldStyleOffsets[0] ?? -1n) : partition.offset,
                timestamp: partition.timestamp,
                leaderEpoch: partition.leaderEpoch,
              });
            }
          }
        }),
      );
      remaining = failed;
      if (lastError) throw lastError;
    },
    {
      ...cluster.retry,
      retries: cluster.retry.retries ?? 10,
      ...(options.signal ? { signal: options.signal } : {}),
      onRetry: () => cluster.invalidateMetadata(),
    },
  );
  return result;
}
