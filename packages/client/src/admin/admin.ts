/**
 * The admin client: topics, partitions, configs, consumer groups and their offsets (with lag),
 * records and offsets of partitions, and the cluster. Each method sends its requests to the
 * broker Kafka wants them at (the controller, a group's coordinator, a partition's leader),
 * retries what is retriable, and answers with one typed result per item asked about. An item's
 * failure is its result's `error` (a `KafkaProtocolError` naming the item); a method rejects only
 * when it cannot be carried out at all.
 *
 * ```ts
 * const admin = new Admin({ bootstrapServers: ['127.0.0.1:9092'] });
 * const [created] = await admin.createTopics([{ name: 'orders', partitions: 3 }]);
 * if (created?.error) throw created.error;
 * const [group] = await admin.listGroupOffsets(['billing']);
 * console.log(group?.totalLag);
 * await admin.close();
 * ```
 */
import { type ClientLogger, silentLogger } from '../logger.ts';
import { Cluster, type ClusterOptions } from '../network/cluster.ts';
import { AdminContext, type OperationOptions } from './admin-context.ts';
import {
  type AlterConfigsOptions,
  type AlterConfigsResource,
  type AlteredConfigs,
  type DescribeConfigsOptions,
  type DescribeConfigsResource,
  type DescribedConfigs,
  describeConfigs,
  incrementalAlterConfigs,
} from './configs.ts';
import { type ClusterDescription, describeCluster } from './describe-cluster.ts';
import {
  alterGroupOffsets,
  deleteGroupOffsets,
  type GroupOffsetResult,
  type GroupOffsets,
  type ListGroupOffsetsOptions,
  listGroupOffsets,
  type OffsetToCommit,
  type ResetGroupOffsetsOptions,
  type ResetOffset,
  resetGroupOffsets,
} from './group-offsets.ts';
import {
  type DeletedGroup,
  deleteGroups,
  describeGroups,
  type GroupDescription,
  type GroupListing,
  type ListGroupsOptions,
  listGroups,
} from './groups.ts';
import {
  type DeletedRecords,
  deleteRecords,
  type ListedOffset,
  type ListOffsetsOptions,
  listOffsets,
  type OffsetQuery,
  type RecordsToDelete,
} from './offsets.ts';
import {
  type CreatedPartitions,
  type CreatedTopic,
  type CreatePartitionsOptions,
  type CreateTopicsOptions,
  createPartitions,
  createTopics,
  type DeletedTopic,
  deleteTopics,
  describeTopics,
  type ListTopicsOptions,
  listTopics,
  type NewPartitions,
  type NewTopic,
  type TopicDescription,
  type TopicListing,
} from './topics.ts';

export interface AdminOptions extends ClusterOptions {
  /**
   * The time an operation may take, retries included, unless it is given its own `timeoutMs`.
   * Default 60 s (Kafka's `default.api.timeout.ms`).
   */
  readonly defaultApiTimeoutMs?: number;
}

export class Admin {
  readonly cluster: Cluster;
  private readonly context: AdminContext;

  constructor(options: AdminOptions) {
    this.cluster = new Cluster(options);
    const logger: ClientLogger = options.logger ?? silentLogger;
    this.context = new AdminContext({
      cluster: this.cluster,
      logger,
      retry: options.retry ?? {},
      defaultApiTimeoutMs: options.defaultApiTimeoutMs ?? 60_000,
    });
  }

  // ---- topics --------------------------------------------------------------------------------

  /** Creates topics. TOPIC_ALREADY_EXISTS, INVALID_CONFIG, … are per-topic errors. */
  createTopics(
    topics: readonly NewTopic[],
    options?: CreateTopicsOptions,
  ): Promise<CreatedTopic[]> {
    return createTopics(this.context, topics, options);
  }

  /** Deletes topics by name. An unknown one is UNKNOWN_TOPIC_OR_PARTITION. */
  deleteTopics(names: readonly string[], options?: OperationOptions): Promise<DeletedTopic[]> {
    return deleteTopics(this.context, names, options);
  }

  /** Every topic, sorted by name; internal ones only with `includeInternal`. */
  listTopics(options?: ListTopicsOptions): Promise<TopicListing[]> {
    return listTopics(this.context, options);
  }

