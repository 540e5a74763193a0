/**
 * Partition offsets: list them (earliest, latest, by timestamp, the largest timestamp) and
 * delete records below an offset. Both go to each partition's leader, one request per leader;
 * an answer that says the leader moved (NOT_LEADER_OR_FOLLOWER, LEADER_NOT_AVAILABLE, …) looks
 * the leaders up again and retries those partitions.
 */
import {
  DeleteRecordsRequest,
  DeleteRecordsResponse,
  ErrorCode,
  KafkaProtocolError,
  ListOffsetsRequest,
  ListOffsetsResponse,
} from '@brook/protocol';
import type { Connection } from '../network/connection.ts';
import {
  type AdminContext,
  entityError,
  type OperationOptions,
  type Outcome,
  outcomeOf,
  partitionName,
  type Round,
  sendUnique,
} from './admin-context.ts';

/** Which offset of a partition: Kafka's OffsetSpec. */
export type OffsetSpec =
  | 'earliest'
  | 'latest'
  /** The record with the largest timestamp (ListOffsets v7+). */
  | 'max-timestamp'
  /** The first record whose timestamp is at or after this one (ms since the epoch). */
  | { readonly timestamp: number | bigint | Date };

/** `read_committed`: `latest` is the last stable offset, below any open transaction. */
export type IsolationLevel = 'read_uncommitted' | 'read_committed';

export interface OffsetQuery {
  readonly topic: string;
  readonly partition: number;
  readonly spec: OffsetSpec;
}

export interface ListOffsetsOptions extends OperationOptions {
  /** Default `read_uncommitted` (`latest` is the high watermark). */
  readonly isolationLevel?: IsolationLevel;
}

export interface ListedOffset {
  readonly topic: string;
  readonly partition: number;
  /** -1 when no record matches a timestamp (or on error). */
  readonly offset: bigint;
  /** The matched record's timestamp for timestamp specs; -1 otherwise. */
  readonly timestamp: bigint;
  /** -1 when the broker does not say. */
  readonly leaderEpoch: number;
  readonly error: KafkaProtocolError | null;
}

export interface RecordsToDelete {
  readonly topic: string;
  readonly partition: number;
  /** Records below this offset are deleted; -1 deletes up to the high watermark. */
  readonly offset: bigint;
}

export interface DeletedRecords {
  readonly topic: string;
  readonly partition: number;
  /** The partition's new log start offset; -1 on error. */
  readonly lowWatermark: bigint;
  readonly error: KafkaProtocolError | null;
}

const EARLIEST_TIMESTAMP = -2n;
const LATEST_TIMESTAMP = -1n;
const MAX_TIMESTAMP = -3n;
const ISOLATION_LEVELS = { read_uncommitted: 0, read_committed: 1 } as const;

function timestampOf(spec: OffsetSpec): bigint {
  if (spec === 'earliest') return EARLIEST_TIMESTAMP;
  if (spec === 'latest') return LATEST_TIMESTAMP;
  if (spec === 'max-timestamp') return MAX_TIMESTAMP;
  const at = spec.timestamp;
  return typeof at === 'bigint' ? at : BigInt(at instanceof Date ? at.getTime() : Math.trunc(at));
}

function partitionKey(item: { topic: string; partition: number }): string {
  return `${item.topic}\u0000${item.partition}`;
}

/**
 * One round of a leader-routed API: the pending partitions' leaders from the metadata, one
 * request per leader (a lost connection or a stale-leader answer refreshes the metadata).
 */
async function toLeaders<Item extends { topic: string; partition: number }, Result>(
  context: AdminContext,
  pending: readonly Item[],
  send: (connection: Connection, items: readonly Item[]) => Promise<readonly Outcome<Result>[]>,
): Promise<Outcome<Result>[]> {
  const known = await context.topics(pending);
  const outcomes = await context.dispatch(
    pending,
    (item) => context.leader(known, item.topic, item.partition),
    (connection, batch) => sendUnique(batch, partitionKey, (unique) => send(connection, unique)),
    () => context.leaderMoved(),
  );
  for (const outcome of outcomes) {
    if ('retry' in outcome && outcome.retry instanceof KafkaProtocolError) {
      context.leaderMoved(outcome.retry.errorCode);
    }
  }
  return outcomes;
}

