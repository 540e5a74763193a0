/**
 * Storage recovery and idle-partition memory benchmark.
 *
 *   npx node bench/storage-recovery.bench.ts
 *
 * 1. Recovery after a crash: BROOK_BENCH_RECOVERY_MB (default 1024) of 16 KiB batches are
 *    appended and flushed, then the process "crashes" (files closed, nothing else written) and
 *    the log is opened with cleanShutdown=false and recoveryPoint=0n, so every batch is read and
 *    checked (CRC) and the indexes rebuilt. Next to it: reading the same files raw in 1 MiB
 *    chunks, and opening the log after a clean shutdown. The files are in the page cache.
 * 2. Memory per idle partition: BROOK_BENCH_PARTITIONS (default 1000) logs of one small segment
 *    each are opened in a fresh process (`--expose-gc --no-flush-bytecode`) through one
 *    FileHandlePool of 256 files, after a warm-up on 20 of them;
 *    (rss, heapUsed, external) after minus before, divided by the count.
 *
 * Everything is written under the OS temp directory and removed at the end.
 * Not part of `npm test`. Figures and how they were taken: bench/README.md.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeRecordBatch } from '../packages/protocol/src/records/index.ts';
import type { PartitionLog } from '../packages/storage/src/log/partition-log.ts';
import {
  bytesOf,
  env,
  header,
  MIB,
  makeBatches,
  mbPerSecond,
  openLog,
  pool,
  printTable,
  removeDirectory,
  tempDirectory,
} from './storage-common.ts';

const RECOVERY_BYTES = env('BROOK_BENCH_RECOVERY_MB', 1024) * MIB;
const PARTITIONS = env('BROOK_BENCH_PARTITIONS', 1000);
const RUNS = env('BROOK_BENCH_RUNS', 3);
const MAX_OPEN_FILES = 256;

/** The log files in 1 MiB reads, each into a new buffer: milliseconds. */
async function rawRead(directory: string): Promise<number> {
  const started = performance.now();
  for (const name of readdirSync(directory).sort()) {
    if (!name.endsWith('.log')) continue;
    const file = await open(join(directory, name), 'r');
    for (let position = 0; ; ) {
      const buffer = Buffer.allocUnsafe(MIB);
      const { bytesRead } = await file.read(buffer, 0, MIB, position);
      if (bytesRead === 0) break;
      position += bytesRead;
    }
    await file.close();
  }
  return performance.now() - started;
}

/** Opens the log as after a crash (or a clean shutdown), then drops it unwritten: milliseconds. */
async function timedOpen(directory: string, cleanShutdown: boolean): Promise<number> {
  const files = pool();
  const started = performance.now();
  await openLog(directory, { cleanShutdown, files });
  const elapsed = performance.now() - started;
  await files.closeAll();
  return elapsed;
}

async function recoveryBench(): Promise<void> {
  const root = tempDirectory('recovery');
  try {
    const directory = join(root, 'topic-0');
    const files = pool();
    const log = await openLog(directory, { files });
    const batches = makeBatches(64);
    for (let written = 0, i = 0; written < RECOVERY_BYTES; i++) {
      const batch = batches[i % batches.length]!;
      await log.append(batch, { leaderEpoch: 0 });
      written += batch.length;
    }
    await log.flush();
    const segments = log.segmentCount;
    const records = log.logEndOffset;
    // The crash: the files are closed and nothing more is written (no clean close).
    await files.closeAll();
    const bytes = bytesOf(directory, '.log');
    console.log(
      `  ${(bytes / MIB).toFixed(0)} MiB in ${segments} segment(s), ${records} records, ` +
        `batches of ${batches[0]!.length} bytes`,
    );
    await rawRead(directory); // page cache warm for both
    const rows: string[][] = [];
    for (let run = 1; run <= RUNS; run++) {
      const recovery = await timedOpen(directory, false);
      const raw = await rawRead(directory);
      const clean = await timedOpen(directory, true);
      rows.push([
        `run ${run}`,
        `${(recovery / 1000).toFixed(2)} s (${mbPerSecond(bytes, recovery)})`,
        `${(raw / 1000).toFixed(2)} s (${mbPerSecond(bytes, raw)})`,
        `${(recovery / raw).toFixed(1)}×`,
        `${clean.toFixed(1)} ms`,
      ]);
    }
    printTable(
      'Recovery after a crash (recoveryPoint 0: every batch checked), warm page cache',
      ['', 'recovery', 'raw read of the files', 'recovery / raw', 'clean open'],
      rows,
    );
  } finally {
    removeDirectory(root);
  }
}

