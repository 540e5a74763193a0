/**
 * A group's committed offsets: list them with each partition's lag, alter them, reset them (to
 * earliest, latest, a timestamp or an offset, or shifted from where they are) and delete them.
 * All go to the group's coordinator, and are retried there after NOT_COORDINATOR and its kin.
 *
 * Lag is what kafka-consumer-groups shows: the log end offset (ListOffsets latest: the high
 * watermark, or the last stable offset under read_committed) minus the committed offset, per
 * partition, and the sum per group. Commits of an admin are those of a consumer outside group
 * management: OffsetCommit with generation -1 and no member, which the coordinator accepts only
 * while the group has no members. `resetGroupOffsets` checks that first, as the tool does.
 */
import {
  ErrorCode,
  KafkaProtocolError,
  OffsetCommitRequest,
  OffsetCommitResponse,
  OffsetDeleteRequest,
  OffsetDeleteResponse,
  OffsetFetchRequest,
  OffsetFetchResponse,
} from '@brook/protocol';
import { ClientError } from '../errors.ts';
import type { Connection } from '../network/connection.ts';
import {
  type AdminContext,
  COORDINATOR_CODES,
  entityError,
  type OperationOptions,
  type Outcome,
  outcomeOf,
  partitionName,
  type Round,
  sendUnique,
} from './admin-context.ts';
import { groupState, toCoordinators } from './groups.ts';
import { type IsolationLevel, type ListedOffset, listOffsets, type OffsetSpec } from './offsets.ts';

/** A topic, and some of its partitions (default all). */
export interface TopicSelection {
  readonly topic: string;
  readonly partitions?: readonly number[];
}

export interface ListGroupOffsetsOptions extends OperationOptions {
  /** Only these partitions; default every partition the group has committed. */
  readonly topics?: readonly TopicSelection[];
  /** Which log end the lag is measured to. Default `read_uncommitted` (the high watermark). */
  readonly isolationLevel?: IsolationLevel;
  /** Wait for pending transactional commits (OffsetFetch v7+). Default false. */
  readonly requireStable?: boolean;
}

export interface GroupPartitionOffset {
  readonly topic: string;
  readonly partition: number;
  /** -1 when the group has committed nothing for the partition. */
  readonly committedOffset: bigint;
  readonly committedLeaderEpoch: number;
  readonly metadata: string | null;
  /** Null when unknown (nothing committed, or the log end could not be listed). */
  readonly logEndOffset: bigint | null;
  /** `logEndOffset - committedOffset` (at least 0); null when either is unknown. */
  readonly lag: bigint | null;
  readonly error: KafkaProtocolError | null;
}

export interface GroupOffsets {
  readonly groupId: string;
  /** Sorted by topic, then partition. */
  readonly partitions: readonly GroupPartitionOffset[];
  /** The sum of the known lags. */
  readonly totalLag: bigint;
  readonly error: KafkaProtocolError | null;
}

export interface OffsetToCommit {
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
  /** Default ''. */
  readonly metadata?: string | null;
  /** The leader epoch of the record before `offset` (OffsetCommit v6+). Default -1. */
  readonly leaderEpoch?: number;
}

export interface GroupOffsetResult {
  readonly topic: string;
  readonly partition: number;
  readonly error: KafkaProtocolError | null;
}

/**
 * Where to reset to: kafka-consumer-groups' --to-earliest, --to-latest, --to-datetime,
 * --to-offset and --shift-by.
 */
export type ResetTarget =
  | 'earliest'
  | 'latest'
  /** The first record at or after this time; the log end when there is none. */
  | { readonly timestamp: number | bigint | Date }
  /** This offset, brought within [log start, log end] as the tool does. */
  | { readonly offset: bigint }
  /**
   * The committed offset plus `shiftBy` (negative to go back), brought within [log start, log
   * end]. As with the tool, every partition reset must have a committed offset: when one has
   * none, the reset rejects (a `ClientError`) and changes nothing.
   */
  | { readonly shiftBy: bigint };

export interface ResetGroupOffsetsOptions extends OperationOptions {
  readonly to: ResetTarget;
  /** Only these partitions; default every partition the group has committed. */
  readonly topics?: readonly TopicSelection[];
  /** Work out the new offsets, commit nothing. Default false. */
  readonly dryRun?: boolean;
  /** Which log end `latest` means. Default `read_uncommitted`. */
  readonly isolationLevel?: IsolationLevel;
}