export async function listOffsets(
  context: AdminContext,
  queries: readonly OffsetQuery[],
  options: ListOffsetsOptions = {},
): Promise<ListedOffset[]> {
  const isolationLevel = ISOLATION_LEVELS[options.isolationLevel ?? 'read_uncommitted'];
  const failed = (query: OffsetQuery, error: KafkaProtocolError): ListedOffset => ({
    topic: query.topic,
    partition: query.partition,
    offset: -1n,
    timestamp: -1n,
    leaderEpoch: -1,
    error,
  });
  return context.settle(
    queries,
    options,
    (pending, round: Round) =>
      toLeaders(context, pending, async (connection, batch) => {
        const version = connection.versionFor(ListOffsetsRequest);
        // What the negotiated version cannot ask is refused here, per partition.
        const unsupported = (query: OffsetQuery) =>
          version === undefined ||
          (query.spec === 'max-timestamp' && version < 7) ||
          (isolationLevel !== 0 && version < 2);
        const asked = batch.filter((query) => !unsupported(query));
        const byPartition = new Map<
          string,
          ListOffsetsResponse['topics'][number]['partitions'][number]
        >();
        if (asked.length > 0) {
          const topics = new Map<string, OffsetQuery[]>();
          for (const query of asked) {
            const list = topics.get(query.topic);
            if (list === undefined) topics.set(query.topic, [query]);
            else list.push(query);
          }
          const { response } = await connection.requestWithVersion(
            ListOffsetsRequest,
            ListOffsetsResponse,
            (v) => ({
              replicaId: -1,
              ...(v >= 2 ? { isolationLevel } : {}),
              topics: [...topics].map(([name, list]) => ({
                name,
                partitions: list.map((query) => ({
                  partitionIndex: query.partition,
                  timestamp: timestampOf(query.spec),
                  ...(v === 0 ? { maxNumOffsets: 1 } : {}),
                })),
              })),
              ...(v >= 10 ? { timeoutMs: round.timeoutMs } : {}),
            }),
            round.request,
          );
          for (const topic of response.topics) {
            for (const p of topic.partitions) {
              byPartition.set(partitionKey({ topic: topic.name, partition: p.partitionIndex }), p);
            }
          }
        }
        return batch.map((query): Outcome<ListedOffset> => {
          const entity = partitionName(query.topic, query.partition);
          if (unsupported(query)) {
            return {
              failed: entityError(
                ErrorCode.UNSUPPORTED_VERSION,
                entity,
                `ListOffsets v${version} cannot ask for this (${
                  query.spec === 'max-timestamp'
                    ? 'max-timestamp needs v7'
                    : 'read_committed needs v2'
                })`,
              ),
            };
          }
          const answer = byPartition.get(partitionKey(query));
          if (answer === undefined) {
            return { failed: entityError(ErrorCode.UNKNOWN_SERVER_ERROR, entity, 'no answer') };
          }
          return outcomeOf(
            answer.errorCode,
            entity,
            null,
            () => ({
              topic: query.topic,
              partition: query.partition,
              offset: version === 0 ? (answer.oldStyleOffsets[0] ?? -1n) : answer.offset,
              timestamp: answer.timestamp,
              leaderEpoch: answer.leaderEpoch,
              error: null,
            }),
            { unknownIsRetriable: true },
          );
        });
      }),
    failed,
  );
}

export async function deleteRecords(
  context: AdminContext,
  requests: readonly RecordsToDelete[],
  options: OperationOptions = {},
): Promise<DeletedRecords[]> {
  return context.settle(
    requests,
    options,
    (pending, round) =>
      toLeaders(context, pending, async (connection, batch) => {
        const topics = new Map<string, RecordsToDelete[]>();
        for (const wanted of batch) {
          const list = topics.get(wanted.topic);
          if (list === undefined) topics.set(wanted.topic, [wanted]);
          else list.push(wanted);
        }
        const response = await connection.request(
          DeleteRecordsRequest,
          DeleteRecordsResponse,
          {
            topics: [...topics].map(([name, list]) => ({
              name,
              partitions: list.map((w) => ({ partitionIndex: w.partition, offset: w.offset })),
            })),
            timeoutMs: round.timeoutMs,
          },
          round.request,
        );
        const byPartition = new Map(
          response.topics.flatMap((t) =>
            t.partitions.map((p) => [
              partitionKey({ topic: t.name, partition: p.partitionIndex }),
              p,
            ]),
          ),
        );
        return batch.map((wanted) => {
          const answer = byPartition.get(partitionKey(wanted));
          return outcomeOf(
            answer?.errorCode ?? ErrorCode.UNKNOWN_SERVER_ERROR,
            partitionName(wanted.topic, wanted.partition),
            null,
            () => ({
              topic: wanted.topic,
              partition: wanted.partition,
              lowWatermark: answer!.lowWatermark,
              error: null,
            }),
            { unknownIsRetriable: true },
          );
        });
      }),
    (wanted, error): DeletedRecords => ({
      topic: wanted.topic,
      partition: wanted.partition,
      lowWatermark: -1n,
      error,
    }),
  );
}
