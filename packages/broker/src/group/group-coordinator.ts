/**
 * The group coordinator of the classic group protocol, as Kafka's GroupCoordinator runs it:
 * JoinGroup/SyncGroup rebalances with generations, leader election and protocol selection,
 * heartbeats and session expiry, static membership (KIP-345), MEMBER_ID_REQUIRED (KIP-394),
 * committed offsets, and their storage as records of `__consumer_offsets`.
 *
 * Everything runs on the event loop: state changes are synchronous, and where a change waits
 * for a write (a group's metadata after SyncGroup, a commit), the continuation checks that the
 * group is still in the state and generation it wrote for, as Kafka's callbacks do under the
 * group lock. Rebalance, session and sync timeouts are timers owned by the group's members.
 */
import { randomUUID } from 'node:crypto';
import { decodeRecordBatches, ErrorCode, encodeRecordBatch } from '@brook/protocol';
import { LogError, type PartitionLog } from '@brook/storage';
import type { BrokerConfig } from '../config/broker-config.ts';
import type { Logger } from '../logger.ts';
import {
  ClassicGroup,
  CONSUMER_PROTOCOL_TYPE,
  GroupMember,
  type GroupState,
  type JoinResult,
  type MemberProtocol,
  type SyncResult,
} from './classic-group.ts';
import {
  type CommittedOffset,
  decodeOffsetsTopicRecord,
  groupMetadataKey,
  groupMetadataValue,
  offsetCommitKey,
  offsetCommitValue,
  offsetsPartitionFor,
  type StoredGroup,
} from './group-records.ts';

/** How long a new member's JoinGroup may wait in a rebalance (Kafka's NewMemberJoinTimeoutMs). */
const NEW_MEMBER_JOIN_TIMEOUT_MS = 5 * 60 * 1000;
/** Bytes read at a time when loading a partition of `__consumer_offsets`. */
const LOAD_READ_BYTES = 5 * 1024 * 1024;
/** What DescribeGroups reports when authorized operations were not asked for. */
const AUTHORIZED_OPERATIONS_OMITTED = -2147483648;
/** READ, DELETE and DESCRIBE: what a group allows without ACLs. */
const GROUP_AUTHORIZED_OPERATIONS = (1 << 3) | (1 << 6) | (1 << 8);

export type GroupCoordinatorConfig = Pick<
  BrokerConfig,
  | 'groupMinSessionTimeoutMs'
  | 'groupMaxSessionTimeoutMs'
  | 'groupInitialRebalanceDelayMs'
  | 'groupMaxSize'
  | 'offsetsRetentionMinutes'
  | 'offsetsRetentionCheckIntervalMs'
  | 'offsetMetadataMaxBytes'
>;

/** What the coordinator needs of the broker: the offsets topic and the topics that exist. */
export interface OffsetsTopicAccess {
  /** The partition count of `__consumer_offsets`, undefined while it does not exist. */
  partitionCount(): number | undefined;
  /** Creates `__consumer_offsets` when missing; its partition count. */
  ensureTopic(): Promise<number>;
  log(partition: number): Promise<PartitionLog | undefined>;
  /** Whether a partition exists (offsets of others are refused). */
  partitionExists(topic: string, partition: number): boolean;
}

export interface JoinGroupInput {
  readonly groupId: string;
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly clientId: string;
  readonly clientHost: string;
  readonly sessionTimeoutMs: number;
  readonly rebalanceTimeoutMs: number;
  readonly protocolType: string;
  readonly protocols: readonly MemberProtocol[];
  /** JoinGroup v4+: a new member first gets MEMBER_ID_REQUIRED and its id (KIP-394). */
  readonly requireKnownMemberId: boolean;
  /** JoinGroup v9+: a rejoining static leader of a stable group is told to skip assignment. */
  readonly supportSkippingAssignment: boolean;
  readonly reason: string | null;
}

export interface SyncGroupInput {
  readonly groupId: string;
  readonly generationId: number;
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly protocolType: string | null;
  readonly protocolName: string | null;
  readonly assignments: readonly { memberId: string; assignment: Buffer }[];
}

export interface MemberIdentity {
  readonly memberId: string;
  readonly groupInstanceId: string | null;
}

export interface OffsetCommitInput {
  readonly groupId: string;
  readonly generationId: number;
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  /** -1 unless OffsetCommit v2-v4 asked for an explicit retention. */
  readonly retentionTimeMs: number;
  readonly topics: readonly {
    name: string;
    partitions: readonly {
      partitionIndex: number;
      committedOffset: bigint;
      committedLeaderEpoch: number;
      committedMetadata: string | null;
    }[];
  }[];
}

export interface TopicPartitionErrors {
  name: string;
  partitions: { partitionIndex: number; errorCode: number }[];
}

export interface FetchedOffsets {
  readonly errorCode: number;
  readonly topics: {
    name: string;
    partitions: {
      partitionIndex: number;
      committedOffset: bigint;
      committedLeaderEpoch: number;
      metadata: string | null;
      errorCode: number;
    }[];
  }[];
}

export interface GroupDescription {
  errorCode: number;
  groupId: string;
  groupState: string;
  protocolType: string;
  protocolData: string;
  members: {
    memberId: string;
    groupInstanceId: string | null;
    clientId: string;
    clientHost: string;
    memberMetadata: Buffer;
    memberAssignment: Buffer;
  }[];
  authorizedOperations: number;
}

export interface GroupListing {
  groupId: string;
  protocolType: string;
  groupState: string;
  groupType: string;
}

const EMPTY = Buffer.alloc(0);

function joinError(memberId: string, errorCode: number): JoinResult {
  return {
    errorCode,
    generationId: -1,
    protocolType: null,
    protocolName: null,
    leaderId: '',
    memberId,
    skipAssignment: false,
    members: [],
  };
}

function syncError(errorCode: number): SyncResult {
  return { errorCode, protocolType: null, protocolName: null, assignment: EMPTY };
}

/** Kafka's mapping of append errors shared by group metadata writes and offset commits. */
function storeError(errorCode: number): number | undefined {
  switch (errorCode) {
    case ErrorCode.UNKNOWN_TOPIC_OR_PARTITION:
    case ErrorCode.NOT_ENOUGH_REPLICAS:
    case ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND:
      return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    case ErrorCode.NOT_LEADER_OR_FOLLOWER:
    case ErrorCode.KAFKA_STORAGE_ERROR:
      return ErrorCode.NOT_COORDINATOR;
    default:
      return undefined;
  }
}

const isTooLarge = (errorCode: number): boolean =>
  errorCode === ErrorCode.MESSAGE_TOO_LARGE ||
  errorCode === ErrorCode.RECORD_LIST_TOO_LARGE ||
  errorCode === ErrorCode.INVALID_FETCH_SIZE;

/** Group metadata writes (GroupMetadataManager.storeGroup): too large is a server error. */
function storeGroupError(errorCode: number): number {
  if (errorCode === ErrorCode.REQUEST_TIMED_OUT) return ErrorCode.REBALANCE_IN_PROGRESS;
  if (isTooLarge(errorCode)) return ErrorCode.UNKNOWN_SERVER_ERROR;
  return storeError(errorCode) ?? errorCode;
}