export interface ResetOffset {
  readonly topic: string;
  readonly partition: number;
  /** The new committed offset; -1 on error. */
  readonly offset: bigint;
  readonly error: KafkaProtocolError | null;
}

interface Committed {
  readonly topic: string;
  readonly partition: number;
  readonly committedOffset: bigint;
  readonly committedLeaderEpoch: number;
  readonly metadata: string | null;
  readonly error: KafkaProtocolError | null;
}

interface GroupCommitted {
  readonly groupId: string;
  readonly committed: readonly Committed[];
  readonly error: KafkaProtocolError | null;
}

const STATES_ALLOWING_RESET: ReadonlySet<string> = new Set(['Empty', 'Dead']);

function partitionKey(item: { topic: string; partition: number }): string {
  return `${item.topic}\u0000${item.partition}`;
}

function byTopicThenPartition(
  a: { topic: string; partition: number },
  b: { topic: string; partition: number },
): number {
  return a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition;
}

/** The partitions of a selection; a topic given without partitions means all of them. */
async function selectedPartitions(
  context: AdminContext,
  topics: readonly TopicSelection[],
): Promise<{ topic: string; partition: number }[]> {
  const whole = topics.filter((t) => t.partitions === undefined).map((t) => t.topic);
  const known = await context.topics(whole.map((topic) => ({ topic, partition: 0 })));
  const selected: { topic: string; partition: number }[] = [];
  for (const selection of topics) {
    if (selection.partitions !== undefined) {
      for (const partition of selection.partitions)
        selected.push({ topic: selection.topic, partition });
      continue;
    }
    const info = known.get(selection.topic);
    if (info instanceof KafkaProtocolError) {
      throw entityError(info.errorCode, `topic ${selection.topic}`);
    }
    if (info === undefined || info instanceof Error) throw info ?? new Error('no metadata');
    for (const p of info.partitions)
      selected.push({ topic: selection.topic, partition: p.partition });
  }
  return selected;
}

/** One group's committed offsets (of `partitions`, or all when null), from its coordinator. */
async function fetchCommitted(
  connection: Connection,
  groupId: string,
  partitions: readonly { topic: string; partition: number }[] | null,
  options: { requireStable: boolean },
  round: Round,
): Promise<Outcome<Committed[]>> {
  const topics =
    partitions === null
      ? null
      : [...Map.groupBy(partitions, (p) => p.topic)].map(([name, list]) => ({
          name,
          partitionIndexes: list.map((p) => p.partition),
        }));
  const { response, version } = await connection.requestWithVersion(
    OffsetFetchRequest,
    OffsetFetchResponse,
    (v) => {
      if (topics === null && v < 2) {
        throw new KafkaProtocolError(
          ErrorCode.UNSUPPORTED_VERSION,
          `group ${groupId}: OffsetFetch v${v} cannot list every committed offset`,
        );
      }
      return {
        ...(v >= 8 ? { groups: [{ groupId, topics }] } : { groupId, topics }),
        ...(v >= 7 ? { requireStable: options.requireStable } : {}),
      };
    },
    round.request,
  );
  const answer =
    version >= 8 ? response.groups[0] : { errorCode: response.errorCode, topics: response.topics };
  if (answer === undefined) {
    return { failed: entityError(ErrorCode.UNKNOWN_SERVER_ERROR, `group ${groupId}`, 'no answer') };
  }
  if (answer.errorCode !== ErrorCode.NONE) {
    return outcomeOf(answer.errorCode, `group ${groupId}`, null, () => []);
  }
  const committed: Committed[] = [];
  for (const topic of answer.topics) {
    for (const p of topic.partitions) {
      const entity = `group ${groupId} ${partitionName(topic.name, p.partitionIndex)}`;
      const error = p.errorCode === ErrorCode.NONE ? null : entityError(p.errorCode, entity);
      // Before v2 a group error is in every partition; a retriable one retries the group.
      if (error?.retriable) return { retry: error };
      committed.push({
        topic: topic.name,
        partition: p.partitionIndex,
        committedOffset: p.committedOffset,
        committedLeaderEpoch: p.committedLeaderEpoch,
        metadata: p.metadata,
        error,
      });
    }
  }
  return { done: committed };
}

