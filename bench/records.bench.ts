/**
 * Records and CRC benchmark: CRC-32C native vs plain JS, record batch (magic 2) encode and
 * decode against kafkajs's own, every codec, and the zero-copy decode of a Produce-sized blob.
 *
 *   npx node bench/records.bench.ts
 *
 * Not part of `npm test`. Figures and how they were taken: bench/README.md.
 */
import { crc32 } from 'node:zlib';
import {
  CompressionType,
  crc32c,
  decodeRecordBatch,
  decodeRecordBatches,
  encodeRecordBatch,
  type KafkaRecordInput,
} from '../packages/protocol/src/records/index.ts';
import { kafkajsDecode, kafkajsEncode } from '../packages/protocol/test/records/kafkajs.ts';
import { crc32cSlicingBy8, crc32cTable } from './crc32c-table.ts';

const WARMUP_MS = 500;
const SAMPLE_MS = 400;
const RECORDS_PER_BATCH = 1000;
const VALUE_BYTES = 100;

const SAMPLES = 5;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1]!;
}

/** Calls per second of `run`: the median of SAMPLES timed runs after a warm-up. */
function rate(run: () => unknown): number {
  const until = performance.now() + WARMUP_MS;
  while (performance.now() < until) run();
  const samples: number[] = [];
  for (let sample = 0; sample < SAMPLES; sample++) {
    let calls = 0;
    const start = performance.now();
    let now = start;
    while (now - start < SAMPLE_MS) {
      for (let index = 0; index < 4; index++) run();
      calls += 4;
      now = performance.now();
    }
    samples.push((calls * 1000) / (now - start));
  }
  return median(samples);
}

async function rateAsync(run: () => Promise<unknown>): Promise<number> {
  const until = performance.now() + WARMUP_MS;
  while (performance.now() < until) await run();
  const samples: number[] = [];
  for (let sample = 0; sample < SAMPLES; sample++) {
    let calls = 0;
    const start = performance.now();
    let now = start;
    while (now - start < SAMPLE_MS) {
      await run();
      calls++;
      now = performance.now();
    }
    samples.push((calls * 1000) / (now - start));
  }
  return median(samples);
}

function fmt(value: number, digits = 2): string {
  return value.toLocaleString('en-US', {
    maximumFractionDigits: digits,
    minimumFractionDigits: digits,
  });
}

function millions(perSecond: number): string {
  return `${fmt(perSecond / 1e6)} M/s`;
}

function row(cells: string[], widths: number[]): void {
  console.log(cells.map((cell, index) => cell.padEnd(widths[index] ?? 12)).join('  '));
}

/** A JSON-ish event padded to exactly VALUE_BYTES: compressible, like real payloads. */
function eventValue(index: number): Buffer {
  const text = `{"id":${index},"user":"user-${index % 977}","type":"page_view","path":"/p/${index % 131}"}`;
  return Buffer.from(text.padEnd(VALUE_BYTES, ' ').slice(0, VALUE_BYTES));
}

const records: KafkaRecordInput[] = Array.from({ length: RECORDS_PER_BATCH }, (_, index) => ({
  timestampDelta: index,
  offsetDelta: index,
  key: null,
  value: eventValue(index),
}));
const kafkajsRecords = records.map((record, index) => ({
  offsetDelta: index,
  timestampDelta: record.timestampDelta ?? 0,
  key: null,
  value: record.value as Buffer,
}));
const baseTimestamp = 1_700_000_000_000n;

console.log(`Node ${process.version}, ${process.arch}`);
console.log('');

// ---- CRC-32C ---------------------------------------------------------------------------------
{
  const data = Buffer.alloc(1024 * 1024);
  for (let index = 0; index < data.length; index++) data[index] = (index * 2654435761) >>> 24;
  const expected = crc32c(data);
  if (crc32cTable(data) !== expected || crc32cSlicingBy8(data) !== expected) {
    throw new Error('CRC-32C implementations disagree');
  }
  console.log('CRC-32C over 1 MiB');
  const widths = [44, 12];
  row(['implementation', 'GB/s'], widths);
  const gbPerSecond = (callsPerSecond: number) => fmt((callsPerSecond * data.length) / 1e9);
  row(['@node-rs/crc32 crc32c (native, SSE 4.2)', gbPerSecond(rate(() => crc32c(data)))], widths);
  row(['plain JS, byte-wise table', gbPerSecond(rate(() => crc32cTable(data)))], widths);
  row(['plain JS, slicing-by-8', gbPerSecond(rate(() => crc32cSlicingBy8(data)))], widths);
  row(
    ['(node:zlib crc32, CRC-32 of legacy messages)', gbPerSecond(rate(() => crc32(data)))],
    widths,
  );
  console.log('');
}

