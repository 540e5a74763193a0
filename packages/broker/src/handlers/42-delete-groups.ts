// DeleteGroups: v0-2
// * Removes empty groups with their committed offsets (tombstones in `__consumer_offsets`).
//   A group with members is NON_EMPTY_GROUP, an unknown one GROUP_ID_NOT_FOUND.
import { ApiKey, DeleteGroupsRequest, DeleteGroupsResponse } from '@brook/protocol';
import { defineHandler } from './registry.ts';

export const deleteGroupsHandler = defineHandler({
  apiKey: ApiKey.DeleteGroups,
  minVersion: 0,
  maxVersion: 2,
  request: DeleteGroupsRequest,
  response: DeleteGroupsResponse,
  async handle(request, context) {
    const results = [];
    for (const groupId of request.groupsNames) {
      results.push({ groupId, errorCode: await context.broker.groups.deleteGroup(groupId) });
    }
    return { throttleTimeMs: 0, results };
  },
});