  /** Topics' partitions, leaders and replicas. An unknown one is UNKNOWN_TOPIC_OR_PARTITION. */
  describeTopics(
    names: readonly string[],
    options?: OperationOptions,
  ): Promise<TopicDescription[]> {
    return describeTopics(this.context, names, options);
  }

  /** Raises topics' partition counts. */
  createPartitions(
    requests: readonly NewPartitions[],
    options?: CreatePartitionsOptions,
  ): Promise<CreatedPartitions[]> {
    return createPartitions(this.context, requests, options);
  }

  // ---- configs -------------------------------------------------------------------------------

  /** The configs of topics and brokers (each value with its source). */
  describeConfigs(
    resources: readonly DescribeConfigsResource[],
    options?: DescribeConfigsOptions,
  ): Promise<DescribedConfigs[]> {
    return describeConfigs(this.context, resources, options);
  }

  /** Sets, deletes, appends to or subtracts from configs, leaving the others as they are. */
  incrementalAlterConfigs(
    resources: readonly AlterConfigsResource[],
    options?: AlterConfigsOptions,
  ): Promise<AlteredConfigs[]> {
    return incrementalAlterConfigs(this.context, resources, options);
  }

  // ---- groups --------------------------------------------------------------------------------

  /** The groups of every broker, sorted by id. */
  listGroups(options?: ListGroupsOptions): Promise<GroupListing[]> {
    return listGroups(this.context, options);
  }

  /** Groups' states and members. A group that does not exist is GROUP_ID_NOT_FOUND. */
  describeGroups(
    groupIds: readonly string[],
    options?: OperationOptions,
  ): Promise<GroupDescription[]> {
    return describeGroups(this.context, groupIds, options);
  }

  /** Deletes groups with their offsets. A group with members is NON_EMPTY_GROUP. */
  deleteGroups(groupIds: readonly string[], options?: OperationOptions): Promise<DeletedGroup[]> {
    return deleteGroups(this.context, groupIds, options);
  }

  /** Groups' committed offsets with each partition's lag and the group's total. */
  listGroupOffsets(
    groupIds: readonly string[],
    options?: ListGroupOffsetsOptions,
  ): Promise<GroupOffsets[]> {
    return listGroupOffsets(this.context, groupIds, options);
  }

  /**
   * Commits offsets for a group from outside it (generation -1). The coordinator refuses this
   * (UNKNOWN_MEMBER_ID) while the group has members.
   */
  alterGroupOffsets(
    groupId: string,
    offsets: readonly OffsetToCommit[],
    options?: OperationOptions,
  ): Promise<GroupOffsetResult[]> {
    return alterGroupOffsets(this.context, groupId, offsets, options);
  }

  /**
   * Resets a group's offsets to the earliest, the latest, a timestamp's or a given offset, or
   * shifts the committed ones, as `kafka-consumer-groups --reset-offsets` does: only while the
   * group is inactive (else it rejects with NON_EMPTY_GROUP), for the partitions it has committed
   * unless `topics` says.
   */
  resetGroupOffsets(groupId: string, options: ResetGroupOffsetsOptions): Promise<ResetOffset[]> {
    return resetGroupOffsets(this.context, groupId, options);
  }

  /** Deletes a group's offsets of some partitions (not of topics its members subscribe to). */
  deleteGroupOffsets(
    groupId: string,
    partitions: readonly { topic: string; partition: number }[],
    options?: OperationOptions,
  ): Promise<GroupOffsetResult[]> {
    return deleteGroupOffsets(this.context, groupId, partitions, options);
  }

  // ---- partitions ----------------------------------------------------------------------------

  /** Offsets of partitions: earliest, latest, by timestamp, of the largest timestamp. */
  listOffsets(
    queries: readonly OffsetQuery[],
    options?: ListOffsetsOptions,
  ): Promise<ListedOffset[]> {
    return listOffsets(this.context, queries, options);
  }

  /** Deletes the records below offsets (moves the partitions' log start). */
  deleteRecords(
    requests: readonly RecordsToDelete[],
    options?: OperationOptions,
  ): Promise<DeletedRecords[]> {
    return deleteRecords(this.context, requests, options);
  }

  // ---- cluster -------------------------------------------------------------------------------

  describeCluster(options?: OperationOptions): Promise<ClusterDescription> {
    return describeCluster(this.context, options);
  }

  /** Closes the connections; operations under way fail. */
  close(): Promise<void> {
    return this.cluster.close();
  }
}
