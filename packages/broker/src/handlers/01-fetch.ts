// Fetch: v0-17
// * Long poll: waits up to `max_wait_ms` for `min_bytes`, woken by appends. As in Kafka, it
//   answers at once when a read fails or when no partition named can be read.
// * Limits: `max_bytes` for the response (v3+), capped by the broker's `fetch.max.bytes`, and
//   `partition_max_bytes` per partition; from v3
//   the first batch of the first partition with data comes back even when larger (KIP-74).
//   When the response's limit cannot bind (its partitions' limits add up to no more), the
//   partitions are read at the same time, with the same result: a 6-partition fetch of 1 KiB
//   records went from ~790 to ~885 MB/s (median of 10, bench/README.md "Client").
// * Sessions (KIP-227): kept in `broker.fetchSessions` (fetch/fetch-session-cache.ts, which
//   states the id and epoch rules). An incremental fetch reads every partition of its session
//   and answers with only those that changed.
// * v0-3: the stored v2 batches are down-converted, to magic 0 for v0-1 and magic 1 for v2-3
//   (records/legacy-conversion.ts), within the same limits; a topic with
//   `message.downconversion.enable=false` answers UNSUPPORTED_VERSION instead. v0-2 predate
//   KIP-74: a first message larger than `partition_max_bytes` comes back cut at that size, as
//   Kafka's byte-sliced read returns it, and the client reports it as too large.
// * v0-9: a topic with `compression.type=zstd` answers UNSUPPORTED_COMPRESSION_TYPE; v0-5: a
//   storage error is reported as NOT_LEADER_OR_FOLLOWER (older clients do not retry the former).
// * v13+: topics by id (UNKNOWN_TOPIC_ID otherwise).
// * read_uncommitted only until transactions land; read_committed reads up to the log end too.
// * Records are read into buffers from `broker.readBuffers`, returned to it once the response
//   is written (`afterResponse`), or at once when a long poll reads again.
// * Not yet: follower fetches (a replica id is only used to mark its session privileged).
import { ApiKey, ErrorCode, FetchRequest, FetchResponse, LegacyMagic } from '@brook/protocol';
import { LogError, type PartitionLog } from '@brook/storage';
import {
  type CachedPartition,
  type FetchPartitionRequest,
  INVALID_SESSION_ID,
  sessionPartitionKey,
} from '../fetch/fetch-session-cache.ts';
import type { ReadLease } from '../fetch/read-buffer-pool.ts';
import { downConvertRecords } from '../records/legacy-conversion.ts';
import { defineHandler, type RequestContext } from './registry.ts';

type Request = ReturnType<typeof FetchRequest.decode>;

interface PartitionResult {
  readonly partition: CachedPartition;
  errorCode: number;
  highWatermark: bigint;
  lastStableOffset: bigint;
  logStartOffset: bigint;
  records: Buffer;
}

interface ReadOutcome {
  readonly results: PartitionResult[];
  /** Record bytes read (after any down-conversion). */
  readonly bytes: number;
  /** Partitions that exist and were read. */
  readonly readable: number;
  /** Whether reading some partition failed (Kafka answers at once then). */
  readonly readError: boolean;
}

const NO_RECORDS = Buffer.alloc(0);

/** The request's partitions, each once (a repeat updates the first, as Kafka's map does). */
function fetchData(request: Request, usesTopicIds: boolean, context: RequestContext) {
  const partitions = new Map<string, FetchPartitionRequest>();
  for (const topic of request.topics) {
    const name = usesTopicIds
      ? context.broker.metadata.topicById(topic.topicId)?.name
      : topic.topic;
    for (const wanted of topic.partitions) {
      const key = sessionPartitionKey(usesTopicIds ? topic.topicId : topic.topic, wanted.partition);
      partitions.set(key, {
        key,
        topicId: topic.topicId,
        topic: name,
        partition: wanted.partition,
        fetchOffset: wanted.fetchOffset,
        partitionMaxBytes: wanted.partitionMaxBytes,
      });
    }
  }
  return [...partitions.values()];
}

function forgottenKeys(request: Request, usesTopicIds: boolean): string[] {
  return request.forgottenTopicsData.flatMap((topic) =>
    topic.partitions.map((partition) =>
      sessionPartitionKey(usesTopicIds ? topic.topicId : topic.topic, partition),
    ),
  );
}

function failed(result: PartitionResult, errorCode: number): void {
  result.errorCode = errorCode;
  result.highWatermark = -1n;
  result.lastStableOffset = -1n;
  result.logStartOffset = -1n;
  result.records = NO_RECORDS;
}

/** A partition that exists and may be read, with its result still to fill in. */
interface Readable {
  readonly result: PartitionResult;
  readonly log: PartitionLog;
  readonly topic: string;
}

