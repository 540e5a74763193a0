/** The admin client's public surface (the functions behind `Admin` stay internal). */
export { Admin, type AdminOptions } from './admin.ts';
export type { OperationOptions as AdminOperationOptions } from './admin-context.ts';
export type {
  AlterConfigsOptions,
  AlterConfigsResource,
  AlteredConfigs,
  ConfigAlteration,
  ConfigEntry,
  ConfigOperation,
  ConfigResource,
  ConfigResourceType,
  ConfigSource,
  ConfigSynonym,
  ConfigType,
  DescribeConfigsOptions,
  DescribeConfigsResource,
  DescribedConfigs,
} from './configs.ts';
export type { ClusterDescription } from './describe-cluster.ts';
export type {
  GroupOffsetResult,
  GroupOffsets,
  GroupPartitionOffset,
  ListGroupOffsetsOptions,
  OffsetToCommit,
  ResetGroupOffsetsOptions,
  ResetOffset,
  ResetTarget,
  TopicSelection,
} from './group-offsets.ts';
export type {
  AssignedPartitions,
  DeletedGroup,
  GroupDescription,
  GroupListing,
  GroupMember,
  ListGroupsOptions,
} from './groups.ts';
export type {
  DeletedRecords,
  ListedOffset,
  ListOffsetsOptions,
  OffsetQuery,
  OffsetSpec,
  RecordsToDelete,
} from './offsets.ts';
export type {
  CreatedPartitions,
  CreatedTopic,
  CreatedTopicConfig,
  CreatePartitionsOptions,
  CreateTopicsOptions,
  DeletedTopic,
  ListTopicsOptions,
  NewPartitions,
  NewTopic,
  TopicDescription,
  TopicListing,
  TopicPartitionDescription,
} from './topics.ts';
