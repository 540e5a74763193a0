/**
 * Consumer groups: list (every broker is asked, as each lists the groups it coordinates),
 * describe and delete (each group at its coordinator, the groups of one coordinator in one
 * request). NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE and COORDINATOR_LOAD_IN_PROGRESS look the
 * coordinator up again and retry. Members' subscriptions and assignments are decoded when the
 * group uses the consumer protocol.
 */
import {
  ConsumerProtocolAssignment,
  ConsumerProtocolSubscription,
  DeleteGroupsRequest,
  DeleteGroupsResponse,
  DescribeGroupsRequest,
  DescribeGroupsResponse,
  ErrorCode,
  KafkaProtocolError,
  ListGroupsRequest,
  ListGroupsResponse,
  type MessageCodec,
  Reader,
} from '@brook/protocol';
import { UnsupportedApiError } from '../errors.ts';
import type { Connection } from '../network/connection.ts';
import {
  type AdminContext,
  COORDINATOR_CODES,
  type OperationOptions,
  type Outcome,
  outcomeOf,
  type Round,
} from './admin-context.ts';

export interface ListGroupsOptions extends OperationOptions {
  /** Only groups in these states (`Stable`, `Empty`, …; ListGroups v4+). Default all. */
  readonly states?: readonly string[];
  /** Only groups of these types (`classic`, `consumer`; ListGroups v5+). Default all. */
  readonly types?: readonly string[];
}

export interface GroupListing {
  readonly groupId: string;
  /** `consumer` for consumer groups, `connect` for Connect workers, '' for offsets only. */
  readonly protocolType: string;
  /** Null when the broker does not say (ListGroups before v4). */
  readonly state: string | null;
  /** Null when the broker does not say (ListGroups before v5). */
  readonly type: string | null;
  /** The broker that coordinates the group. */
  readonly coordinator: number;
}

export interface AssignedPartitions {
  readonly topic: string;
  readonly partitions: readonly number[];
}

export interface GroupMember {
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly clientId: string;
  readonly clientHost: string;
  /** The subscribed topics, for the consumer protocol; null otherwise or when not given. */
  readonly subscription: readonly string[] | null;
  /** The assigned partitions, for the consumer protocol; null otherwise or when not given. */
  readonly assignment: readonly AssignedPartitions[] | null;
  /** The member's metadata for the group's protocol, as sent (empty unless the group is Stable). */
  readonly memberMetadata: Buffer;
  /** The assignment, as sent (empty unless the group is Stable). */
  readonly memberAssignment: Buffer;
}

export interface GroupDescription {
  readonly groupId: string;
  /** `Empty`, `Stable`, `PreparingRebalance`, `CompletingRebalance`, … ('' on error). */
  readonly state: string;
  readonly protocolType: string;
  /** The protocol (assignor) chosen; '' unless the group is Stable. */
  readonly protocol: string;
  readonly members: readonly GroupMember[];
  /** The broker that coordinates the group; -1 on error. */
  readonly coordinator: number;
  /** GROUP_ID_NOT_FOUND for a group the coordinator does not know. */
  readonly error: KafkaProtocolError | null;
}

export interface DeletedGroup {
  readonly groupId: string;
  readonly error: KafkaProtocolError | null;
}

const CONSUMER_PROTOCOL_TYPE = 'consumer';

/** The node id behind a connection, from the metadata (-1 when not known). */
export function nodeIdOf(context: AdminContext, connection: Connection): number {
  const broker = context.cluster.brokers.find(
    (b) => b.host === connection.host && b.port === connection.port,
  );
  return broker?.nodeId ?? -1;
}

/**
 * One round of a per-group API: each group to its coordinator, one request per coordinator.
 * Coordinator errors in an answer make the coordinator be looked up again.
 */
export function toCoordinators<Result>(
  context: AdminContext,
  groupIds: readonly string[],
  send: (
    connection: Connection,
    groupIds: readonly string[],
  ) => Promise<readonly Outcome<Result>[]>,
): Promise<Outcome<Result>[]> {
  return context.dispatch(
    groupIds,
    (groupId) => context.coordinator(groupId),
    async (connection, batch) => {
      const outcomes = await send(connection, batch);
      outcomes.forEach((outcome, k) => {
        if (
          'retry' in outcome &&
          outcome.retry instanceof KafkaProtocolError &&
          COORDINATOR_CODES.has(outcome.retry.errorCode)
        ) {
          context.cluster.invalidateCoordinator(batch[k]!);
        }
      });
      return outcomes;
    },
    (groupId) => context.cluster.invalidateCoordinator(groupId),
  );
}

