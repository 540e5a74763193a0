// ListGroups: v0-5
// * Every group this coordinator has; v4+ filter by state (KIP-518), v5+ by type (KIP-848: all
//   of Brook's groups are "classic"). Filters match names case-insensitively.
import { ApiKey, ListGroupsRequest, ListGroupsResponse } from '@brook/protocol';
import { defineHandler } from './registry.ts';

export const listGroupsHandler = defineHandler({
  apiKey: ApiKey.ListGroups,
  minVersion: 0,
  maxVersion: 5,
  request: ListGroupsRequest,
  response: ListGroupsResponse,
  async handle(request, context) {
    const result = context.broker.groups.listGroups(request.statesFilter, request.typesFilter);
    return { throttleTimeMs: 0, errorCode: result.errorCode, groups: result.groups };
  },
});
