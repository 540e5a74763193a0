// JoinGroup: v0-9
// * The classic rebalance protocol; see group/group-coordinator.ts for the states and rules.
// * v4+ new members first get MEMBER_ID_REQUIRED with their id (KIP-394); v5+ static members
//   (group.instance.id, KIP-345); v9 tells a restarted static leader to skip assignment.
// * v0 has no rebalance timeout: the session timeout stands in, as in Kafka.
// * protocolName is null in errors from v7, the empty string before (non-nullable there).
import { ApiKey, JoinGroupRequest, JoinGroupResponse } from '@brook/protocol';
import { defineHandler } from './registry.ts';

export const joinGroupHandler = defineHandler({
  apiKey: ApiKey.JoinGroup,
  minVersion: 0,
  maxVersion: 9,
  request: JoinGroupRequest,
  response: JoinGroupResponse,
  async handle(request, context) {
    const version = context.apiVersion;
    const result = await context.broker.groups.joinGroup({
      groupId: request.groupId,
      memberId: request.memberId,
      groupInstanceId: request.groupInstanceId,
      clientId: context.header.clientId ?? '',
      clientHost: context.clientHost,
      sessionTimeoutMs: request.sessionTimeoutMs,
      rebalanceTimeoutMs: version === 0 ? request.sessionTimeoutMs : request.rebalanceTimeoutMs,
      protocolType: request.protocolType,
      protocols: request.protocols,
      requireKnownMemberId: version >= 4,
      supportSkippingAssignment: version >= 9,
      reason: request.reason,
    });
    return {
      throttleTimeMs: 0,
      errorCode: result.errorCode,
      generationId: result.generationId,
      protocolType: result.protocolType,
      protocolName: version >= 7 ? result.protocolName : (result.protocolName ?? ''),
      leader: result.leaderId,
      skipAssignment: result.skipAssignment,
      memberId: result.memberId,
      members: result.members.map((member) => ({
        memberId: member.memberId,
        groupInstanceId: member.groupInstanceId,
        metadata: member.metadata,
      })),
    };
  },
});