async function readOnce(
  partitions: readonly CachedPartition[],
  request: Request,
  context: RequestContext,
  version: number,
  buffers: ReadLease,
): Promise<ReadOutcome> {
  const broker = context.broker;
  // The broker's fetch.max.bytes bounds what one response reads into memory, whatever the
  // client asks for (v0-2 have no max_bytes at all); the first batch still comes back whole.
  const asked = version >= 3 ? request.maxBytes : Number.MAX_SAFE_INTEGER;
  let budget = Math.min(asked, broker.config.fetchMaxBytes);
  let bytes = 0;
  let readError = false;
  const results: PartitionResult[] = [];
  const readables: Readable[] = [];
  let existing = 0;
  for (const partition of partitions) {
    const prepared = await prepare(partition, context, version);
    results.push(prepared.result);
    if (prepared.exists) existing++;
    if (prepared.toRead !== undefined) readables.push(prepared.toRead);
  }
  /** Reads one partition into its result; false when reading the log failed. */
  const read = async (entry: Readable, maxBytes: number, minOneBatch: boolean) => {
    try {
      const records = await readRecords(entry, version, { maxBytes, minOneBatch, buffers });
      if ('errorCode' in records) failed(entry.result, records.errorCode);
      else entry.result.records = records;
      return true;
    } catch (error) {
      let errorCode = error instanceof LogError ? error.errorCode : ErrorCode.KAFKA_STORAGE_ERROR;
      if (errorCode === ErrorCode.KAFKA_STORAGE_ERROR && version <= 5) {
        errorCode = ErrorCode.NOT_LEADER_OR_FOLLOWER;
      }
      if (!(error instanceof LogError)) {
        context.logger.log('error', 'fetch read failed', {
          topic: entry.topic,
          partition: entry.result.partition.partition,
          error: String(error),
        });
      }
      failed(entry.result, errorCode);
      return false;
    }
  };
  const limit = (entry: Readable) => Math.max(entry.result.partition.partitionMaxBytes, 0);
  // KIP-74 (v3+): the first batch of the first partition with data, whatever its size.
  let firstWithData = version >= 3;
  if (version > 3 && readables.reduce((sum, entry) => sum + limit(entry), 0) <= budget) {
    // The response's limit cannot bind, so the partitions are read at the same time: each may
    // bring back its first batch whole, and one past its limit is dropped again unless it is
    // the first with data. The result is the same as reading them one after the other.
    const outcomes = await Promise.all(readables.map((entry) => read(entry, limit(entry), true)));
    for (const [i, entry] of readables.entries()) {
      if (!outcomes[i]) {
        readError = true;
        continue;
      }
      const records = entry.result.records;
      if (records.length === 0) continue;
      if (!firstWithData && records.length > limit(entry)) {
        entry.result.records = NO_RECORDS;
        continue;
      }
      firstWithData = false;
      bytes += records.length;
    }
  } else {
    for (const entry of readables) {
      const maxBytes = Math.min(limit(entry), Math.max(budget, 0));
      // v0-2 read at least a batch to convert, then cut the result at the limit.
      if (!(await read(entry, maxBytes, version <= 2 || firstWithData))) {
        readError = true;
        continue;
      }
      const records = entry.result.records;
      if (records.length > 0) {
        firstWithData = false;
        budget -= records.length;
        bytes += records.length;
      }
    }
  }
  return { results, bytes, readable: existing, readError };
}

/**
 * A partition's result with what is known before reading: its error when it cannot be read
 * (unknown, or a topic config this version cannot serve), else its offsets and what to read.
 */
async function prepare(
  partition: CachedPartition,
  context: RequestContext,
  version: number,
): Promise<{ result: PartitionResult; exists: boolean; toRead?: Readable }> {
  const broker = context.broker;
  const result: PartitionResult = {
    partition,
    errorCode: ErrorCode.NONE,
    highWatermark: -1n,
    lastStableOffset: -1n,
    logStartOffset: -1n,
    records: NO_RECORDS,
  };
  const metadata =
    version >= 13
      ? broker.metadata.topicById(partition.topicId)
      : partition.topic === undefined
        ? undefined
        : broker.metadata.topic(partition.topic);
  if (metadata !== undefined) partition.topic = metadata.name;
  const log = metadata ? await broker.partitionLog(metadata.name, partition.partition) : undefined;
  if (metadata === undefined || log === undefined) {
    result.errorCode =
      version >= 13 && !metadata
        ? ErrorCode.UNKNOWN_TOPIC_ID
        : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
    return { result, exists: false };
  }
  if (version < 10) {
    const config = broker.topicLogConfig(metadata.name);
    if (config.compressionType === 'zstd') {
      failed(result, ErrorCode.UNSUPPORTED_COMPRESSION_TYPE);
      return { result, exists: true };
    }
    if (version <= 3 && !config.messageDownconversionEnable) {
      failed(result, ErrorCode.UNSUPPORTED_VERSION);
      return { result, exists: true };
    }
  }
  result.highWatermark = log.logEndOffset;
  result.lastStableOffset = log.logEndOffset;
  result.logStartOffset = log.logStartOffset;
  return { result, exists: true, toRead: { result, log, topic: metadata.name } };
}

/**
 * Reads a partition's records (down-converted for v0-3), or the error code of a failed
 * down-conversion; throws what the log throws.
 */
