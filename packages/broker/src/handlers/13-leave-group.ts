// LeaveGroup: v0-5
// * v0-2 remove one member; v3+ a batch, each with its own error, and members may be named by
//   group.instance.id alone (administrative removal of static members).
// * v0-2 carry only a top-level error: a member's error is reported there, as in Kafka.
import { ApiKey, ErrorCode, LeaveGroupRequest, LeaveGroupResponse } from '@brook/protocol';
import { defineHandler } from './registry.ts';

export const leaveGroupHandler = defineHandler({
  apiKey: ApiKey.LeaveGroup,
  minVersion: 0,
  maxVersion: 5,
  request: LeaveGroupRequest,
  response: LeaveGroupResponse,
  async handle(request, context) {
    const batched = context.apiVersion >= 3;
    const leaving = batched
      ? request.members
      : [{ memberId: request.memberId, groupInstanceId: null }];
    const result = await context.broker.groups.leaveGroup(request.groupId, leaving);
    if (batched) {
      return { throttleTimeMs: 0, errorCode: result.errorCode, members: result.members };
    }
    const memberError = result.members.find((m) => m.errorCode !== ErrorCode.NONE)?.errorCode;
    const errorCode =
      result.errorCode !== ErrorCode.NONE ? result.errorCode : (memberError ?? ErrorCode.NONE);
    return { throttleTimeMs: 0, errorCode, members: [] };
  },
});
