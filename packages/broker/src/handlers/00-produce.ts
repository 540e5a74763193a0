// Produce: v0-11
// * acks 0 (no response), 1 (after the append), -1 (after the append is durable under the
//   topic's flush policy; single node, so the ISR is this broker). Anything else:
//   INVALID_REQUIRED_ACKS.
// * Partitions of a request are appended concurrently; each gets its own error.
// * Produce does not create topics (Kafka creates them on Metadata only).
// * v0-2: legacy message sets (magic 0/1) are converted to a v2 batch before the append
//   (records/legacy-conversion.ts); v2 batches pass through.
// * Idempotent producers (batches with a producer id): the partition log checks epochs and
//   sequences (storage's producer-state). A retried batch (same producer, epoch and sequences
//   as one of its last five) is not written again: it is answered with NONE and the offset it
//   got the first time, as Kafka does (DUPLICATE_SEQUENCE_NUMBER is never sent). Refusals:
//   OUT_OF_ORDER_SEQUENCE_NUMBER, INVALID_PRODUCER_EPOCH, INVALID_RECORD (negative sequence),
//   the same codes at every version (Kafka's produce path maps nothing by version for them;
//   UNKNOWN_PRODUCER_ID is gone since Kafka 2.5: a producer without state is accepted).
// * Not yet: transactions (transactional batches are checked like idempotent ones).
import {
  ApiKey,
  ErrorCode,
  LOG_OVERHEAD_BYTES,
  ProduceRequest,
  ProduceResponse,
} from '@brook/protocol';
import { LogError } from '@brook/storage';
import { convertProduceRecords } from '../records/legacy-conversion.ts';
import { defineHandler, type RequestContext } from './registry.ts';

type PartitionResult = {
  index: number;
  errorCode: number;
  baseOffset: bigint;
  logAppendTimeMs: bigint;
  logStartOffset: bigint;
  errorMessage: string | null;
};

async function appendPartition(
  context: RequestContext,
  topic: string,
  index: number,
  records: Buffer | null,
  acks: number,
  timeoutMs: number,
): Promise<PartitionResult> {
  const failed = (errorCode: number, errorMessage: string | null = null): PartitionResult => ({
    index,
    errorCode,
    baseOffset: -1n,
    logAppendTimeMs: -1n,
    logStartOffset: -1n,
    errorMessage,
  });
  const log = await context.broker.partitionLog(topic, index);
  if (log === undefined) return failed(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  if (records === null || records.length === 0)
    return failed(ErrorCode.CORRUPT_MESSAGE, 'no records');
  // Produce v0-2: legacy message sets become a v2 batch first (records/legacy-conversion.ts).
  if (context.apiVersion < 3) {
    const converted = convertProduceRecords(records, context.broker.topicLogConfig(topic));
    if ('errorCode' in converted) return failed(converted.errorCode, converted.errorMessage);
    records = converted.records;
  }
  const batchCount = countBatches(records);
  if (batchCount > 1) {
    // Kafka's LogValidator: from v3 on, a partition's records are exactly one batch.
    return failed(ErrorCode.INVALID_RECORD, `expected one record batch, got ${batchCount}`);
  }
  try {
    const result = await log.append(records, { leaderEpoch: 0 });
    if (acks === -1) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), Math.max(timeoutMs, 0));
      });
      const outcome = await Promise.race([result.durable.then(() => 'durable' as const), timedOut]);
      clearTimeout(timer);
      if (outcome === 'timeout')
        return failed(ErrorCode.REQUEST_TIMED_OUT, 'the append was not durable within timeout.ms');
    }
    return {
      index,
      errorCode: ErrorCode.NONE,
      baseOffset: result.firstOffset,
      logAppendTimeMs: result.logAppendTime,
      logStartOffset: result.logStartOffset,
      errorMessage: null,
    };
  } catch (error) {
    if (error instanceof LogError) {
      return failed(produceErrorCode(error.errorCode, context.apiVersion), error.message);
    }
    context.logger.log('error', 'append failed', { topic, partition: index, error: String(error) });
    return failed(ErrorCode.KAFKA_STORAGE_ERROR, 'the log is offline');
  }
}

/** How many batches the records hold, by their length fields (validation happens on append). */
function countBatches(records: Buffer): number {
  let count = 0;
  let position = 0;
  while (position + LOG_OVERHEAD_BYTES <= records.length) {
    const length = records.readInt32BE(position + 8);
    if (length <= 0) break;
    position += LOG_OVERHEAD_BYTES + length;
    count++;
  }
  return count;
}

/**
 * The code a produce response of `version` carries for a refusal, as Kafka's produce path
 * answers: never PRODUCER_FENCED (producers expect INVALID_PRODUCER_EPOCH, KIP-588), and
 * INVALID_TXN_STATE instead of TRANSACTION_ABORTABLE before v11 (KIP-890).
 */
export function produceErrorCode(errorCode: number, version: number): number {
  if (errorCode === ErrorCode.PRODUCER_FENCED) return ErrorCode.INVALID_PRODUCER_EPOCH;
  if (errorCode === ErrorCode.TRANSACTION_ABORTABLE && version < 11) {
    return ErrorCode.INVALID_TXN_STATE;
  }
  return errorCode;
}

export const produceHandler = defineHandler({
  apiKey: ApiKey.Produce,
  minVersion: 0,
  maxVersion: 11,
  request: ProduceRequest,
  response: ProduceResponse,
  async handle(request, context) {
    const { acks, timeoutMs } = request;
    const responses = await Promise.all(
      request.topicData.map(async (topic) => ({
        name: topic.name,
        partitionResponses: await Promise.all(
          topic.partitionData.map((partition) =>
            acks === 0 || acks === 1 || acks === -1
              ? appendPartition(
                  context,
                  topic.name,
                  partition.index,
                  partition.records,
                  acks,
                  timeoutMs,
                )
              : Promise.resolve({
                  index: partition.index,
                  errorCode: ErrorCode.INVALID_REQUIRED_ACKS,
                  baseOffset: -1n,
                  logAppendTimeMs: -1n,
                  logStartOffset: -1n,
                  errorMessage: null,
                }),
          ),
        ),
      })),
    );
    context.broker.notifyAppend();
    if (acks === 0) return undefined;
    return { responses, throttleTimeMs: 0 };
  },
});
