/**
 * Idempotent producers through PartitionLog, over the in-memory file system: duplicates are
 * answered and not written, sequences are checked, and the producer state survives clean
 * restarts, crashes (snapshot plus bounded replay), truncation and retention.
 */
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import {
  ErrorCode,
  encodeRecordBatch,
  LOG_OVERHEAD_BYTES,
  readRecordBatchHeader,
} from '@brook/protocol';
import { LogError } from '../../src/errors.ts';
import { FileHandlePool } from '../../src/fs/file-handle-pool.ts';
import { MemoryFileSystem, seededRandom } from '../../src/fs/memory-file-system.ts';
import { LogManager } from '../../src/log/log-manager.ts';
import { LogSegment } from '../../src/log/log-segment.ts';
import {
  PartitionLog,
  type PartitionLogConfig,
  type PartitionLogOptions,
} from '../../src/log/partition-log.ts';
import {
  BATCHES_TO_RETAIN,
  type ProducerBatchMetadata,
} from '../../src/producer-state/producer-state-manager.ts';
import { batch, testConfig, valuesOf } from '../log/helpers.ts';

const DIRECTORY = '/data/t-0';
const T0 = 1_700_000_000_000n;

/** A batch from an idempotent producer: `count` records `prefix-i` from `baseSequence`. */
function producerBatch(
  producerId: bigint,
  epoch: number,
  baseSequence: number,
  count: number,
  prefix = `p${producerId}-s${baseSequence}`,
): Buffer {
  return encodeRecordBatch({
    baseTimestamp: T0,
    producerId,
    producerEpoch: epoch,
    baseSequence,
    records: Array.from({ length: count }, (_, i) => ({
      offsetDelta: i,
      timestampDelta: i,
      key: Buffer.from(`k${i}`),
      value: Buffer.from(`${prefix}-${i}`),
    })),
  });
}

function options(
  fs: MemoryFileSystem,
  overrides: Partial<PartitionLogOptions> = {},
  config: Partial<PartitionLogConfig> = {},
): PartitionLogOptions {
  return {
    directory: DIRECTORY,
    pool: new FileHandlePool(fs, { maxOpenFiles: 32 }),
    config: testConfig(config),
    recoveryPoint: 0n,
    logStartOffset: 0n,
    cleanShutdown: false,
    clock: () => Number(T0),
    ...overrides,
  };
}

/** Appends a copy (the log patches offsets in place; a retry re-sends the original bytes). */
function send(log: PartitionLog, bytes: Buffer) {
  return log.append(Buffer.from(bytes), { leaderEpoch: 0 });
}

async function allValues(log: PartitionLog): Promise<[bigint, string][]> {
  const values: [bigint, string][] = [];
  let offset = log.logStartOffset;
  while (offset < log.logEndOffset) {
    const read = await log.read(offset, { maxBytes: 1 << 20, minOneBatch: true });
    const got = valuesOf(read.records).filter(([at]) => at >= offset);
    values.push(...got);
    offset = got.at(-1)![0] + 1n;
  }
  return values;
}

function refusedWith(code: number) {
  return (error: unknown) => error instanceof LogError && error.errorCode === code;
}

/** Counts the segments the producer state replays (by base offset) while `run` goes. */
function countReplays(t: TestContext): bigint[] {
  const replayed: bigint[] = [];
  const original = LogSegment.prototype.forEachBatchHeaderFrom;
  t.mock.method(
    LogSegment.prototype,
    'forEachBatchHeaderFrom',
    function (this: LogSegment, ...args: Parameters<typeof original>) {
      replayed.push(this.baseOffset);
      return original.apply(this, args);
    },
  );
  return replayed;
}

