import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ErrorCode } from '@brook/protocol';
import { LogError, StorageCorruptionError } from '../../src/errors.ts';
import { MemoryFileSystem } from '../../src/fs/memory-file-system.ts';
import {
  BATCHES_TO_RETAIN,
  decodeSnapshot,
  decrementSequence,
  incrementSequence,
  type ProducerBatchHeader,
  ProducerStateManager,
  producerSnapshotFileName,
} from '../../src/producer-state/producer-state-manager.ts';

const INT32_MAX = 0x7fffffff;
const DIRECTORY = '/data/t-0';

/** A producer's batch header as the log sees it once offsets are assigned. */
function header(
  producerId: bigint,
  epoch: number,
  baseSequence: number,
  count: number,
  baseOffset: bigint,
): ProducerBatchHeader {
  return {
    baseOffset,
    lastOffsetDelta: count - 1,
    maxTimestamp: 1_700_000_000_000n,
    producerId,
    producerEpoch: epoch,
    baseSequence,
    isControlBatch: false,
  };
}

async function manager(
  fs = new MemoryFileSystem(),
  expirationMs?: number,
): Promise<{ fs: MemoryFileSystem; state: ProducerStateManager }> {
  await fs.mkdir(DIRECTORY);
  const state = await ProducerStateManager.load({
    fs,
    directory: DIRECTORY,
    ...(expirationMs !== undefined ? { expirationMs } : {}),
  });
  return { fs, state };
}

/** Checks one batch as a client append and commits it; returns a duplicate's original offsets. */
function append(state: ProducerStateManager, batch: ProducerBatchHeader, now = 1000) {
  const producers = state.startAppend('client', now);
  const duplicate = producers.check(batch);
  if (duplicate === undefined)
    producers.commit(batch.baseOffset + BigInt(batch.lastOffsetDelta) + 1n);
  return duplicate;
}

function refusedWith(code: number) {
  return (error: unknown) => error instanceof LogError && error.errorCode === code;
}

describe('ProducerStateManager: sequence rules', () => {
  it('accepts consecutive sequences and refuses gaps and repeats out of the cache', async () => {
    const { state } = await manager();
    assert.equal(append(state, header(7n, 0, 0, 3, 0n)), undefined);
    assert.equal(append(state, header(7n, 0, 3, 2, 3n)), undefined);
    assert.throws(
      () => append(state, header(7n, 0, 6, 1, 5n)),
      refusedWith(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER),
    );
    // A batch overlapping the last one without matching it exactly is out of order too.
    assert.throws(
      () => append(state, header(7n, 0, 4, 1, 5n)),
      refusedWith(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER),
    );
    assert.equal(state.entry(7n)?.batches.at(-1)?.lastSequence, 4);
    assert.equal(state.mapEndOffset, 5n);
  });

  it('accepts an unknown producer at any sequence (Kafka 2.5+: no UNKNOWN_PRODUCER_ID)', async () => {
    const { state } = await manager();
    assert.equal(append(state, header(9n, 3, 1234, 2, 0n)), undefined);
    assert.deepEqual(
      state.entry(9n)?.batches.map((b) => [b.firstSequence, b.lastSequence]),
      [[1234, 1235]],
    );
    assert.throws(
      () => append(state, header(9n, 3, 1237, 1, 2n)),
      refusedWith(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER),
    );
  });

  it('refuses an older epoch, wants sequence 0 from a newer one, and forgets the old batches', async () => {
    const { state } = await manager();
    append(state, header(1n, 2, 0, 1, 0n));
    append(state, header(1n, 2, 1, 1, 1n));
    assert.throws(
      () => append(state, header(1n, 1, 2, 1, 2n)),
      refusedWith(ErrorCode.INVALID_PRODUCER_EPOCH),
    );
    assert.throws(
      () => append(state, header(1n, 3, 5, 1, 2n)),
      refusedWith(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER),
    );
    assert.equal(append(state, header(1n, 3, 0, 1, 2n)), undefined);
    assert.equal(state.entry(1n)?.epoch, 3);
    assert.equal(state.entry(1n)?.batches.length, 1);
    // A retry of the old epoch's batch is no duplicate any more: it is fenced.
    assert.throws(
      () => append(state, header(1n, 2, 1, 1, 3n)),
      refusedWith(ErrorCode.INVALID_PRODUCER_EPOCH),
    );
  });

  it('refuses a negative sequence from a producer with INVALID_RECORD', async () => {
    const { state } = await manager();
    assert.throws(
      () => append(state, header(4n, 0, -1, 1, 0n)),
      refusedWith(ErrorCode.INVALID_RECORD),
    );
  });

  it('wraps sequences after 2147483647 to 0', async () => {
    assert.equal(incrementSequence(INT32_MAX, 1), 0);
    assert.equal(incrementSequence(INT32_MAX - 1, 3), 1);
    assert.equal(decrementSequence(1, 3), INT32_MAX - 1);
    assert.equal(decrementSequence(0, 1), INT32_MAX);
    const { state } = await manager();
    append(state, header(2n, 0, INT32_MAX - 4, 3, 0n));
    // 2147483645..2147483647, then 0..1 across the wrap in one batch, then 2.
    assert.equal(append(state, header(2n, 0, INT32_MAX - 1, 3, 3n)), undefined);
    assert.equal(state.entry(2n)?.batches.at(-1)?.lastSequence, 0);
    assert.equal(append(state, header(2n, 0, 1, 1, 6n)), undefined);
    // The wrapped batch is recognised when retried.
    assert.deepEqual(append(state, header(2n, 0, INT32_MAX - 1, 3, 7n)), {
      firstSequence: INT32_MAX - 1,
      lastSequence: 0,
      firstOffset: 3n,
      lastOffset: 5n,
      timestamp: 1_700_000_000_000n,
    });
  });

  it('answers a retry of any of the last five batches with its offsets; an older one is out of order', async () => {
    const { state } = await manager();
    for (let i = 0; i < 7; i++) append(state, header(5n, 0, i * 2, 2, BigInt(i * 2)));
    assert.equal(state.entry(5n)?.batches.length, BATCHES_TO_RETAIN);
    for (let i = 2; i < 7; i++) {
      const duplicate = append(state, header(5n, 0, i * 2, 2, 14n));
      assert.equal(duplicate?.firstOffset, BigInt(i * 2));
      assert.equal(duplicate?.lastOffset, BigInt(i * 2 + 1));
    }
    assert.throws(
      () => append(state, header(5n, 0, 2, 2, 14n)),
      refusedWith(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER),
    );
    assert.equal(state.mapEndOffset, 14n, 'duplicates change nothing');
  });

  it('validates the batches of one append in order and commits them together', async () => {
    const { state } = await manager();
    append(state, header(3n, 0, 0, 1, 0n));
    const producers = state.startAppend('client', 1000);
    assert.equal(producers.check(header(3n, 0, 1, 1, 1n)), undefined);
    assert.equal(producers.check(header(3n, 0, 2, 1, 2n)), undefined);
    assert.equal(state.entry(3n)?.batches.length, 1, 'nothing applied before commit');
    producers.commit(3n);
    assert.equal(state.entry(3n)?.batches.at(-1)?.lastSequence, 2);
  });

  it('applies replicated batches without checks', async () => {
    const { state } = await manager();
    const producers = state.startAppend('replication', 1000);
    producers.check(header(8n, 1, 40, 1, 0n));
    producers.check(header(8n, 1, 90, 1, 1n));
    producers.commit(2n);
    assert.equal(state.entry(8n)?.batches.length, 2);
  });
});

