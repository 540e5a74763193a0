// Produce: v3-11
// * acks 0 (no response), 1 (after the append), -1 (after the append is durable under the
//   topic's flush policy; single node, so the ISR is this broker). Anything else:
//   INVALID_REQUIRED_ACKS.
// * Partitions of a request are appended concurrently; each gets its own error.
// * Produce does not create topics (Kafka creates them on Metadata only).
// * Not yet: v0-2 (legacy message sets, needs conversion to v2), idempotence and transactions.
import { ApiKey, ErrorCode, ProduceRequest, ProduceResponse } from '@brook/protocol';
import { LogError } from '@brook/storage';
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
    if (error instanceof LogError) return failed(error.errorCode, error.message);
    context.logger.log('error', 'append failed', { topic, partition: index, error: String(error) });
    return failed(ErrorCode.KAFKA_STORAGE_ERROR, 'the log is offline');
  }
}

export const produceHandler = defineHandler({
  apiKey: ApiKey.Produce,
  minVersion: 3,
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