async function readRecords(
  entry: Readable,
  version: number,
  options: { maxBytes: number; minOneBatch: boolean; buffers: ReadLease },
): Promise<Buffer | { readonly errorCode: number }> {
  const { partition } = entry.result;
  const read = await entry.log.read(partition.fetchOffset, {
    maxBytes: options.maxBytes,
    maxOffset: entry.result.highWatermark,
    minOneBatch: options.minOneBatch,
    allocate: options.buffers.allocate,
  });
  if (version > 3 || read.records.length === 0) return read.records;
  const converted = downConvertRecords(read.records, {
    magic: version <= 1 ? LegacyMagic.v0 : LegacyMagic.v1,
    firstOffset: partition.fetchOffset,
    maxBytes: options.maxBytes,
    // v3's first batch comes back whole (KIP-74); v0-2 cut an oversized one at the limit.
    minOneBatch: version === 3 && options.minOneBatch,
    truncateOversized: version <= 2,
  });
  if (converted.errorCode !== ErrorCode.NONE) return { errorCode: converted.errorCode };
  return converted.records;
}

/** Groups results into response topics, a new entry each time the topic changes (as Kafka). */
function toTopics(results: readonly PartitionResult[], usesTopicIds: boolean) {
  const topics: {
    topic: string;
    topicId: string;
    partitions: {
      partitionIndex: number;
      errorCode: number;
      highWatermark: bigint;
      lastStableOffset: bigint;
      logStartOffset: bigint;
      abortedTransactions: null;
      preferredReadReplica: number;
      records: Buffer;
    }[];
  }[] = [];
  let currentKey: string | undefined;
  for (const result of results) {
    const partition = result.partition;
    const key = usesTopicIds ? partition.topicId : (partition.topic ?? '');
    let current = topics[topics.length - 1];
    if (current === undefined || key !== currentKey) {
      current = usesTopicIds
        ? { topic: '', topicId: partition.topicId, partitions: [] }
        : { topic: partition.topic ?? '', topicId: partition.topicId, partitions: [] };
      topics.push(current);
      currentKey = key;
    }
    current.partitions.push({
      partitionIndex: partition.partition,
      errorCode: result.errorCode,
      highWatermark: result.highWatermark,
      lastStableOffset: result.lastStableOffset,
      logStartOffset: result.logStartOffset,
      abortedTransactions: null,
      preferredReadReplica: -1,
      records: result.records,
    });
  }
  return topics.map((topic) =>
    usesTopicIds
      ? { topicId: topic.topicId, partitions: topic.partitions }
      : { topic: topic.topic, partitions: topic.partitions },
  );
}

export const fetchHandler = defineHandler({
  apiKey: ApiKey.Fetch,
  minVersion: 0,
  maxVersion: 17,
  request: FetchRequest,
  response: FetchResponse,
  async handle(request, context) {
    const version = context.apiVersion;
    const broker = context.broker;
    const usesTopicIds = version >= 13;
    const replicaId = version >= 15 ? request.replicaState.replicaId : request.replicaId;
    const fetchContext = broker.fetchSessions.newContext({
      version,
      sessionId: request.sessionId,
      epoch: request.sessionEpoch,
      privileged: replicaId >= 0,
      fetchData: fetchData(request, usesTopicIds, context),
      forgotten: version >= 7 ? forgottenKeys(request, usesTopicIds) : [],
    });
    if (fetchContext.kind === 'error') {
      return {
        throttleTimeMs: 0,
        errorCode: fetchContext.errorCode,
        sessionId: INVALID_SESSION_ID,
        responses: [],
      };
    }
    const deadline = Date.now() + Math.max(request.maxWaitMs, 0);
    const buffers = broker.readBuffers.lease();
    context.afterResponse(() => buffers.release());
    let outcome: ReadOutcome;
    for (;;) {
      const appendsBefore = broker.appendCount;
      outcome = await readOnce(fetchContext.partitions, request, context, version, buffers);
      const remaining = deadline - Date.now();
      if (
        outcome.bytes >= request.minBytes ||
        outcome.readable === 0 ||
        outcome.readError ||
        remaining <= 0 ||
        context.signal.aborted
      ) {
        break;
      }
      // This round's records are dropped: the next reads may reuse their buffers.
      buffers.release();
      await broker.waitForAppend(appendsBefore, remaining, context.signal);
    }
    switch (fetchContext.kind) {
      case 'sessionless':
        return {
          throttleTimeMs: 0,
          errorCode: ErrorCode.NONE,
          sessionId: INVALID_SESSION_ID,
          responses: toTopics(outcome.results, usesTopicIds),
        };
      case 'full': {
        const sessionId = broker.fetchSessions.completeFull(fetchContext, outcome.results);
        return {
          throttleTimeMs: 0,
          errorCode: ErrorCode.NONE,
          sessionId,
          responses: toTopics(outcome.results, usesTopicIds),
        };
      }
      case 'incremental': {
        const done = broker.fetchSessions.completeIncremental(fetchContext, outcome.results);
        return {
          throttleTimeMs: 0,
          errorCode: done.errorCode,
          sessionId: done.sessionId,
          responses: toTopics(done.responses, usesTopicIds),
        };
      }
    }
  },
});
