// DescribeGroups: v0-5
// * State, protocol type, and members (client id and host; v4+ group.instance.id). Member
//   metadata, assignment and the protocol name are given only when the group is Stable, as in
//   Kafka. An unknown group is described as Dead with no error (v6 would change that).
// * v3+ authorized operations: without ACLs every group operation (READ, DELETE, DESCRIBE).
import { ApiKey, DescribeGroupsRequest, DescribeGroupsResponse } from '@brook/protocol';
import { defineHandler } from './registry.ts';

export const describeGroupsHandler = defineHandler({
  apiKey: ApiKey.DescribeGroups,
  minVersion: 0,
  maxVersion: 5,
  request: DescribeGroupsRequest,
  response: DescribeGroupsResponse,
  async handle(request, context) {
    const groups = [];
    for (const groupId of request.groups) {
      groups.push(
        await context.broker.groups.describeGroup(groupId, request.includeAuthorizedOperations),
      );
    }
    return { throttleTimeMs: 0, groups };
  },
});
