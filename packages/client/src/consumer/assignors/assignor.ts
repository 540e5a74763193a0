/**
 * What a partition assignor is: the group leader runs one over every member's subscription and
 * the partition counts of the topics they subscribe to. Members offer their assignors by name in
 * JoinGroup and the coordinator picks one that every member offers, so the name is the wire
 * identity: Brook's `range` and `roundrobin` give the same result as Kafka's for the same input,
 * and members of other clients can share a group with Brook's.
 */
import type { MemberSubscription } from '../member-protocol.ts';
import type { TopicPartition } from '../types.ts';

/**
 * Eager: every member gives up all its partitions before rejoining. Cooperative (KIP-429):
 * members keep their partitions through the rebalance and give up only those that move, which
 * then reach their new owner in a second rebalance.
 */
export type RebalanceProtocol = 'eager' | 'cooperative';

export interface AssignorMember {
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly subscription: MemberSubscription;
}

export interface Assignor {
  /** The protocol name in JoinGroup ("range", "roundrobin", "cooperative-sticky"). */
  readonly name: string;
  readonly supportedProtocols: readonly RebalanceProtocol[];
  /** User data for this member's subscription. */
  subscriptionUserData?(state: {
    readonly generationId: number;
    readonly ownedPartitions: readonly TopicPartition[];
  }): Buffer | null;
  /**
   * Every member's partitions (each member in the result, maybe with none). Only topics in
   * `partitionsPerTopic` are assigned; it holds the subscribed topics that exist.
   */
  assign(
    members: readonly AssignorMember[],
    partitionsPerTopic: ReadonlyMap<string, number>,
  ): Map<string, TopicPartition[]>;
}

/**
 * Kafka's member order: members with a group instance id first, by that id; then the others by
 * member id. Strings compare by UTF-16 code units, as Java's `compareTo` does.
 */
export function compareMembers(a: AssignorMember, b: AssignorMember): number {
  if (a.groupInstanceId !== null && b.groupInstanceId !== null) {
    return compareStrings(a.groupInstanceId, b.groupInstanceId);
  }
  if (a.groupInstanceId !== null) return -1;
  if (b.groupInstanceId !== null) return 1;
  return compareStrings(a.memberId, b.memberId);
}

export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The rebalance protocol a consumer with these assignors follows: the best all support. */
export function rebalanceProtocolOf(assignors: readonly Assignor[]): RebalanceProtocol {
  return assignors.length > 0 &&
    assignors.every((assignor) => assignor.supportedProtocols.includes('cooperative'))
    ? 'cooperative'
    : 'eager';
}

/** An empty result with every member in it. */
export function emptyAssignment(members: readonly AssignorMember[]): Map<string, TopicPartition[]> {
  return new Map(members.map((member) => [member.memberId, []]));
}
