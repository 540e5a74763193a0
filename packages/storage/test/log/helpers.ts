import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeRecordBatches, encodeRecordBatch } from '@brook/protocol';
import { LOG_CONFIG_DEFAULTS } from '../../src/config/log-config.ts';
import { FileHandlePool } from '../../src/fs/file-handle-pool.ts';
import type { FileSystem } from '../../src/fs/file-system.ts';
import { NodeFileSystem } from '../../src/fs/node-file-system.ts';
import type { PartitionLogConfig } from '../../src/log/partition-log.ts';

/** Kafka's defaults, shrunk where tests need small segments. */
export function testConfig(overrides: Partial<PartitionLogConfig> = {}): PartitionLogConfig {
  return { ...LOG_CONFIG_DEFAULTS, fileDeleteDelayMs: 0, ...overrides };
}

/** A batch of `count` records `prefix-i`, keyed `k-i`, as a producer would send it. */
export function batch(prefix: string, count: number, timestamp = 1_700_000_000_000n): Buffer {
  return encodeRecordBatch({
    baseTimestamp: timestamp,
    records: Array.from({ length: count }, (_, i) => ({
      offsetDelta: i,
      timestampDelta: i,
      key: Buffer.from(`k-${i}`),
      value: Buffer.from(`${prefix}-${i}`),
    })),
  });
}

/** The values of every record in a read, with their offsets. */
export function valuesOf(records: Buffer): [bigint, string][] {
  const result: [bigint, string][] = [];
  for (const decoded of decodeRecordBatches(records).batches) {
    for (const record of decoded.records) {
      result.push([
        decoded.baseOffset + BigInt(record.offsetDelta),
        record.value?.toString() ?? '<null>',
      ]);
    }
  }
  return result;
}

export function tempDirectory(t: { after(fn: () => void): void }): string {
  const directory = mkdtempSync(join(tmpdir(), 'brook-log-'));
  t.after(() => rmSync(directory, { recursive: true, force: true }));
  return directory;
}

export function nodePool(maxOpenFiles = 64): FileHandlePool {
  return new FileHandlePool(new NodeFileSystem(), { maxOpenFiles });
}

export function poolOver(fs: FileSystem, maxOpenFiles = 64): FileHandlePool {
  return new FileHandlePool(fs, { maxOpenFiles });
}
