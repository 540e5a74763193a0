/**
 * A consumer's membership of a classic group: JoinGroup (with the member id the coordinator
 * hands out first, KIP-394, and an optional group instance id for static membership, KIP-345),
 * SyncGroup (the leader runs the chosen assignor over every member's subscription), heartbeats
 * every `heartbeatIntervalMs`, and a rejoin whenever the group rebalances or the member falls
 * out of it. The consumer owns the partitions; this module tells it, through the hooks, what to
 * give up and what it got.
 *
 * Two loops run: the rebalance loop joins when a rejoin is needed, and the heartbeat loop keeps
 * the session alive meanwhile, also while the application's rebalance listeners run. Under the
 * eager protocol every partition is revoked before joining; under the cooperative one (KIP-429)
 * the member keeps its partitions through the rebalance, revokes only those missing from its new
 * assignment, and rejoins at once so that they can go to their new owner.
 */
import {
  ErrorCode,
  HeartbeatRequest,
  HeartbeatResponse,
  JoinGroupRequest,
  JoinGroupResponse,
  KafkaProtocolError,
  LeaveGroupRequest,
  LeaveGroupResponse,
  SyncGroupRequest,
  SyncGroupResponse,
} from '@brook/protocol';
import { AbortedError } from '../errors.ts';
import type { ClientLogger } from '../logger.ts';
import type { Cluster } from '../network/cluster.ts';
import { backoffMs } from '../retry.ts';
import {
  type Assignor,
  type AssignorMember,
  type RebalanceProtocol,
  rebalanceProtocolOf,
} from './assignors/assignor.ts';
import { GroupMembershipError } from './consumer-errors.ts';
import {
  CONSUMER_PROTOCOL_TYPE,
  decodeAssignment,
  decodeSubscription,
  encodeAssignment,
  encodeSubscription,
  SUBSCRIPTION_VERSION,
} from './member-protocol.ts';
import type { CommitIdentity } from './offset-client.ts';
import { partitionKey, type TopicPartition } from './types.ts';
import { Wakeup } from './wakeup.ts';

export interface GroupMembershipHooks {
  /** The topics the member subscribes to now. */
  subscription(): readonly string[];
  /** The partitions the member owns now. */
  owned(): readonly TopicPartition[];
  /** Give partitions up: after processing and committing (`lost: false`), or at once. */
  revoke(partitions: readonly TopicPartition[], options: { lost: boolean }): Promise<void>;
  /** The member's assignment for the new generation, and which of it is new. */
  assign(assigned: readonly TopicPartition[], added: readonly TopicPartition[]): Promise<void>;
  /** The membership cannot go on (a fenced static member, a refused configuration). */
  fatal(error: Error): void;
}

export interface GroupMembershipOptions {
  readonly cluster: Cluster;
  readonly groupId: string;
  readonly groupInstanceId: string | null;
  readonly sessionTimeoutMs: number;
  readonly rebalanceTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly assignors: readonly Assignor[];
  readonly logger: ClientLogger;
  readonly hooks: GroupMembershipHooks;
}

/** JoinGroup and SyncGroup errors after which nothing will work by trying again. */
const FATAL: ReadonlySet<number> = new Set([
  ErrorCode.FENCED_INSTANCE_ID,
  ErrorCode.INCONSISTENT_GROUP_PROTOCOL,
  ErrorCode.GROUP_MAX_SIZE_REACHED,
  ErrorCode.INVALID_SESSION_TIMEOUT,
  ErrorCode.GROUP_AUTHORIZATION_FAILED,
  ErrorCode.INVALID_GROUP_ID,
  ErrorCode.UNSUPPORTED_VERSION,
]);

const COORDINATOR_MOVED: ReadonlySet<number> = new Set([
  ErrorCode.NOT_COORDINATOR,
  ErrorCode.COORDINATOR_NOT_AVAILABLE,
]);

function difference(a: readonly TopicPartition[], b: readonly TopicPartition[]): TopicPartition[] {
  const inB = new Set(b.map((tp) => partitionKey(tp.topic, tp.partition)));
  return a.filter((tp) => !inB.has(partitionKey(tp.topic, tp.partition)));
}

