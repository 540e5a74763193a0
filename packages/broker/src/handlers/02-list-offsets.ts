// ListOffsets: v0-9
// * -2 earliest (log start), -1 latest (high watermark; the log end on a single node), -3 the
//   offset of the largest timestamp (v7+), otherwise the first offset whose timestamp is at or
//   after the one asked for (v1+), or -1 when there is none.
// * v0: `old_style_offsets` with one offset.
import { ApiKey, ErrorCode, ListOffsetsRequest, ListOffsetsResponse } from '@brook/protocol';
import { LogError } from '@brook/storage';
import { defineHandler } from './registry.ts';

const EARLIEST = -2n;
const LATEST = -1n;
const MAX_TIMESTAMP = -3n;

export const listOffsetsHandler = defineHandler({
  apiKey: ApiKey.ListOffsets,
  minVersion: 0,
  maxVersion: 9,
  request: ListOffsetsRequest,
  response: ListOffsetsResponse,
  async handle(request, context) {
    const topics = [];
    for (const topic of request.topics) {
      const partitions = [];
      for (const partition of topic.partitions) {
        const base = {
          partitionIndex: partition.partitionIndex,
          oldStyleOffsets: [] as bigint[],
          timestamp: -1n,
          offset: -1n,
          leaderEpoch: -1,
        };
        const log = await context.broker.partitionLog(topic.name, partition.partitionIndex);
        if (log === undefined) {
          partitions.push({ ...base, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION });
          continue;
        }
        try {
          let offset: bigint;
          let timestamp = -1n;
          if (partition.timestamp === EARLIEST) offset = log.logStartOffset;
          else if (partition.timestamp === LATEST) offset = log.logEndOffset;
          else if (partition.timestamp === MAX_TIMESTAMP) {
            const segmentMax = log.maxTimestampAndOffset();
            offset = segmentMax?.offset ?? -1n;
            timestamp = segmentMax?.timestamp ?? -1n;
          } else {
            const found = await log.offsetForTimestamp(partition.timestamp);
            offset = found?.offset ?? -1n;
            timestamp = found?.timestamp ?? -1n;
          }
          partitions.push({
            ...base,
            errorCode: ErrorCode.NONE,
            oldStyleOffsets: context.apiVersion === 0 && offset >= 0n ? [offset] : [],
            timestamp,
            offset,
            // v4+ only: older versions cannot carry it (and the field is not ignorable).
            leaderEpoch:
              context.apiVersion >= 4 && offset >= 0n ? (log.leaderEpochs.latestEpoch ?? 0) : -1,
          });
        } catch (error) {
          const errorCode =
            error instanceof LogError ? error.errorCode : ErrorCode.KAFKA_STORAGE_ERROR;
          partitions.push({ ...base, errorCode });
        }
      }
      topics.push({ name: topic.name, partitions });
    }
    return { throttleTimeMs: 0, topics };
  },
});
