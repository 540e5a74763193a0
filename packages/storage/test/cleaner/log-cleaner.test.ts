import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeRecordBatches, ErrorCode, encodeRecordBatch } from '@brook/protocol';
import fc from 'fast-check';
import { cleanLog, needsCleaning } from '../../src/cleaner/log-cleaner.ts';
import { LogError } from '../../src/errors.ts';
import type { FileSystem } from '../../src/fs/file-system.ts';
import { MemoryFileSystem, seededRandom } from '../../src/fs/memory-file-system.ts';
import { PartitionLog, type PartitionLogConfig } from '../../src/log/partition-log.ts';
import { poolOver, testConfig } from '../log/helpers.ts';

const NOW = 1_800_000_000_000;

function compactConfig(overrides: Partial<PartitionLogConfig> = {}): PartitionLogConfig {
  return testConfig({
    cleanupPolicy: ['compact'],
    segmentBytes: 400,
    indexIntervalBytes: 64,
    minCleanableDirtyRatio: 0.1,
    deleteRetentionMs: 60_000,
    ...overrides,
  });
}

/** One record per batch: key, value (null for a tombstone), timestamp. */
function keyed(key: string, value: string | null, timestamp: number): Buffer {
  return encodeRecordBatch({
    baseTimestamp: BigInt(timestamp),
    records: [{ key: Buffer.from(key), value: value === null ? null : Buffer.from(value) }],
  });
}

interface Stored {
  offset: bigint;
  key: string;
  value: string | null;
}

async function readLog(log: PartitionLog): Promise<Stored[]> {
  const result: Stored[] = [];
  let offset = log.logStartOffset;
  while (offset < log.logEndOffset) {
    const read = await log.read(offset, { maxBytes: 1 << 20, minOneBatch: true });
    if (read.records.length === 0) break;
    let last = offset;
    for (const batch of decodeRecordBatches(read.records).batches) {
      for (const record of batch.records) {
        const at = batch.baseOffset + BigInt(record.offsetDelta);
        if (at >= offset) {
          result.push({
            offset: at,
            key: record.key!.toString(),
            value: record.value?.toString() ?? null,
          });
        }
      }
      last = batch.baseOffset + BigInt(batch.lastOffsetDelta);
    }
    offset = last + 1n;
  }
  return result;
}

/** The invariants of a compacted log, given everything that was appended (by offset). */
function checkCompacted(stored: Stored[], appended: Stored[], activeBase: bigint): void {
  const byOffset = new Map(appended.map((r) => [r.offset, r]));
  const latest = new Map<string, Stored>();
  for (const record of appended) latest.set(record.key, record);
  let previous = -1n;
  for (const record of stored) {
    assert.ok(record.offset > previous, 'offsets increase');
    previous = record.offset;
    assert.deepEqual(record, byOffset.get(record.offset), 'a record keeps its offset and content');
  }
  const storedOffsets = new Set(stored.map((r) => r.offset));
  for (const record of latest.values()) {
    if (record.value !== null) {
      assert.ok(storedOffsets.has(record.offset), `the latest value of ${record.key} is kept`);
    }
  }
  for (const record of appended) {
    if (record.offset >= activeBase)
      assert.ok(storedOffsets.has(record.offset), 'the active segment is untouched');
  }
}

async function openLog(
  fs: FileSystem,
  config: PartitionLogConfig,
  clean = false,
): Promise<PartitionLog> {
  return PartitionLog.open({
    directory: '/data/compacted-0',
    pool: poolOver(fs),
    config,
    recoveryPoint: 0n,
    logStartOffset: 0n,
    cleanShutdown: clean,
    clock: () => NOW,
  });
}