/** Offset commits (GroupMetadataManager.storeOffsets). */
function storeOffsetsError(errorCode: number): number {
  if (isTooLarge(errorCode)) return ErrorCode.INVALID_COMMIT_OFFSET_SIZE;
  return storeError(errorCode) ?? errorCode;
}

export class GroupCoordinator {
  private readonly config: GroupCoordinatorConfig;
  private readonly offsetsTopic: OffsetsTopicAccess;
  private readonly logger: Logger;
  private readonly clock: () => number;
  private readonly groups = new Map<string, ClassicGroup>();
  /** Partitions of `__consumer_offsets` still being loaded. */
  private readonly loading = new Set<number>();
  private active = true;
  private expiryTimer: ReturnType<typeof setInterval> | undefined;
  private loaded: Promise<void> = Promise.resolve();

  constructor(options: {
    config: GroupCoordinatorConfig;
    offsetsTopic: OffsetsTopicAccess;
    logger: Logger;
    clock?: () => number;
  }) {
    this.config = options.config;
    this.offsetsTopic = options.offsetsTopic;
    this.logger = options.logger;
    this.clock = options.clock ?? Date.now;
  }

  /**
   * Starts loading the groups and offsets of `__consumer_offsets` (groups of a partition being
   * loaded get COORDINATOR_LOAD_IN_PROGRESS) and the offset expiry timer. Returns at once;
   * `whenLoaded` resolves when loading is done.
   */
  start(): void {
    const count = this.offsetsTopic.partitionCount() ?? 0;
    for (let partition = 0; partition < count; partition++) this.loading.add(partition);
    this.loaded = this.loadAll(count);
    this.expiryTimer = setInterval(() => {
      this.cleanupExpiredOffsets().catch((error: unknown) => {
        this.logger.log('error', 'offset expiry failed', { error: String(error) });
      });
    }, this.config.offsetsRetentionCheckIntervalMs);
    this.expiryTimer.unref();
  }

  whenLoaded(): Promise<void> {
    return this.loaded;
  }

  /** Stops every timer and answers requests still waiting (their connections are closing). */
  shutdown(): void {
    this.active = false;
    clearInterval(this.expiryTimer);
    for (const group of this.groups.values()) {
      clearTimeout(group.joinTimer);
      clearTimeout(group.syncTimer);
      for (const timer of group.pendingMembers.values()) clearTimeout(timer);
      for (const member of group.members.values()) {
        clearTimeout(member.heartbeatTimer);
        this.answerJoin(member, joinError(member.memberId, ErrorCode.COORDINATOR_NOT_AVAILABLE));
        this.answerSync(member, syncError(ErrorCode.COORDINATOR_NOT_AVAILABLE));
      }
    }
  }

  /** The `__consumer_offsets` partition of a group, creating the topic when missing. */
  async partitionFor(groupId: string): Promise<number> {
    const count = this.offsetsTopic.partitionCount() ?? (await this.offsetsTopic.ensureTopic());
    return offsetsPartitionFor(groupId, count);
  }

  /** Kafka's `validateGroupStatus` (without the group id check): NONE when the group is served. */
  private async groupStatus(groupId: string): Promise<number> {
    if (!this.active) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    const partition = await this.partitionFor(groupId);
    if (this.loading.has(partition)) return ErrorCode.COORDINATOR_LOAD_IN_PROGRESS;
    return ErrorCode.NONE;
  }

  // ---- JoinGroup --------------------------------------------------------------------------------

