// OffsetCommit: v0-9
// * Commits are records in `__consumer_offsets`, durable before the response. A member commits
//   with its generation; a simple consumer (no group management) with generation -1 while the
//   group is empty. Stale generations are ILLEGAL_GENERATION, unknown members
//   UNKNOWN_MEMBER_ID, commits during a sync REBALANCE_IN_PROGRESS, as in Kafka.
// * Per partition: an unknown topic or partition is UNKNOWN_TOPIC_OR_PARTITION, metadata over
//   `offset.metadata.max.bytes` OFFSET_METADATA_TOO_LARGE.
// * v1's per-partition commit timestamp is ignored (the broker's clock is used, as since Kafka
//   2.1); v2-v4's retention time sets an explicit expiry.
import { ApiKey, OffsetCommitRequest, OffsetCommitResponse } from '@brook/protocol';
import { defineHandler } from './registry.ts';

export const offsetCommitHandler = defineHandler({
  apiKey: ApiKey.OffsetCommit,
  minVersion: 0,
  maxVersion: 9,
  request: OffsetCommitRequest,
  response: OffsetCommitResponse,
  async handle(request, context) {
    const topics = await context.broker.groups.commitOffsets({
      groupId: request.groupId,
      generationId: request.generationIdOrMemberEpoch,
      memberId: request.memberId,
      groupInstanceId: request.groupInstanceId,
      retentionTimeMs: Number(request.retentionTimeMs),
      topics: request.topics,
    });
    return { throttleTimeMs: 0, topics };
  },
});
