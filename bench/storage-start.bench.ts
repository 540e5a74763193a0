/**
 * Start time of the log manager after a clean shutdown with many partitions (default 10,000,
 * each with one small segment), next to a reference run in the same process: just listing the
 * partition directories and stat-ing their log files, which any start must at least do.
 * Also the start time after an unclean shutdown (no marker: the active segments are recovered).
 * Memory per partition: storage-recovery.bench.ts.
 *
 * Run: npm run bench -- storage-start   (BROOK_BENCH_PARTITIONS=2000 for a shorter run)
 */
import { mkdtempSync, readdirSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeRecordBatch } from '@brook/protocol';
import { LOG_CONFIG_DEFAULTS, LogManager, NodeFileSystem } from '@brook/storage';

const PARTITIONS = Number(process.env.BROOK_BENCH_PARTITIONS ?? 10_000);

function options(dataDirectory: string) {
  return {
    fs: new NodeFileSystem(),
    dataDirectory,
    configFor: () => LOG_CONFIG_DEFAULTS,
    maxOpenFiles: 1024,
    openConcurrency: 32,
    retentionCheckIntervalMs: 0,
    flushCheckIntervalMs: 0,
    checkpointIntervalMs: 0,
    cleanerBackoffMs: 0,
  };
}

async function main(): Promise<void> {
  const dataDirectory = mkdtempSync(join(tmpdir(), 'brook-start-'));
  try {
    const batch = encodeRecordBatch({
      baseTimestamp: BigInt(Date.now()),
      records: [{ key: Buffer.from('k'), value: Buffer.alloc(100, 1) }],
    });
    let t = performance.now();
    const first = await LogManager.start(options(dataDirectory));
    for (let partition = 0; partition < PARTITIONS; partition++) {
      const log = await first.getOrCreate({ topic: 'wide', partition });
      await log.append(Buffer.from(batch), { leaderEpoch: 0 });
    }
    await first.shutdown();
    const createMs = performance.now() - t;

    // Reference: the least any start does, listing the directories and stat-ing the logs.
    t = performance.now();
    for (const name of readdirSync(dataDirectory)) {
      const path = join(dataDirectory, name);
      if (!statSync(path).isDirectory()) continue;
      for (const file of readdirSync(path)) if (file.endsWith('.log')) statSync(join(path, file));
    }
    const listMs = performance.now() - t;

    t = performance.now();
    const clean = await LogManager.start(options(dataDirectory));
    const cleanMs = performance.now() - t;
    await clean.shutdown();

    // Unclean: remove the marker, as a crash would have left it absent.
    unlinkSync(join(dataDirectory, '.kafka_cleanshutdown'));
    t = performance.now();
    const unclean = await LogManager.start(options(dataDirectory));
    const uncleanMs = performance.now() - t;
    await unclean.shutdown();

    console.log(`\nLog manager start with ${PARTITIONS} partitions (node ${process.version})`);
    console.log(`  create and append to each (setup)      ${(createMs / 1000).toFixed(1)} s`);
    console.log(`  reference: list directories + stat logs ${listMs.toFixed(0)} ms`);
    console.log(`  start after a clean shutdown           ${cleanMs.toFixed(0)} ms`);
    console.log(`  start after a crash (recovery)         ${uncleanMs.toFixed(0)} ms`);
  } finally {
    rmSync(dataDirectory, { recursive: true, force: true });
  }
}

await main();
