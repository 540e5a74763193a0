import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryFileSystem, seededRandom } from '../../src/fs/memory-file-system.ts';
import {
  CLEAN_SHUTDOWN_FILE,
  LogManager,
  type LogManagerOptions,
  parseTopicPartition,
} from '../../src/log/log-manager.ts';
import { batch, testConfig, valuesOf } from './helpers.ts';

function options(
  fs: MemoryFileSystem,
  overrides: Partial<LogManagerOptions> = {},
): LogManagerOptions {
  return {
    fs,
    dataDirectory: '/data',
    configFor: (topic) =>
      testConfig(topic === 'flushy' ? { flushMessages: 1 } : { segmentBytes: 500 }),
    retentionCheckIntervalMs: 0,
    flushCheckIntervalMs: 0,
    checkpointIntervalMs: 0,
    ...overrides,
  };
}

async function readAll(manager: LogManager, topic: string, partition: number): Promise<string[]> {
  const log = manager.get({ topic, partition });
  assert.ok(log, `${topic}-${partition} is open`);
  const values: string[] = [];
  let offset = log.logStartOffset;
  while (offset < log.logEndOffset) {
    const read = await log.read(offset, { maxBytes: 1 << 20, minOneBatch: true });
    const got = valuesOf(read.records).filter(([o]) => o >= offset);
    values.push(...got.map(([, v]) => v));
    offset = got.at(-1)![0] + 1n;
  }
  return values;
}

describe('LogManager', () => {
  it('parses partition directory names, topics with dashes included', () => {
    assert.deepEqual(parseTopicPartition('my-topic-12'), { topic: 'my-topic', partition: 12 });
    assert.equal(parseTopicPartition('.kafka_cleanshutdown'), undefined);
    assert.equal(parseTopicPartition('recovery-point-offset-checkpoint'), undefined);
  });

  it('shuts down cleanly and starts again without recovery', async () => {
    const fs = new MemoryFileSystem();
    const first = await LogManager.start(options(fs));
    assert.equal(first.hadCleanShutdown, false);
    for (const partition of [0, 1, 2]) {
      const log = await first.getOrCreate({ topic: 'my-topic', partition });
      for (let i = 0; i < 6; i++)
        await log.append(batch(`p${partition}-${i}`, 2), { leaderEpoch: 0 });
    }
    await first.shutdown();
    assert.ok(await fs.exists(`/data/${CLEAN_SHUTDOWN_FILE}`));

    const second = await LogManager.start(options(fs));
    assert.equal(second.hadCleanShutdown, true);
    assert.equal(second.size, 3);
    assert.equal(await fs.exists(`/data/${CLEAN_SHUTDOWN_FILE}`), false, 'the marker is consumed');
    const values = await readAll(second, 'my-topic', 1);
    assert.equal(values.length, 12);
    assert.equal(values[0], 'p1-0-0');
    const log = second.get({ topic: 'my-topic', partition: 1 })!;
    assert.equal((await log.append(batch('more', 1), { leaderEpoch: 0 })).firstOffset, 12n);
    await second.shutdown();
  });

  it('recovers after a crash: durable appends survive, the marker is absent', async () => {
    const fs = new MemoryFileSystem();
    const manager = await LogManager.start(options(fs));
    const log = await manager.getOrCreate({ topic: 'flushy', partition: 0 });
    for (let i = 0; i < 10; i++) {
      const result = await log.append(batch(`d${i}`, 3), { leaderEpoch: 0 });
      await result.durable;
    }
    await manager.writeCheckpoints();
    fs.crash({ tornWrites: true, random: seededRandom(7) });
    const restarted = await LogManager.start(options(fs));
    assert.equal(restarted.hadCleanShutdown, false);
    const values = await readAll(restarted, 'flushy', 0);
    assert.equal(values.length, 30);
    assert.equal(values[29], 'd9-2');
    await restarted.shutdown();
  });

  it('deletes a partition so that it stays deleted across a crash', async () => {
    const fs = new MemoryFileSystem();
    const manager = await LogManager.start(options(fs));
    const log = await manager.getOrCreate({ topic: 'gone', partition: 0 });
    await log.append(batch('x', 1), { leaderEpoch: 0 });
    await log.flush();
    await manager.delete({ topic: 'gone', partition: 0 });
    assert.equal(manager.get({ topic: 'gone', partition: 0 }), undefined);
    fs.crash();
    const restarted = await LogManager.start(options(fs));
    assert.equal(restarted.get({ topic: 'gone', partition: 0 }), undefined);
    await restarted.shutdown();
  });

  it('checkpoints log start offsets and honours them after a restart', async () => {
    const fs = new MemoryFileSystem();
    const manager = await LogManager.start(options(fs));
    const log = await manager.getOrCreate({ topic: 't', partition: 0 });
    for (let i = 0; i < 8; i++) await log.append(batch(`s${i}`, 2), { leaderEpoch: 0 });
    await log.deleteRecordsBefore(5n);
    await manager.shutdown();
    const restarted = await LogManager.start(options(fs));
    assert.equal(restarted.get({ topic: 't', partition: 0 })?.logStartOffset, 5n);
    await restarted.shutdown();
  });

  it('opens many partitions with a small file handle bound', async () => {
    const fs = new MemoryFileSystem();
    const manager = await LogManager.start(options(fs, { maxOpenFiles: 8 }));
    for (let partition = 0; partition < 200; partition++) {
      const log = await manager.getOrCreate({ topic: 'wide', partition });
      await log.append(batch(`w${partition}`, 1), { leaderEpoch: 0 });
    }
    assert.ok(manager.pool.openFiles <= 8 + 2, `open files ${manager.pool.openFiles}`);
    await manager.shutdown();
    const restarted = await LogManager.start(options(fs, { maxOpenFiles: 8 }));
    assert.equal(restarted.size, 200);
    assert.deepEqual(await readAll(restarted, 'wide', 137), ['w137-0']);
    await restarted.shutdown();
  });
});