  async joinGroup(request: JoinGroupInput): Promise<JoinResult> {
    const { groupId, memberId } = request;
    if (groupId === '') return joinError(memberId, ErrorCode.INVALID_GROUP_ID);
    const status = await this.groupStatus(groupId);
    if (status !== ErrorCode.NONE) return joinError(memberId, status);
    if (
      request.sessionTimeoutMs < this.config.groupMinSessionTimeoutMs ||
      request.sessionTimeoutMs > this.config.groupMaxSessionTimeoutMs
    ) {
      return joinError(memberId, ErrorCode.INVALID_SESSION_TIMEOUT);
    }
    const isUnknownMember = memberId === '';
    let group = this.groups.get(groupId);
    if (group === undefined) {
      if (!isUnknownMember) return joinError(memberId, ErrorCode.UNKNOWN_MEMBER_ID);
      group = new ClassicGroup(groupId, await this.partitionFor(groupId), this.clock());
      this.groups.set(groupId, group);
    }
    let result: JoinResult | Promise<JoinResult>;
    const isNewMember = !group.has(memberId);
    // Members given an id but not joined yet count too, so repeated first JoinGroups cannot
    // grow the group's pending members without bound.
    const pendingOthers = group.pendingMembers.size - (group.isPendingMember(memberId) ? 1 : 0);
    if (isNewMember && group.size + pendingOthers >= this.config.groupMaxSize) {
      result = joinError(memberId, ErrorCode.GROUP_MAX_SIZE_REACHED);
    } else if (!isUnknownMember) {
      result = this.joinKnownMember(group, request);
    } else if (group.is('Dead')) {
      // Removed meanwhile: the member finds the coordinator again and rejoins.
      result = joinError(memberId, ErrorCode.COORDINATOR_NOT_AVAILABLE);
    } else if (!group.supportsProtocols(request.protocolType, request.protocols)) {
      result = joinError(memberId, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    } else {
      result = this.joinNewMember(group, request);
    }
    if (group.is('PreparingRebalance')) this.tryCompleteJoin(group);
    this.dropIfUnused(group);
    return result;
  }

  private joinNewMember(
    group: ClassicGroup,
    request: JoinGroupInput,
  ): Promise<JoinResult> | JoinResult {
    const newMemberId = `${request.groupInstanceId ?? request.clientId}-${randomUUID()}`;
    const { groupInstanceId } = request;
    if (groupInstanceId !== null) {
      const oldMemberId = group.staticMembers.get(groupInstanceId);
      if (oldMemberId !== undefined) {
        return this.replaceStaticMember(group, oldMemberId, newMemberId, groupInstanceId, request);
      }
      return this.addMemberAndRebalance(group, newMemberId, request);
    }
    if (request.requireKnownMemberId) {
      // KIP-394: the member gets its id first, and has a session timeout to come back with it.
      const timer = setTimeout(
        () => this.removePendingMember(group, newMemberId),
        request.sessionTimeoutMs,
      );
      timer.unref();
      group.pendingMembers.set(newMemberId, timer);
      return joinError(newMemberId, ErrorCode.MEMBER_ID_REQUIRED);
    }
    return this.addMemberAndRebalance(group, newMemberId, request);
  }

  private joinKnownMember(
    group: ClassicGroup,
    request: JoinGroupInput,
  ): Promise<JoinResult> | JoinResult {
    const { memberId, groupInstanceId } = request;
    if (group.is('Dead')) return joinError(memberId, ErrorCode.COORDINATOR_NOT_AVAILABLE);
    if (!group.supportsProtocols(request.protocolType, request.protocols)) {
      return joinError(memberId, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    }
    if (group.isPendingMember(memberId)) {
      if (groupInstanceId !== null) return joinError(memberId, ErrorCode.UNKNOWN_MEMBER_ID);
      clearTimeout(group.pendingMembers.get(memberId));
      group.pendingMembers.delete(memberId);
      return this.addMemberAndRebalance(group, memberId, request);
    }
    if (group.isStaticMemberFenced(groupInstanceId, memberId)) {
      return joinError(memberId, ErrorCode.FENCED_INSTANCE_ID);
    }
    const member = group.members.get(memberId);
    if (
      member === undefined ||
      (groupInstanceId !== null && !group.staticMembers.has(groupInstanceId))
    ) {
      return joinError(memberId, ErrorCode.UNKNOWN_MEMBER_ID);
    }
    switch (group.state) {
      case 'PreparingRebalance':
        return this.updateMemberAndRebalance(group, member, request);
      case 'CompletingRebalance':
        if (member.matches(request.protocols)) {
          // The member lost its JoinGroup response: the current generation again.
          return this.currentGeneration(group, member.memberId, group.isLeader(memberId));
        }
        return this.updateMemberAndRebalance(group, member, request);
      case 'Stable':
        // A leader's JoinGroup always rebalances: it asks for a new assignment (topic changes).
        if (group.isLeader(memberId) || !member.matches(request.protocols)) {
          return this.updateMemberAndRebalance(group, member, request);
        }
        return this.currentGeneration(group, member.memberId, false);
      default:
        return joinError(memberId, ErrorCode.UNKNOWN_MEMBER_ID);
    }
  }

  private currentGeneration(
    group: ClassicGroup,
    memberId: string,
    withMembers: boolean,
  ): JoinResult {
    return {
      errorCode: ErrorCode.NONE,
      generationId: group.generationId,
      protocolType: group.protocolType,
      protocolName: group.protocolName,
      leaderId: group.leaderId ?? '',
      memberId,
      skipAssignment: false,
      members: withMembers ? group.currentMemberMetadata() : [],
    };
  }

  private addMemberAndRebalance(
    group: ClassicGroup,
    memberId: string,
    request: JoinGroupInput,
  ): Promise<JoinResult> {
    const member = new GroupMember({
      memberId,
      groupInstanceId: request.groupInstanceId,
      clientId: request.clientId,
      clientHost: request.clientHost,
      rebalanceTimeoutMs: request.rebalanceTimeoutMs,
      sessionTimeoutMs: request.sessionTimeoutMs,
      protocolType: request.protocolType,
      protocols: request.protocols,
    });
    member.isNew = true;
    // New members during the initial delay extend it (up to the rebalance timeout).
    if (group.is('PreparingRebalance') && group.generationId === 0) group.newMemberAdded = true;
    const result = this.awaitJoin(member);
    group.add(member);
    // A new member cannot heartbeat yet; if it went away, its JoinGroup times out instead.
    this.scheduleHeartbeat(group, member, NEW_MEMBER_JOIN_TIMEOUT_MS);
    this.maybePrepareRebalance(
      group,
      `member ${memberId} joined (${request.reason ?? 'no reason'})`,
    );
    return result;
  }

  private updateMemberAndRebalance(
    group: ClassicGroup,
    member: GroupMember,
    request: JoinGroupInput,
  ): Promise<JoinResult> {
    this.updateMember(member, request);
    const result = this.awaitJoin(member);
    this.maybePrepareRebalance(
      group,
      `member ${member.memberId} rejoined (${request.reason ?? 'no reason'})`,
    );
    return result;
  }

  private updateMember(member: GroupMember, request: JoinGroupInput): void {
    member.protocols = request.protocols;
    member.rebalanceTimeoutMs = request.rebalanceTimeoutMs;
    member.sessionTimeoutMs = request.sessionTimeoutMs;
    member.clientId = request.clientId;
    member.clientHost = request.clientHost;
  }

  private awaitJoin(member: GroupMember): Promise<JoinResult> {
    // A member has one JoinGroup waiting: an earlier one (its client gave up on it) is
    // answered now, with an error that makes it rejoin with the same member id.
    this.answerJoin(member, joinError(member.memberId, ErrorCode.REBALANCE_IN_PROGRESS));
    return new Promise((resolve) => {
      member.awaitingJoin = resolve;
    });
  }

  private answerJoin(member: GroupMember, result: JoinResult): void {
    const callback = member.awaitingJoin;
    member.awaitingJoin = undefined;
    callback?.(result);
  }

  private answerSync(member: GroupMember, result: SyncResult): void {
    const callback = member.awaitingSync;
    member.awaitingSync = undefined;
    callback?.(result);
  }

  /** KIP-345: a static member restarted (new member id): it takes its old place. */
  private async replaceStaticMember(
    group: ClassicGroup,
    oldMemberId: string,
    newMemberId: string,
    groupInstanceId: string,
    request: JoinGroupInput,
  ): Promise<JoinResult> {
    const currentLeader = group.leaderId ?? '';
    const old = group.members.get(oldMemberId)!;
    clearTimeout(old.heartbeatTimer);
    // The old instance, if still around, is fenced at once.
    this.answerJoin(old, joinError(oldMemberId, ErrorCode.FENCED_INSTANCE_ID));
    this.answerSync(old, syncError(ErrorCode.FENCED_INSTANCE_ID));
    const member = new GroupMember({
      memberId: newMemberId,
      groupInstanceId,
      clientId: old.clientId,
      clientHost: old.clientHost,
      rebalanceTimeoutMs: old.rebalanceTimeoutMs,
      sessionTimeoutMs: old.sessionTimeoutMs,
      protocolType: old.protocolType,
      protocols: old.protocols,
    });
    group.replaceStaticMember(groupInstanceId, oldMemberId, member);
    this.scheduleHeartbeat(group, member);
    const oldProtocols = member.protocols;
    const oldTimeouts = [member.rebalanceTimeoutMs, member.sessionTimeoutMs] as const;
    this.updateMember(member, request);
    const result = this.awaitJoin(member);
    switch (group.state) {
      case 'Stable': {
        if (group.protocolName !== group.selectProtocol()) {
          this.maybePrepareRebalance(group, `static member ${groupInstanceId} changed protocols`);
          return result;
        }
        // Same protocol: no rebalance, only the new member id is stored.
        const generationId = group.generationId;
        const errorCode = await this.storeGroup(group, currentAssignments(group));
        if (!group.members.has(newMemberId) || group.generationId !== generationId) return result;
        if (errorCode !== ErrorCode.NONE) {
          member.protocols = oldProtocols;
          [member.rebalanceTimeoutMs, member.sessionTimeoutMs] = oldTimeouts;
          group.replaceStaticMember(groupInstanceId, newMemberId, old);
          clearTimeout(member.heartbeatTimer);
          this.scheduleHeartbeat(group, old);
          this.answerJoin(member, { ...joinError('', errorCode), generationId });
          return result;
        }
        const isLeader = group.isLeader(newMemberId);
        this.answerJoin(member, {
          errorCode: ErrorCode.NONE,
          generationId: group.generationId,
          protocolType: group.protocolType,
          protocolName: group.protocolName,
          // Before v9 the old leader id keeps a restarted leader from assigning in a stable
          // group; from v9 it is told it leads but must skip the assignment.
          leaderId: request.supportSkippingAssignment ? (group.leaderId ?? '') : currentLeader,
          memberId: newMemberId,
          skipAssignment: request.supportSkippingAssignment && isLeader,
          members:
            request.supportSkippingAssignment && isLeader ? group.currentMemberMetadata() : [],
        });
        return result;
      }
      case 'CompletingRebalance':
        // The leader may be assigning to the old member id: rebalance again.
        this.prepareRebalance(group, `static member ${groupInstanceId} rejoined while syncing`);
        return result;
      default:
        // PreparingRebalance: answered when the rebalance completes.
        return result;
    }
  }

  // ---- rebalance ---------------------------------------------------------------------------------

  private maybePrepareRebalance(group: ClassicGroup, reason: string): void {
    if (group.is('Stable') || group.is('CompletingRebalance') || group.is('Empty')) {
      this.prepareRebalance(group, reason);
    }
  }

  private prepareRebalance(group: ClassicGroup, reason: string): void {
    if (group.is('CompletingRebalance')) {
      this.resetAndPropagateAssignmentError(group, ErrorCode.REBALANCE_IN_PROGRESS);
    }
    clearTimeout(group.syncTimer);
    group.syncTimer = undefined;
    const initial = group.is('Empty');
    group.transitionTo('PreparingRebalance', this.clock());
    clearTimeout(group.joinTimer);
    if (initial) {
      const delay = this.config.groupInitialRebalanceDelayMs;
      this.scheduleInitialJoin(group, delay, Math.max(group.rebalanceTimeoutMs() - delay, 0));
    } else {
      group.joinIsInitialDelay = false;
      group.joinTimer = setTimeout(() => this.completeJoin(group), group.rebalanceTimeoutMs());
      group.joinTimer.unref();
    }
    this.logger.log('info', 'preparing to rebalance group', {
      group: group.groupId,
      generation: group.generationId,
      reason,
    });
    this.tryCompleteJoin(group);
  }

  /** `group.initial.rebalance.delay.ms`: a new group waits for more members, extended by each. */
  private scheduleInitialJoin(group: ClassicGroup, delayMs: number, remainingMs: number): void {
    group.joinIsInitialDelay = true;
    group.joinTimer = setTimeout(() => {
      group.joinTimer = undefined;
      if (group.newMemberAdded && remainingMs > 0) {
        group.newMemberAdded = false;
        const next = Math.min(this.config.groupInitialRebalanceDelayMs, remainingMs);
        this.scheduleInitialJoin(group, next, Math.max(remainingMs - next, 0));
      } else {
        this.completeJoin(group);
      }
    }, delayMs);
    group.joinTimer.unref();
  }

  private tryCompleteJoin(group: ClassicGroup): void {
    if (
      group.is('PreparingRebalance') &&
      !group.joinIsInitialDelay &&
      group.hasAllMembersJoined()
    ) {
      this.completeJoin(group);
    }
  }

  /** The rebalance's join phase ends: a new generation, and every waiting JoinGroup answered. */
  private completeJoin(group: ClassicGroup): void {
    clearTimeout(group.joinTimer);
    group.joinTimer = undefined;
    group.joinIsInitialDelay = false;
    if (!group.is('PreparingRebalance') || this.groups.get(group.groupId) !== group) return;
    // Dynamic members that did not rejoin are out; static ones stay until their session ends.
    for (const member of [...group.members.values()]) {
      if (member.awaitingJoin === undefined && member.groupInstanceId === null) {
        clearTimeout(member.heartbeatTimer);
        this.removeMember(group, member);
      }
    }
    if (!this.electJoinedLeader(group) && group.size > 0) {
      // Nobody rejoined: wait another rebalance timeout for sessions to expire.
      group.joinTimer = setTimeout(() => this.completeJoin(group), group.rebalanceTimeoutMs());
      group.joinTimer.unref();
      return;
    }
    const now = this.clock();
    group.generationId++;
    group.pendingSyncMembers.clear();
    if (group.size === 0) {
      group.protocolName = null;
      group.transitionTo('Empty', now);
      this.logger.log('info', 'group is empty', {
        group: group.groupId,
        generation: group.generationId,
      });
      this.storeGroupInBackground(group);
      return;
    }
    group.protocolName = group.selectProtocol();
    group.transitionTo('CompletingRebalance', now);
    this.logger.log('info', 'group rebalanced', {
      group: group.groupId,
      generation: group.generationId,
      protocol: group.protocolName,
      members: group.size,
      leader: group.leaderId,
    });
    for (const member of group.members.values()) {
      this.answerJoin(
        member,
        this.currentGeneration(group, member.memberId, group.isLeader(member.memberId)),
      );
      this.scheduleHeartbeat(group, member);
      member.isNew = false;
      group.pendingSyncMembers.add(member.memberId);
    }
    const generationId = group.generationId;
    group.syncTimer = setTimeout(
      () => this.expirePendingSync(group, generationId),
      group.rebalanceTimeoutMs(),
    );
    group.syncTimer.unref();
  }

  /** The leader must be a member that rejoined: another one is elected if it did not. */
  private electJoinedLeader(group: ClassicGroup): boolean {
    const leader = group.leaderId === null ? undefined : group.members.get(group.leaderId);
    if (leader?.awaitingJoin !== undefined) return true;
    for (const member of group.members.values()) {
      if (member.awaitingJoin !== undefined) {
        group.leaderId = member.memberId;
        return true;
      }
    }
    return false;
  }

  /** Members that got their JoinGroup response but sent no SyncGroup in time are removed. */
  private expirePendingSync(group: ClassicGroup, generationId: number): void {
    group.syncTimer = undefined;
    if (group.generationId !== generationId || this.groups.get(group.groupId) !== group) return;
    if (!(group.is('CompletingRebalance') || group.is('Stable'))) return;
    if (group.pendingSyncMembers.size === 0) return;
    const late = [...group.pendingSyncMembers];
    for (const memberId of late) {
      const member = group.members.get(memberId);
      if (member) {
        clearTimeout(member.heartbeatTimer);
        this.removeMember(group, member);
      }
    }
    this.prepareRebalance(group, `members ${late.join(', ')} sent no SyncGroup in time`);
  }

  private resetAndPropagateAssignmentError(group: ClassicGroup, errorCode: number): void {
    for (const member of group.members.values()) {
      member.assignment = EMPTY;
      this.answerSync(member, syncError(errorCode));
    }
  }

  // ---- membership --------------------------------------------------------------------------------

  private scheduleHeartbeat(
    group: ClassicGroup,
    member: GroupMember,
    timeoutMs = member.sessionTimeoutMs,
  ): void {
    clearTimeout(member.heartbeatTimer);
    member.lastHeartbeatMs = this.clock();
    member.heartbeatTimer = setTimeout(() => this.heartbeatExpired(group, member), timeoutMs);
    member.heartbeatTimer.unref();
  }

  private heartbeatExpired(group: ClassicGroup, member: GroupMember): void {
    member.heartbeatTimer = undefined;
    if (this.groups.get(group.groupId) !== group || group.members.get(member.memberId) !== member)
      return;
    // Members waiting in a rebalance are alive (they cannot heartbeat); new ones are not.
    if (!member.isNew && (member.awaitingJoin !== undefined || member.awaitingSync !== undefined)) {
      this.scheduleHeartbeat(group, member);
      return;
    }
    this.logger.log('info', 'group member session expired', {
      group: group.groupId,
      member: member.memberId,
      sessionTimeoutMs: member.sessionTimeoutMs,
    });
    this.removeMemberAndUpdateGroup(group, member, `member ${member.memberId} session expired`);
  }

  /** Removes a member; a JoinGroup or SyncGroup it has waiting gets UNKNOWN_MEMBER_ID. */
  private removeMember(group: ClassicGroup, member: GroupMember): void {
    this.answerJoin(member, joinError(member.memberId, ErrorCode.UNKNOWN_MEMBER_ID));
    this.answerSync(member, syncError(ErrorCode.UNKNOWN_MEMBER_ID));
    group.remove(member.memberId);
  }

  private removeMemberAndUpdateGroup(
    group: ClassicGroup,
    member: GroupMember,
    reason: string,
  ): void {
    clearTimeout(member.heartbeatTimer);
    this.removeMember(group, member);
    switch (group.state) {
      case 'Stable':
      case 'CompletingRebalance':
        this.maybePrepareRebalance(group, reason);
        break;
      case 'PreparingRebalance':
        this.tryCompleteJoin(group);
        break;
      default:
        break;
    }
  }

  private removePendingMember(group: ClassicGroup, memberId: string): void {
    clearTimeout(group.pendingMembers.get(memberId));
    if (!group.pendingMembers.delete(memberId)) return;
    if (group.is('PreparingRebalance')) this.tryCompleteJoin(group);
    this.dropIfUnused(group);
  }

  /** A group created by a JoinGroup that was refused holds nothing: it is forgotten. */
  private dropIfUnused(group: ClassicGroup): void {
    if (
      group.is('Empty') &&
      group.generationId === 0 &&
      group.size === 0 &&
      group.pendingMembers.size === 0 &&
      !group.hasOffsets() &&
      this.groups.get(group.groupId) === group
    ) {
      this.groups.delete(group.groupId);
    }
  }

  // ---- SyncGroup ---------------------------------------------------------------------------------

  async syncGroup(request: SyncGroupInput): Promise<SyncResult> {
    const { groupId, memberId, generationId } = request;
    if (groupId === '') return syncError(ErrorCode.INVALID_GROUP_ID);
    const status = await this.groupStatus(groupId);
    if (status !== ErrorCode.NONE) return syncError(status);
    const group = this.groups.get(groupId);
    if (group === undefined) return syncError(ErrorCode.UNKNOWN_MEMBER_ID);
    if (group.is('Dead')) return syncError(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    if (group.isStaticMemberFenced(request.groupInstanceId, memberId))
      return syncError(ErrorCode.FENCED_INSTANCE_ID);
    const member = group.members.get(memberId);
    if (member === undefined) return syncError(ErrorCode.UNKNOWN_MEMBER_ID);
    if (generationId !== group.generationId) return syncError(ErrorCode.ILLEGAL_GENERATION);
    if (
      (request.protocolType !== null && request.protocolType !== group.protocolType) ||
      (request.protocolName !== null && request.protocolName !== group.protocolName)
    ) {
      return syncError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    }
    switch (group.state) {
      case 'Empty':
        return syncError(ErrorCode.UNKNOWN_MEMBER_ID);
      case 'PreparingRebalance':
        return syncError(ErrorCode.REBALANCE_IN_PROGRESS);
      case 'Stable':
        group.pendingSyncMembers.delete(memberId);
        this.scheduleHeartbeat(group, member);
        return {
          errorCode: ErrorCode.NONE,
          protocolType: group.protocolType,
          protocolName: group.protocolName,
          assignment: member.assignment,
        };
      default:
        break;
    }
    // CompletingRebalance: wait for the leader's assignment.
    this.answerSync(member, syncError(ErrorCode.UNKNOWN_MEMBER_ID));
    const result = new Promise<SyncResult>((resolve) => {
      member.awaitingSync = resolve;
    });
    group.pendingSyncMembers.delete(memberId);
    if (group.isLeader(memberId)) {
      const assignments = new Map<string, Buffer>();
      for (const entry of request.assignments) {
        if (group.has(entry.memberId)) assignments.set(entry.memberId, entry.assignment);
      }
      for (const id of group.members.keys()) if (!assignments.has(id)) assignments.set(id, EMPTY);
      const errorCode = await this.storeGroup(group, assignments);
      if (group.is('CompletingRebalance') && group.generationId === generationId) {
        if (errorCode !== ErrorCode.NONE) {
          this.logger.log('warn', 'storing the group assignment failed', {
            group: group.groupId,
            generation: generationId,
            errorCode,
          });
          this.resetAndPropagateAssignmentError(group, errorCode);
          this.maybePrepareRebalance(group, 'storing the group assignment failed');
        } else {
          for (const each of group.members.values()) {
            each.assignment = assignments.get(each.memberId) ?? EMPTY;
            this.answerSync(each, {
              errorCode: ErrorCode.NONE,
              protocolType: group.protocolType,
              protocolName: group.protocolName,
              assignment: each.assignment,
            });
          }
          group.transitionTo('Stable', this.clock());
        }
      }
    }
    return result;
  }

  // ---- Heartbeat and LeaveGroup ------------------------------------------------------------------

  async heartbeat(request: {
    groupId: string;
    generationId: number;
    memberId: string;
    groupInstanceId: string | null;
  }): Promise<number> {
    const { groupId, memberId } = request;
    if (groupId === '') return ErrorCode.INVALID_GROUP_ID;
    const status = await this.groupStatus(groupId);
    if (status !== ErrorCode.NONE) return status;
    const group = this.groups.get(groupId);
    if (group === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (group.is('Dead')) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    if (group.isStaticMemberFenced(request.groupInstanceId, memberId))
      return ErrorCode.FENCED_INSTANCE_ID;
    const member = group.members.get(memberId);
    if (member === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (request.generationId !== group.generationId) return ErrorCode.ILLEGAL_GENERATION;
    switch (group.state) {
      case 'Empty':
        return ErrorCode.UNKNOWN_MEMBER_ID;
      case 'PreparingRebalance':
        this.scheduleHeartbeat(group, member);
        return ErrorCode.REBALANCE_IN_PROGRESS;
      default:
        // CompletingRebalance too: members may heartbeat right after their JoinGroup response.
        this.scheduleHeartbeat(group, member);
        return ErrorCode.NONE;
    }
  }

  async leaveGroup(
    groupId: string,
    leaving: readonly MemberIdentity[],
  ): Promise<{ errorCode: number; members: (MemberIdentity & { errorCode: number })[] }> {
    const status = groupId === '' ? ErrorCode.INVALID_GROUP_ID : await this.groupStatus(groupId);
    if (status !== ErrorCode.NONE) return { errorCode: status, members: [] };
    const group = this.groups.get(groupId);
    if (group === undefined) {
      return {
        errorCode: ErrorCode.NONE,
        members: leaving.map((m) => ({ ...m, errorCode: ErrorCode.UNKNOWN_MEMBER_ID })),
      };
    }
    if (group.is('Dead')) return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, members: [] };
    const members = leaving.map((identity) => {
      const { memberId, groupInstanceId } = identity;
      let errorCode: number = ErrorCode.NONE;
      if (memberId === '') {
        // Administrative removal by group.instance.id.
        const current =
          groupInstanceId === null ? undefined : group.staticMembers.get(groupInstanceId);
        const member = current === undefined ? undefined : group.members.get(current);
        if (member === undefined) errorCode = ErrorCode.UNKNOWN_MEMBER_ID;
        else
          this.removeMemberAndUpdateGroup(
            group,
            member,
            `static member ${groupInstanceId} removed`,
          );
      } else if (group.isPendingMember(memberId)) {
        this.removePendingMember(group, memberId);
      } else if (group.isStaticMemberFenced(groupInstanceId, memberId)) {
        errorCode = ErrorCode.FENCED_INSTANCE_ID;
      } else {
        const member = group.members.get(memberId);
        if (member === undefined) errorCode = ErrorCode.UNKNOWN_MEMBER_ID;
        else this.removeMemberAndUpdateGroup(group, member, `member ${memberId} left`);
      }
      return { ...identity, errorCode };
    });
    return { errorCode: ErrorCode.NONE, members };
  }

  // ---- offsets -----------------------------------------------------------------------------------

  async commitOffsets(request: OffsetCommitInput): Promise<TopicPartitionErrors[]> {
    const allWith = (errorCode: number): TopicPartitionErrors[] =>
      request.topics.map((topic) => ({
        name: topic.name,
        partitions: topic.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode })),
      }));
    const { groupId, generationId, memberId } = request;
    const status = await this.groupStatus(groupId);
    if (status !== ErrorCode.NONE) return allWith(status);
    let group = this.groups.get(groupId);
    if (group === undefined) {
      // A simple consumer (no group management) commits with generation -1.
      if (generationId >= 0) return allWith(ErrorCode.ILLEGAL_GENERATION);
      group = new ClassicGroup(groupId, await this.partitionFor(groupId), this.clock());
      this.groups.set(groupId, group);
    }
    let groupError: number = ErrorCode.NONE;
    if (group.is('Dead')) groupError = ErrorCode.COORDINATOR_NOT_AVAILABLE;
    else if (group.isStaticMemberFenced(request.groupInstanceId, memberId))
      groupError = ErrorCode.FENCED_INSTANCE_ID;
    else if (generationId < 0 && group.is('Empty')) groupError = ErrorCode.NONE;
    else if (group.is('CompletingRebalance')) groupError = ErrorCode.REBALANCE_IN_PROGRESS;
    else if (!group.has(memberId)) groupError = ErrorCode.UNKNOWN_MEMBER_ID;
    else if (generationId !== group.generationId) groupError = ErrorCode.ILLEGAL_GENERATION;
    else this.scheduleHeartbeat(group, group.members.get(memberId)!);
    if (groupError !== ErrorCode.NONE) {
      this.dropIfUnused(group);
      return allWith(groupError);
    }

    const now = this.clock();
    const expireTimestampMs =
      request.retentionTimeMs >= 0 ? now + request.retentionTimeMs : undefined;
    const results: TopicPartitionErrors[] = [];
    const records: { key: Buffer; value: Buffer }[] = [];
    const toStore: { topic: string; partition: number; offset: CommittedOffset }[] = [];
    for (const topic of request.topics) {
      const partitions: TopicPartitionErrors['partitions'] = [];
      results.push({ name: topic.name, partitions });
      for (const partition of topic.partitions) {
        let errorCode: number = ErrorCode.NONE;
        const metadata = partition.committedMetadata ?? '';
        if (!this.offsetsTopic.partitionExists(topic.name, partition.partitionIndex)) {
          errorCode = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
        } else if (Buffer.byteLength(metadata) > this.config.offsetMetadataMaxBytes) {
          errorCode = ErrorCode.OFFSET_METADATA_TOO_LARGE;
        } else {
          const offset: CommittedOffset = {
            offset: partition.committedOffset,
            leaderEpoch: partition.committedLeaderEpoch,
            metadata,
            commitTimestampMs: now,
            expireTimestampMs,
          };
          toStore.push({ topic: topic.name, partition: partition.partitionIndex, offset });
          records.push({
            key: offsetCommitKey(groupId, topic.name, partition.partitionIndex),
            value: offsetCommitValue(offset),
          });
        }
        partitions.push({ partitionIndex: partition.partitionIndex, errorCode });
      }
    }
    if (records.length > 0) {
      const errorCode = await this.append(group.offsetsPartition, records);
      if (errorCode === ErrorCode.NONE) {
        for (const { topic, partition, offset } of toStore)
          group.setOffset(topic, partition, offset);
      } else {
        const mapped = storeOffsetsError(errorCode);
        for (const topic of results)
          for (const partition of topic.partitions)
            if (partition.errorCode === ErrorCode.NONE) partition.errorCode = mapped;
      }
    }
    this.dropIfUnused(group);
    return results;
  }

  /** OffsetFetch for one group; `topics` null asks for every committed offset. */
  async fetchOffsets(
    groupId: string,
    topics: readonly { name: string; partitionIndexes: readonly number[] }[] | null,
  ): Promise<FetchedOffsets> {
    const status = await this.groupStatus(groupId);
    const group = status === ErrorCode.NONE ? this.groups.get(groupId) : undefined;
    const entry = (topic: string, partitionIndex: number, errorCode: number) => {
      const offset = group?.offset(topic, partitionIndex);
      return {
        partitionIndex,
        committedOffset: offset?.offset ?? -1n,
        committedLeaderEpoch: offset?.leaderEpoch ?? -1,
        metadata: offset?.metadata ?? '',
        errorCode,
      };
    };
    if (topics === null) {
      return {
        errorCode: status,
        topics: [...(group?.offsets ?? [])].map(([topic, partitions]) => ({
          name: topic,
          partitions: [...partitions.keys()].map((p) => entry(topic, p, ErrorCode.NONE)),
        })),
      };
    }
    return {
      errorCode: status,
      topics: topics.map((topic) => ({
        name: topic.name,
        partitions: topic.partitionIndexes.map((p) => entry(topic.name, p, status)),
      })),
    };
  }

  async deleteOffsets(
    groupId: string,
    topics: readonly { name: string; partitions: readonly { partitionIndex: number }[] }[],
  ): Promise<{ errorCode: number; topics: TopicPartitionErrors[] }> {
    const status = groupId === '' ? ErrorCode.INVALID_GROUP_ID : await this.groupStatus(groupId);
    if (status !== ErrorCode.NONE) return { errorCode: status, topics: [] };
    const group = this.groups.get(groupId);
    if (group === undefined || group.is('Dead'))
      return { errorCode: ErrorCode.GROUP_ID_NOT_FOUND, topics: [] };
    let subscribed: Set<string> | undefined;
    if (!group.is('Empty')) {
      subscribed = group.subscribedTopics();
      if (group.protocolType !== CONSUMER_PROTOCOL_TYPE || subscribed === undefined) {
        return { errorCode: ErrorCode.NON_EMPTY_GROUP, topics: [] };
      }
    }
    const results: TopicPartitionErrors[] = [];
    const deletions: { topic: string; partition: number }[] = [];
    for (const topic of topics) {
      const partitions: TopicPartitionErrors['partitions'] = [];
      results.push({ name: topic.name, partitions });
      for (const { partitionIndex } of topic.partitions) {
        let errorCode: number = ErrorCode.NONE;
        if (subscribed?.has(topic.name)) errorCode = ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC;
        else if (!this.offsetsTopic.partitionExists(topic.name, partitionIndex))
          errorCode = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
        else if (group.offset(topic.name, partitionIndex) !== undefined)
          deletions.push({ topic: topic.name, partition: partitionIndex });
        partitions.push({ partitionIndex, errorCode });
      }
    }
    if (deletions.length > 0) {
      const errorCode = await this.removeOffsets(group, deletions);
      if (errorCode !== ErrorCode.NONE)
        return { errorCode: storeGroupError(errorCode), topics: [] };
    }
    return { errorCode: ErrorCode.NONE, topics: results };
  }

  /** Writes tombstones for offsets and forgets them. */
  private async removeOffsets(
    group: ClassicGroup,
    offsets: readonly { topic: string; partition: number }[],
  ): Promise<number> {
    const errorCode = await this.append(
      group.offsetsPartition,
      offsets.map(({ topic, partition }) => ({
        key: offsetCommitKey(group.groupId, topic, partition),
        value: null,
      })),
    );
    if (errorCode === ErrorCode.NONE) {
      for (const { topic, partition } of offsets) group.setOffset(topic, partition, undefined);
    }
    return errorCode;
  }

  /** A deleted topic's committed offsets go with it. */
  async onTopicDeleted(topic: string): Promise<void> {
    for (const group of this.groups.values()) {
      const partitions = group.offsets.get(topic);
      if (partitions === undefined) continue;
      const errorCode = await this.removeOffsets(
        group,
        [...partitions.keys()].map((partition) => ({ topic, partition })),
      );
      if (errorCode !== ErrorCode.NONE) {
        this.logger.log('warn', 'could not remove offsets of a deleted topic', {
          group: group.groupId,
          topic,
          errorCode,
        });
      }
    }
  }

  /**
   * Kafka's offset expiry (KIP-211): an empty group's offsets after `offsets.retention.minutes`
   * from when it became empty; a standalone consumer's from their commit; a stable consumer
   * group's only for topics it no longer subscribes to. An explicit expiry (OffsetCommit v2-v4)
   * wins. An empty group left without offsets is removed.
   */
  async cleanupExpiredOffsets(now = this.clock()): Promise<number> {
    const retentionMs = this.config.offsetsRetentionMinutes * 60_000;
    let removed = 0;
    for (const group of [...this.groups.values()]) {
      if (this.loading.has(group.offsetsPartition)) continue;
      let base: ((offset: CommittedOffset) => number) | undefined;
      let keep = new Set<string>();
      if (group.protocolType === null) base = (offset) => offset.commitTimestampMs;
      else if (group.is('Empty')) base = () => group.currentStateTimestampMs;
      else if (group.is('Stable') && group.protocolType === CONSUMER_PROTOCOL_TYPE) {
        const subscribed = group.subscribedTopics();
        if (subscribed !== undefined) {
          keep = subscribed;
          base = (offset) => offset.commitTimestampMs;
        }
      }
      const expired: { topic: string; partition: number }[] = [];
      if (base !== undefined) {
        for (const [topic, partitions] of group.offsets) {
          if (keep.has(topic)) continue;
          for (const [partition, offset] of partitions) {
            const gone =
              offset.expireTimestampMs !== undefined
                ? now >= offset.expireTimestampMs
                : now - base(offset) >= retentionMs;
            if (gone) expired.push({ topic, partition });
          }
        }
      }
      if (expired.length > 0 && (await this.removeOffsets(group, expired)) === ErrorCode.NONE) {
        removed += expired.length;
      }
      if (group.is('Empty') && !group.hasOffsets() && this.groups.get(group.groupId) === group) {
        await this.removeGroup(group);
      }
    }
    if (removed > 0) this.logger.log('info', 'expired committed offsets removed', { removed });
    return removed;
  }

  /** Marks an empty group dead, writes its tombstone and forgets it. */
  private async removeGroup(group: ClassicGroup): Promise<number> {
    group.transitionTo('Dead', this.clock());
    this.groups.delete(group.groupId);
    const records: { key: Buffer; value: null }[] = [
      { key: groupMetadataKey(group.groupId), value: null },
    ];
    for (const [topic, partitions] of group.offsets) {
      for (const partition of partitions.keys()) {
        records.push({ key: offsetCommitKey(group.groupId, topic, partition), value: null });
      }
    }
    group.offsets.clear();
    return this.append(group.offsetsPartition, records);
  }

  // ---- admin -------------------------------------------------------------------------------------

  async describeGroup(
    groupId: string,
    includeAuthorizedOperations: boolean,
  ): Promise<GroupDescription> {
    const description: GroupDescription = {
      errorCode: ErrorCode.NONE,
      groupId,
      groupState: 'Dead',
      protocolType: '',
      protocolData: '',
      members: [],
      authorizedOperations: includeAuthorizedOperations
        ? GROUP_AUTHORIZED_OPERATIONS
        : AUTHORIZED_OPERATIONS_OMITTED,
    };
    const status = await this.groupStatus(groupId);
    if (status !== ErrorCode.NONE) return { ...description, errorCode: status, groupState: '' };
    const group = this.groups.get(groupId);
    if (group === undefined) return description;
    const stable = group.is('Stable');
    const protocol = group.protocolName ?? '';
    return {
      ...description,
      groupState: group.state,
      protocolType: group.protocolType ?? '',
      protocolData: stable ? protocol : '',
      members: [...group.members.values()].map((member) => ({
        memberId: member.memberId,
        groupInstanceId: member.groupInstanceId,
        clientId: member.clientId,
        clientHost: member.clientHost,
        memberMetadata: stable ? member.metadataFor(protocol) : EMPTY,
        memberAssignment: stable ? member.assignment : EMPTY,
      })),
    };
  }

  /** Every group, filtered by state and type names (case-insensitive; empty filters match all). */
  listGroups(
    statesFilter: readonly string[],
    typesFilter: readonly string[],
  ): { errorCode: number; groups: GroupListing[] } {
    if (!this.active) return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, groups: [] };
    if (this.loading.size > 0)
      return { errorCode: ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, groups: [] };
    const states = new Set(statesFilter.map((state) => state.toLowerCase()));
    const types = new Set(typesFilter.map((type) => type.toLowerCase()));
    const groups: GroupListing[] = [];
    for (const group of this.groups.values()) {
      if (states.size > 0 && !states.has(group.state.toLowerCase())) continue;
      if (types.size > 0 && !types.has('classic')) continue;
      groups.push({
        groupId: group.groupId,
        protocolType: group.protocolType ?? '',
        groupState: group.state,
        groupType: 'classic',
      });
    }
    return { errorCode: ErrorCode.NONE, groups };
  }

