/**
 * FetchedRecords reads one partition's records from a Fetch response. These tests build the
 * response bytes a transactional log would return (Brook's broker has no transactions yet, so no
 * broker can write them here) and check what read_committed and read_uncommitted hand out.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ControlRecordType, encodeEndTransactionBatch, encodeRecordBatch } from '@brook/protocol';
import { FetchedRecords } from '../src/consumer/fetched-records.ts';

const NOW = 1_700_000_000_000n;

/** A transactional batch of `producerId` at `baseOffset` (or a plain one without a producer). */
function batch(baseOffset: bigint, values: string[], producerId?: bigint): Buffer {
  return encodeRecordBatch({
    baseOffset,
    baseTimestamp: NOW,
    ...(producerId === undefined
      ? {}
      : { producerId, producerEpoch: 0, baseSequence: 0, isTransactional: true }),
    records: values.map((value, i) => ({ key: null, value: Buffer.from(value), offsetDelta: i })),
  });
}

function marker(baseOffset: bigint, producerId: bigint, commit: boolean): Buffer {
  return encodeEndTransactionBatch({
    type: commit ? ControlRecordType.commit : ControlRecordType.abort,
    producerId,
    producerEpoch: 0,
    coordinatorEpoch: 0,
    timestamp: NOW,
    baseOffset,
  });
}

function readAll(
  blob: Buffer,
  options: {
    readCommitted: boolean;
    fetchOffset?: bigint;
    aborted?: { producerId: bigint; firstOffset: bigint }[];
  },
) {
  const fetched = new FetchedRecords({
    topic: 't',
    partition: 0,
    blob,
    fetchOffset: options.fetchOffset ?? 0n,
    readCommitted: options.readCommitted,
    abortedTransactions: options.aborted ?? null,
    verifyCrc: true,
  });
  const values: string[] = [];
  for (let record = fetched.peek(); record !== undefined; record = fetched.peek()) {
    values.push(`${record.offset}:${record.value?.toString()}`);
    fetched.advance();
  }
  return { values, nextOffset: fetched.nextOffset, endOffset: fetched.endOffset };
}

describe('FetchedRecords', () => {
  // Offsets: 0-1 producer 7 (aborted later), 2 producer 8 (committed), 3 abort marker of 7,
  // 4 commit marker of 8, 5 producer 7 again (a new transaction, committed at 7), 6 plain,
  // 7 commit marker of 7.
  const blob = Buffer.concat([
    batch(0n, ['a1', 'a2'], 7n),
    batch(2n, ['b1'], 8n),
    marker(3n, 7n, false),
    marker(4n, 8n, true),
    batch(5n, ['c1'], 7n),
    batch(6n, ['d1']),
    marker(7n, 7n, true),
  ]);
  const aborted = [{ producerId: 7n, firstOffset: 0n }];

  it('skips aborted transactions and control records under read_committed', () => {
    const read = readAll(blob, { readCommitted: true, aborted });
    assert.deepEqual(read.values, ['2:b1', '5:c1', '6:d1']);
    assert.equal(read.nextOffset, 8n, 'the position moves past the markers');
    assert.equal(read.endOffset, 8n);
  });

  it('hands out every data record under read_uncommitted, and no control record', () => {
    const read = readAll(blob, { readCommitted: false, aborted });
    assert.deepEqual(read.values, ['0:a1', '1:a2', '2:b1', '5:c1', '6:d1']);
  });

  it('aborts only from a transaction first offset on, and only the listed producer', () => {
    // Fetched from offset 1 (the middle of the aborted batch), with the abort listed.
    assert.deepEqual(readAll(blob, { readCommitted: true, aborted, fetchOffset: 1n }).values, [
      '2:b1',
      '5:c1',
      '6:d1',
    ]);
    // An aborted transaction of producer 8 starting at 4 leaves its batch at 2 alone.
    assert.deepEqual(
      readAll(blob, { readCommitted: true, aborted: [{ producerId: 8n, firstOffset: 4n }] }).values,
      ['0:a1', '1:a2', '2:b1', '5:c1', '6:d1'],
    );
  });
});
