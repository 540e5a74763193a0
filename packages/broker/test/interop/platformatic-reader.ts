/**
 * Reads partitions from their log start to their high watermark with @platformatic/kafka's
 * group-less `Consumer.fetch` (Metadata, ListOffsets, then Fetch v17 by topic id): the consumer
 * "by assignment" of the platformatic test, and the reader of what kafkajs (which has no
 * consumer without a group) and the crash and garbage tests wrote. With `untilOffsets` it tails
 * partitions that are still being written (long polls) until it has read that far.
 */
import { Consumer } from '@platformatic/kafka';
import type { ConsumedRecord } from './support.ts';

const TIMESTAMP_TYPE_FLAG = 0x08;
const CONTROL_FLAG = 0x20;

export interface ReadResult {
  records: ConsumedRecord[];
  /** The log start of each partition when the read began. */
  logStart: Map<number, bigint>;
  highWatermark: Map<number, bigint>;
}

export async function readPartitions(
  bootstrap: string,
  topic: string,
  options: {
    partitions?: number[];
    timeoutMs?: number;
    /** Read until these offsets (waiting for them to be written), not the high watermark. */
    untilOffsets?: ReadonlyMap<number, bigint>;
  } = {},
): Promise<ReadResult> {
  const consumer = new Consumer({
    bootstrapBrokers: [bootstrap],
    clientId: 'brook-interop-reader',
    // Required by the constructor; no group is joined: only fetch and listOffsets are used.
    groupId: 'brook-interop-no-group',
    retries: 2,
    retryDelay: 100,
    timeout: 10_000,
  });
  try {
    const metadata = await consumer.metadata({ topics: [topic] });
    const info = metadata.topics.get(topic);
    if (info === undefined) throw new Error(`no metadata for topic ${topic}`);
    const partitions =
      options.partitions ?? Array.from({ length: info.partitionsCount }, (_, p) => p);
    const earliest = (await consumer.listOffsets({ topics: [topic], timestamp: -2n })).get(topic);
    if (earliest === undefined) throw new Error(`no earliest offsets for ${topic}`);
    const logStart = new Map(partitions.map((p) => [p, earliest[p] ?? 0n]));
    const next = new Map(logStart);
    const highWatermark = new Map<number, bigint>();
    const records: ConsumedRecord[] = [];
    const deadline = Date.now() + (options.timeoutMs ?? 15_000);
    for (;;) {
      const pending = partitions.filter((p) => {
        const end = options.untilOffsets?.get(p) ?? highWatermark.get(p);
        return end === undefined || next.get(p)! < end;
      });
      if (pending.length === 0) break;
      if (Date.now() > deadline) {
        const state = pending.map((p) => `p${p} at ${next.get(p)} of ${highWatermark.get(p)}`);
        throw new Error(`reading ${topic} did not reach the high watermark: ${state.join(', ')}`);
      }
      const leader = info.partitions[pending[0]!]?.leader ?? 1;
      const response = await consumer.fetch({
        node: leader,
        maxWaitTime: options.untilOffsets === undefined ? 100 : 250,
        topics: [
          {
            topicId: info.id,
            partitions: pending.map((partition) => ({
              partition,
              currentLeaderEpoch: -1,
              fetchOffset: next.get(partition)!,
              lastFetchedEpoch: -1,
              partitionMaxBytes: 1 << 20,
            })),
          },
        ],
      });
      for (const topicResponse of response.responses) {
        for (const partition of topicResponse.partitions) {
          const p = partition.partitionIndex;
          if (partition.errorCode !== 0) {
            throw new Error(
              `fetch of ${topic} p${p} at ${next.get(p)}: error ${partition.errorCode}`,
            );
          }
          highWatermark.set(p, partition.highWatermark);
          for (const batch of partition.records ?? []) {
            const control = (batch.attributes & CONTROL_FLAG) !== 0;
            const logAppendTime = (batch.attributes & TIMESTAMP_TYPE_FLAG) !== 0;
            for (const record of control ? [] : batch.records) {
              const offset = batch.firstOffset + BigInt(record.offsetDelta);
              if (offset < next.get(p)!) continue;
              records.push({
                partition: p,
                offset,
                timestamp: logAppendTime
                  ? batch.maxTimestamp
                  : batch.firstTimestamp + record.timestampDelta,
                timestampType: logAppendTime ? 1 : 0,
                key: record.key,
                value: record.value,
                headers: record.headers.map(([key, value]) => [key?.toString('utf8') ?? '', value]),
              });
            }
            const after = batch.firstOffset + BigInt(batch.lastOffsetDelta) + 1n;
            if (after > next.get(p)!) next.set(p, after);
          }
        }
      }
    }
    return { records, logStart, highWatermark };
  } finally {
    await consumer.close();
  }
}