  async deleteGroup(groupId: string): Promise<number> {
    const status = await this.groupStatus(groupId);
    if (status !== ErrorCode.NONE) return status;
    const group = this.groups.get(groupId);
    if (group === undefined || group.is('Dead')) return ErrorCode.GROUP_ID_NOT_FOUND;
    if (!group.is('Empty')) return ErrorCode.NON_EMPTY_GROUP;
    const errorCode = await this.removeGroup(group);
    return errorCode === ErrorCode.NONE ? ErrorCode.NONE : storeGroupError(errorCode);
  }

  /** The state of a group, for tests and metrics. */
  groupState(groupId: string): GroupState | undefined {
    return this.groups.get(groupId)?.state;
  }

  // ---- storage -----------------------------------------------------------------------------------

  private storeGroup(
    group: ClassicGroup,
    assignments: ReadonlyMap<string, Buffer>,
  ): Promise<number> {
    const protocolName = group.protocolName;
    const stored: StoredGroup = {
      protocolType: group.protocolType ?? '',
      generationId: group.generationId,
      protocolName,
      leaderId: group.leaderId,
      currentStateTimestampMs: group.currentStateTimestampMs,
      members: [...group.members.values()].map((member) => ({
        memberId: member.memberId,
        groupInstanceId: member.groupInstanceId,
        clientId: member.clientId,
        clientHost: member.clientHost,
        rebalanceTimeoutMs: member.rebalanceTimeoutMs,
        sessionTimeoutMs: member.sessionTimeoutMs,
        subscription: protocolName === null ? EMPTY : member.metadataFor(protocolName),
        assignment: assignments.get(member.memberId) ?? EMPTY,
      })),
    };
    return this.append(group.offsetsPartition, [
      { key: groupMetadataKey(group.groupId), value: groupMetadataValue(stored) },
    ]).then((errorCode) => (errorCode === ErrorCode.NONE ? errorCode : storeGroupError(errorCode)));
  }

