/**
 * Resetting a group's offsets by shifting the committed ones (`{ shiftBy }`), against a Brook
 * broker: forwards, backwards, brought within the log start and end, as a dry run, and refused
 * (changing nothing) when a partition has no committed offset, as kafka-consumer-groups does.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Admin, ClientError, Producer } from '../src/index.ts';
import { startBroker } from './helpers.ts';

describe('resetGroupOffsets with shiftBy', () => {
  it('shifts committed offsets within the log, and refuses partitions without one', async (t) => {
    const { bootstrap } = await startBroker(t);
    const admin = new Admin({ bootstrapServers: [bootstrap] });
    t.after(() => admin.close());
    const [created] = await admin.createTopics([{ name: 'ledger', partitions: 3 }]);
    assert.equal(created?.error, null);
    const producer = new Producer({ bootstrapServers: [bootstrap], lingerMs: 0 });
    const counts = [10, 6, 4];
    await producer.sendBatch(
      counts.flatMap((count, partition) =>
        Array.from({ length: count }, (_, i) => ({ topic: 'ledger', partition, value: `${i}` })),
      ),
    );
    await producer.close();
    // Partition 0's log starts at 2.
    const [trimmed] = await admin.deleteRecords([{ topic: 'ledger', partition: 0, offset: 2n }]);
    assert.equal(trimmed?.error, null);
    await admin.alterGroupOffsets('auditors', [
      { topic: 'ledger', partition: 0, offset: 5n },
      { topic: 'ledger', partition: 1, offset: 3n },
    ]);
    const committed = async () => {
      const [group] = await admin.listGroupOffsets(['auditors']);
      return group!.partitions.map((p) => [p.partition, p.committedOffset]);
    };

    const dry = await admin.resetGroupOffsets('auditors', { to: { shiftBy: 2n }, dryRun: true });
    assert.deepEqual(
      dry.map((r) => [r.partition, r.offset, r.error]),
      [
        [0, 7n, null],
        [1, 5n, null],
      ],
    );
    assert.deepEqual(await committed(), [
      [0, 5n],
      [1, 3n],
    ]);

    // Backwards: 5 - 2 = 3 and 3 - 2 = 1.
    await admin.resetGroupOffsets('auditors', { to: { shiftBy: -2n } });
    assert.deepEqual(await committed(), [
      [0, 3n],
      [1, 1n],
    ]);
    // Past the log start: partition 0 stops at its log start (2), partition 1 at 0.
    const back = await admin.resetGroupOffsets('auditors', { to: { shiftBy: -100n } });
    assert.deepEqual(
      back.map((r) => r.offset),
      [2n, 0n],
    );
    assert.deepEqual(await committed(), [
      [0, 2n],
      [1, 0n],
    ]);
    // Past the log end: the log end.
    await admin.resetGroupOffsets('auditors', { to: { shiftBy: 1000n } });
    assert.deepEqual(await committed(), [
      [0, 10n],
      [1, 6n],
    ]);
    // Some partitions only.
    await admin.resetGroupOffsets('auditors', {
      to: { shiftBy: -1n },
      topics: [{ topic: 'ledger', partitions: [1] }],
    });
    assert.deepEqual(await committed(), [
      [0, 10n],
      [1, 5n],
    ]);

    // Partition 2 was never committed: the whole reset is refused and nothing changes.
    await assert.rejects(
      admin.resetGroupOffsets('auditors', { to: { shiftBy: -1n }, topics: [{ topic: 'ledger' }] }),
      (error: unknown) => {
        assert.ok(error instanceof ClientError, String(error));
        assert.match(error.message, /group auditors: cannot shift the offset of ledger-2/);
        return true;
      },
    );
    assert.deepEqual(await committed(), [
      [0, 10n],
      [1, 5n],
    ]);
    // A group that has committed nothing at all.
    await assert.rejects(
      admin.resetGroupOffsets('newcomers', { to: { shiftBy: 1n }, topics: [{ topic: 'ledger' }] }),
      /cannot shift the offset of ledger-0, ledger-1, ledger-2/,
    );
  });
});
