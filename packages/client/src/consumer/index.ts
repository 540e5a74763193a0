/** The consumer's public surface (fetcher, membership and offset plumbing stay internal). */
export type {
  Assignor,
  AssignorMember,
  RebalanceProtocol,
} from './assignors/assignor.ts';
export { cooperativeStickyAssignor } from './assignors/cooperative-sticky-assignor.ts';
export { rangeAssignor } from './assignors/range-assignor.ts';
export { roundRobinAssignor } from './assignors/round-robin-assignor.ts';
export {
  type AutoOffsetReset,
  type BatchOptions,
  Consumer,
  type ConsumerOptions,
  type IsolationLevelName,
  type IterateOptions,
  type SubscribeOptions,
} from './consumer.ts';
export {
  CommitFailedError,
  ConsumerStateError,
  GroupMembershipError,
  NoOffsetForPartitionError,
  RecordDeserializationError,
} from './consumer-errors.ts';
export {
  CONSUMER_PROTOCOL_TYPE,
  decodeAssignment,
  decodeSubscription,
  encodeAssignment,
  encodeSubscription,
  type MemberAssignment,
  type MemberSubscription,
} from './member-protocol.ts';
export type { CommitIdentity as ConsumerGroupMetadata } from './offset-client.ts';
export type {
  CommittedOffset,
  ConsumerBatch,
  ConsumerRecord,
  RebalanceListener,
  TopicPartition,
} from './types.ts';
