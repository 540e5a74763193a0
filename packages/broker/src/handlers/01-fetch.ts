// Fetch: v4-17
// * Long poll: waits up to `max_wait_ms` for `min_bytes`, woken by appends.
// * Limits: `max_bytes` for the response (v3+) and `partition_max_bytes` per partition; the first
//   batch of the first partition with data comes back even when larger (KIP-74).
// * v13+: topics by id (UNKNOWN_TOPIC_ID otherwise).
// * Sessions (KIP-227): not kept yet. Every response carries session id 0, which tells clients
//   to send full fetches (Kafka does the same when its session cache is full); an incremental
//   fetch of a session Brook does not know gets FETCH_SESSION_ID_NOT_FOUND.
// * read_uncommitted only until transactions land; read_committed reads up to the log end too.
// * Not yet: v0-3 (down-conversion to legacy message sets), follower fetches.
import { ApiKey, ErrorCode, FetchRequest, FetchResponse } from '@brook/protocol';
import { LogError } from '@brook/storage';
import { defineHandler, type RequestContext } from './registry.ts';

type Request = ReturnType<typeof FetchRequest.decode>;

interface PartitionResult {
  partitionIndex: number;
  errorCode: number;
  highWatermark: bigint;
  lastStableOffset: bigint;
  logStartOffset: bigint;
  abortedTransactions: null;
  preferredReadReplica: number;
  records: Buffer | null;
}

async function readOnce(request: Request, context: RequestContext, version: number) {
  const broker = context.broker;
  let budget = version >= 3 ? request.maxBytes : Number.MAX_SAFE_INTEGER;
  let bytes = 0;
  let firstWithData = true;
  const responses = [];
  for (const topic of request.topics) {
    const metadata =
      version >= 13 ? broker.metadata.topicById(topic.topicId) : broker.metadata.topic(topic.topic);
    const partitions: PartitionResult[] = [];
    for (const wanted of topic.partitions) {
      const result: PartitionResult = {
        partitionIndex: wanted.partition,
        errorCode: ErrorCode.NONE,
        highWatermark: -1n,
        lastStableOffset: -1n,
        logStartOffset: -1n,
        abortedTransactions: null,
        preferredReadReplica: -1,
        records: null,
      };
      partitions.push(result);
      const log = metadata ? await broker.partitionLog(metadata.name, wanted.partition) : undefined;
      if (log === undefined) {
        result.errorCode =
          version >= 13 && !metadata
            ? ErrorCode.UNKNOWN_TOPIC_ID
            : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
        continue;
      }
      const highWatermark = log.logEndOffset;
      result.highWatermark = highWatermark;
      result.lastStableOffset = highWatermark;
      result.logStartOffset = log.logStartOffset;
      try {
        const read = await log.read(wanted.fetchOffset, {
          maxBytes: Math.min(wanted.partitionMaxBytes, Math.max(budget, 0)),
          maxOffset: highWatermark,
          minOneBatch: firstWithData,
        });
        result.records = read.records;
        if (read.records.length > 0) {
          firstWithData = false;
          budget -= read.records.length;
          bytes += read.records.length;
        }
      } catch (error) {
        result.errorCode =
          error instanceof LogError ? error.errorCode : ErrorCode.KAFKA_STORAGE_ERROR;
        result.records = null;
      }
    }
    responses.push(
      version >= 13 ? { topicId: topic.topicId, partitions } : { topic: topic.topic, partitions },
    );
  }
  return { responses, bytes };
}

export const fetchHandler = defineHandler({
  apiKey: ApiKey.Fetch,
  minVersion: 4,
  maxVersion: 17,
  request: FetchRequest,
  response: FetchResponse,
  async handle(request, context) {
    const version = context.apiVersion;
    if (version >= 7 && request.sessionId !== 0) {
      return {
        throttleTimeMs: 0,
        errorCode: ErrorCode.FETCH_SESSION_ID_NOT_FOUND,
        sessionId: 0,
        responses: [],
      };
    }
    const deadline = Date.now() + Math.max(request.maxWaitMs, 0);
    for (;;) {
      const appendsBefore = context.broker.appendCount;
      const { responses, bytes } = await readOnce(request, context, version);
      const remaining = deadline - Date.now();
      if (bytes >= request.minBytes || remaining <= 0 || context.signal.aborted) {
        return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, sessionId: 0, responses };
      }
      await context.broker.waitForAppend(appendsBefore, remaining, context.signal);
    }
  },
});