describe('PartitionLog with idempotent producers', () => {
  it('writes a retried batch once and answers it with the original offsets', async () => {
    const fs = new MemoryFileSystem();
    const log = await PartitionLog.open(options(fs));
    const first = producerBatch(1n, 0, 0, 3);
    const second = producerBatch(1n, 0, 3, 2);
    const a = await send(log, first);
    await send(log, batch('plain', 1));
    const b = await send(log, second);
    assert.deepEqual([a.firstOffset, a.lastOffset, a.duplicate], [0n, 2n, false]);
    assert.deepEqual([b.firstOffset, b.lastOffset], [4n, 5n]);
    for (const [bytes, expected] of [
      [first, [0n, 2n]],
      [second, [4n, 5n]],
    ] as const) {
      const retry = await send(log, bytes);
      assert.equal(retry.duplicate, true);
      assert.deepEqual([retry.firstOffset, retry.lastOffset], expected);
      assert.equal(retry.recordCount, Number(expected[1] - expected[0]) + 1);
      assert.equal(retry.logAppendTime, -1n);
      await retry.durable;
    }
    assert.equal(log.logEndOffset, 6n, 'nothing written twice');
    assert.equal((await allValues(log)).length, 6);
    await log.close();
  });

  it('refuses out-of-order sequences and fenced epochs, writing nothing', async () => {
    const fs = new MemoryFileSystem();
    const log = await PartitionLog.open(options(fs));
    await send(log, producerBatch(2n, 1, 0, 2));
    await assert.rejects(
      send(log, producerBatch(2n, 1, 5, 1)),
      refusedWith(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER),
    );
    await assert.rejects(
      send(log, producerBatch(2n, 0, 2, 1)),
      refusedWith(ErrorCode.INVALID_PRODUCER_EPOCH),
    );
    await assert.rejects(
      send(log, producerBatch(2n, 2, 7, 1)),
      refusedWith(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER),
    );
    assert.equal(log.logEndOffset, 2n);
    // A producer that bumped its epoch starts again at 0.
    const bumped = await send(log, producerBatch(2n, 2, 0, 1));
    assert.equal(bumped.firstOffset, 2n);
    assert.equal(log.producerState.entry(2n)?.epoch, 2);
    await log.close();
  });

  it('answers a duplicate on a LogAppendTime topic with the original append time', async () => {
    const fs = new MemoryFileSystem();
    let now = Number(T0);
    const log = await PartitionLog.open(
      options(fs, { clock: () => now }, { messageTimestampType: 'LogAppendTime' }),
    );
    const bytes = producerBatch(3n, 0, 0, 2);
    const original = await send(log, bytes);
    now += 5000;
    const retry = await send(log, bytes);
    assert.equal(retry.duplicate, true);
    assert.equal(retry.logAppendTime, original.logAppendTime);
    assert.equal(retry.logAppendTime, T0);
    await log.close();
  });

  it('keeps the state across a clean close without replaying anything', async (t) => {
    const fs = new MemoryFileSystem();
    const log = await PartitionLog.open(options(fs));
    const last = producerBatch(4n, 0, 2, 2);
    await send(log, producerBatch(4n, 0, 0, 2));
    await send(log, last);
    await log.close();
    assert.ok(await fs.exists(`${DIRECTORY}/00000000000000000004.snapshot`));
    const replayed = countReplays(t);
    const reopened = await PartitionLog.open(
      options(fs, { cleanShutdown: true, recoveryPoint: 4n }),
    );
    assert.deepEqual(replayed, [], 'opening reads no producer state');
    await reopened.loadProducerState();
    assert.deepEqual(replayed, [], 'the snapshot at the log end spares any replay');
    const retry = await send(reopened, last);
    assert.deepEqual([retry.duplicate, retry.firstOffset], [true, 2n]);
    await assert.rejects(
      send(reopened, producerBatch(4n, 0, 9, 1)),
      refusedWith(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER),
    );
    assert.equal((await send(reopened, producerBatch(4n, 0, 4, 1))).firstOffset, 4n);
    await reopened.close();
  });

  it('rebuilds after a crash from the latest snapshot and the last segment only', async (t) => {
    const fs = new MemoryFileSystem();
    const log = await PartitionLog.open(options(fs, {}, { segmentBytes: 400 }));
    const sent = new Map<bigint, Buffer[]>();
    for (let i = 0; i < 10; i++) {
      const producerId = BigInt(10 + (i % 3));
      const previous = sent.get(producerId) ?? [];
      const bytes = producerBatch(producerId, 0, previous.length * 2, 2);
      previous.push(bytes);
      sent.set(producerId, previous);
      await send(log, bytes);
    }
    await log.flush();
    const segments = log.segmentBaseOffsets;
    assert.ok(segments.length >= 3, `rolled into ${segments.length} segments`);
    assert.deepEqual(log.producerState.snapshotOffsets, segments.slice(1));
    // An append that never reaches the disk: the crash loses it, and the state must too.
    const lost = producerBatch(10n, 0, 8, 2);
    await send(log, lost);
    assert.deepEqual(log.segmentBaseOffsets, segments, 'no roll: the append is not flushed');
    fs.crash();
    const replayed = countReplays(t);
    const reopened = await PartitionLog.open(options(fs, {}, { segmentBytes: 400 }));
    assert.deepEqual(replayed, [], 'the state is loaded on first use');
    await reopened.loadProducerState();
    assert.deepEqual(replayed, [segments.at(-1)], 'only the segment after the last snapshot');
    assert.equal(reopened.logEndOffset, 20n);
    let offset = 0n;
    for (let i = 0; i < 10; i++) {
      const producerId = BigInt(10 + (i % 3));
      const batches = sent.get(producerId)!;
      const bytes = batches[Math.floor(i / 3)]!;
      const retry = await send(reopened, bytes);
      assert.deepEqual([retry.duplicate, retry.firstOffset], [true, offset], `batch ${i}`);
      offset += 2n;
    }
    const resent = await send(reopened, lost);
    assert.deepEqual([resent.duplicate, resent.firstOffset], [false, 20n]);
    assert.deepEqual(
      reopened.producerState.snapshotOffsets.at(-1),
      20n,
      'the rebuilt state was snapshotted at the log end',
    );
    await reopened.close();
  });

  it('goes on appending when a snapshot cannot be written, and replays further back later', async (t) => {
    const fs = new MemoryFileSystem();
    const log = await PartitionLog.open(options(fs, {}, { segmentBytes: 300 }));
    const batches = Array.from({ length: 9 }, (_, i) => producerBatch(12n, 0, i * 2, 2));
    for (const bytes of batches.slice(0, 4)) await send(log, bytes);
    assert.deepEqual(log.producerState.snapshotOffsets, [6n]);
    fs.failNextSync(/\.snapshot\.tmp$/);
    for (const bytes of batches.slice(4)) await send(log, bytes);
    assert.deepEqual(log.segmentBaseOffsets, [0n, 6n, 12n]);
    assert.deepEqual(log.producerState.snapshotOffsets, [6n], 'the snapshot at 12 failed');
    await log.flush();
    fs.crash();
    const reopened = await PartitionLog.open(options(fs, {}, { segmentBytes: 300 }));
    const replayed = countReplays(t);
    await reopened.loadProducerState();
    assert.deepEqual(replayed, [6n, 12n], 'from the snapshot at 6');
    for (let i = 4; i < batches.length; i++) {
      const retry = await send(reopened, batches[i]!);
      assert.deepEqual([retry.duplicate, retry.firstOffset], [true, BigInt(i * 2)]);
    }
    await reopened.close();
  });

  it('forgets truncated batches: the producer may write them again', async () => {
    const fs = new MemoryFileSystem();
    const log = await PartitionLog.open(options(fs, {}, { segmentBytes: 300 }));
    const batches = Array.from({ length: 6 }, (_, i) => producerBatch(5n, 0, i * 2, 2));
    for (const bytes of batches) await send(log, bytes);
    assert.deepEqual(log.producerState.snapshotOffsets, [6n]);
    await log.truncateTo(4n);
    assert.equal(log.logEndOffset, 4n);
    assert.deepEqual(log.producerState.snapshotOffsets, [4n], 'rebuilt and snapshotted at 4');
    assert.equal(await fs.exists(`${DIRECTORY}/00000000000000000006.snapshot`), false);
    assert.equal(log.producerState.entry(5n)?.batches.at(-1)?.lastSequence, 3);
    // Batch 1 (offsets 2-3) is still there; batch 2 went and is accepted again.
    assert.equal((await send(log, batches[1]!)).duplicate, true);
    const again = await send(log, batches[2]!);
    assert.deepEqual([again.duplicate, again.firstOffset], [false, 4n]);
    await log.close();
    const reopened = await PartitionLog.open(
      options(fs, { cleanShutdown: true }, { segmentBytes: 300 }),
    );
    assert.equal((await send(reopened, batches[2]!)).firstOffset, 4n);
    assert.equal((await send(reopened, batches[3]!)).firstOffset, 6n);
    await reopened.close();
  });

  it('keeps the state through retention and deletes the snapshots of deleted segments', async () => {
    const fs = new MemoryFileSystem();
    const log = await PartitionLog.open(
      options(fs, {}, { segmentBytes: 300, retentionBytes: 300 }),
    );
    const batches = Array.from({ length: 8 }, (_, i) => producerBatch(6n, 0, i, 1));
    for (const bytes of batches) await send(log, bytes);
    assert.ok((await log.applyRetention()) > 0);
    const first = log.segmentBaseOffsets[0]!;
    assert.ok(log.producerState.snapshotOffsets.every((at) => at >= first));
    assert.equal((await send(log, batches[7]!)).duplicate, true);
    assert.equal((await send(log, producerBatch(6n, 0, 8, 1))).firstOffset, 8n);
    await log.close();
  });

  it('drops idle producers after producer.id.expiration.ms', async () => {
    const fs = new MemoryFileSystem();
    let now = Number(T0);
    const log = await PartitionLog.open(
      options(fs, { clock: () => now, producerIdExpirationMs: 60_000 }),
    );
    await send(log, producerBatch(7n, 0, 0, 1));
    now += 30_000;
    await send(log, producerBatch(8n, 0, 0, 1));
    now += 30_000;
    assert.equal(log.removeExpiredProducers(), 1);
    assert.equal(log.producerState.entry(7n), undefined);
    // Unknown again: any sequence goes.
    assert.equal((await send(log, producerBatch(7n, 0, 42, 1))).duplicate, false);
    await log.close();
  });

  it('applies replicated batches to the state without checking them', async () => {
    const fs = new MemoryFileSystem();
    const log = await PartitionLog.open(options(fs));
    const replicated = producerBatch(9n, 0, 0, 2);
    replicated.writeBigInt64BE(0n, 0);
    await log.append(replicated, { leaderEpoch: 0, origin: 'replication' });
    assert.equal(log.producerState.entry(9n)?.batches.length, 1);
    // The leader's producer then fails over to this log: its retry is recognised.
    assert.equal((await send(log, producerBatch(9n, 0, 0, 2))).duplicate, true);
    await log.close();
  });
});