  private storeGroupInBackground(group: ClassicGroup): void {
    this.storeGroup(group, new Map()).then(
      (errorCode) => {
        if (errorCode !== ErrorCode.NONE) {
          this.logger.log('warn', 'storing group metadata failed', {
            group: group.groupId,
            errorCode,
          });
        }
      },
      (error: unknown) =>
        this.logger.log('error', 'storing group metadata failed', { error: String(error) }),
    );
  }

  /** Appends records to a partition of `__consumer_offsets` and waits until they are durable. */
  private async append(
    partition: number,
    records: readonly { key: Buffer; value: Buffer | null }[],
  ): Promise<number> {
    try {
      const log = await this.offsetsTopic.log(partition);
      if (log === undefined) return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
      const batch = encodeRecordBatch({
        baseTimestamp: BigInt(this.clock()),
        records: records.map((record) => ({ key: record.key, value: record.value })),
      });
      const result = await log.append(batch, { leaderEpoch: 0 });
      await result.durable;
      return ErrorCode.NONE;
    } catch (error) {
      if (error instanceof LogError) return error.errorCode;
      this.logger.log('error', 'writing to __consumer_offsets failed', {
        partition,
        error: String(error),
      });
      return ErrorCode.KAFKA_STORAGE_ERROR;
    }
  }

