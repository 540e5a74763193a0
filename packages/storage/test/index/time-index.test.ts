import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TimeIndex } from '../../src/index/time-index.ts';

const T0 = 1_700_000_000_000n;

describe('TimeIndex', () => {
  it('keeps its last slot for the final entry, even when that is its only slot', () => {
    const index = new TimeIndex(100n, { maxIndexBytes: 16 }); // room for one 12-byte entry
    assert.equal(
      index.isFull,
      true,
      'full from the start: the one slot is kept for the final entry',
    );
    index.maybeAppend(T0, 100n);
    assert.equal(index.entryCount, 0);
    index.maybeAppend(T0 + 1n, 103n, { final: true });
    assert.equal(index.entryCount, 1);
    assert.equal(index.lastTimestamp, T0 + 1n);
    assert.equal(index.lastOffset, 103n);
    assert.equal(index.lookup(T0 + 2n), 103n);
  });

  it('takes entries on the way up to one short of its size, then the final one', () => {
    const index = new TimeIndex(0n, { maxIndexBytes: 36 }); // three slots
    index.maybeAppend(T0, 0n);
    assert.equal(index.isFull, false);
    index.maybeAppend(T0 + 1n, 2n);
    assert.equal(index.isFull, true);
    index.maybeAppend(T0 + 2n, 4n); // no room on the way
    assert.equal(index.entryCount, 2);
    index.maybeAppend(T0 + 3n, 6n, { final: true });
    assert.equal(index.entryCount, 3);
    assert.equal(index.lastOffset, 6n);
    index.maybeAppend(T0 + 4n, 7n, { final: true }); // no slot left at all
    assert.equal(index.entryCount, 3);
    assert.equal(index.lastTimestamp, T0 + 3n);
  });
});
