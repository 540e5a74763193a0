/**
 * Storage append benchmark: `PartitionLog.append` next to raw `fs` writes of the same bytes.
 *
 *   npx node bench/storage-append.bench.ts
 *
 * 1. Throughput, flush policy never: 16-record batches of 1 KiB values (about 16 KiB each)
 *    appended one after another, against sequential positional writes of the same chunks to one
 *    file with node:fs/promises (the same asynchronous call NodeFileSystem makes), and, for scale,
 *    with fs.writeSync. BROOK_BENCH_APPEND_MB (default 256) per run, three runs each.
 * 2. Durable appends, `flush.messages=1`: N appenders each waiting for `durable` before its next
 *    append (concurrent ones share fsyncs), against a loop of 16 KiB write + fdatasync.
 *    BROOK_BENCH_SYNC_MS (default 2000) per row.
 *
 * Not part of `npm test`. Figures and how they were taken: bench/README.md.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import {
  benchConfig,
  env,
  header,
  MIB,
  makeBatches,
  mbPerSecond,
  openLog,
  percent,
  printTable,
  RECORDS_PER_BATCH,
  removeDirectory,
  si,
  tempDirectory,
} from './storage-common.ts';

const TOTAL_BYTES = env('BROOK_BENCH_APPEND_MB', 256) * MIB;
const RUNS = env('BROOK_BENCH_RUNS', 3);
const SYNC_MS = env('BROOK_BENCH_SYNC_MS', 2000);
const CONCURRENCY = [1, 4, 16, 64];

const batches = makeBatches(64);
const batchBytes = batches[0]!.length;
const appends = Math.ceil(TOTAL_BYTES / batchBytes);
const bytes = appends * batchBytes;

/** Sequential positional writes of the batches, one `write` each: milliseconds. */
async function rawWrites(directory: string): Promise<number> {
  const file = await open(join(directory, 'raw.log'), 'w+');
  const started = performance.now();
  let position = 0;
  for (let i = 0; i < appends; i++) {
    const chunk = batches[i % batches.length]!;
    await file.write(chunk, 0, chunk.length, position);
    position += chunk.length;
  }
  const elapsed = performance.now() - started;
  await file.close();
  return elapsed;
}

/**
 * The same writes with `fs.writeSync`, for scale only: it skips the thread-pool round trip that
 * every asynchronous write (Brook's included) pays, and blocks the event loop. Milliseconds.
 */
function rawWritesSync(directory: string): number {
  const fd = openSync(join(directory, 'raw-sync.log'), 'w+');
  const started = performance.now();
  let position = 0;
  for (let i = 0; i < appends; i++) {
    const chunk = batches[i % batches.length]!;
    writeSync(fd, chunk, 0, chunk.length, position);
    position += chunk.length;
  }
  const elapsed = performance.now() - started;
  closeSync(fd);
  return elapsed;
}

/** The same batches through `PartitionLog.append`, flush policy never: milliseconds. */
async function brookAppends(directory: string): Promise<number> {
  const log = await openLog(join(directory, 'topic-0'));
  const started = performance.now();
  for (let i = 0; i < appends; i++) {
    await log.append(batches[i % batches.length]!, { leaderEpoch: 0 });
  }
  const elapsed = performance.now() - started;
  await log.close();
  return elapsed;
}

/** write + fdatasync of 16 KiB in a loop for SYNC_MS: syncs per second. */
async function rawSyncs(directory: string): Promise<number> {
  const file = await open(join(directory, 'raw-sync.log'), 'w+');
  const chunk = batches[0]!;
  let position = 0;
  let count = 0;
  const started = performance.now();
  while (performance.now() - started < SYNC_MS) {
    await file.write(chunk, 0, chunk.length, position);
    await file.datasync();
    position += chunk.length;
    count++;
  }
  const elapsed = performance.now() - started;
  await file.close();
  return (count / elapsed) * 1000;
}

/** `appenders` loops of append + await durable, flush.messages=1, for SYNC_MS: stats. */
async function brookDurable(
  directory: string,
  appenders: number,
): Promise<{ perSecond: number; fsyncsPerSecond: number }> {
  const log = await openLog(join(directory, `sync-${appenders}`), {
    config: benchConfig({ flushMessages: 1 }),
  });
  let count = 0;
  let syncs = 0;
  // Count the log-file fsyncs by watching the recovery point move.
  let lastRecoveryPoint = log.recoveryPoint;
  const started = performance.now();
  const loop = async (index: number): Promise<void> => {
    // Each appender owns its batch: it is reused only after its previous append is durable.
    const own = batches[index % batches.length]!;
    while (performance.now() - started < SYNC_MS) {
      const result = await log.append(own, { leaderEpoch: 0 });
      await result.durable;
      count++;
      if (log.recoveryPoint !== lastRecoveryPoint) {
        lastRecoveryPoint = log.recoveryPoint;
        syncs++;
      }
    }
  };
  await Promise.all(Array.from({ length: appenders }, (_, index) => loop(index)));
  const elapsed = performance.now() - started;
  await log.close();
  return { perSecond: (count / elapsed) * 1000, fsyncsPerSecond: (syncs / elapsed) * 1000 };
}

header('Storage append');
console.log(
  `  ${RECORDS_PER_BATCH} records of 1 KiB per batch, ${batchBytes} bytes; ` +
    `${appends} appends (${(bytes / MIB).toFixed(0)} MiB) per run`,
);

const throughputRows: string[][] = [];
for (let run = 1; run <= RUNS; run++) {
  const directory = tempDirectory('append');
  try {
    // Alternate which goes first, so neither always meets the other's write-back.
    const order = run % 2 === 1 ? ['raw', 'brook'] : ['brook', 'raw'];
    const times: Record<string, number> = {};
    for (const which of order) {
      times[which] = which === 'raw' ? await rawWrites(directory) : await brookAppends(directory);
    }
    const raw = times.raw!;
    const brook = times.brook!;
    const sync = rawWritesSync(directory);
    const records = appends * RECORDS_PER_BATCH;
    throughputRows.push([
      `run ${run}`,
      `${mbPerSecond(bytes, brook)}, ${si((records / brook) * 1000)} records/s`,
      `${mbPerSecond(bytes, raw)}, ${si((records / raw) * 1000)} records/s`,
      percent(raw / brook),
      mbPerSecond(bytes, sync),
    ]);
  } finally {
    removeDirectory(directory);
  }
}
printTable(
  'Append throughput, flush never (page cache)',
  ['', 'PartitionLog.append', 'raw fs/promises writes', 'Brook / raw', '(raw writeSync)'],
  throughputRows,
);

const syncRows: string[][] = [];
const directory = tempDirectory('append-sync');
try {
  const raw = await rawSyncs(directory);
  syncRows.push(['raw write + fdatasync, 16 KiB', `${si(raw)} /s`, '', '']);
  for (const appenders of CONCURRENCY) {
    const { perSecond, fsyncsPerSecond } = await brookDurable(directory, appenders);
    syncRows.push([
      `${appenders} appender${appenders === 1 ? '' : 's'}`,
      `${si(perSecond)} /s`,
      `${si(fsyncsPerSecond)} /s (${(perSecond / fsyncsPerSecond).toFixed(1)} appends each)`,
      percent(perSecond / raw),
    ]);
  }
} finally {
  removeDirectory(directory);
}
printTable(
  'Durable appends, flush.messages=1 (group commit)',
  ['', 'durable appends', 'flushes', 'vs raw fdatasync rate'],
  syncRows,
);