/** The committed offsets of each group (results in `groupIds` order). */
async function committedOffsets(
  context: AdminContext,
  groupIds: readonly string[],
  partitions: readonly { topic: string; partition: number }[] | null,
  options: OperationOptions & { requireStable?: boolean },
): Promise<GroupCommitted[]> {
  const fetchOptions = { requireStable: options.requireStable ?? false };
  return context.settle(
    groupIds,
    options,
    (pending, round) =>
      toCoordinators(context, pending, (connection, batch) =>
        Promise.all(
          batch.map(async (groupId) => {
            const outcome = await fetchCommitted(
              connection,
              groupId,
              partitions,
              fetchOptions,
              round,
            );
            return 'done' in outcome
              ? { done: { groupId, committed: outcome.done, error: null } }
              : outcome;
          }),
        ),
      ),
    (groupId, error): GroupCommitted => ({ groupId, committed: [], error }),
  );
}

export async function listGroupOffsets(
  context: AdminContext,
  groupIds: readonly string[],
  options: ListGroupOffsetsOptions = {},
): Promise<GroupOffsets[]> {
  const remaining = context.budget(options);
  const selected =
    options.topics === undefined ? null : await selectedPartitions(context, options.topics);
  const groups = await committedOffsets(context, groupIds, selected, {
    ...remaining(),
    ...(options.requireStable === undefined ? {} : { requireStable: options.requireStable }),
  });
  const wanted = new Map<string, { topic: string; partition: number }>();
  for (const group of groups) {
    for (const c of group.committed) {
      if (c.error === null && c.committedOffset >= 0n) wanted.set(partitionKey(c), c);
    }
  }
  const ends = new Map<string, ListedOffset>();
  if (wanted.size > 0) {
    const listed = await listOffsets(
      context,
      [...wanted.values()].map((p) => ({ ...p, spec: 'latest' as const })),
      {
        ...remaining(),
        ...(options.isolationLevel === undefined ? {} : { isolationLevel: options.isolationLevel }),
      },
    );
    for (const entry of listed) ends.set(partitionKey(entry), entry);
  }
  return groups.map((group) => {
    let totalLag = 0n;
    const partitions = group.committed
      .map((c): GroupPartitionOffset => {
        const end = c.committedOffset >= 0n ? ends.get(partitionKey(c)) : undefined;
        const logEndOffset = end !== undefined && end.error === null ? end.offset : null;
        let lag: bigint | null = null;
        if (logEndOffset !== null && c.committedOffset >= 0n) {
          lag = logEndOffset > c.committedOffset ? logEndOffset - c.committedOffset : 0n;
          totalLag += lag;
        }
        return {
          topic: c.topic,
          partition: c.partition,
          committedOffset: c.committedOffset,
          committedLeaderEpoch: c.committedLeaderEpoch,
          metadata: c.metadata,
          logEndOffset,
          lag,
          error: c.error ?? end?.error ?? null,
        };
      })
      .sort(byTopicThenPartition);
    return { groupId: group.groupId, partitions, totalLag, error: group.error };
  });
}

export async function alterGroupOffsets(
  context: AdminContext,
  groupId: string,
  offsets: readonly OffsetToCommit[],
  options: OperationOptions = {},
): Promise<GroupOffsetResult[]> {
  return context.settle(
    offsets,
    options,
    (pending, round) =>
      context.dispatch(
        pending,
        () => context.coordinator(groupId),
        (connection, batch) =>
          sendUnique(batch, partitionKey, async (unique) => {
            const { response } = await connection.requestWithVersion(
              OffsetCommitRequest,
              OffsetCommitResponse,
              (v) => ({
                groupId,
                // Generation -1 and no member id (the defaults): a commit from outside the group.
                topics: [...Map.groupBy(unique, (o) => o.topic)].map(([name, list]) => ({
                  name,
                  partitions: list.map((o) => ({
                    partitionIndex: o.partition,
                    committedOffset: o.offset,
                    ...(v >= 6 && o.leaderEpoch !== undefined
                      ? { committedLeaderEpoch: o.leaderEpoch }
                      : {}),
                    committedMetadata: o.metadata ?? '',
                  })),
                })),
              }),
              round.request,
            );
            const byPartition = new Map(
              response.topics.flatMap((t) =>
                t.partitions.map((p) => [
                  partitionKey({ topic: t.name, partition: p.partitionIndex }),
                  p.errorCode,
                ]),
              ),
            );
            const outcomes = unique.map((o) =>
              outcomeOf(
                byPartition.get(partitionKey(o)) ?? ErrorCode.UNKNOWN_SERVER_ERROR,
                `group ${groupId} ${partitionName(o.topic, o.partition)}`,
                null,
                (): GroupOffsetResult => ({ topic: o.topic, partition: o.partition, error: null }),
              ),
            );
            if ([...byPartition.values()].some((code) => COORDINATOR_CODES.has(code))) {
              context.cluster.invalidateCoordinator(groupId);
            }
            return outcomes;
          }),
        () => context.cluster.invalidateCoordinator(groupId),
      ),
    (o, error) => ({ topic: o.topic, partition: o.partition, error }),
  );
}