export class GroupMembership {
  readonly groupId: string;
  readonly groupInstanceId: string | null;
  readonly protocol: RebalanceProtocol;
  memberId = '';
  generationId = -1;
  /** The assignor the group chose at the last join. */
  protocolName: string | null = null;
  leaderId = '';
  /** Partition counts of the topics the leader assigned, to notice changes (leader only). */
  assignedTopicCounts = new Map<string, number>();
  private readonly options: GroupMembershipOptions;
  private readonly cluster: Cluster;
  private readonly logger: ClientLogger;
  private readonly rebalanceWakeup = new Wakeup();
  private readonly heartbeatWakeup = new Wakeup();
  private readonly abort = new AbortController();
  private rejoinReason: string | undefined = 'joining';
  private lostPending = false;
  private joining = false;
  /** From the decision to rejoin until SyncGroup answered. */
  private rebalancing = false;
  private stopped = false;
  private suspended = false;
  private loops: Promise<void> | undefined;
  private stableWaiters: (() => void)[] = [];

  constructor(options: GroupMembershipOptions) {
    if (options.assignors.length === 0) throw new GroupMembershipError('no assignors');
    this.options = options;
    this.cluster = options.cluster;
    this.logger = options.logger;
    this.groupId = options.groupId;
    this.groupInstanceId = options.groupInstanceId;
    this.protocol = rebalanceProtocolOf(options.assignors);
  }

  get isLeader(): boolean {
    return this.memberId !== '' && this.leaderId === this.memberId;
  }

  /** Whether the member is in a generation and not rejoining. */
  get stable(): boolean {
    return (
      this.generationId >= 0 && this.rejoinReason === undefined && !this.joining && !this.stopped
    );
  }

  identity(): CommitIdentity {
    return {
      generationId: this.generationId,
      memberId: this.memberId,
      groupInstanceId: this.groupInstanceId,
    };
  }

  start(): void {
    if (this.loops) return;
    this.loops = Promise.all([this.rebalanceLoop(), this.heartbeatLoop()]).then(() => undefined);
  }

  /** Rejoins the group (a new subscription, partitions given up, the metadata changed). */
  requestRejoin(reason: string): void {
    if (this.rejoinReason === undefined) this.rejoinReason = reason;
    this.rebalanceWakeup.wake();
  }

  /** The member was found out of its generation (a refused commit): its partitions are lost. */
  fenced(resetMemberId: boolean): void {
    this.generationId = -1;
    if (resetMemberId && this.groupInstanceId === null) this.memberId = '';
    this.lostPending = true;
    this.requestRejoin('fenced');
  }

