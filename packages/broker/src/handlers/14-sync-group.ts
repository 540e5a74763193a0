// SyncGroup: v0-5
// * The leader sends the assignment, which is stored in `__consumer_offsets` before any member
//   gets its part; followers wait for it. v5 checks the protocol type and name.
import { ApiKey, SyncGroupRequest, SyncGroupResponse } from '@brook/protocol';
import { defineHandler } from './registry.ts';

export const syncGroupHandler = defineHandler({
  apiKey: ApiKey.SyncGroup,
  minVersion: 0,
  maxVersion: 5,
  request: SyncGroupRequest,
  response: SyncGroupResponse,
  async handle(request, context) {
    const result = await context.broker.groups.syncGroup(request);
    return {
      throttleTimeMs: 0,
      errorCode: result.errorCode,
      protocolType: result.protocolType,
      protocolName: result.protocolName,
      assignment: result.assignment,
    };
  },
});
