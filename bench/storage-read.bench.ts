/**
 * Storage read benchmark: reading a whole warm log with `PartitionLog.read` (maxBytes 1 MiB, as a
 * consumer fetching from offset 0 to the end) next to raw 1 MiB reads of the same segment file.
 *
 *   npx node bench/storage-read.bench.ts
 *
 * The log (BROOK_BENCH_READ_MB, default 256, of 16 KiB batches of 1 KiB records) is written once
 * and closed; after three warm-up passes it is read from the page cache, five runs each,
 * alternating which goes first. Each is read into a new buffer per read (as a fetch did), and
 * into one buffer used again and again (as a fetch does now: `allocate`, ReadBufferPool).
 *
 * Not part of `npm test`. Figures and how they were taken: bench/README.md.
 */

import { readdirSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { LOG_OVERHEAD_BYTES } from '../packages/protocol/src/records/index.ts';
import {
  bytesOf,
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

const TOTAL_BYTES = env('BROOK_BENCH_READ_MB', 256) * MIB;
const RUNS = env('BROOK_BENCH_RUNS', 5);
const MAX_BYTES = MIB;

/** The offset after the last batch of `records` (whole batches). */
function nextOffsetAfter(records: Buffer): bigint {
  let position = 0;
  let next = 0n;
  while (position < records.length) {
    const size = LOG_OVERHEAD_BYTES + records.readInt32BE(position + 8);
    // lastOffsetDelta sits at byte 23 of the batch.
    next = records.readBigInt64BE(position) + BigInt(records.readInt32BE(position + 23)) + 1n;
    position += size;
  }
  return next;
}

/** One buffer for every read (each read's records are used up before the next). */
const recycled = Buffer.allocUnsafeSlow(2 * MAX_BYTES);
function recycle(size: number): Buffer {
  return recycled.subarray(0, size);
}

/** The whole log through `PartitionLog.read`: milliseconds and bytes. */
async function brookRead(
  directory: string,
  reuse: boolean,
): Promise<{ ms: number; bytes: number }> {
  const log = await openLog(directory, { cleanShutdown: true });
  const end = log.logEndOffset;
  let offset = 0n;
  let bytes = 0;
  const started = performance.now();
  while (offset < end) {
    const { records } = await log.read(offset, {
      maxBytes: MAX_BYTES,
      minOneBatch: true,
      ...(reuse ? { allocate: recycle } : {}),
    });
    bytes += records.length;
    offset = nextOffsetAfter(records);
  }
  const ms = performance.now() - started;
  await log.close();
  return { ms, bytes };
}

/** The segment files in 1 MiB reads, each into a new buffer or into the same one. */
async function rawRead(
  paths: readonly string[],
  reuse: boolean,
): Promise<{ ms: number; bytes: number }> {
  const files = await Promise.all(paths.map((path) => open(path, 'r')));
  let bytes = 0;
  const started = performance.now();
  for (const file of files) {
    for (let position = 0; ; ) {
      const buffer = reuse ? recycle(MAX_BYTES) : Buffer.allocUnsafe(MAX_BYTES);
      const { bytesRead } = await file.read(buffer, 0, MAX_BYTES, position);
      if (bytesRead === 0) break;
      position += bytesRead;
      bytes += bytesRead;
    }
  }
  const ms = performance.now() - started;
  await Promise.all(files.map((file) => file.close()));
  return { ms, bytes };
}

header('Storage read');
const root = tempDirectory('read');
try {
  const directory = join(root, 'topic-0');
  const batches = makeBatches(64);
  const log = await openLog(directory);
  for (let written = 0, i = 0; written < TOTAL_BYTES; i++) {
    const batch = batches[i % batches.length]!;
    await log.append(batch, { leaderEpoch: 0 });
    written += batch.length;
  }
  const segmentPaths = readdirSync(directory)
    .filter((name) => name.endsWith('.log'))
    .sort()
    .map((name) => join(directory, name));
  const logBytes = bytesOf(directory, '.log');
  console.log(
    `  ${(logBytes / MIB).toFixed(0)} MiB in ${log.segmentCount} segment(s), ` +
      `${log.logEndOffset} records, batches of ${batches[0]!.length} bytes; maxBytes ${MAX_BYTES}`,
  );
  await log.close();
  // Warm the page cache and the JIT (the first passes run up to 2× slower).
  for (let pass = 0; pass < 3; pass++) {
    for (const reuse of [false, true]) {
      await brookRead(directory, reuse);
      await rawRead(segmentPaths, reuse);
    }
  }
  for (const reuse of [false, true]) {
    const rows: string[][] = [];
    for (let run = 1; run <= RUNS; run++) {
      const order = run % 2 === 1 ? ['brook', 'raw'] : ['raw', 'brook'];
      const results: Record<string, { ms: number; bytes: number }> = {};
      for (const which of order) {
        results[which] =
          which === 'brook'
            ? await brookRead(directory, reuse)
            : await rawRead(segmentPaths, reuse);
      }
      const brook = results.brook!;
      const raw = results.raw!;
      if (brook.bytes !== logBytes || raw.bytes !== logBytes) {
        throw new Error(`read ${brook.bytes} and ${raw.bytes} bytes of ${logBytes}`);
      }
      const records = (logBytes / batches[0]!.length) * RECORDS_PER_BATCH;
      rows.push([
        `run ${run}`,
        `${mbPerSecond(brook.bytes, brook.ms)}, ${si((records / brook.ms) * 1000)} records/s`,
        `${mbPerSecond(raw.bytes, raw.ms)}`,
        percent(raw.ms / brook.ms),
      ]);
    }
    printTable(
      `Sequential read of a warm log, maxBytes 1 MiB, ${reuse ? 'one buffer reused' : 'a new buffer per read'}`,
      ['', 'PartitionLog.read', 'raw 1 MiB reads', 'Brook / raw'],
      rows,
    );
  }
} finally {
  removeDirectory(root);
}