export async function listGroups(
  context: AdminContext,
  options: ListGroupsOptions = {},
): Promise<GroupListing[]> {
  await context.cluster.refreshMetadata([]);
  const brokers = context.cluster.brokers.map((b) => b.nodeId);
  const answers = await context.settle(
    brokers,
    options,
    (pending, round: Round) =>
      context.dispatch(
        pending,
        (nodeId) => context.cluster.connection(nodeId),
        async (connection, batch) => {
          const nodeId = batch[0]!;
          const { response, version } = await connection.requestWithVersion(
            ListGroupsRequest,
            ListGroupsResponse,
            (v) => {
              if ((options.states?.length && v < 4) || (options.types?.length && v < 5)) {
                const filter = v < 4 ? 'state' : 'type';
                throw new UnsupportedApiError(
                  `${connection.address} cannot filter groups by ${filter} (ListGroups v${v})`,
                );
              }
              return {
                ...(v >= 4 ? { statesFilter: options.states ?? [] } : {}),
                ...(v >= 5 ? { typesFilter: options.types ?? [] } : {}),
              };
            },
            round.request,
          );
          return [
            outcomeOf(response.errorCode, `broker ${nodeId}`, null, () =>
              response.groups.map(
                (g): GroupListing => ({
                  groupId: g.groupId,
                  protocolType: g.protocolType,
                  state: version >= 4 ? g.groupState : null,
                  type: version >= 5 ? g.groupType : null,
                  coordinator: nodeId,
                }),
              ),
            ),
          ];
        },
      ),
    (_, error) => {
      throw error;
    },
  );
  const byId = new Map<string, GroupListing>();
  for (const listing of answers.flat()) byId.set(listing.groupId, listing);
  return [...byId.values()].sort((a, b) =>
    a.groupId < b.groupId ? -1 : a.groupId > b.groupId ? 1 : 0,
  );
}

/** Decodes an embedded consumer-protocol struct (an int16 version, then the fields). */
function decodeVersioned<T>(codec: MessageCodec<T, unknown>, bytes: Buffer): T | null {
  if (bytes.length < 2) return null;
  try {
    const reader = new Reader(bytes);
    const version = reader.readInt16();
    // A newer version only appends fields: read what this client knows.
    return codec.decode(reader, Math.min(Math.max(version, 0), codec.maxVersion));
  } catch {
    return null;
  }
}

function describeMember(
  protocolType: string,
  member: DescribeGroupsResponse['groups'][number]['members'][number],
): GroupMember {
  const consumer = protocolType === CONSUMER_PROTOCOL_TYPE;
  const subscription = consumer
    ? decodeVersioned(ConsumerProtocolSubscription, member.memberMetadata)
    : null;
  const assignment = consumer
    ? decodeVersioned(ConsumerProtocolAssignment, member.memberAssignment)
    : null;
  return {
    memberId: member.memberId,
    groupInstanceId: member.groupInstanceId,
    clientId: member.clientId,
    clientHost: member.clientHost,
    subscription: subscription?.topics ?? null,
    assignment:
      assignment?.assignedPartitions.map((tp) => ({
        topic: tp.topic,
        partitions: tp.partitions,
      })) ?? null,
    memberMetadata: member.memberMetadata,
    memberAssignment: member.memberAssignment,
  };
}

export async function describeGroups(
  context: AdminContext,
  groupIds: readonly string[],
  options: OperationOptions = {},
): Promise<GroupDescription[]> {
  return context.settle(
    groupIds,
    options,
    (pending, round) =>
      toCoordinators(context, pending, async (connection, batch) => {
        const response = await connection.request(
          DescribeGroupsRequest,
          DescribeGroupsResponse,
          { groups: batch },
          round.request,
        );
        const coordinator = nodeIdOf(context, connection);
        const byId = new Map(response.groups.map((g) => [g.groupId, g]));
        return batch.map((groupId): Outcome<GroupDescription> => {
          const group = byId.get(groupId);
          // Before DescribeGroups v6 an unknown group is described as Dead, without an error.
          const errorCode =
            group === undefined
              ? ErrorCode.UNKNOWN_SERVER_ERROR
              : group.errorCode === ErrorCode.NONE && group.groupState === 'Dead'
                ? ErrorCode.GROUP_ID_NOT_FOUND
                : group.errorCode;
          const message =
            errorCode === ErrorCode.GROUP_ID_NOT_FOUND ? `Group ${groupId} not found.` : null;
          return outcomeOf(errorCode, `group ${groupId}`, message, () => ({
            groupId,
            state: group!.groupState,
            protocolType: group!.protocolType,
            protocol: group!.protocolData,
            members: group!.members.map((m) => describeMember(group!.protocolType, m)),
            coordinator,
            error: null,
          }));
        });
      }),
    (groupId, error) => ({
      groupId,
      state: '',
      protocolType: '',
      protocol: '',
      members: [],
      coordinator: -1,
      error,
    }),
  );
}

export async function deleteGroups(
  context: AdminContext,
  groupIds: readonly string[],
  options: OperationOptions = {},
): Promise<DeletedGroup[]> {
  return context.settle(
    groupIds,
    options,
    (pending, round) =>
      toCoordinators(context, pending, async (connection, batch) => {
        const response = await connection.request(
          DeleteGroupsRequest,
          DeleteGroupsResponse,
          { groupsNames: batch },
          round.request,
        );
        const byId = new Map(response.results.map((r) => [r.groupId, r]));
        return batch.map((groupId) =>
          outcomeOf(
            byId.get(groupId)?.errorCode ?? ErrorCode.UNKNOWN_SERVER_ERROR,
            `group ${groupId}`,
            null,
            () => ({ groupId, error: null }),
          ),
        );
      }),
    (groupId, error): DeletedGroup => ({ groupId, error }),
  );
}

/** A group's description, or its error thrown (a group that does not exist is `Dead`). */
export async function groupState(
  context: AdminContext,
  groupId: string,
  options: OperationOptions,
): Promise<string> {
  const [description] = await describeGroups(context, [groupId], options);
  const error = description?.error;
  if (error?.errorCode === ErrorCode.GROUP_ID_NOT_FOUND) return 'Dead';
  if (error) throw error;
  return description?.state ?? 'Dead';
}