// ---- v2 batches, uncompressed, Brook vs kafkajs ------------------------------------------------
{
  const batch = encodeRecordBatch({ baseTimestamp, records });
  const kafkajsBatch = await kafkajsEncode(
    {
      firstTimestamp: Number(baseTimestamp),
      maxTimestamp: Number(baseTimestamp) + RECORDS_PER_BATCH - 1,
      lastOffsetDelta: RECORDS_PER_BATCH - 1,
      partitionLeaderEpoch: -1,
      producerEpoch: -1,
      firstSequence: -1,
    },
    kafkajsRecords,
  );
  if (!decodeRecordBatch(kafkajsBatch).records[999]!.value!.equals(records[999]!.value!)) {
    throw new Error('kafkajs batch does not decode');
  }
  console.log(
    `Record batch v2, ${RECORDS_PER_BATCH} records of ${VALUE_BYTES}-byte values, no compression ` +
      `(${batch.length} bytes)`,
  );
  const widths = [34, 16, 16];
  row(['', 'Brook', 'kafkajs 2.2.4'], widths);
  const brookEncode = rate(() => encodeRecordBatch({ baseTimestamp, records })) * RECORDS_PER_BATCH;
  const kafkajsEncodeRate =
    (await rateAsync(() =>
      kafkajsEncode(
        {
          firstTimestamp: Number(baseTimestamp),
          maxTimestamp: Number(baseTimestamp) + RECORDS_PER_BATCH - 1,
          lastOffsetDelta: RECORDS_PER_BATCH - 1,
        },
        kafkajsRecords,
      ),
    )) * RECORDS_PER_BATCH;
  row(['encode (records/s)', millions(brookEncode), millions(kafkajsEncodeRate)], widths);
  const brookDecode = rate(() => decodeRecordBatch(batch)) * RECORDS_PER_BATCH;
  const kafkajsDecodeRate = (await rateAsync(() => kafkajsDecode(batch))) * RECORDS_PER_BATCH;
  row(['decode (records/s)', millions(brookDecode), millions(kafkajsDecodeRate)], widths);
  console.log('');
}

// ---- every codec -------------------------------------------------------------------------------
{
  console.log(
    `Record batch v2 by codec, ${RECORDS_PER_BATCH} records of ${VALUE_BYTES} bytes (JSON-like)`,
  );
  const widths = [10, 12, 16, 16, 22];
  row(['codec', 'bytes', 'encode rec/s', 'decode rec/s', 'kafkajs enc / dec'], widths);
  const names = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;
  for (const compression of [0, 1, 2, 3, 4] as const) {
    const encoded = encodeRecordBatch({ baseTimestamp, compression, records });
    const encodeRate = rate(() => encodeRecordBatch({ baseTimestamp, compression, records }));
    const decodeRate = rate(() => decodeRecordBatch(encoded));
    let kafkajsCell = '';
    if (compression === CompressionType.gzip) {
      const options = {
        compression,
        firstTimestamp: Number(baseTimestamp),
        maxTimestamp: Number(baseTimestamp) + RECORDS_PER_BATCH - 1,
        lastOffsetDelta: RECORDS_PER_BATCH - 1,
      };
      const kafkajsEncodeRate = await rateAsync(() => kafkajsEncode(options, kafkajsRecords));
      const kafkajsDecodeRate = await rateAsync(() => kafkajsDecode(encoded));
      kafkajsCell = `${millions(kafkajsEncodeRate * RECORDS_PER_BATCH)} / ${millions(kafkajsDecodeRate * RECORDS_PER_BATCH)}`;
    }
    row(
      [
        names[compression],
        String(encoded.length),
        millions(encodeRate * RECORDS_PER_BATCH),
        millions(decodeRate * RECORDS_PER_BATCH),
        kafkajsCell,
      ],
      widths,
    );
  }
  console.log('');
}

// ---- zero-copy decode of a Produce-like 1 MiB blob ---------------------------------------------
{
  const batches: Buffer[] = [];
  let total = 0;
  while (total < 1024 * 1024) {
    const batch = encodeRecordBatch({ baseTimestamp, records: records.slice(0, 500) });
    batches.push(batch);
    total += batch.length;
  }
  const blob = Buffer.concat(batches);
  const { batches: decoded } = decodeRecordBatches(blob);
  let count = 0;
  for (const batch of decoded) {
    for (const record of batch.records) {
      if (record.value!.buffer !== blob.buffer) throw new Error('a decoded value was copied');
      count++;
    }
  }
  const perSecond = rate(() => decodeRecordBatches(blob));
  console.log(
    `Produce-like blob: ${decoded.length} batches, ${count} records, ${blob.length} bytes; ` +
      'every value shares the input memory (value.buffer === blob.buffer)',
  );
  console.log(
    `decode whole blob: ${fmt(1000 / perSecond, 3)} ms (${millions(perSecond * count)} records, ` +
      `${fmt((perSecond * blob.length) / 1e9)} GB/s)`,
  );
}
