// OffsetFetch: v0-9
// * v0-7 one group (topics null from v2: every committed offset); v8+ many groups (KIP-709).
// * Partitions without a committed offset answer -1. v0-1 have no top-level error: a group error
//   goes into each partition.
// * `require_stable` (v7+): with no transactions there are no pending offsets to wait for.
import { ApiKey, OffsetFetchRequest, OffsetFetchResponse } from '@brook/protocol';
import { defineHandler } from './registry.ts';

export const offsetFetchHandler = defineHandler({
  apiKey: ApiKey.OffsetFetch,
  minVersion: 0,
  maxVersion: 9,
  request: OffsetFetchRequest,
  response: OffsetFetchResponse,
  async handle(request, context) {
    const groups = context.broker.groups;
    if (context.apiVersion >= 8) {
      const results = [];
      for (const group of request.groups) {
        const fetched = await groups.fetchOffsets(group.groupId, group.topics);
        results.push({
          groupId: group.groupId,
          errorCode: fetched.errorCode,
          topics: fetched.topics,
        });
      }
      return { throttleTimeMs: 0, groups: results };
    }
    const fetched = await groups.fetchOffsets(request.groupId, request.topics);
    return { throttleTimeMs: 0, errorCode: fetched.errorCode, topics: fetched.topics };
  },
});
