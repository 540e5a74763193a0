// DeleteRecords: v0-2
// * Moves a partition's log start to the offset (-1: the high watermark, which is the log end on
//   a single node); segments wholly below it are deleted. Returns the new low watermark (the log
//   start). An offset below the log start changes nothing; one above the high watermark, or
//   negative other than -1, is OFFSET_OUT_OF_RANGE (low watermark -1), as in Kafka.
// * A topic whose cleanup.policy lacks "delete" is refused with POLICY_VIOLATION, as in Kafka.
// * Unknown topic or partition: UNKNOWN_TOPIC_OR_PARTITION. The change is done when the response
//   is sent (no replicas to wait for), so `timeout_ms` is not waited on.
// * Not implemented: authorization (no ACLs yet).
import { ApiKey, DeleteRecordsRequest, DeleteRecordsResponse, ErrorCode } from '@brook/protocol';
import { LogError } from '@brook/storage';
import { defineHandler } from './registry.ts';

const HIGH_WATERMARK = -1n;

export const deleteRecordsHandler = defineHandler({
  apiKey: ApiKey.DeleteRecords,
  minVersion: 0,
  maxVersion: 2,
  request: DeleteRecordsRequest,
  response: DeleteRecordsResponse,
  async handle(request, context) {
    const broker = context.broker;
    const topics = [];
    for (const topic of request.topics) {
      const partitions = [];
      for (const wanted of topic.partitions) {
        const failed = (errorCode: number) => ({
          partitionIndex: wanted.partitionIndex,
          lowWatermark: -1n,
          errorCode,
        });
        const log = await broker.partitionLog(topic.name, wanted.partitionIndex);
        if (log === undefined) {
          partitions.push(failed(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION));
          continue;
        }
        if (!broker.topicLogConfig(topic.name).cleanupPolicy.includes('delete')) {
          partitions.push(failed(ErrorCode.POLICY_VIOLATION));
          continue;
        }
        const offset = wanted.offset === HIGH_WATERMARK ? log.logEndOffset : wanted.offset;
        if (offset < 0n || offset > log.logEndOffset) {
          partitions.push(failed(ErrorCode.OFFSET_OUT_OF_RANGE));
          continue;
        }
        try {
          const lowWatermark = await log.deleteRecordsBefore(offset);
          partitions.push({
            partitionIndex: wanted.partitionIndex,
            lowWatermark,
            errorCode: ErrorCode.NONE,
          });
        } catch (error) {
          partitions.push(
            failed(error instanceof LogError ? error.errorCode : ErrorCode.KAFKA_STORAGE_ERROR),
          );
        }
      }
      topics.push({ name: topic.name, partitions });
    }
    return { throttleTimeMs: 0, topics };
  },
});