/** The producer state a replay of the whole log gives (epoch and last batches per producer). */
async function stateFromWholeLog(
  log: PartitionLog,
): Promise<Map<bigint, { epoch: number; batches: ProducerBatchMetadata[] }>> {
  const state = new Map<bigint, { epoch: number; batches: ProducerBatchMetadata[] }>();
  let offset = log.logStartOffset;
  while (offset < log.logEndOffset) {
    const { records } = await log.read(offset, { maxBytes: 1 << 20, minOneBatch: true });
    for (let at = 0; at < records.length; ) {
      const header = readRecordBatchHeader(records, at);
      at += LOG_OVERHEAD_BYTES + header.batchLength;
      const lastOffset = header.baseOffset + BigInt(header.lastOffsetDelta);
      offset = lastOffset + 1n;
      if (header.producerId < 0n) continue;
      let entry = state.get(header.producerId);
      if (entry === undefined || entry.epoch !== header.producerEpoch) {
        entry = { epoch: header.producerEpoch, batches: [] };
        state.set(header.producerId, entry);
      }
      entry.batches.push({
        firstSequence: header.baseSequence,
        lastSequence: header.baseSequence + header.lastOffsetDelta,
        firstOffset: header.baseOffset,
        lastOffset,
        timestamp: header.maxTimestamp,
      });
      if (entry.batches.length > BATCHES_TO_RETAIN) entry.batches.shift();
    }
  }
  return state;
}

