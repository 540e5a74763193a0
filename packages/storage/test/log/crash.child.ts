/**
 * The child of `crash.test.ts`: appends to a partition log on the real disk until it is killed.
 *
 *   node crash.child.ts <directory> <leaderEpoch> [timeLimitMs]
 *
 * Opens the log in `directory` as after a crash (full recovery), writes `ready <logEndOffset>` on
 * stdout, then keeps IN_FLIGHT appends going at once with `flush.messages=1` (so concurrent
 * appends share fsyncs), each batch's content derived from its offset (`expectedBatch`). After an
 * append's `durable` resolves it writes its last offset, `<lastOffset>\n`, on stdout: from then on
 * the parent may hold the log to it. A reader runs beside the appends and checks that reads
 * return whole batches with the expected bytes.
 *
 * It binds nothing, and stops by itself when its stdin closes (the parent died) or after
 * `timeLimitMs`. Any failure is written on stderr and ends it with a non-zero code.
 */
import {
  encodeRecordBatch,
  setBatchBaseOffset,
  setBatchPartitionLeaderEpoch,
} from '@brook/protocol';
import { wholeBatchesLength } from '../../src/log/log-segment.ts';
import { PartitionLog, type PartitionLogConfig } from '../../src/log/partition-log.ts';
import { nodePool, testConfig } from './helpers.ts';

/** Small segments and a dense index, so crashes land around rolls and index entries too. */
export const CRASH_LOG_CONFIG: PartitionLogConfig = testConfig({
  flushMessages: 1,
  segmentBytes: 256 * 1024,
  indexIntervalBytes: 1024,
});

const IN_FLIGHT = 8;
const BASE_TIMESTAMP = 1_700_000_000_000n;

/** A 32-bit mix of an offset and a salt (same everywhere: the parent recomputes it). */
function mix(offset: bigint, salt: number): number {
  let h = Math.imul(Number(offset & 0xffffffffn) ^ salt, 0x9e3779b1);
  h ^= Number(offset >> 32n);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** How many records the batch starting at `baseOffset` holds. */
export function recordCountAt(baseOffset: bigint): number {
  return 1 + (mix(baseOffset, 1) % 16);
}

/** The value of the record at `offset`: mostly small, now and then several KiB. */
export function valueAt(offset: bigint): Buffer {
  const h = mix(offset, 2);
  const length = h % 40 === 0 ? 4096 + (h % 8192) : 1 + (h % 700);
  const value = Buffer.allocUnsafe(length);
  let state = h | 1;
  for (let i = 0; i < length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    value[i] = state & 0xff;
  }
  return value;
}

/** The batch at `baseOffset` as the log stores it (offset and leader epoch patched in). */
export function expectedBatch(baseOffset: bigint, leaderEpoch: number): Buffer {
  const bytes = producedBatch(baseOffset);
  setBatchBaseOffset(bytes, baseOffset);
  setBatchPartitionLeaderEpoch(bytes, leaderEpoch);
  return bytes;
}

/** The batch at `baseOffset` as a producer sends it (base offset 0, no epoch). */
function producedBatch(baseOffset: bigint): Buffer {
  const count = recordCountAt(baseOffset);
  return encodeRecordBatch({
    baseTimestamp: BASE_TIMESTAMP + baseOffset,
    records: Array.from({ length: count }, (_, i) => {
      const offset = baseOffset + BigInt(i);
      return {
        offsetDelta: i,
        timestampDelta: i,
        key: Buffer.from(`k-${offset}`),
        value: valueAt(offset),
      };
    }),
  });
}

/** The append request starting at `firstOffset`: one to three batches. */
function appendRequest(firstOffset: bigint): { records: Buffer; nextOffset: bigint } {
  const batches: Buffer[] = [];
  let next = firstOffset;
  for (let i = 0, n = 1 + (mix(firstOffset, 3) % 3); i < n; i++) {
    batches.push(producedBatch(next));
    next += BigInt(recordCountAt(next));
  }
  return { records: Buffer.concat(batches), nextOffset: next };
}

function fail(message: string): never {
  process.stderr.write(`crash child: ${message}\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  const [directory, epochArgument, limitArgument] = process.argv.slice(2);
  if (directory === undefined || epochArgument === undefined) {
    fail('usage: crash.child.ts <directory> <leaderEpoch> [timeLimitMs]');
  }
  const leaderEpoch = Number(epochArgument);
  const timeLimitMs = Number(limitArgument ?? 30_000);
  // Never outlive the parent: its death closes our stdin; and never run past the time limit.
  process.stdin.on('end', () => process.exit(3));
  process.stdin.on('error', () => process.exit(3));
  process.stdin.resume();
  setTimeout(() => process.exit(4), timeLimitMs).unref();
  process.stdout.on('error', () => process.exit(3));

  const log = await PartitionLog.open({
    directory,
    pool: nodePool(),
    config: CRASH_LOG_CONFIG,
    recoveryPoint: 0n,
    logStartOffset: 0n,
    cleanShutdown: false,
  });
  process.stdout.write(`ready ${log.logEndOffset}\n`);

  // Appends are serialized in call order, so each one's offsets are known when it is made.
  let nextOffset = log.logEndOffset;
  const appender = async (): Promise<void> => {
    for (;;) {
      const firstOffset = nextOffset;
      const request = appendRequest(firstOffset);
      nextOffset = request.nextOffset;
      const result = await log.append(request.records, { leaderEpoch });
      if (result.firstOffset !== firstOffset || result.lastOffset !== request.nextOffset - 1n) {
        fail(`append got ${result.firstOffset}..${result.lastOffset}, expected ${firstOffset}`);
      }
      await result.durable;
      process.stdout.write(`${result.lastOffset}\n`);
    }
  };
  const reader = async (): Promise<void> => {
    for (let round = 0; ; round++) {
      const end = log.logEndOffset;
      if (end === 0n) {
        await new Promise((resolve) => setImmediate(resolve));
        continue;
      }
      const offset = BigInt(mix(BigInt(round), 4)) % end;
      const maxBytes = 1 + (mix(BigInt(round), 5) % (64 * 1024));
      const { records } = await log.read(offset, { maxBytes, minOneBatch: true });
      if (records.length === 0) fail(`read at ${offset} (log end ${end}) returned nothing`);
      if (wholeBatchesLength(records) !== records.length) {
        fail(`read at ${offset} returned a partial batch`);
      }
      let position = 0;
      while (position < records.length) {
        const base = records.readBigInt64BE(position);
        const size = 12 + records.readInt32BE(position + 8);
        const epoch = records.readInt32BE(position + 12);
        if (!expectedBatch(base, epoch).equals(records.subarray(position, position + size))) {
          fail(`read at ${offset}: the batch at ${base} differs from what was appended`);
        }
        position += size;
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  await Promise.all([...Array.from({ length: IN_FLIGHT }, () => appender()), reader()]);
}

if (import.meta.main) {
  main().catch((error: unknown) => fail(error instanceof Error ? (error.stack ?? '') : `${error}`));
}
