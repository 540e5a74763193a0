/**
 * The consumer against a Brook broker: manual assignment, groups of Brook consumers (a complete
 * disjoint assignment, every record read once, takeover when a member leaves, restart from the
 * committed offsets), the cooperative protocol keeping partitions through a rebalance, seek,
 * pause and resume, auto.offset.reset, auto-commit, bounded prefetch, batches and listeners.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LeaveGroupRequest, LeaveGroupResponse } from '@brook/protocol';
import {
  AbortedError,
  Admin,
  Consumer,
  type ConsumerOptions,
  ConsumerStateError,
  cooperativeStickyAssignor,
  NoOffsetForPartitionError,
  type RebalanceListener,
  RecordDeserializationError,
  roundRobinAssignor,
  silentLogger,
  stringDeserializer,
  type TopicPartition,
} from '../src/index.ts';
import { createTopic, fill, produce, rawConnection, waitFor } from './consumer-support.ts';
import { startBroker, type TestBroker } from './helpers.ts';

/** Fast group timings for tests. */
const FAST = {
  sessionTimeoutMs: 6000,
  rebalanceTimeoutMs: 5000,
  heartbeatIntervalMs: 100,
  fetchMaxWaitMs: 100,
  autoCommitIntervalMs: 200,
} as const;

type TestContext = { after(fn: () => Promise<void> | void): void };

const open = new WeakMap<TestContext, Consumer<string | null, string | null>[]>();

/**
 * A broker for one test. The consumers of the test close before it stops (after-hooks run in
 * the order they were added), so that closing finds the group coordinator.
 */
async function setup(t: TestContext, properties: Record<string, string> = {}): Promise<TestBroker> {
  const consumers: Consumer<string | null, string | null>[] = [];
  open.set(t, consumers);
  t.after(() => Promise.all(consumers.map((c) => c.close())).then(() => undefined));
  return startBroker(t, properties);
}

function consumer(
  t: TestContext,
  broker: TestBroker,
  options: Partial<ConsumerOptions<string | null, string | null>> = {},
): Consumer<string | null, string | null> {
  const created = new Consumer<string | null, string | null>({
    bootstrapServers: [broker.bootstrap],
    keyDeserializer: stringDeserializer,
    valueDeserializer: stringDeserializer,
    ...FAST,
    ...options,
  });
  open.get(t)?.push(created);
  return created;
}

const tpKey = (tp: TopicPartition) => `${tp.topic}/${tp.partition}`;

/** A rebalance listener that logs `assigned t/p`, `revoked t/p` and `lost t/p` into `events`. */
function recordingListener(events: string[]): RebalanceListener {
  const log = (what: string) => (partitions: readonly TopicPartition[]) => {
    events.push(...partitions.map((tp) => `${what} ${tpKey(tp)}`));
  };
  return { onAssigned: log('assigned'), onRevoked: log('revoked'), onLost: log('lost') };
}

/** Reads records in the background into `seen` until the consumer closes. */
function drain(
  reader: Consumer<string | null, string | null>,
  seen: { value: string | null; offset: bigint; partition: number }[],
): Promise<void> {
  return (async () => {
    for await (const record of reader) {
      seen.push({ value: record.value, offset: record.offset, partition: record.partition });
    }
  })();
}