/** Creates PARTITIONS logs of one small segment each under `root`. */
async function createPartitions(root: string): Promise<void> {
  const files = pool(MAX_OPEN_FILES);
  const small = () =>
    encodeRecordBatch({
      baseTimestamp: BigInt(Date.now()),
      records: Array.from({ length: 10 }, (_, i) => ({
        offsetDelta: i,
        key: null,
        value: Buffer.alloc(100, i),
      })),
    });
  for (let i = 0; i < PARTITIONS; i++) {
    const log = await openLog(join(root, `topic-${i}`), { files });
    for (let j = 0; j < 3; j++) await log.append(small(), { leaderEpoch: 0 });
    await log.close();
  }
  await files.closeAll();
}

interface MemoryReport {
  readonly rss: number;
  readonly heapUsed: number;
  readonly external: number;
  readonly openFiles: number;
  readonly openMs: number;
}

/** In the child process (`--expose-gc`): opens every partition under `root` and measures. */
async function measureOpenPartitions(root: string, cleanShutdown: boolean): Promise<MemoryReport> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run with --expose-gc');
  const names = readdirSync(root).sort();
  const files = pool(MAX_OPEN_FILES);
  const settle = async () => {
    for (let i = 0; i < 3; i++) {
      await new Promise((resolve) => setImmediate(resolve));
      gc();
    }
  };
  // Warm up (code compiled, lazy module state built) on a few logs, then let them go.
  const warmFiles = pool(MAX_OPEN_FILES);
  for (const name of names.slice(0, 20)) {
    await openLog(join(root, name), { files: warmFiles, cleanShutdown: true });
  }
  await warmFiles.closeAll();
  await settle();
  const before = process.memoryUsage();
  const started = performance.now();
  const logs: PartitionLog[] = [];
  for (const name of names) {
    logs.push(await openLog(join(root, name), { files, cleanShutdown }));
  }
  const openMs = performance.now() - started;
  await settle();
  const after = process.memoryUsage();
  const count = logs.length;
  return {
    rss: (after.rss - before.rss) / count,
    heapUsed: (after.heapUsed - before.heapUsed) / count,
    external: (after.external - before.external) / count,
    openFiles: files.openFiles,
    openMs,
  };
}

async function memoryBench(): Promise<void> {
  const root = tempDirectory('partitions');
  try {
    await createPartitions(root);
    const rows: string[][] = [];
    // The clean opens first: an open after a crash rewrites the files (a rebuilt time index
    // loses the entry a clean close adds), and the clean runs should see what a close leaves.
    for (const clean of [true, false]) {
      for (let run = 1; run <= RUNS; run++) {
        const child = spawnSync(
          process.execPath,
          // No bytecode flushing: V8 dropping the start-up code's bytecode mid-run would show
          // as negative heap per partition.
          [
            '--expose-gc',
            '--no-flush-bytecode',
            fileURLToPath(import.meta.url),
            '--memory',
            root,
            String(clean),
          ],
          { encoding: 'utf8' },
        );
        if (child.status !== 0) throw new Error(`memory child failed:\n${child.stderr}`);
        const report = JSON.parse(child.stdout) as MemoryReport;
        rows.push([
          `run ${run}`,
          clean ? 'clean shutdown' : 'after a crash',
          `${(report.rss / 1024).toFixed(1)} KiB`,
          `${(report.heapUsed / 1024).toFixed(1)} KiB`,
          `${(report.external / 1024).toFixed(2)} KiB`,
          String(report.openFiles),
          `${report.openMs.toFixed(0)} ms`,
        ]);
      }
    }
    printTable(
      `Memory per idle partition: ${PARTITIONS} open logs of one small segment, ` +
        `FileHandlePool of ${MAX_OPEN_FILES} files`,
      ['', 'opened', 'rss / N', 'heapUsed / N', 'external / N', 'open files', 'open all'],
      rows,
    );
  } finally {
    removeDirectory(root);
  }
}

if (process.argv[2] === '--memory') {
  const report = await measureOpenPartitions(process.argv[3]!, process.argv[4] === 'true');
  process.stdout.write(JSON.stringify(report));
} else {
  header('Storage recovery');
  await recoveryBench();
  await memoryBench();
}
