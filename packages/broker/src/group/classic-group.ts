/**
 * A classic consumer group (Kafka's GroupMetadata): its members, generation, protocol, leader,
 * state, and committed offsets. Pure state: the coordinator decides the transitions, owns the
 * timers and the persistence.
 */
import { ConsumerProtocolSubscription, Reader } from '@brook/protocol';
import type { CommittedOffset } from './group-records.ts';

export type GroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable' | 'Dead';

/** Kafka's legal transitions: into a state from these. */
const VALID_PREVIOUS: Record<GroupState, readonly GroupState[]> = {
  Empty: ['PreparingRebalance'],
  PreparingRebalance: ['Stable', 'CompletingRebalance', 'Empty'],
  CompletingRebalance: ['PreparingRebalance'],
  Stable: ['CompletingRebalance'],
  Dead: ['Stable', 'PreparingRebalance', 'CompletingRebalance', 'Empty', 'Dead'],
};

export const CONSUMER_PROTOCOL_TYPE = 'consumer';

export interface JoinResult {
  readonly errorCode: number;
  readonly generationId: number;
  readonly protocolType: string | null;
  readonly protocolName: string | null;
  readonly leaderId: string;
  readonly memberId: string;
  readonly skipAssignment: boolean;
  readonly members: readonly {
    memberId: string;
    groupInstanceId: string | null;
    metadata: Buffer;
  }[];
}

export interface SyncResult {
  readonly errorCode: number;
  readonly protocolType: string | null;
  readonly protocolName: string | null;
  readonly assignment: Buffer;
}

export interface MemberProtocol {
  readonly name: string;
  readonly metadata: Buffer;
}

const EMPTY = Buffer.alloc(0);

export class GroupMember {
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  rebalanceTimeoutMs: number;
  sessionTimeoutMs: number;
  protocolType: string;
  protocols: readonly MemberProtocol[];
  assignment: Buffer = EMPTY;
  /** A JoinGroup waiting for the rebalance to complete. */
  awaitingJoin: ((result: JoinResult) => void) | undefined;
  /** A SyncGroup waiting for the leader's assignment. */
  awaitingSync: ((result: SyncResult) => void) | undefined;
  /** Joined in this rebalance for the first time: not yet protected by awaiting a rebalance. */
  isNew = false;
  heartbeatTimer: ReturnType<typeof setTimeout> | undefined;
  lastHeartbeatMs = 0;

  constructor(options: {
    memberId: string;
    groupInstanceId: string | null;
    clientId: string;
    clientHost: string;
    rebalanceTimeoutMs: number;
    sessionTimeoutMs: number;
    protocolType: string;
    protocols: readonly MemberProtocol[];
  }) {
    this.memberId = options.memberId;
    this.groupInstanceId = options.groupInstanceId;
    this.clientId = options.clientId;
    this.clientHost = options.clientHost;
    this.rebalanceTimeoutMs = options.rebalanceTimeoutMs;
    this.sessionTimeoutMs = options.sessionTimeoutMs;
    this.protocolType = options.protocolType;
    this.protocols = options.protocols;
  }

  metadataFor(protocolName: string): Buffer {
    return this.protocols.find((protocol) => protocol.name === protocolName)?.metadata ?? EMPTY;
  }

  /** Same protocols with the same metadata, in the same order. */
  matches(protocols: readonly MemberProtocol[]): boolean {
    return (
      protocols.length === this.protocols.length &&
      protocols.every((protocol, index) => {
        const mine = this.protocols[index]!;
        return mine.name === protocol.name && mine.metadata.equals(protocol.metadata);
      })
    );
  }
}

export class ClassicGroup {
  readonly groupId: string;
  /** The `__consumer_offsets` partition that holds it. */
  readonly offsetsPartition: number;
  state: GroupState = 'Empty';
  currentStateTimestampMs: number;
  generationId = 0;
  protocolType: string | null = null;
  protocolName: string | null = null;
  leaderId: string | null = null;
  readonly members = new Map<string, GroupMember>();
  /** Member ids handed out with MEMBER_ID_REQUIRED, waiting for the second JoinGroup. */
  readonly pendingMembers = new Map<string, ReturnType<typeof setTimeout>>();
  /** `group.instance.id` → member id of the static members. */
  readonly staticMembers = new Map<string, string>();
  /** Members that got their JoinGroup response and have not sent SyncGroup yet. */
  readonly pendingSyncMembers = new Set<string>();
  /** topic → partition → committed offset. */
  readonly offsets = new Map<string, Map<number, CommittedOffset>>();
  /** A member joined while the initial rebalance delay ran (it is extended then). */
  newMemberAdded = false;
  /** The running join (rebalance) timer, and whether it is the initial delayed join. */
  joinTimer: ReturnType<typeof setTimeout> | undefined;
  joinIsInitialDelay = false;
  syncTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(groupId: string, offsetsPartition: number, nowMs: number) {
    this.groupId = groupId;
    this.offsetsPartition = offsetsPartition;
    this.currentStateTimestampMs = nowMs;
  }

  is(state: GroupState): boolean {
    return this.state === state;
  }

  transitionTo(state: GroupState, nowMs: number): void {
    if (!VALID_PREVIOUS[state].includes(this.state)) {
      throw new Error(`group ${this.groupId}: illegal transition ${this.state} → ${state}`);
    }
    this.state = state;
    this.currentStateTimestampMs = nowMs;
  }

  get size(): number {
    return this.members.size;
  }

  has(memberId: string): boolean {
    return this.members.has(memberId);
  }

  isLeader(memberId: string): boolean {
    return this.leaderId === memberId;
  }

  isPendingMember(memberId: string): boolean {
    return this.pendingMembers.has(memberId);
  }

