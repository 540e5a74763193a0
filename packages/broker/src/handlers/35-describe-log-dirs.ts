// DescribeLogDirs: v0-4
// * The one data directory (absolute path) with, for each topic in it, the size in bytes of each
//   partition asked for (null topics: every partition); offset lag 0 (the high watermark is the
//   log end on a single node); no future logs. As in Kafka, every topic of the directory is listed,
//   with an empty partition list when none of its partitions was asked for.
// * v4+: the volume's total and usable bytes (-1 when the file system cannot tell).
// * Not implemented: authorization (no ACLs yet); several log directories.
import { statfs } from 'node:fs/promises';
import { resolve } from 'node:path';
import {
  ApiKey,
  DescribeLogDirsRequest,
  DescribeLogDirsResponse,
  ErrorCode,
} from '@brook/protocol';
import { defineHandler } from './registry.ts';

async function volumeBytes(path: string): Promise<{ totalBytes: bigint; usableBytes: bigint }> {
  try {
    const stats = await statfs(path, { bigint: true });
    return { totalBytes: stats.blocks * stats.bsize, usableBytes: stats.bavail * stats.bsize };
  } catch {
    return { totalBytes: -1n, usableBytes: -1n };
  }
}

export const describeLogDirsHandler = defineHandler({
  apiKey: ApiKey.DescribeLogDirs,
  minVersion: 0,
  maxVersion: 4,
  request: DescribeLogDirsRequest,
  response: DescribeLogDirsResponse,
  async handle(request, context) {
    const broker = context.broker;
    const wanted =
      request.topics === null
        ? undefined
        : new Set(request.topics.flatMap((t) => t.partitions.map((p) => `${t.topic}\0${p}`)));
    const byTopic = new Map<
      string,
      { partitionIndex: number; partitionSize: bigint; offsetLag: bigint; isFutureKey: boolean }[]
    >();
    for (const [tp, log] of broker.logs.entries()) {
      const partitions = byTopic.get(tp.topic) ?? [];
      byTopic.set(tp.topic, partitions);
      if (wanted !== undefined && !wanted.has(`${tp.topic}\0${tp.partition}`)) continue;
      partitions.push({
        partitionIndex: tp.partition,
        partitionSize: BigInt(log.sizeBytes),
        offsetLag: 0n,
        isFutureKey: false,
      });
    }
    const topics = [...byTopic]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([name, partitions]) => ({
        name,
        partitions: partitions.sort((a, b) => a.partitionIndex - b.partitionIndex),
      }));
    const logDir = resolve(broker.config.dataDirectory);
    return {
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      results: [
        {
          errorCode: ErrorCode.NONE,
          logDir,
          topics,
          ...(context.apiVersion >= 4 ? await volumeBytes(logDir) : {}),
        },
      ],
    };
  },
});