describe('log cleaner', () => {
  it('keeps the latest record per key, keeps offsets, and leaves the active segment', async () => {
    const fs = new MemoryFileSystem();
    const log = await openLog(fs, compactConfig());
    const appended: Stored[] = [];
    for (let round = 0; round < 6; round++) {
      for (const key of ['a', 'b', 'c']) {
        const value = `${key}${round}`;
        const { firstOffset } = await log.append(keyed(key, value, NOW - 1000), { leaderEpoch: 0 });
        appended.push({ offset: firstOffset, key, value });
      }
    }
    assert.ok(log.segmentCount > 2);
    assert.equal(needsCleaning(log, NOW, compactConfig()).due, true);
    const stats = await cleanLog(log, compactConfig(), { now: NOW, dedupeBufferBytes: 1 << 20 });
    assert.ok(stats && stats.recordsRemoved > 0 && stats.bytesAfter < stats.bytesBefore);
    const stored = await readLog(log);
    checkCompacted(stored, appended, log.activeSegment.baseOffset);
    const cleanedPart = stored.filter((r) => r.offset < log.firstDirtyOffset);
    const keys = cleanedPart.map((r) => r.key);
    assert.equal(new Set(keys).size, keys.length, 'the cleaned part holds one record per key');
    // Nothing more to do until new dirt arrives.
    assert.equal(needsCleaning(log, NOW, compactConfig()).due, false);
    await log.close();
  });

  it('drops tombstones only after delete.retention.ms', async () => {
    const fs = new MemoryFileSystem();
    const log = await openLog(fs, compactConfig());
    await log.append(keyed('gone', 'v1', NOW - 10_000), { leaderEpoch: 0 });
    const { firstOffset } = await log.append(keyed('gone', null, NOW - 10_000), { leaderEpoch: 0 });
    for (let i = 0; i < 20; i++)
      await log.append(keyed(`filler${i}`, 'x'.repeat(20), NOW), { leaderEpoch: 0 });
    await cleanLog(log, compactConfig(), { now: NOW, dedupeBufferBytes: 1 << 20 });
    let stored = await readLog(log);
    assert.deepEqual(
      stored.filter((r) => r.key === 'gone'),
      [{ offset: firstOffset, key: 'gone', value: null }],
      'the tombstone stays while young, the value it deletes is gone',
    );
    log.firstDirtyOffset = 0n;
    await cleanLog(log, compactConfig(), { now: NOW + 120_000, dedupeBufferBytes: 1 << 20 });
    stored = await readLog(log);
    assert.deepEqual(
      stored.filter((r) => r.key === 'gone'),
      [],
      'an old tombstone is dropped',
    );
    await log.close();
  });

  it('refuses records without a key on a compacted topic', async () => {
    const log = await openLog(new MemoryFileSystem(), compactConfig());
    const keyless = encodeRecordBatch({
      baseTimestamp: BigInt(NOW),
      records: [{ key: null, value: Buffer.from('v') }],
    });
    await assert.rejects(
      log.append(keyless, { leaderEpoch: 0 }),
      (error: unknown) => error instanceof LogError && error.errorCode === ErrorCode.INVALID_RECORD,
    );
    await log.close();
  });

  it('compacts within a bounded offset map, over several passes', async () => {
    const log = await openLog(new MemoryFileSystem(), compactConfig());
    const appended: Stored[] = [];
    for (let i = 0; i < 60; i++) {
      const key = `key-${i % 15}`;
      const { firstOffset } = await log.append(keyed(key, `v${i}`, NOW), { leaderEpoch: 0 });
      appended.push({ offset: firstOffset, key, value: `v${i}` });
    }
    // Room for only a few keys: each pass covers part of the dirty section.
    let passes = 0;
    while (
      (await cleanLog(log, compactConfig(), { now: NOW, dedupeBufferBytes: 5 * 70 })) !== undefined
    ) {
      passes++;
      checkCompacted(await readLog(log), appended, log.activeSegment.baseOffset);
      assert.ok(passes < 50);
    }
    assert.ok(passes > 1, `took ${passes} passes`);
    await log.close();
  });

  it('matches the model under random appends, tombstones and cleanings', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.record({
              kind: fc.constant('put' as const),
              key: fc.integer({ min: 0, max: 6 }),
              tombstone: fc.boolean(),
            }),
            fc.record({ kind: fc.constant('clean' as const) }),
            fc.record({ kind: fc.constant('reopen' as const) }),
          ),
          { maxLength: 60 },
        ),
        async (commands) => {
          const fs = new MemoryFileSystem();
          let log = await openLog(fs, compactConfig({ segmentBytes: 250 }));
          const appended: Stored[] = [];
          for (const command of commands) {
            if (command.kind === 'put') {
              const key = `k${command.key}`;
              const value = command.tombstone ? null : `v${appended.length}`;
              const { firstOffset } = await log.append(keyed(key, value, NOW), { leaderEpoch: 0 });
              appended.push({ offset: firstOffset, key, value });
            } else if (command.kind === 'clean') {
              await cleanLog(log, compactConfig(), { now: NOW, dedupeBufferBytes: 1 << 16 });
            } else {
              const firstDirty = log.firstDirtyOffset;
              await log.close();
              log = await openLog(fs, compactConfig({ segmentBytes: 250 }), true);
              log.firstDirtyOffset = firstDirty;
            }
            checkCompacted(await readLog(log), appended, log.activeSegment.baseOffset);
          }
          await log.close();
        },
      ),
      { numRuns: 25 },
    );
  });

  it('survives a crash at any step of a segment swap', async () => {
    // Count the file-system calls one clean makes, then crash at each of them in turn.
    const appendAll = async (log: PartitionLog) => {
      const appended: Stored[] = [];
      for (let i = 0; i < 24; i++) {
        const key = `k${i % 4}`;
        const { firstOffset, durable } = await log.append(keyed(key, `v${i}`, NOW), {
          leaderEpoch: 0,
        });
        await durable;
        appended.push({ offset: firstOffset, key, value: `v${i}` });
      }
      await log.flush();
      return appended;
    };
    const config = compactConfig({ flushMessages: 1 });
    const counting = countingFileSystem(new MemoryFileSystem());
    const probe = await openLog(counting.fs, config);
    await appendAll(probe);
    const before = counting.calls();
    await cleanLog(probe, config, { now: NOW, dedupeBufferBytes: 1 << 20 });
    const steps = counting.calls() - before;
    assert.ok(steps > 5);
    for (let step = 1; step <= steps; step++) {
      const memory = new MemoryFileSystem();
      const crashing = countingFileSystem(memory);
      const log = await openLog(crashing.fs, config);
      const appended = await appendAll(log);
      crashing.crashAfter(step, () =>
        memory.crash({ tornWrites: true, random: seededRandom(step) }),
      );
      await cleanLog(log, config, { now: NOW, dedupeBufferBytes: 1 << 20 }).catch(() => {});
      const reopened = await openLog(memory, config);
      const stored = await readLog(reopened);
      checkCompacted(stored, appended, reopened.activeSegment.baseOffset);
      assert.deepEqual(
        new Set(stored.map((r) => r.key)),
        new Set(appended.map((r) => r.key)),
        `crash at step ${step}: no key lost`,
      );
      await reopened.close();
    }
  });
});

/** Wraps a file system to count calls, and to crash (and fail) at the n-th one. */
function countingFileSystem(inner: FileSystem): {
  fs: FileSystem;
  calls: () => number;
  crashAfter: (n: number, crash: () => void) => void;
} {
  let count = 0;
  let crashAt = Number.POSITIVE_INFINITY;
  let onCrash: () => void = () => {};
  const tick = () => {
    count++;
    if (count === crashAt) {
      onCrash();
      throw Object.assign(new Error('simulated crash'), { code: 'EIO' });
    }
    if (count > crashAt) throw Object.assign(new Error('crashed'), { code: 'EIO' });
  };
  const wrapHandle = (handle: Awaited<ReturnType<FileSystem['open']>>) =>
    new Proxy(handle, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          tick();
          return value.apply(target, args);
        };
      },
    });
  const fs = new Proxy(inner, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        tick();
        const result = await value.apply(target, args);
        return property === 'open' ? wrapHandle(result) : result;
      };
    },
  });
  return {
    fs,
    calls: () => count,
    crashAfter: (n, crash) => {
      crashAt = count + n;
      onCrash = crash;
    },
  };
}