describe('PartitionLog producer state across crashes', () => {
  it('matches a replay of the whole recovered log after power loss at random moments', async () => {
    for (let seed = 1; seed <= 40; seed++) {
      const random = seededRandom(seed);
      const int = (n: number) => Math.floor(random() * n);
      const fs = new MemoryFileSystem();
      const config = { segmentBytes: 250 + int(400), flushMessages: int(2) === 0 ? 1 : 1e9 };
      let log = await PartitionLog.open(options(fs, {}, config));
      const next = new Map<bigint, { epoch: number; sequence: number; sent: Buffer[] }>();
      for (let round = 0; round < 3; round++) {
        const inFlight: Promise<unknown>[] = [];
        for (let i = 0; i < 12 + int(12); i++) {
          const producerId = BigInt(int(3));
          const producer = next.get(producerId) ?? { epoch: 0, sequence: 0, sent: [] };
          next.set(producerId, producer);
          let bytes: Buffer;
          const choice = random();
          if (choice < 0.15 && producer.sent.length > 0) {
            bytes = producer.sent[Math.max(0, producer.sent.length - 1 - int(5))]!; // a retry
          } else if (choice < 0.2) {
            bytes = batch(`plain${i}`, 1 + int(3));
          } else {
            if (choice < 0.25) {
              producer.epoch++;
              producer.sequence = 0;
            }
            const count = 1 + int(4);
            bytes = producerBatch(producerId, producer.epoch, producer.sequence, count);
            producer.sequence += count;
            producer.sent.push(bytes);
          }
          // The crash fails the fsyncs some appends wait for: their `durable` promises reject.
          inFlight.push(send(log, bytes).then((result) => result.durable.catch(() => {})));
          if (random() < 0.3) await Promise.allSettled(inFlight);
          if (random() < 0.1) inFlight.push(log.flush());
        }
        for (let i = int(40); i > 0; i--) await Promise.resolve();
        const recoveryPoint = random() < 0.5 ? log.recoveryPoint : 0n;
        fs.crash({ tornWrites: true, random });
        await Promise.allSettled(inFlight);
        log = await PartitionLog.open(options(fs, { recoveryPoint }, config));
        const expected = await stateFromWholeLog(log);
        await log.loadProducerState();
        assert.equal(log.producerState.producerCount, expected.size, `seed ${seed}`);
        for (const [producerId, entry] of expected) {
          const actual = log.producerState.entry(producerId);
          assert.deepEqual(
            { epoch: actual?.epoch, batches: actual?.batches },
            entry,
            `seed ${seed} round ${round} producer ${producerId}`,
          );
          // What the log kept decides where each producer goes on: after its last batch.
          const last = entry.batches.at(-1)!;
          next.set(producerId, {
            epoch: entry.epoch,
            sequence: last.lastSequence + 1,
            sent:
              next.get(producerId)?.sent.filter((bytes) => {
                const header = readRecordBatchHeader(bytes);
                return (
                  header.producerEpoch === entry.epoch && header.baseSequence <= last.lastSequence
                );
              }) ?? [],
          });
        }
        for (const producerId of next.keys()) {
          if (!expected.has(producerId)) next.delete(producerId);
        }
      }
      await log.close();
    }
  });
});