  private async loadAll(count: number): Promise<void> {
    const startedMs = performance.now();
    let groups = 0;
    for (let partition = 0; partition < count; partition++) {
      try {
        groups += await this.loadPartition(partition);
      } catch (error) {
        this.logger.log('error', 'loading __consumer_offsets failed', {
          partition,
          error: String(error),
        });
      } finally {
        this.loading.delete(partition);
      }
    }
    if (count > 0) {
      this.logger.log('info', 'groups loaded', {
        groups,
        partitions: count,
        ms: Math.round(performance.now() - startedMs),
      });
    }
  }

  /** Reads one partition of `__consumer_offsets` and rebuilds its groups and offsets. */
  private async loadPartition(partition: number): Promise<number> {
    const log = await this.offsetsTopic.log(partition);
    if (log === undefined) return 0;
    const offsets = new Map<string, Map<string, CommittedOffset>>();
    const stored = new Map<string, StoredGroup | undefined>();
    const endOffset = log.logEndOffset;
    let position = log.logStartOffset;
    while (position < endOffset && this.active) {
      const { records } = await log.read(position, {
        maxBytes: LOAD_READ_BYTES,
        minOneBatch: true,
      });
      if (records.length === 0) break;
      const { batches } = decodeRecordBatches(records);
      for (const batch of batches) {
        position = batch.baseOffset + BigInt(batch.lastOffsetDelta) + 1n;
        if (batch.isControlBatch) continue;
        for (const record of batch.records) {
          const decoded = decodeOffsetsTopicRecord(record.key, record.value);
          if (decoded.type === 'offset') {
            let groupOffsets = offsets.get(decoded.group);
            if (groupOffsets === undefined) {
              groupOffsets = new Map();
              offsets.set(decoded.group, groupOffsets);
            }
            const key = `${decoded.partition}\u0000${decoded.topic}`;
            if (decoded.value === undefined) groupOffsets.delete(key);
            else groupOffsets.set(key, decoded.value);
          } else if (decoded.type === 'group') {
            stored.set(decoded.group, decoded.value);
          }
        }
      }
    }
    const now = this.clock();
    const groupIds = new Set([...offsets.keys(), ...stored.keys()]);
    let loaded = 0;
    for (const groupId of groupIds) {
      const metadata = stored.get(groupId);
      const groupOffsets = offsets.get(groupId);
      if (metadata === undefined && (groupOffsets === undefined || groupOffsets.size === 0))
        continue;
      const group = new ClassicGroup(groupId, partition, metadata?.currentStateTimestampMs ?? now);
      if (metadata !== undefined) {
        group.generationId = metadata.generationId;
        group.protocolType = metadata.protocolType === '' ? null : metadata.protocolType;
        group.protocolName = metadata.protocolName;
        for (const stored of metadata.members) {
          const member = new GroupMember({
            memberId: stored.memberId,
            groupInstanceId: stored.groupInstanceId,
            clientId: stored.clientId,
            clientHost: stored.clientHost,
            rebalanceTimeoutMs: stored.rebalanceTimeoutMs,
            sessionTimeoutMs: stored.sessionTimeoutMs,
            protocolType: metadata.protocolType,
            protocols: [
              { name: metadata.protocolName ?? '', metadata: Buffer.from(stored.subscription) },
            ],
          });
          member.assignment = Buffer.from(stored.assignment);
          group.add(member);
        }
        group.protocolType = metadata.protocolType === '' ? null : metadata.protocolType;
        group.leaderId = metadata.leaderId;
        if (group.size > 0) group.state = 'Stable';
      }
      for (const [key, offset] of groupOffsets ?? []) {
        const separator = key.indexOf('\u0000');
        group.setOffset(key.slice(separator + 1), Number(key.slice(0, separator)), offset);
      }
      this.groups.set(groupId, group);
      for (const member of group.members.values()) this.scheduleHeartbeat(group, member);
      loaded++;
    }
    return loaded;
  }
}

function currentAssignments(group: ClassicGroup): Map<string, Buffer> {
  return new Map([...group.members.values()].map((member) => [member.memberId, member.assignment]));
}
