import assert from 'node:assert/strict';
import { appendFileSync, readdirSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ErrorCode } from '@brook/protocol';
import { LogError } from '../../src/errors.ts';
import { PartitionLog, type PartitionLogOptions } from '../../src/log/partition-log.ts';
import { batch, nodePool, tempDirectory, testConfig, valuesOf } from './helpers.ts';

function options(
  directory: string,
  overrides: Partial<PartitionLogOptions> = {},
): PartitionLogOptions {
  return {
    directory,
    pool: nodePool(),
    config: testConfig(),
    recoveryPoint: 0n,
    logStartOffset: 0n,
    cleanShutdown: false,
    ...overrides,
  };
}

describe('PartitionLog on disk', () => {
  it('assigns offsets, reads them back, and names files as Kafka does', async (t) => {
    const directory = join(tempDirectory(t), 'orders-0');
    const log = await PartitionLog.open(options(directory));
    const first = await log.append(batch('a', 3), { leaderEpoch: 0 });
    const second = await log.append(batch('b', 2), { leaderEpoch: 0 });
    assert.equal(first.firstOffset, 0n);
    assert.equal(first.lastOffset, 2n);
    assert.equal(second.firstOffset, 3n);
    assert.equal(log.logEndOffset, 5n);
    const read = await log.read(1n, { maxBytes: 1 << 20, minOneBatch: true });
    assert.deepEqual(valuesOf(read.records), [
      [0n, 'a-0'],
      [1n, 'a-1'],
      [2n, 'a-2'],
      [3n, 'b-0'],
      [4n, 'b-1'],
    ]);
    const fromSecond = await log.read(3n, { maxBytes: 1 << 20, minOneBatch: true });
    assert.equal(valuesOf(fromSecond.records)[0]?.[1], 'b-0');
    await log.close();
    assert.deepEqual(readdirSync(directory).sort(), [
      '00000000000000000000.index',
      '00000000000000000000.log',
      '00000000000000000000.timeindex',
      '00000000000000000005.snapshot',
      'leader-epoch-checkpoint',
    ]);
  });

  it('returns the first batch even when it is larger than maxBytes, and only whole batches', async (t) => {
    const log = await PartitionLog.open(options(tempDirectory(t)));
    await log.append(batch('big', 50), { leaderEpoch: 0 });
    await log.append(batch('next', 50), { leaderEpoch: 0 });
    const tiny = await log.read(0n, { maxBytes: 10, minOneBatch: true });
    assert.equal(valuesOf(tiny.records).length, 50);
    const none = await log.read(0n, { maxBytes: 10, minOneBatch: false });
    assert.equal(none.records.length, 0);
    const bounded = await log.read(0n, { maxBytes: 1 << 20, maxOffset: 50n, minOneBatch: true });
    assert.equal(valuesOf(bounded.records).length, 50, 'stops before the batch at maxOffset');
    await log.close();
  });

  it('refuses offsets outside the log with OFFSET_OUT_OF_RANGE', async (t) => {
    const log = await PartitionLog.open(options(tempDirectory(t)));
    await log.append(batch('a', 1), { leaderEpoch: 0 });
    await assert.rejects(
      log.read(5n, { maxBytes: 100, minOneBatch: true }),
      (error: unknown) =>
        error instanceof LogError && error.errorCode === ErrorCode.OFFSET_OUT_OF_RANGE,
    );
    assert.equal((await log.read(1n, { maxBytes: 100, minOneBatch: true })).records.length, 0);
    await log.close();
  });

  it('rejects corrupt and oversized batches with Kafka error codes', async (t) => {
    const log = await PartitionLog.open(
      options(tempDirectory(t), { config: testConfig({ maxMessageBytes: 200 }) }),
    );
    const corrupt = batch('x', 1);
    corrupt[corrupt.length - 1]! ^= 0xff;
    await assert.rejects(
      log.append(corrupt, { leaderEpoch: 0 }),
      (error: unknown) =>
        error instanceof LogError && error.errorCode === ErrorCode.CORRUPT_MESSAGE,
    );
    await assert.rejects(
      log.append(batch('y', 20), { leaderEpoch: 0 }),
      (error: unknown) =>
        error instanceof LogError && error.errorCode === ErrorCode.MESSAGE_TOO_LARGE,
    );
    await assert.rejects(
      log.append(batch('z', 1).subarray(0, 40), { leaderEpoch: 0 }),
      (error: unknown) =>
        error instanceof LogError && error.errorCode === ErrorCode.CORRUPT_MESSAGE,
    );
    assert.equal(log.logEndOffset, 0n, 'nothing was appended');
    await log.close();
  });

  it('rolls segments on segment.bytes and reads across them', async (t) => {
    const directory = tempDirectory(t);
    const log = await PartitionLog.open(
      options(directory, { config: testConfig({ segmentBytes: 600 }) }),
    );
    for (let i = 0; i < 10; i++) await log.append(batch(`s${i}`, 5), { leaderEpoch: 0 });
    assert.ok(log.segmentCount >= 3, `rolled into ${log.segmentCount} segments`);
    const all = await log.read(0n, { maxBytes: 1 << 20, minOneBatch: true });
    const values = [];
    let offset = 0n;
    while (offset < log.logEndOffset) {
      const read = await log.read(offset, { maxBytes: 1 << 20, minOneBatch: true });
      const got = valuesOf(read.records);
      values.push(...got);
      offset = got.at(-1)![0] + 1n;
    }
    assert.equal(values.length, 50);
    assert.deepEqual(
      values.map(([o]) => o),
      Array.from({ length: 50 }, (_, i) => BigInt(i)),
    );
    assert.ok(valuesOf(all.records).length >= 5);
    await log.close();
  });

  it('reopens after a clean close without recovery and continues the offsets', async (t) => {
    const directory = tempDirectory(t);
    const log = await PartitionLog.open(
      options(directory, { config: testConfig({ segmentBytes: 2000, indexIntervalBytes: 100 }) }),
    );
    for (let i = 0; i < 20; i++) await log.append(batch(`r${i}`, 4), { leaderEpoch: 1 });
    await log.close();
    const again = await PartitionLog.open(
      options(directory, {
        cleanShutdown: true,
        recoveryPoint: 80n,
        config: testConfig({ segmentBytes: 2000, indexIntervalBytes: 100 }),
      }),
    );
    assert.equal(again.logEndOffset, 80n);
    const read = await again.read(41n, { maxBytes: 1 << 20, minOneBatch: true });
    assert.equal(valuesOf(read.records)[0]?.[0], 40n);
    const next = await again.append(batch('after', 1), { leaderEpoch: 2 });
    assert.equal(next.firstOffset, 80n);
    assert.deepEqual(again.leaderEpochs.all, [
      { epoch: 1, startOffset: 0n },
      { epoch: 2, startOffset: 80n },
    ]);
    await again.close();
  });

  it('cuts a torn tail after a crash and keeps every whole batch', async (t) => {
    const directory = tempDirectory(t);
    const crashed = options(directory);
    t.after(() => crashed.pool.closeAll());
    const log = await PartitionLog.open(crashed);
    for (let i = 0; i < 5; i++) await log.append(batch(`t${i}`, 3), { leaderEpoch: 0 });
    await log.flush();
    const logFile = join(directory, '00000000000000000000.log');
    const sizeBefore = statSync(logFile).size;
    // A crash mid-write: half a batch of garbage after the last whole one.
    appendFileSync(logFile, batch('torn', 3).subarray(0, 30));
    const reopened = await PartitionLog.open(options(directory, { recoveryPoint: 0n }));
    assert.equal(reopened.logEndOffset, 15n);
    assert.equal(statSync(logFile).size, sizeBefore);
    const all = await reopened.read(0n, { maxBytes: 1 << 20, minOneBatch: true });
    assert.equal(valuesOf(all.records).length, 15);
    await reopened.close();
  });

  it('drops a batch whose CRC no longer matches, and everything after it', async (t) => {
    const directory = tempDirectory(t);
    const log = await PartitionLog.open(options(directory));
    const sizes: number[] = [];
    for (let i = 0; i < 4; i++) {
      const bytes = batch(`c${i}`, 2);
      sizes.push(bytes.length);
      await log.append(bytes, { leaderEpoch: 0 });
    }
    await log.close();
    const logFile = join(directory, '00000000000000000000.log');
    // Flip a byte inside the third batch's records.
    const { openSync, writeSync, closeSync } = await import('node:fs');
    const fd = openSync(logFile, 'r+');
    writeSync(fd, Buffer.from([0x55]), 0, 1, sizes[0]! + sizes[1]! + 70);
    closeSync(fd);
    const reopened = await PartitionLog.open(options(directory));
    assert.equal(reopened.logEndOffset, 4n);
    await reopened.close();
    truncateSync(logFile, 0);
  });

  it('applies retention.bytes and retention.ms by whole segments, never the active one', async (t) => {
    let now = 1_700_000_000_000;
    const log = await PartitionLog.open(
      options(tempDirectory(t), {
        config: testConfig({ segmentBytes: 300, retentionBytes: 700 }),
        clock: () => now,
      }),
    );
    for (let i = 0; i < 12; i++)
      await log.append(batch(`d${i}`, 2, BigInt(now)), { leaderEpoch: 0 });
    const before = log.segmentCount;
    const deleted = await log.applyRetention();
    assert.ok(deleted > 0);
    assert.equal(log.segmentCount, before - deleted);
    assert.ok(log.sizeBytes <= 700 + 300);
    assert.equal(log.logStartOffset, log.segmentBaseOffsets[0]);
    await assert.rejects(log.read(0n, { maxBytes: 100, minOneBatch: true }), LogError);
    log.updateConfig(testConfig({ segmentBytes: 300, retentionMs: 1000 }));
    now += 10_000;
    await log.applyRetention();
    assert.equal(log.segmentCount, 1, 'only the active segment is left');
    assert.equal(log.logStartOffset, log.activeSegment.baseOffset);
    await log.close();
  });

  it('advances the log start with deleteRecordsBefore', async (t) => {
    const log = await PartitionLog.open(
      options(tempDirectory(t), { config: testConfig({ segmentBytes: 300 }) }),
    );
    for (let i = 0; i < 10; i++) await log.append(batch(`e${i}`, 2), { leaderEpoch: 0 });
    const start = await log.deleteRecordsBefore(9n);
    assert.equal(start, 9n);
    const read = await log.read(9n, { maxBytes: 1 << 20, minOneBatch: true });
    assert.ok(valuesOf(read.records).some(([offset]) => offset === 9n));
    await assert.rejects(log.read(8n, { maxBytes: 100, minOneBatch: true }), LogError);
    await log.close();
  });

  it('truncates to an offset and appends again from there', async (t) => {
    const log = await PartitionLog.open(
      options(tempDirectory(t), { config: testConfig({ segmentBytes: 300 }) }),
    );
    for (let i = 0; i < 10; i++)
      await log.append(batch(`f${i}`, 2), { leaderEpoch: i < 5 ? 0 : 1 });
    await log.truncateTo(6n);
    assert.equal(log.logEndOffset, 6n);
    assert.deepEqual(log.leaderEpochs.all, [{ epoch: 0, startOffset: 0n }]);
    const next = await log.append(batch('g', 1), { leaderEpoch: 2 });
    assert.equal(next.firstOffset, 6n);
    const read = await log.read(4n, { maxBytes: 1 << 20, minOneBatch: true });
    assert.deepEqual(
      valuesOf(read.records).map(([, v]) => v),
      ['f2-0', 'f2-1'],
    );
    // A read returns one segment's batches, as Kafka's does; the new batch follows.
    const after = await log.read(6n, { maxBytes: 1 << 20, minOneBatch: true });
    assert.deepEqual(valuesOf(after.records), [[6n, 'g-0']]);
    await log.close();
  });

  it('finds offsets by timestamp', async (t) => {
    const log = await PartitionLog.open(
      options(tempDirectory(t), { config: testConfig({ indexIntervalBytes: 50 }) }),
    );
    for (let i = 0; i < 10; i++)
      await log.append(batch(`h${i}`, 2, 1000n + BigInt(i) * 100n), { leaderEpoch: 0 });
    assert.deepEqual(await log.offsetForTimestamp(1000n), { offset: 0n, timestamp: 1001n });
    assert.deepEqual(await log.offsetForTimestamp(1450n), { offset: 10n, timestamp: 1501n });
    assert.equal(await log.offsetForTimestamp(5000n), undefined);
    await log.close();
  });

  it('makes appends durable under flush.messages and shares fsyncs between concurrent appends', async (t) => {
    const log = await PartitionLog.open(
      options(tempDirectory(t), { config: testConfig({ flushMessages: 1 }) }),
    );
    const appends = await Promise.all(
      Array.from({ length: 20 }, (_, i) => log.append(batch(`j${i}`, 1), { leaderEpoch: 0 })),
    );
    await Promise.all(appends.map((a) => a.durable));
    assert.equal(log.recoveryPoint, 20n);
    await log.close();
  });
});