describe('consumer', () => {
  it('reads assigned partitions from the beginning, with keys, headers and offsets', async (t) => {
    const broker = await setup(t);
    await createTopic(broker, 'manual', 2);
    const connection = await rawConnection(t, broker);
    await produce(connection, 'manual', 0, [
      { key: 'a', value: 'one', headers: [{ key: 'h', value: 'x' }] },
      { key: null, value: 'two' },
    ]);
    await produce(connection, 'manual', 1, [{ key: 'b', value: null }]);
    await produce(connection, 'manual', 0, [{ key: 'c', value: 'three' }]);

    const reader = consumer(t, broker, { autoOffsetReset: 'earliest' });
    reader.assign([
      { topic: 'manual', partition: 0 },
      { topic: 'manual', partition: 1 },
    ]);
    const byPartition = new Map<
      number,
      { key: string | null; value: string | null; offset: bigint }[]
    >();
    let count = 0;
    for await (const record of reader) {
      const list = byPartition.get(record.partition) ?? [];
      list.push({ key: record.key, value: record.value, offset: record.offset });
      byPartition.set(record.partition, list);
      assert.equal(record.topic, 'manual');
      assert.ok(record.timestamp > 0n);
      if (record.value === 'one') {
        assert.deepEqual(
          record.headers.map((h) => [h.key, h.value?.toString()]),
          [['h', 'x']],
        );
      }
      if (++count === 4) break;
    }
    assert.deepEqual(byPartition.get(0), [
      { key: 'a', value: 'one', offset: 0n },
      { key: null, value: 'two', offset: 1n },
      { key: 'c', value: 'three', offset: 2n },
    ]);
    assert.deepEqual(byPartition.get(1), [{ key: 'b', value: null, offset: 0n }]);
    assert.equal(reader.position({ topic: 'manual', partition: 0 }), 3n);
    assert.equal(reader.highWatermark({ topic: 'manual', partition: 0 }), 3n);
    // With nothing more to read, an aborted signal ends the iteration.
    await assert.rejects(
      reader.records({ signal: AbortSignal.timeout(100) }).next(),
      (error: unknown) => error instanceof AbortedError,
    );
  });

  it('shares a topic among three group members and takes over when one leaves', async (t) => {
    const broker = await setup(t);
    await createTopic(broker, 'shared', 6);
    const connection = await rawConnection(t, broker);
    await fill(connection, 'shared', 6, 20);

    const members = [0, 1, 2].map(() =>
      consumer(t, broker, { groupId: 'g-shared', autoOffsetReset: 'earliest' }),
    );
    const assignments = members.map(() => new Set<string>());
    await Promise.all(
      members.map((member, index) =>
        member.subscribe({
          topics: ['shared'],
          listener: {
            onAssigned: (partitions) => {
              for (const tp of partitions) assignments[index]!.add(tpKey(tp));
            },
            onRevoked: (partitions) => {
              for (const tp of partitions) assignments[index]!.delete(tpKey(tp));
            },
          },
        }),
      ),
    );
    const seen: { value: string | null; offset: bigint; partition: number }[][] = members.map(
      () => [],
    );
    const readers = members.map((member, index) => drain(member, seen[index]!));
    const total = () => seen.reduce((sum, list) => sum + list.length, 0);
    await waitFor(
      '120 records read',
      () => total() >= 120,
      15_000,
      () => `${total()}`,
    );
    await waitFor('every member has two partitions', () =>
      assignments.every((set) => set.size === 2),
    );
    const all = assignments.flatMap((set) => [...set]).sort();
    assert.deepEqual(all, [0, 1, 2, 3, 4, 5].map((p) => `shared/${p}`).sort());
    const values = seen.flat().map((r) => r.value);
    assert.equal(new Set(values).size, 120, 'each record once');
    assert.equal(values.length, 120);

    // Member 2 leaves: the others take its partitions and read what comes next. Within half the
    // session timeout (6 s): its close sent LeaveGroup, so the group did not wait for it to expire.
    await members[2]!.close();
    await readers[2];
    await waitFor(
      'the two members own all six partitions',
      () => assignments[0]!.size + assignments[1]!.size === 6 && assignments[0]!.size === 3,
      FAST.sessionTimeoutMs / 2,
    );
    await fill(connection, 'shared', 6, 5, { prefix: 'after' });
    await waitFor('the records written after are read', () => {
      const after = seen.flat().filter((r) => r.value?.startsWith('after'));
      return after.length >= 30;
    });
    const after = seen.flat().filter((r) => r.value?.startsWith('after'));
    assert.equal(new Set(after.map((r) => r.value)).size, 30);
    assert.equal(seen[2]!.filter((r) => r.value?.startsWith('after')).length, 0);
    await Promise.all([members[0]!.close(), members[1]!.close()]);
    await Promise.all(readers);

    // A new member of the group starts where the group left off.
    await fill(connection, 'shared', 6, 2, { prefix: 'late' });
    const restarted = consumer(t, broker, { groupId: 'g-shared', autoOffsetReset: 'earliest' });
    await restarted.subscribe({ topics: ['shared'] });
    const later: { value: string | null; offset: bigint; partition: number }[] = [];
    const reading = drain(restarted, later);
    await waitFor('the late records are read', () => later.length >= 12);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(
      later.map((r) => r.value?.split('-')[0]),
      Array(12).fill('late'),
      'nothing committed is read again',
    );
    await restarted.close();
    await reading;
  });
  it('keeps partitions through a cooperative rebalance and moves only what must move', async (t) => {
    const broker = await setup(t);
    await createTopic(broker, 'coop', 6);
    const connection = await rawConnection(t, broker);
    await fill(connection, 'coop', 6, 10);
    const events: string[] = [];
    const owned = [new Set<string>(), new Set<string>()];
    const listener = (index: number) => ({
      onAssigned: (partitions: readonly TopicPartition[]) => {
        events.push(`${index} assigned ${partitions.map(tpKey).join(',')}`);
        for (const tp of partitions) {
          const other = owned[1 - index]!;
          assert.ok(!other.has(tpKey(tp)), `${tpKey(tp)} owned by both members`);
          owned[index]!.add(tpKey(tp));
        }
      },
      onRevoked: (partitions: readonly TopicPartition[]) => {
        events.push(`${index} revoked ${partitions.map(tpKey).join(',')}`);
        for (const tp of partitions) owned[index]!.delete(tpKey(tp));
      },
    });
    const first = consumer(t, broker, {
      groupId: 'g-coop',
      autoOffsetReset: 'earliest',
      assignors: [cooperativeStickyAssignor],
    });
    await first.subscribe({ topics: ['coop'], listener: listener(0) });
    const seen: { value: string | null; offset: bigint; partition: number }[] = [];
    const reading = drain(first, seen);
    await waitFor('the first member owns all six', () => owned[0]!.size === 6);
    const before = new Set(owned[0]);

    const second = consumer(t, broker, {
      groupId: 'g-coop',
      autoOffsetReset: 'earliest',
      assignors: [cooperativeStickyAssignor],
    });
    await second.subscribe({ topics: ['coop'], listener: listener(1) });
    const seen2: { value: string | null; offset: bigint; partition: number }[] = [];
    const reading2 = drain(second, seen2);
    await waitFor(
      'three partitions each',
      () => owned[0]!.size === 3 && owned[1]!.size === 3,
      10_000,
      () => events.join('\n'),
    );
    // The first member gave up exactly the three partitions the second took, nothing else.
    const revoked = events.filter((e) => e.startsWith('0 revoked'));
    assert.equal(revoked.length, 1, events.join('\n'));
    const moved = revoked[0]!.slice('0 revoked '.length).split(',');
    assert.equal(moved.length, 3);
    assert.deepEqual([...owned[1]!].sort(), [...moved].sort());
    for (const key of owned[0]!) assert.ok(before.has(key));
    await waitFor('all 60 records read', () => seen.length + seen2.length >= 60);
    assert.equal(new Set([...seen, ...seen2].map((r) => r.value)).size, 60);
    await Promise.all([first.close(), second.close()]);
    await Promise.all([reading, reading2]);
  });

  it('seeks, pauses and resumes partitions', async (t) => {
    const broker = await setup(t);
    await createTopic(broker, 'seekable', 2);
    const connection = await rawConnection(t, broker);
    await fill(connection, 'seekable', 2, 10, { batchSize: 3 });
    const reader = consumer(t, broker, {
      autoOffsetReset: 'earliest',
      isolationLevel: 'read_committed',
    });
    const p0 = { topic: 'seekable', partition: 0 };
    const p1 = { topic: 'seekable', partition: 1 };
    reader.assign([p0, p1]);
    reader.pause([p1]);
    assert.deepEqual(reader.paused(), [p1]);
    const iterator = reader[Symbol.asyncIterator]();
    const next = async () => (await iterator.next()).value!;
    assert.equal((await next()).value, 'v-0-0');
    assert.equal((await next()).value, 'v-0-1');
    reader.seek(p0, 7n);
    assert.equal((await next()).value, 'v-0-7');
    reader.seek(p0, 2n);
    assert.equal((await next()).value, 'v-0-2');
    // Only partition 0 is read while partition 1 is paused.
    const rest: string[] = [];
    for (let i = 3; i < 10; i++) rest.push((await next()).value!);
    assert.deepEqual(
      rest,
      [3, 4, 5, 6, 7, 8, 9].map((i) => `v-0-${i}`),
    );
    reader.resume([p1]);
    assert.deepEqual(reader.paused(), []);
    const fromP1: string[] = [];
    for (let i = 0; i < 10; i++) fromP1.push((await next()).value!);
    assert.deepEqual(
      fromP1,
      Array.from({ length: 10 }, (_, i) => `v-1-${i}`),
    );
    // Past the end: OFFSET_OUT_OF_RANGE resets by autoOffsetReset (earliest).
    reader.seek(p1, 1000n);
    assert.equal((await next()).value, 'v-1-0');
    reader.seekToEnd([p0]);
    await produce(connection, 'seekable', 0, [{ key: null, value: 'tail' }]);
    await waitFor('the end is found', () => reader.position(p0) !== undefined);
    reader.seekToBeginning([p1]);
    reader.pause([p1]);
    assert.equal((await next()).value, 'tail');
    await iterator.return?.();
    assert.throws(() => reader.seek({ topic: 'seekable', partition: 9 }, 0n), ConsumerStateError);
  });

  it('starts from earliest, latest, or fails with none when the group has no offset', async (t) => {
    const broker = await setup(t);
    await createTopic(broker, 'reset', 1);
    const connection = await rawConnection(t, broker);
    await fill(connection, 'reset', 1, 5);
    const tp = { topic: 'reset', partition: 0 };

    const earliest = consumer(t, broker, { groupId: 'g-earliest', autoOffsetReset: 'earliest' });
    earliest.assign([tp]);
    const first = await earliest[Symbol.asyncIterator]().next();
    assert.equal(first.value?.offset, 0n);

    const latest = consumer(t, broker, { groupId: 'g-latest', autoOffsetReset: 'latest' });
    latest.assign([tp]);
    await waitFor('the latest offset is known', () => latest.position(tp) !== undefined);
    assert.equal(latest.position(tp), 5n);
    await produce(connection, 'reset', 0, [{ key: null, value: 'new' }]);
    const next = await latest[Symbol.asyncIterator]().next();
    assert.equal(next.value?.value, 'new');
    assert.equal(next.value?.offset, 5n);

    const none = consumer(t, broker, { groupId: 'g-none', autoOffsetReset: 'none' });
    none.assign([tp]);
    await assert.rejects(none[Symbol.asyncIterator]().next(), NoOffsetForPartitionError);
    // A seek gives the partition a position, and reading goes on.
    none.seek(tp, 3n);
    const afterSeek = await none[Symbol.asyncIterator]().next();
    assert.equal(afterSeek.value?.offset, 3n);
  });

  it('commits what was processed: automatically, with commit() and with commitAsync()', async (t) => {
    const broker = await setup(t);
    await createTopic(broker, 'commits', 1);
    const connection = await rawConnection(t, broker);
    await fill(connection, 'commits', 1, 20);
    const tp = { topic: 'commits', partition: 0 };

    // Auto-commit: ten records read and done (the loop asked for the eleventh, or left).
    const auto = consumer(t, broker, { groupId: 'g-auto', autoOffsetReset: 'earliest' });
    await auto.subscribe({ topics: ['commits'] });
    let count = 0;
    for await (const _record of auto) {
      if (++count === 10) break;
    }
    await new Promise((resolve) => setTimeout(resolve, 600));
    assert.equal((await auto.committed([tp]))[0]!.offset, 10n);
    await auto.close();

    // Restarting reads from 10.
    const manual = consumer(t, broker, { groupId: 'g-auto', autoCommit: false });
    manual.assign([tp]);
    const iterator = manual[Symbol.asyncIterator]();
    assert.equal((await iterator.next()).value?.offset, 10n);
    assert.equal((await iterator.next()).value?.offset, 11n);
    // commit() counts the record in hand.
    await manual.commit();
    assert.equal((await manual.committed([tp]))[0]!.offset, 12n);
    await iterator.next();
    const done = await new Promise<Error | null>((resolve) =>
      manual.commitAsync(undefined, resolve),
    );
    assert.equal(done, null);
    assert.equal((await manual.committed([tp]))[0]!.offset, 13n);
    await manual.commit([{ topic: 'commits', partition: 0, offset: 4n }]);
    assert.equal((await manual.committed([tp]))[0]!.offset, 4n);
    await iterator.return?.();
    await manual.close();
    // autoCommit is off: closing commits nothing more.
    const check = consumer(t, broker, { groupId: 'g-auto' });
    assert.equal((await check.committed([tp]))[0]!.offset, 4n);
  });

  it('bounds prefetched bytes by maxBufferedBytes', async (t) => {
    const broker = await setup(t);
    await createTopic(broker, 'big', 4);
    const connection = await rawConnection(t, broker);
    const value = 'x'.repeat(1000);
    for (let partition = 0; partition < 4; partition++) {
      for (let batch = 0; batch < 25; batch++) {
        await produce(
          connection,
          'big',
          partition,
          Array.from({ length: 8 }, () => ({ key: null, value })),
        );
      }
    }
    const maxBufferedBytes = 32 * 1024;
    const reader = consumer(t, broker, {
      autoOffsetReset: 'earliest',
      maxBufferedBytes,
      maxPartitionFetchBytes: 16 * 1024,
    });
    reader.assign([0, 1, 2, 3].map((partition) => ({ topic: 'big', partition })));
    const iterator = reader[Symbol.asyncIterator]();
    await iterator.next();
    let peak = 0;
    for (let i = 0; i < 20; i++) {
      peak = Math.max(peak, reader.bufferedBytes);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    // One batch (about 8 KiB) may pass the bound: a broker always returns a first batch.
    assert.ok(peak <= maxBufferedBytes + 9 * 1024, `buffered ${peak}`);
    assert.ok(peak > 0);
    let count = 1;
    while (count < 800) {
      const step = await iterator.next();
      assert.equal(step.done, false);
      count++;
      peak = Math.max(peak, reader.bufferedBytes);
    }
    assert.ok(peak <= maxBufferedBytes + 9 * 1024, `buffered ${peak}`);
    await iterator.return?.();
  });

  it('hands out batches of one partition, and stops at a record it cannot deserialize', async (t) => {
    const broker = await setup(t);
    await createTopic(broker, 'batches', 2);
    const connection = await rawConnection(t, broker);
    await fill(connection, 'batches', 2, 20, { batchSize: 6 });
    const reader = consumer(t, broker, { autoOffsetReset: 'earliest' });
    reader.assign([
      { topic: 'batches', partition: 0 },
      { topic: 'batches', partition: 1 },
    ]);
    const offsets = new Map<number, bigint[]>();
    for await (const batch of reader.batches({ maxRecords: 7 })) {
      assert.ok(batch.records.length >= 1 && batch.records.length <= 7);
      for (const record of batch.records) assert.equal(record.partition, batch.partition);
      const list = offsets.get(batch.partition) ?? [];
      list.push(...batch.records.map((r) => r.offset));
      offsets.set(batch.partition, list);
      if ((offsets.get(0)?.length ?? 0) + (offsets.get(1)?.length ?? 0) === 40) break;
    }
    const expected = Array.from({ length: 20 }, (_, i) => BigInt(i));
    assert.deepEqual(offsets.get(0), expected);
    assert.deepEqual(offsets.get(1), expected);

    await produce(connection, 'batches', 0, [
      { key: null, value: 'bad' },
      { key: null, value: 'good' },
    ]);
    const strict = consumer(t, broker, {
      autoOffsetReset: 'earliest',
      valueDeserializer: (bytes) => {
        const text = bytes?.toString() ?? null;
        if (text === 'bad') throw new Error('bad value');
        return text;
      },
    });
    const tp = { topic: 'batches', partition: 0 };
    strict.assign([tp]);
    strict.seek(tp, 20n);
    const error = await strict[Symbol.asyncIterator]()
      .next()
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    assert.ok(error instanceof RecordDeserializationError);
    assert.equal(error.offset, 20n);
    assert.equal(strict.position(tp), 20n);
    strict.seek(tp, 21n);
    assert.equal((await strict[Symbol.asyncIterator]().next()).value?.value, 'good');
  });

  it('follows a pattern subscription to topics created later', async (t) => {
    const broker = await setup(t);
    await createTopic(broker, 'pat-a', 1);
    await createTopic(broker, 'other', 1);
    const connection = await rawConnection(t, broker);
    const reader = consumer(t, broker, {
      groupId: 'g-pattern',
      autoOffsetReset: 'earliest',
      metadataMaxAgeMs: 200,
      assignors: [roundRobinAssignor],
    });
    const assigned: string[] = [];
    await reader.subscribe({
      pattern: /^pat-/,
      listener: {
        onAssigned: (partitions) => {
          assigned.push(...partitions.map(tpKey));
        },
      },
    });
    const seen: { value: string | null; offset: bigint; partition: number }[] = [];
    const reading = drain(reader, seen);
    await produce(connection, 'pat-a', 0, [{ key: null, value: 'a' }]);
    await produce(connection, 'other', 0, [{ key: null, value: 'other' }]);
    await waitFor('pat-a is read', () => seen.length === 1);
    await createTopic(broker, 'pat-b', 1);
    await produce(connection, 'pat-b', 0, [{ key: null, value: 'b' }]);
    await waitFor(
      'pat-b is read',
      () => seen.length === 2,
      10_000,
      () => assigned.join(),
    );
    assert.deepEqual(seen.map((r) => r.value).sort(), ['a', 'b']);
    assert.deepEqual(reader.assignment().map(tpKey), ['pat-a/0', 'pat-b/0']);
    await reader.close();
    await reading;
  });

  it('leaves the group when a record is held past rebalanceTimeoutMs, and rejoins', async (t) => {
    const broker = await setup(t);
    await createTopic(broker, 'slow', 1);
    const connection = await rawConnection(t, broker);
    await fill(connection, 'slow', 1, 3);
    const lost: string[] = [];
    const assigned: string[] = [];
    const reader = consumer(t, broker, {
      groupId: 'g-slow',
      autoOffsetReset: 'earliest',
      rebalanceTimeoutMs: 600,
    });
    await reader.subscribe({
      topics: ['slow'],
      listener: {
        onAssigned: (partitions) => {
          assigned.push(...partitions.map(tpKey));
        },
        onLost: (partitions) => {
          lost.push(...partitions.map(tpKey));
        },
      },
    });
    const iterator = reader[Symbol.asyncIterator]();
    assert.equal((await iterator.next()).value?.value, 'v-0-0');
    await waitFor('the partition is lost', () => lost.length === 1, 5000);
    assert.deepEqual(reader.assignment(), []);
    // Asking for the next record joins again; nothing was committed, so it starts over.
    assert.equal((await iterator.next()).value?.value, 'v-0-0');
    assert.equal(assigned.length, 2);
    await iterator.return?.();
  });

  it('heartbeats in the background: an application idle past the session timeout keeps its partitions', async (t) => {
    const broker = await setup(t, { 'group.min.session.timeout.ms': '500' });
    await createTopic(broker, 'idle', 1);
    const connection = await rawConnection(t, broker);
    await fill(connection, 'idle', 1, 3);
    const events: string[] = [];
    const reader = consumer(t, broker, {
      groupId: 'g-idle',
      autoOffsetReset: 'earliest',
      sessionTimeoutMs: 1000,
      heartbeatIntervalMs: 100,
      rebalanceTimeoutMs: 20_000,
      // A commit counts as a heartbeat to the coordinator (as in Kafka): none here.
      autoCommit: false,
    });
    await reader.subscribe({
      topics: ['idle'],
      listener: recordingListener(events),
    });
    const iterator = reader[Symbol.asyncIterator]();
    assert.equal((await iterator.next()).value?.value, 'v-0-0');
    const admin = new Admin({ bootstrapServers: [broker.bootstrap], logger: silentLogger });
    t.after(() => admin.close());
    const [before] = await admin.describeGroups(['g-idle']);
    assert.equal(before?.members.length, 1);
    // The application holds its record for three session timeouts (under rebalanceTimeoutMs):
    // only the background heartbeats keep the member in the group, as the coordinator sees it.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const [after] = await admin.describeGroups(['g-idle']);
    assert.equal(after?.state, 'Stable');
    assert.deepEqual(
      after?.members.map((member) => member.memberId),
      before?.members.map((member) => member.memberId),
    );
    assert.equal((await iterator.next()).value?.value, 'v-0-1');
    assert.deepEqual(events, ['assigned idle/0']);
    assert.deepEqual(reader.assignment(), [{ topic: 'idle', partition: 0 }]);
    await iterator.return?.();
  });

  it('a member the coordinator removed loses its partitions (onLost, no commit) and joins again', async (t) => {
    const broker = await setup(t);
    await createTopic(broker, 'fence', 2);
    const connection = await rawConnection(t, broker);
    await fill(connection, 'fence', 2, 2);
    const events: string[] = [];
    const reader = consumer(t, broker, {
      groupId: 'g-fence',
      autoOffsetReset: 'earliest',
      heartbeatIntervalMs: 100,
    });
    await reader.subscribe({
      topics: ['fence'],
      listener: recordingListener(events),
    });
    const iterator = reader[Symbol.asyncIterator]();
    assert.ok((await iterator.next()).value);
    const admin = new Admin({ bootstrapServers: [broker.bootstrap], logger: silentLogger });
    t.after(() => admin.close());
    const [group] = await admin.describeGroups(['g-fence']);
    const memberId = group?.members[0]?.memberId;
    assert.ok(memberId);
    // What an operator's removeMembersFromConsumerGroup sends: the coordinator drops the
    // member, and its next heartbeat is answered UNKNOWN_MEMBER_ID.
    const left = await connection.request(LeaveGroupRequest, LeaveGroupResponse, {
      groupId: 'g-fence',
      members: [{ memberId, groupInstanceId: null }],
    });
    assert.equal(left.errorCode, 0);
    await waitFor(
      'the partitions lost and assigned again',
      () => events.length >= 6,
      10_000,
      () => events.join(', '),
    );
    assert.deepEqual(events, [
      'assigned fence/0',
      'assigned fence/1',
      'lost fence/0',
      'lost fence/1',
      'assigned fence/0',
      'assigned fence/1',
    ]);
    const [rejoined] = await admin.describeGroups(['g-fence']);
    assert.equal(rejoined?.members.length, 1);
    assert.notEqual(rejoined?.members[0]?.memberId, memberId);
    // Nothing was committed for the lost partitions (auto-commit runs every 5 s by default).
    const [offsets] = await admin.listGroupOffsets(['g-fence']);
    assert.deepEqual(
      offsets?.partitions.filter((p) => p.committedOffset >= 0n),
      [],
    );
    // And it reads on, from the positions it holds: every record arrives.
    const seen: string[] = [];
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
      seen.push(next.value.value ?? '');
      if (seen.length === 3) break;
    }
    assert.equal(seen.length, 3);
    await iterator.return?.();
  });

  it('rejects reading before subscribe or assign, and subscribe without a group', async (t) => {
    const broker = await setup(t);
    const reader = consumer(t, broker);
    await assert.rejects(reader[Symbol.asyncIterator]().next(), ConsumerStateError);
    await assert.rejects(reader.subscribe({ topics: ['x'] }), ConsumerStateError);
  });
  it('keeps a static member assignment across a restart without a rebalance', async (t) => {
    const broker = await setup(t);
    await createTopic(broker, 'static', 4);
    const revokedA: string[] = [];
    const assignedA: string[] = [];
    const a = consumer(t, broker, { groupId: 'g-static', groupInstanceId: 'i-a' });
    await a.subscribe({
      topics: ['static'],
      listener: {
        onAssigned: (partitions) => {
          assignedA.push(...partitions.map(tpKey));
        },
        onRevoked: (partitions) => {
          revokedA.push(...partitions.map(tpKey));
        },
      },
    });
    const readingA = drain(a, []);
    await waitFor('a owns every partition', () => a.assignment().length === 4);
    const b = consumer(t, broker, { groupId: 'g-static', groupInstanceId: 'i-b' });
    await b.subscribe({ topics: ['static'] });
    const readingB = drain(b, []);
    await waitFor(
      'two partitions each',
      () => a.assignment().length === 2 && b.assignment().length === 2,
    );
    const ofB = b.assignment().map(tpKey);
    const generation = a.groupMetadata().generationId;
    const revokedBefore = revokedA.length;
    // A static member leaves no group behind it when it closes: the restart takes its place.
    await b.close();
    await readingB;
    const again = consumer(t, broker, { groupId: 'g-static', groupInstanceId: 'i-b' });
    await again.subscribe({ topics: ['static'] });
    const readingAgain = drain(again, []);
    await waitFor(
      'the restarted member has its partitions back',
      () => again.assignment().length === 2,
    );
    assert.deepEqual(again.assignment().map(tpKey), ofB);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(revokedA.length, revokedBefore, 'a gave nothing up');
    assert.equal(a.groupMetadata().generationId, generation);
    await Promise.all([a.close(), again.close()]);
    await Promise.all([readingA, readingAgain]);
  });
});