describe('ProducerStateManager: expiration', () => {
  it('removes producers idle for producer.id.expiration.ms', async () => {
    const { state } = await manager(undefined, 60_000);
    append(state, header(1n, 0, 0, 1, 0n), 1_000);
    append(state, header(2n, 0, 0, 1, 1n), 50_000);
    assert.equal(state.removeExpiredProducers(60_999), 0);
    assert.equal(state.removeExpiredProducers(61_000), 1);
    assert.equal(state.entry(1n), undefined);
    assert.ok(state.entry(2n));
    // An expired producer starts over at any sequence.
    assert.equal(append(state, header(1n, 0, 17, 1, 2n), 61_000), undefined);
  });
});

describe('ProducerStateManager: snapshots', () => {
  it('round-trips every retained batch through a snapshot and rebuilds from it', async () => {
    const { fs, state } = await manager();
    for (let i = 0; i < 6; i++) append(state, header(11n, 4, i, 1, BigInt(i)));
    append(state, header(12n, 0, INT32_MAX, 2, 6n));
    await state.takeSnapshot(8n);
    assert.ok(await fs.exists(`${DIRECTORY}/${producerSnapshotFileName(8n)}`));
    assert.equal(producerSnapshotFileName(8n), '00000000000000000008.snapshot');
    const reopened = await ProducerStateManager.load({ fs, directory: DIRECTORY });
    const replayed: bigint[] = [];
    const result = await reopened.rebuild({
      endOffset: 8n,
      fallbackStartOffset: 0n,
      now: 2000,
      replay: async (from) => {
        replayed.push(from);
      },
    });
    assert.equal(result.snapshotOffset, 8n);
    assert.deepEqual(replayed, [], 'nothing after the snapshot to replay');
    assert.deepEqual(reopened.entry(11n), state.entry(11n));
    assert.deepEqual(reopened.entry(12n)?.batches, state.entry(12n)?.batches);
    assert.equal(reopened.entry(12n)?.batches[0]?.firstSequence, INT32_MAX);
  });

  it('replays only what follows the latest snapshot at or below the end, and drops later ones', async () => {
    const { fs, state } = await manager();
    append(state, header(1n, 0, 0, 2, 0n));
    await state.takeSnapshot(2n);
    append(state, header(1n, 0, 2, 2, 2n));
    await state.takeSnapshot(4n);
    append(state, header(1n, 0, 4, 2, 4n));
    await state.takeSnapshot(6n);
    const reopened = await ProducerStateManager.load({ fs, directory: DIRECTORY });
    assert.deepEqual(reopened.snapshotOffsets, [2n, 4n, 6n]);
    const calls: [bigint, bigint][] = [];
    await reopened.rebuild({
      endOffset: 5n,
      fallbackStartOffset: 0n,
      now: 2000,
      replay: async (from, end, visit) => {
        calls.push([from, end]);
        visit(header(1n, 0, 4, 1, 4n));
      },
    });
    assert.deepEqual(calls, [[4n, 5n]]);
    assert.equal(await fs.exists(`${DIRECTORY}/${producerSnapshotFileName(6n)}`), false);
    assert.equal(reopened.entry(1n)?.batches.at(-1)?.lastSequence, 4);
    assert.deepEqual(reopened.snapshotOffsets, [2n, 4n, 5n], 'the rebuilt state is snapshotted');
  });

  it('falls back to an older snapshot when the latest is corrupt, and deletes the corrupt one', async () => {
    const { fs, state } = await manager();
    append(state, header(1n, 0, 0, 2, 0n));
    await state.takeSnapshot(2n);
    append(state, header(1n, 0, 2, 2, 2n));
    await state.takeSnapshot(4n);
    const path = `${DIRECTORY}/${producerSnapshotFileName(4n)}`;
    const bytes = await fs.readFile(path);
    bytes[bytes.length - 1]! ^= 0xff;
    await fs.writeFileAtomic(path, bytes);
    assert.throws(() => decodeSnapshot(bytes, 4n), StorageCorruptionError);
    const reopened = await ProducerStateManager.load({ fs, directory: DIRECTORY });
    const calls: bigint[] = [];
    const result = await reopened.rebuild({
      endOffset: 4n,
      fallbackStartOffset: 0n,
      now: 2000,
      replay: async (from, _end, visit) => {
        calls.push(from);
        visit(header(1n, 0, 2, 2, 2n));
      },
    });
    assert.equal(result.snapshotOffset, 2n);
    assert.deepEqual(calls, [2n]);
    assert.equal(reopened.entry(1n)?.batches.length, 2);
  });

  it('refuses truncated, trailing and mislabelled snapshot bytes without throwing anything else', async () => {
    const { fs, state } = await manager();
    append(state, header(1n, 0, 0, 2, 0n));
    append(state, header(2n, 1, 5, 3, 2n));
    await state.takeSnapshot(5n);
    const bytes = await fs.readFile(`${DIRECTORY}/${producerSnapshotFileName(5n)}`);
    assert.equal(decodeSnapshot(bytes, 5n).length, 2);
    assert.throws(() => decodeSnapshot(bytes, 6n), StorageCorruptionError);
    for (let length = 0; length < bytes.length; length++) {
      assert.throws(() => decodeSnapshot(bytes.subarray(0, length), 5n), StorageCorruptionError);
    }
    assert.throws(
      () => decodeSnapshot(Buffer.concat([bytes, Buffer.alloc(1)]), 5n),
      StorageCorruptionError,
    );
    for (let i = 0; i < bytes.length; i++) {
      const flipped = Buffer.from(bytes);
      flipped[i]! ^= 0x01;
      assert.throws(() => decodeSnapshot(flipped, 5n), StorageCorruptionError, `byte ${i}`);
    }
  });

  it('drops expired producers when loading a snapshot', async () => {
    const { fs, state } = await manager(undefined, 10_000);
    append(state, header(1n, 0, 0, 1, 0n), 1_000);
    append(state, header(2n, 0, 0, 1, 1n), 9_000);
    await state.takeSnapshot(2n);
    const reopened = await ProducerStateManager.load({
      fs,
      directory: DIRECTORY,
      expirationMs: 10_000,
    });
    await reopened.rebuild({
      endOffset: 2n,
      fallbackStartOffset: 0n,
      now: 12_000,
      replay: async () => {},
    });
    assert.equal(reopened.entry(1n), undefined);
    assert.ok(reopened.entry(2n));
  });

  it('removes leftovers of interrupted snapshot writes and old snapshots, keeping the latest', async () => {
    const { fs, state } = await manager();
    await fs.writeFileAtomic(`${DIRECTORY}/${producerSnapshotFileName(9n)}.tmp`, Buffer.from('x'));
    append(state, header(1n, 0, 0, 1, 0n));
    await state.takeSnapshot(1n);
    append(state, header(1n, 0, 1, 1, 1n));
    await state.takeSnapshot(2n);
    const reopened = await ProducerStateManager.load({ fs, directory: DIRECTORY });
    assert.equal(await fs.exists(`${DIRECTORY}/${producerSnapshotFileName(9n)}.tmp`), false);
    await reopened.deleteSnapshotsBefore(10n);
    assert.deepEqual(reopened.snapshotOffsets, [2n]);
    assert.deepEqual((await fs.readdir(DIRECTORY)).sort(), ['00000000000000000002.snapshot']);
  });

  it('refuses to snapshot at an offset below the state it holds', async () => {
    const { state } = await manager();
    append(state, header(1n, 0, 0, 3, 0n));
    await assert.rejects(state.takeSnapshot(2n));
  });
});
