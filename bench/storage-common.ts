/** What the storage benchmarks share: the batches they append, temp directories, printing. */
import { randomFillSync } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeRecordBatch } from '../packages/protocol/src/records/index.ts';
import { FileHandlePool } from '../packages/storage/src/fs/file-handle-pool.ts';
import { NodeFileSystem } from '../packages/storage/src/fs/node-file-system.ts';
import {
  PartitionLog,
  type PartitionLogConfig,
} from '../packages/storage/src/log/partition-log.ts';
import { testConfig } from '../packages/storage/test/log/helpers.ts';

export const VALUE_BYTES = 1024;
export const RECORDS_PER_BATCH = 16;
export const MIB = 1024 * 1024;

/**
 * `count` distinct record batches of RECORDS_PER_BATCH records with random 1 KiB values (about
 * 16 KiB each), as producers send them. `PartitionLog.append` patches offsets into them in place,
 * which is harmless for reuse once the append that used one has resolved.
 */
export function makeBatches(count: number): Buffer[] {
  return Array.from({ length: count }, () =>
    encodeRecordBatch({
      baseTimestamp: BigInt(Date.now()),
      records: Array.from({ length: RECORDS_PER_BATCH }, (_, i) => ({
        offsetDelta: i,
        timestampDelta: i,
        key: null,
        value: randomFillSync(Buffer.allocUnsafe(VALUE_BYTES)),
      })),
    }),
  );
}

/** Kafka's defaults (1 GiB segments, index every 4 KiB), flushing never unless overridden. */
export function benchConfig(overrides: Partial<PartitionLogConfig> = {}): PartitionLogConfig {
  return testConfig(overrides);
}

export function pool(maxOpenFiles = 256): FileHandlePool {
  return new FileHandlePool(new NodeFileSystem(), { maxOpenFiles });
}

export function openLog(
  directory: string,
  options: { config?: PartitionLogConfig; cleanShutdown?: boolean; files?: FileHandlePool } = {},
): Promise<PartitionLog> {
  return PartitionLog.open({
    directory,
    pool: options.files ?? pool(),
    config: options.config ?? benchConfig(),
    recoveryPoint: 0n,
    logStartOffset: 0n,
    cleanShutdown: options.cleanShutdown ?? false,
  });
}

/** A new directory under the OS temp directory (same disk as the repository here). */
export function tempDirectory(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `brook-bench-${prefix}-`));
}

export function removeDirectory(directory: string): void {
  rmSync(directory, { recursive: true, force: true });
}

/** Bytes of the files in `directory` whose names end with `suffix`. */
export function bytesOf(directory: string, suffix: string): number {
  let total = 0;
  for (const name of readdirSync(directory)) {
    if (name.endsWith(suffix)) total += statSync(join(directory, name)).size;
  }
  return total;
}

export function env(name: string, fallback: number): number {
  const value = process.env[name];
  return value === undefined || value === '' ? fallback : Number(value);
}

/** 1234567 → "1.23 M". */
export function si(value: number): string {
  if (value >= 1e9) return `${(value / 1e9).toFixed(2)} G`;
  if (value >= 1e6) return `${(value / 1e6).toFixed(2)} M`;
  if (value >= 1e3) return `${(value / 1e3).toFixed(1)} k`;
  return value.toFixed(1);
}

export function mbPerSecond(bytes: number, ms: number): string {
  return `${((bytes / MIB / ms) * 1000).toFixed(0)} MB/s`;
}

export function percent(ratio: number): string {
  return `${(ratio * 100).toFixed(0)}%`;
}

/** Prints rows of cells as aligned columns. */
export function printTable(
  title: string,
  header: readonly string[],
  rows: readonly string[][],
): void {
  const all = [header, ...rows];
  const widths = header.map((_, column) =>
    Math.max(...all.map((row) => (row[column] ?? '').length)),
  );
  console.log(`\n${title}`);
  for (const row of all) {
    console.log(`  ${row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ')}`);
  }
}

export function header(name: string): void {
  console.log(
    `${name} (node ${process.version}, ${new Date().toISOString()}, temp dir ${tmpdir()})`,
  );
}
