// Heartbeat: v0-4
// * Keeps a member's session alive; REBALANCE_IN_PROGRESS tells it to rejoin. Errors as Kafka's
//   coordinator gives them: UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION, FENCED_INSTANCE_ID (v3+).
import { ApiKey, HeartbeatRequest, HeartbeatResponse } from '@brook/protocol';
import { defineHandler } from './registry.ts';

export const heartbeatHandler = defineHandler({
  apiKey: ApiKey.Heartbeat,
  minVersion: 0,
  maxVersion: 4,
  request: HeartbeatRequest,
  response: HeartbeatResponse,
  async handle(request, context) {
    const errorCode = await context.broker.groups.heartbeat(request);
    return { throttleTimeMs: 0, errorCode };
  },
});