describe('LogManager and producer state', () => {
  it('passes producer.id.expiration.ms to its logs and expires idle producers in all of them', async () => {
    const fs = new MemoryFileSystem();
    let now = Number(T0);
    const manager = await LogManager.start({
      fs,
      dataDirectory: '/data',
      configFor: () => testConfig(),
      retentionCheckIntervalMs: 0,
      flushCheckIntervalMs: 0,
      checkpointIntervalMs: 0,
      cleanerBackoffMs: 0,
      producerIdExpirationMs: 10_000,
      producerIdExpirationCheckIntervalMs: 0,
      clock: () => now,
    });
    for (const partition of [0, 1]) {
      const log = await manager.getOrCreate({ topic: 't', partition });
      await send(log, producerBatch(BigInt(partition), 0, 0, 1));
    }
    now += 9_999;
    assert.equal(manager.removeExpiredProducers(), 0);
    now += 1;
    assert.equal(manager.removeExpiredProducers(), 2);
    await manager.shutdown();
    // A clean restart loads the (empty) snapshots: the producers stay forgotten.
    const restarted = await LogManager.start({
      fs,
      dataDirectory: '/data',
      configFor: () => testConfig(),
      retentionCheckIntervalMs: 0,
      flushCheckIntervalMs: 0,
      checkpointIntervalMs: 0,
      cleanerBackoffMs: 0,
      clock: () => now,
    });
    const state = await restarted.get({ topic: 't', partition: 0 })?.loadProducerState();
    assert.equal(state?.producerCount, 0);
    await restarted.shutdown();
  });
});