  /** A static member's id is known and the caller's member id is not it: a zombie instance. */
  isStaticMemberFenced(groupInstanceId: string | null, memberId: string): boolean {
    if (groupInstanceId === null) return false;
    const registered = this.staticMembers.get(groupInstanceId);
    return registered !== undefined && registered !== memberId;
  }

  add(member: GroupMember): void {
    if (this.members.size === 0) this.protocolType = member.protocolType;
    this.members.set(member.memberId, member);
    if (member.groupInstanceId !== null)
      this.staticMembers.set(member.groupInstanceId, member.memberId);
    this.leaderId ??= member.memberId;
  }

  remove(memberId: string): void {
    const member = this.members.get(memberId);
    if (member === undefined) return;
    this.members.delete(memberId);
    this.pendingSyncMembers.delete(memberId);
    if (
      member.groupInstanceId !== null &&
      this.staticMembers.get(member.groupInstanceId) === memberId
    ) {
      this.staticMembers.delete(member.groupInstanceId);
    }
    if (this.leaderId === memberId) {
      const next = this.members.keys().next();
      this.leaderId = next.done ? null : next.value;
    }
  }

  /** Gives a restarted static member a new member id in place of its old one. */
  replaceStaticMember(groupInstanceId: string, oldMemberId: string, newMember: GroupMember): void {
    const old = this.members.get(oldMemberId);
    this.members.delete(oldMemberId);
    this.pendingSyncMembers.delete(oldMemberId);
    newMember.assignment = old?.assignment ?? EMPTY;
    this.members.set(newMember.memberId, newMember);
    this.staticMembers.set(groupInstanceId, newMember.memberId);
    if (this.leaderId === oldMemberId) this.leaderId = newMember.memberId;
  }

  awaitingJoinCount(): number {
    let count = 0;
    for (const member of this.members.values()) if (member.awaitingJoin) count++;
    return count;
  }

  hasAllMembersJoined(): boolean {
    return this.awaitingJoinCount() === this.members.size && this.pendingMembers.size === 0;
  }

  /** The longest rebalance timeout of the members: how long a rebalance waits for them. */
  rebalanceTimeoutMs(): number {
    let max = 0;
    for (const member of this.members.values()) max = Math.max(max, member.rebalanceTimeoutMs);
    return max;
  }

  /** The protocols every member supports. */
  candidateProtocols(): string[] {
    const members = [...this.members.values()];
    const first = members[0];
    if (first === undefined) return [];
    return first.protocols
      .map((protocol) => protocol.name)
      .filter((name) =>
        members.every((member) => member.protocols.some((protocol) => protocol.name === name)),
      );
  }

  /** Whether a member with these protocols may join (Kafka's `supportsProtocols`). */
  supportsProtocols(protocolType: string, protocols: readonly MemberProtocol[]): boolean {
    if (this.members.size === 0) return protocolType !== '' && protocols.length > 0;
    if (this.protocolType !== protocolType) return false;
    const members = [...this.members.values()];
    return protocols.some((protocol) =>
      members.every((member) => member.protocols.some((p) => p.name === protocol.name)),
    );
  }

  /**
   * The protocol of the next generation: among those every member supports, the one most
   * members prefer (each votes for its first candidate); ties go to the leader's order.
   */
  selectProtocol(): string {
    const candidates = this.candidateProtocols();
    if (candidates.length === 0) throw new Error(`group ${this.groupId}: no common protocol`);
    const votes = new Map<string, number>(candidates.map((name) => [name, 0]));
    for (const member of this.members.values()) {
      const vote = member.protocols.find((protocol) => votes.has(protocol.name));
      if (vote) votes.set(vote.name, votes.get(vote.name)! + 1);
    }
    let best = candidates[0]!;
    for (const name of candidates) if (votes.get(name)! > votes.get(best)!) best = name;
    return best;
  }

  /** The members with their metadata for the selected protocol (what the leader assigns from). */
  currentMemberMetadata(): JoinResult['members'] {
    const protocolName = this.protocolName ?? '';
    return [...this.members.values()].map((member) => ({
      memberId: member.memberId,
      groupInstanceId: member.groupInstanceId,
      metadata: member.metadataFor(protocolName),
    }));
  }

  /**
   * The topics the members subscribe to, when the group uses the consumer protocol and every
   * subscription decodes; undefined when unknown.
   */
  subscribedTopics(): Set<string> | undefined {
    if (this.protocolType !== CONSUMER_PROTOCOL_TYPE || this.protocolName === null)
      return undefined;
    const topics = new Set<string>();
    for (const member of this.members.values()) {
      const metadata = member.metadataFor(this.protocolName);
      try {
        const reader = new Reader(metadata);
        const version = reader.readInt16();
        const subscription = ConsumerProtocolSubscription.decode(
          reader,
          Math.min(Math.max(version, 0), ConsumerProtocolSubscription.maxVersion),
        );
        for (const topic of subscription.topics) topics.add(topic);
      } catch {
        return undefined;
      }
    }
    return topics;
  }

  hasOffsets(): boolean {
    return this.offsets.size > 0;
  }

  offset(topic: string, partition: number): CommittedOffset | undefined {
    return this.offsets.get(topic)?.get(partition);
  }

  setOffset(topic: string, partition: number, offset: CommittedOffset | undefined): void {
    let partitions = this.offsets.get(topic);
    if (offset === undefined) {
      partitions?.delete(partition);
      if (partitions?.size === 0) this.offsets.delete(topic);
      return;
    }
    if (partitions === undefined) {
      partitions = new Map();
      this.offsets.set(topic, partitions);
    }
    partitions.set(partition, offset);
  }
}