/** The offsets of `spec` for `partitions`, keyed by partition. */
async function offsetsAt(
  context: AdminContext,
  partitions: readonly { topic: string; partition: number }[],
  spec: OffsetSpec,
  options: ListGroupOffsetsOptions,
): Promise<Map<string, ListedOffset>> {
  const listed = await listOffsets(
    context,
    partitions.map((p) => ({ topic: p.topic, partition: p.partition, spec })),
    options,
  );
  return new Map(listed.map((entry) => [partitionKey(entry), entry]));
}

/** A group's committed offsets of `partitions`, keyed by partition (a group error rejects). */
async function committedOf(
  context: AdminContext,
  groupId: string,
  partitions: readonly { topic: string; partition: number }[],
  options: OperationOptions,
): Promise<Map<string, Committed>> {
  const [group] = await committedOffsets(context, [groupId], partitions, options);
  if (group?.error) throw group.error;
  return new Map((group?.committed ?? []).map((c) => [partitionKey(c), c]));
}

export async function resetGroupOffsets(
  context: AdminContext,
  groupId: string,
  options: ResetGroupOffsetsOptions,
): Promise<ResetOffset[]> {
  const remaining = context.budget(options);
  const listOptions = () => ({
    ...remaining(),
    ...(options.isolationLevel === undefined ? {} : { isolationLevel: options.isolationLevel }),
  });
  const state = await groupState(context, groupId, remaining());
  if (!STATES_ALLOWING_RESET.has(state)) {
    throw entityError(
      ErrorCode.NON_EMPTY_GROUP,
      `group ${groupId}`,
      `offsets can be reset only when the group is inactive, but its state is ${state}`,
    );
  }
  let partitions: { topic: string; partition: number }[];
  let alreadyCommitted: Map<string, Committed> | undefined;
  if (options.topics !== undefined) {
    partitions = await selectedPartitions(context, options.topics);
  } else {
    const [group] = await committedOffsets(context, [groupId], null, remaining());
    if (group?.error) throw group.error;
    const committed = (group?.committed ?? []).filter((c) => c.committedOffset >= 0n);
    partitions = committed;
    alreadyCommitted = new Map(committed.map((c) => [partitionKey(c), c]));
  }
  partitions = [...new Map(partitions.map((p) => [partitionKey(p), p])).values()].sort(
    byTopicThenPartition,
  );
  if (partitions.length === 0) return [];

  const to = options.to;
  const targets = new Map<string, { offset: bigint; error: KafkaProtocolError | null }>();
  if (to === 'earliest' || to === 'latest') {
    for (const [key, entry] of await offsetsAt(context, partitions, to, listOptions())) {
      targets.set(key, { offset: entry.offset, error: entry.error });
    }
  } else if ('timestamp' in to) {
    const found = await offsetsAt(context, partitions, { timestamp: to.timestamp }, listOptions());
    // No record at or after the time: the log end, as kafka-consumer-groups does.
    const none = partitions.filter((p) => found.get(partitionKey(p))?.offset === -1n);
    const ends = none.length > 0 ? await offsetsAt(context, none, 'latest', listOptions()) : null;
    for (const [key, entry] of found) {
      const chosen = entry.error === null && entry.offset === -1n ? ends?.get(key) : entry;
      targets.set(key, { offset: chosen?.offset ?? -1n, error: chosen?.error ?? null });
    }
  } else {
    // An offset of the caller's, or the committed one shifted: brought within the log.
    let wanted: (key: string) => { offset: bigint; error: KafkaProtocolError | null };
    if ('offset' in to) {
      wanted = () => ({ offset: to.offset, error: null });
    } else {
      const current =
        alreadyCommitted ?? (await committedOf(context, groupId, partitions, remaining()));
      const missing = partitions.filter((p) => {
        const c = current.get(partitionKey(p));
        return c === undefined || (c.error === null && c.committedOffset < 0n);
      });
      if (missing.length > 0) {
        const names = missing.map((p) => partitionName(p.topic, p.partition)).join(', ');
        throw new ClientError(
          `group ${groupId}: cannot shift the offset of ${names}: the group has committed none there (nothing was reset)`,
        );
      }
      wanted = (key) => {
        const c = current.get(key)!;
        return { offset: c.committedOffset + to.shiftBy, error: c.error };
      };
    }
    const earliest = await offsetsAt(context, partitions, 'earliest', listOptions());
    const latest = await offsetsAt(context, partitions, 'latest', listOptions());
    for (const p of partitions) {
      const key = partitionKey(p);
      const low = earliest.get(key);
      const high = latest.get(key);
      const target = wanted(key);
      const error = target.error ?? low?.error ?? high?.error ?? null;
      if (error !== null || low === undefined || high === undefined) {
        targets.set(key, { offset: -1n, error });
        continue;
      }
      const offset =
        target.offset < low.offset
          ? low.offset
          : target.offset > high.offset
            ? high.offset
            : target.offset;
      targets.set(key, { offset, error: null });
    }
  }

  const results = partitions.map((p): ResetOffset => {
    const target = targets.get(partitionKey(p));
    return {
      topic: p.topic,
      partition: p.partition,
      offset: target?.error === null ? target.offset : -1n,
      error: target?.error ?? null,
    };
  });
  if (options.dryRun === true) return results;
  const toCommit = results.filter((r) => r.error === null);
  const committed = await alterGroupOffsets(context, groupId, toCommit, remaining());
  const errors = new Map(committed.map((c) => [partitionKey(c), c.error]));
  return results.map((r) => {
    const error = errors.get(partitionKey(r)) ?? r.error;
    return error === null ? r : { ...r, offset: -1n, error };
  });
}

