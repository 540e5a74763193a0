// OffsetDelete: v0
// * Removes committed offsets of a group (KIP-496). An empty group may lose any; a consumer group
//   with members only those of topics none of them subscribes to (GROUP_SUBSCRIBED_TO_TOPIC
//   otherwise); any other group with members is NON_EMPTY_GROUP. Unknown group:
//   GROUP_ID_NOT_FOUND.
import { ApiKey, OffsetDeleteRequest, OffsetDeleteResponse } from '@brook/protocol';
import { defineHandler } from './registry.ts';

export const offsetDeleteHandler = defineHandler({
  apiKey: ApiKey.OffsetDelete,
  minVersion: 0,
  maxVersion: 0,
  request: OffsetDeleteRequest,
  response: OffsetDeleteResponse,
  async handle(request, context) {
    const result = await context.broker.groups.deleteOffsets(request.groupId, request.topics);
    return { throttleTimeMs: 0, errorCode: result.errorCode, topics: result.topics };
  },
});
