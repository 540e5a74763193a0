// OffsetForLeaderEpoch: v0-4
// * The end offset of a leader epoch from the partition's leader epoch cache, with Kafka's rules
//   (LeaderEpochFileCache.endOffsetFor): the current (latest) epoch ends at the log end; an earlier
//   epoch ends where the next larger one starts, reported with the largest epoch at or below the
//   one asked for; an epoch below every known one ends where the first known one starts; an
//   unknown (-1) or too large epoch is UNDEFINED: leader epoch -1, end offset -1.
// * Brook's single node is the leader at epoch 0 from the partition's creation, as Kafka's leader
//   records its epoch when it takes over: a partition with nothing written yet knows epoch 0.
// * v2+ `current_leader_epoch` (-1: not checked): smaller than the broker's (0) is
//   FENCED_LEADER_EPOCH, larger is UNKNOWN_LEADER_EPOCH.
// * Unknown topic or partition: UNKNOWN_TOPIC_OR_PARTITION.
// * Not implemented: authorization (no ACLs yet).
import {
  ApiKey,
  ErrorCode,
  OffsetForLeaderEpochRequest,
  OffsetForLeaderEpochResponse,
} from '@brook/protocol';
import type { EpochEntry } from '@brook/storage';
import { defineHandler } from './registry.ts';

/** The leader epoch of every partition of a single node. */
const LEADER_EPOCH = 0;
const UNDEFINED_EPOCH = -1;
const UNDEFINED_OFFSET = -1n;

/** Kafka's end offset of `requested` over the cache's entries (epochs increasing). */
export function endOffsetForEpoch(
  entries: readonly EpochEntry[],
  requested: number,
  logEndOffset: bigint,
): { leaderEpoch: number; endOffset: bigint } {
  const undefinedEpoch = { leaderEpoch: UNDEFINED_EPOCH, endOffset: UNDEFINED_OFFSET };
  if (requested === UNDEFINED_EPOCH) return undefinedEpoch;
  const latest = entries.at(-1);
  if (latest !== undefined && latest.epoch === requested)
    return { leaderEpoch: requested, endOffset: logEndOffset };
  const higher = entries.find((entry) => entry.epoch > requested);
  if (higher === undefined) return undefinedEpoch;
  const floor = entries.findLast((entry) => entry.epoch <= requested);
  return floor === undefined
    ? { leaderEpoch: requested, endOffset: higher.startOffset }
    : { leaderEpoch: floor.epoch, endOffset: higher.startOffset };
}

export const offsetForLeaderEpochHandler = defineHandler({
  apiKey: ApiKey.OffsetForLeaderEpoch,
  minVersion: 0,
  maxVersion: 4,
  request: OffsetForLeaderEpochRequest,
  response: OffsetForLeaderEpochResponse,
  async handle(request, context) {
    const topics = [];
    for (const topic of request.topics) {
      const partitions = [];
      for (const wanted of topic.partitions) {
        const base = { partition: wanted.partition, leaderEpoch: UNDEFINED_EPOCH, endOffset: -1n };
        const log = await context.broker.partitionLog(topic.topic, wanted.partition);
        if (log === undefined) {
          partitions.push({ ...base, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION });
          continue;
        }
        const current = wanted.currentLeaderEpoch;
        if (current !== UNDEFINED_EPOCH && current !== LEADER_EPOCH) {
          const errorCode =
            current < LEADER_EPOCH ? ErrorCode.FENCED_LEADER_EPOCH : ErrorCode.UNKNOWN_LEADER_EPOCH;
          partitions.push({ ...base, errorCode });
          continue;
        }
        // The cache gains an entry on the first append; until then the leader's epoch starts at
        // the log end (Kafka assigns it when the replica becomes leader).
        const entries = [...log.leaderEpochs.all];
        if ((entries.at(-1)?.epoch ?? UNDEFINED_EPOCH) < LEADER_EPOCH)
          entries.push({ epoch: LEADER_EPOCH, startOffset: log.logEndOffset });
        const found = endOffsetForEpoch(entries, wanted.leaderEpoch, log.logEndOffset);
        partitions.push({ ...base, ...found, errorCode: ErrorCode.NONE });
      }
      topics.push({ topic: topic.topic, partitions });
    }
    return { throttleTimeMs: 0, topics };
  },
});