export async function deleteGroupOffsets(
  context: AdminContext,
  groupId: string,
  partitions: readonly { topic: string; partition: number }[],
  options: OperationOptions = {},
): Promise<GroupOffsetResult[]> {
  return context.settle(
    partitions,
    options,
    (pending, round) =>
      context.dispatch(
        pending,
        () => context.coordinator(groupId),
        async (connection, batch) => {
          const response = await connection.request(
            OffsetDeleteRequest,
            OffsetDeleteResponse,
            {
              groupId,
              topics: [...Map.groupBy(batch, (p) => p.topic)].map(([name, list]) => ({
                name,
                partitions: list.map((p) => ({ partitionIndex: p.partition })),
              })),
            },
            round.request,
          );
          if (response.errorCode !== ErrorCode.NONE) {
            // A group-level error (NON_EMPTY_GROUP, GROUP_ID_NOT_FOUND, …) is every partition's.
            if (COORDINATOR_CODES.has(response.errorCode)) {
              context.cluster.invalidateCoordinator(groupId);
            }
            const error = entityError(response.errorCode, `group ${groupId}`);
            const outcome: Outcome<GroupOffsetResult> = error.retriable
              ? { retry: error }
              : { failed: error };
            return batch.map(() => outcome);
          }
          const byPartition = new Map(
            response.topics.flatMap((t) =>
              t.partitions.map((p) => [
                partitionKey({ topic: t.name, partition: p.partitionIndex }),
                p.errorCode,
              ]),
            ),
          );
          return batch.map((p) =>
            outcomeOf(
              byPartition.get(partitionKey(p)) ?? ErrorCode.UNKNOWN_SERVER_ERROR,
              `group ${groupId} ${partitionName(p.topic, p.partition)}`,
              null,
              () => ({ topic: p.topic, partition: p.partition, error: null }),
            ),
          );
        },
        () => context.cluster.invalidateCoordinator(groupId),
      ),
    (p, error): GroupOffsetResult => ({ topic: p.topic, partition: p.partition, error }),
  );
}
