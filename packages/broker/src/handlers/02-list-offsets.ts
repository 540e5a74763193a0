// ListOffsets: v0-9
// * -2 earliest (log start), -1 latest (high watermark; the log end on a single node), -3 the
//   offset of the largest timestamp (v7+), otherwise the first offset whose timestamp is at or
//   after the one asked for (v1+), or -1 when there is none.
// * Record granularity, as Kafka: the log finds the batch, the answer is the record inside it.
// * v0: `old_style_offsets` with one offset.
import {
  ApiKey,
  decodeRecordBatches,
  ErrorCode,
  ListOffsetsRequest,
  ListOffsetsResponse,
  TimestampType,
} from '@brook/protocol';
import { LogError, type PartitionLog } from '@brook/storage';
import { defineHandler } from './registry.ts';

const EARLIEST = -2n;
const LATEST = -1n;
const MAX_TIMESTAMP = -3n;

/**
 * The first record (at or after the log start) whose timestamp `matches`, reading whole batches
 * from the one holding `from`; undefined when none before the log end does. The log's
 * time lookups are per batch (a batch's base or last offset and its max timestamp), while Kafka
 * answers with the record: with several records in a batch, the batch's offsets are wrong.
 */
async function findRecord(
  log: PartitionLog,
  from: bigint,
  matches: (timestamp: bigint) => boolean,
): Promise<{ offset: bigint; timestamp: bigint } | undefined> {
  let offset = from < log.logStartOffset ? log.logStartOffset : from;
  while (offset < log.logEndOffset) {
    const { records, logStartOffset } = await log.read(offset, { maxBytes: 1, minOneBatch: true });
    const [batch] = decodeRecordBatches(records).batches;
    if (batch === undefined) return undefined;
    for (const record of batch.records) {
      const recordOffset = batch.baseOffset + BigInt(record.offsetDelta);
      const timestamp =
        batch.timestampType === TimestampType.logAppendTime
          ? batch.maxTimestamp
          : batch.baseTimestamp + BigInt(record.timestampDelta);
      if (recordOffset >= logStartOffset && matches(timestamp)) {
        return { offset: recordOffset, timestamp };
      }
    }
    offset = batch.baseOffset + BigInt(batch.lastOffsetDelta) + 1n;
  }
  return undefined;
}

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
            // The batch's last offset and its max timestamp: the record is in that batch.
            const segmentMax = log.maxTimestampAndOffset();
            const found =
              segmentMax &&
              ((await findRecord(log, segmentMax.offset, (t) => t === segmentMax.timestamp)) ??
                segmentMax);
            offset = found?.offset ?? -1n;
            timestamp = found?.timestamp ?? -1n;
          } else {
            // The first batch whose max timestamp is at or after the target holds the record.
            const target = partition.timestamp;
            const batch = await log.offsetForTimestamp(target);
            const found = batch && (await findRecord(log, batch.offset, (t) => t >= target));
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