  /** Resolves when the member is stable in a generation (or stopped). */
  whenStable(signal?: AbortSignal): Promise<void> {
    if (this.stable || this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        signal?.removeEventListener('abort', done);
        resolve();
      };
      signal?.addEventListener('abort', done, { once: true });
      this.stableWaiters.push(done);
    });
  }

  /**
   * Leaves the group and waits (max.poll.interval exceeded): the partitions are gone already;
   * `resume()` joins again.
   */
  async suspend(reason: string): Promise<void> {
    if (this.suspended || this.stopped) return;
    this.suspended = true;
    await this.leaveGroup(reason);
    this.memberId = this.groupInstanceId === null ? '' : this.memberId;
    this.generationId = -1;
  }

  resume(): void {
    if (!this.suspended) return;
    this.suspended = false;
    this.requestRejoin('resumed');
  }

  get isSuspended(): boolean {
    return this.suspended;
  }

  /** Stops both loops (an in-flight JoinGroup is abandoned). Leaving is separate: `leaveGroup`. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.abort.abort(new AbortedError('consumer closed'));
    this.rebalanceWakeup.wake();
    this.heartbeatWakeup.wake();
    this.notifyStable();
    await this.loops;
  }

  /** LeaveGroup for this member (best effort; a static member is removed by instance id too). */
  async leaveGroup(reason: string): Promise<void> {
    if (this.memberId === '' && this.groupInstanceId === null) return;
    try {
      const connection = await this.cluster.coordinator(this.groupId);
      const { response, version } = await connection.requestWithVersion(
        LeaveGroupRequest,
        LeaveGroupResponse,
        (v) =>
          v >= 3
            ? {
                groupId: this.groupId,
                members: [
                  {
                    memberId: this.memberId,
                    groupInstanceId: this.groupInstanceId,
                    ...(v >= 5 ? { reason } : {}),
                  },
                ],
              }
            : { groupId: this.groupId, memberId: this.memberId },
        { timeoutMs: 5000 },
      );
      const code =
        version >= 3 ? (response.members[0]?.errorCode ?? response.errorCode) : response.errorCode;
      if (response.errorCode !== ErrorCode.NONE || code !== ErrorCode.NONE) {
        this.logger.log('debug', 'LeaveGroup refused', {
          groupId: this.groupId,
          error: new KafkaProtocolError(response.errorCode || code).message,
        });
      }
    } catch (error) {
      this.logger.log('debug', 'LeaveGroup failed', {
        groupId: this.groupId,
        error: (error as Error).message,
      });
    }
    this.generationId = -1;
  }

  private notifyStable(): void {
    if (!this.stable && !this.stopped) return;
    for (const waiter of this.stableWaiters.splice(0)) waiter();
  }

  private async rebalanceLoop(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      try {
        if (this.lostPending && !this.suspended) {
          this.lostPending = false;
          const owned = this.options.hooks.owned();
          if (owned.length > 0) await this.options.hooks.revoke(owned, { lost: true });
          continue;
        }
        if (this.rejoinReason === undefined || this.suspended) {
          await this.rebalanceWakeup.wait();
          continue;
        }
        await this.rebalance();
        failures = 0;
        this.notifyStable();
      } catch (error) {
        if (this.stopped) break;
        if (error instanceof GroupMembershipError) {
          this.stopped = true;
          this.notifyStable();
          this.options.hooks.fatal(error);
          break;
        }
        this.requestRejoin('retrying after an error');
        failures++;
        if (
          failures === 1 &&
          error instanceof KafkaProtocolError &&
          error.errorCode === ErrorCode.REBALANCE_IN_PROGRESS
        ) {
          // The group moved on during SyncGroup: join the new rebalance at once.
          this.logger.log('debug', 'the group rebalanced again; rejoining', {
            groupId: this.groupId,
          });
          continue;
        }
        this.logger.log('warn', 'rebalance failed; retrying', {
          groupId: this.groupId,
          error: (error as Error).message,
        });
        await this.rebalanceWakeup.wait(backoffMs(failures, this.cluster.retry));
      }
    }
  }

  private async heartbeatLoop(): Promise<void> {
    while (!this.stopped) {
      await this.heartbeatWakeup.wait(this.options.heartbeatIntervalMs);
      if (this.stopped) break;
      if (this.generationId < 0 || this.memberId === '' || this.joining || this.suspended) continue;
      try {
        await this.heartbeat();
      } catch (error) {
        if (this.stopped) break;
        if (error instanceof GroupMembershipError) {
          this.stopped = true;
          this.options.hooks.fatal(error);
          break;
        }
        if (!(error instanceof KafkaProtocolError))
          this.cluster.invalidateCoordinator(this.groupId);
        this.logger.log('debug', 'heartbeat failed', {
          groupId: this.groupId,
          error: (error as Error).message,
        });
      }
    }
  }

  private async heartbeat(): Promise<void> {
    const generationId = this.generationId;
    const memberId = this.memberId;
    const connection = await this.cluster.coordinator(this.groupId);
    const response = await connection.request(
      HeartbeatRequest,
      HeartbeatResponse,
      {
        groupId: this.groupId,
        generationId,
        memberId,
        ...(this.groupInstanceId !== null ? { groupInstanceId: this.groupInstanceId } : {}),
      },
      { signal: this.abort.signal },
    );
    // The member moved on while the heartbeat was out: its answer is about the past.
    if (generationId !== this.generationId || memberId !== this.memberId) return;
    switch (response.errorCode) {
      case ErrorCode.NONE:
        return;
      case ErrorCode.REBALANCE_IN_PROGRESS:
        // Already on the way to join: a second join would start yet another rebalance.
        if (!this.rebalancing) this.requestRejoin('the group is rebalancing');
        return;
      case ErrorCode.ILLEGAL_GENERATION:
        this.fenced(false);
        return;
      case ErrorCode.UNKNOWN_MEMBER_ID:
        this.fenced(true);
        return;
      case ErrorCode.FENCED_INSTANCE_ID:
        throw new GroupMembershipError(
          `another consumer with group instance id ${this.groupInstanceId} took this one's place`,
          { cause: new KafkaProtocolError(response.errorCode) },
        );
      default:
        if (COORDINATOR_MOVED.has(response.errorCode)) {
          this.cluster.invalidateCoordinator(this.groupId);
        }
        throw new KafkaProtocolError(response.errorCode, 'heartbeat');
    }
  }

  /** One join and sync; the assignment goes to the hooks. */
  private async rebalance(): Promise<void> {
    this.logger.log('debug', 'rejoining group', {
      groupId: this.groupId,
      reason: this.rejoinReason,
    });
    const reason = this.rejoinReason ?? 'rejoining';
    this.rejoinReason = undefined;
    const hooks = this.options.hooks;
    let assignment: TopicPartition[];
    this.rebalancing = true;
    try {
      if (this.protocol === 'eager') {
        const owned = hooks.owned();
        if (owned.length > 0) await hooks.revoke(owned, { lost: false });
      }
      if (this.stopped) return;
      this.joining = true;
      const joined = await this.join(reason);
      if (joined === undefined) return;
      assignment = await this.sync(joined);
    } catch (error) {
      this.rejoinReason ??= 'retrying';
      throw error;
    } finally {
      this.joining = false;
      this.rebalancing = false;
    }
    const subscribed = new Set(hooks.subscription());
    const accepted = assignment.filter((tp) => subscribed.has(tp.topic));
    if (accepted.length !== assignment.length) {
      this.requestRejoin('assigned topics outside the subscription');
    }
    if (this.protocol === 'cooperative') {
      const owned = hooks.owned();
      const revoked = difference(owned, accepted);
      if (revoked.length > 0) {
        await hooks.revoke(revoked, { lost: false });
        this.requestRejoin('partitions given up for other members');
      }
      await hooks.assign(accepted, difference(accepted, owned));
    } else {
      await hooks.assign(accepted, accepted);
    }
    this.logger.log('info', 'joined group', {
      groupId: this.groupId,
      memberId: this.memberId,
      generationId: this.generationId,
      protocol: this.protocolName,
      partitions: accepted.length,
    });
  }

  private subscriptionMetadata(assignor: Assignor, topics: readonly string[]): Buffer {
    const owned = this.protocol === 'cooperative' ? this.options.hooks.owned() : [];
    return encodeSubscription({
      topics,
      userData:
        assignor.subscriptionUserData?.({
          generationId: this.generationId,
          ownedPartitions: owned,
        }) ?? null,
      ownedPartitions: owned,
      generationId: this.generationId,
      rackId: null,
    });
  }

  /** JoinGroup until it answers (a new member's first answer is only its id). */
  private async join(
    reason: string,
  ): Promise<ReturnType<typeof JoinGroupResponse.decode> | undefined> {
    for (let attempt = 0; attempt < 5; attempt++) {
      if (this.stopped) return undefined;
      const topics = this.options.hooks.subscription();
      const connection = await this.cluster.coordinator(this.groupId);
      const { response } = await connection.requestWithVersion(
        JoinGroupRequest,
        JoinGroupResponse,
        (v) => {
          if (this.groupInstanceId !== null && v < 5) {
            throw new GroupMembershipError(
              `the coordinator does not support static membership (JoinGroup v${v})`,
            );
          }
          return {
            groupId: this.groupId,
            sessionTimeoutMs: this.options.sessionTimeoutMs,
            ...(v >= 1 ? { rebalanceTimeoutMs: this.options.rebalanceTimeoutMs } : {}),
            memberId: this.memberId,
            ...(v >= 5 ? { groupInstanceId: this.groupInstanceId } : {}),
            protocolType: CONSUMER_PROTOCOL_TYPE,
            protocols: this.options.assignors.map((assignor) => ({
              name: assignor.name,
              metadata: this.subscriptionMetadata(assignor, topics),
            })),
            ...(v >= 8 ? { reason } : {}),
          };
        },
        {
          signal: this.abort.signal,
          timeoutMs: Math.max(
            this.cluster.requestTimeoutMs,
            this.options.rebalanceTimeoutMs + 5000,
          ),
        },
      );
      const code = response.errorCode;
      if (code === ErrorCode.NONE) {
        this.memberId = response.memberId;
        this.generationId = response.generationId;
        this.protocolName = response.protocolName;
        this.leaderId = response.leader;
        return response;
      }
      if (code === ErrorCode.MEMBER_ID_REQUIRED) {
        this.memberId = response.memberId;
        continue;
      }
      if (code === ErrorCode.UNKNOWN_MEMBER_ID) {
        this.memberId = '';
        this.generationId = -1;
        continue;
      }
      if (code === ErrorCode.ILLEGAL_GENERATION) {
        this.generationId = -1;
        continue;
      }
      const error = new KafkaProtocolError(code, response.protocolName ? null : 'JoinGroup');
      if (FATAL.has(code)) {
        throw new GroupMembershipError(`cannot join group ${this.groupId}: ${error.message}`, {
          cause: error,
        });
      }
      if (COORDINATOR_MOVED.has(code)) this.cluster.invalidateCoordinator(this.groupId);
      throw error;
    }
    throw new KafkaProtocolError(ErrorCode.UNKNOWN_MEMBER_ID, 'JoinGroup kept refusing the member');
  }

  /** SyncGroup: the leader sends every member's assignment; everyone gets its own. */
  private async sync(
    joined: ReturnType<typeof JoinGroupResponse.decode>,
  ): Promise<TopicPartition[]> {
    const assignor = this.options.assignors.find((a) => a.name === joined.protocolName);
    if (assignor === undefined) {
      throw new GroupMembershipError(
        `the group chose an assignor this member lacks: ${joined.protocolName}`,
      );
    }
    const assignments =
      this.isLeader && !joined.skipAssignment
        ? await this.assignAsLeader(assignor, joined.members)
        : [];
    const generationId = this.generationId;
    const connection = await this.cluster.coordinator(this.groupId);
    const response = await connection.request(
      SyncGroupRequest,
      SyncGroupResponse,
      {
        groupId: this.groupId,
        generationId,
        memberId: this.memberId,
        ...(this.groupInstanceId !== null ? { groupInstanceId: this.groupInstanceId } : {}),
        protocolType: CONSUMER_PROTOCOL_TYPE,
        protocolName: joined.protocolName,
        assignments,
      },
      { signal: this.abort.signal },
    );
    switch (response.errorCode) {
      case ErrorCode.NONE:
        return [...decodeAssignment(response.assignment).partitions];
      case ErrorCode.REBALANCE_IN_PROGRESS:
        this.requestRejoin('the group rebalanced again');
        throw new KafkaProtocolError(response.errorCode, 'SyncGroup');
      case ErrorCode.UNKNOWN_MEMBER_ID:
        this.fenced(true);
        throw new KafkaProtocolError(response.errorCode, 'SyncGroup');
      case ErrorCode.ILLEGAL_GENERATION:
        this.fenced(false);
        throw new KafkaProtocolError(response.errorCode, 'SyncGroup');
      default: {
        const error = new KafkaProtocolError(response.errorCode, 'SyncGroup');
        if (FATAL.has(response.errorCode)) {
          throw new GroupMembershipError(`cannot sync group ${this.groupId}: ${error.message}`, {
            cause: error,
          });
        }
        if (COORDINATOR_MOVED.has(response.errorCode)) {
          this.cluster.invalidateCoordinator(this.groupId);
        }
        throw error;
      }
    }
  }

  private async assignAsLeader(
    assignor: Assignor,
    joinedMembers: ReturnType<typeof JoinGroupResponse.decode>['members'],
  ): Promise<{ memberId: string; assignment: Buffer }[]> {
    const members: AssignorMember[] = joinedMembers.map((member) => {
      let subscription: AssignorMember['subscription'];
      try {
        subscription = decodeSubscription(member.metadata);
      } catch (error) {
        this.logger.log('warn', 'cannot read a member subscription; it gets no partitions', {
          groupId: this.groupId,
          memberId: member.memberId,
          error: (error as Error).message,
        });
        subscription = {
          version: 0,
          topics: [],
          userData: null,
          ownedPartitions: [],
          generationId: -1,
          rackId: null,
        };
      }
      return { memberId: member.memberId, groupInstanceId: member.groupInstanceId, subscription };
    });
    const topics = [...new Set(members.flatMap((member) => member.subscription.topics))];
    if (topics.length > 0) await this.cluster.refreshMetadata(topics);
    const partitionsPerTopic = new Map<string, number>();
    for (const topic of topics) {
      const count = this.cluster.cachedTopic(topic)?.partitions.length ?? 0;
      if (count > 0) partitionsPerTopic.set(topic, count);
    }
    this.assignedTopicCounts = partitionsPerTopic;
    const result = assignor.assign(members, partitionsPerTopic);
    const version = Math.min(
      SUBSCRIPTION_VERSION,
      ...members.map((member) => member.subscription.version),
    );
    this.logger.log('debug', 'assigned partitions as group leader', {
      groupId: this.groupId,
      assignor: assignor.name,
      members: members.length,
    });
    return members.map((member) => ({
      memberId: member.memberId,
      assignment: encodeAssignment(result.get(member.memberId) ?? [], null, version),
    }));
  }
}
