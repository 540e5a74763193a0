/**
 * The producer against a real Brook broker: send and flush, batching, compression, headers and
 * timestamps, partitioners, acks, backpressure, idempotence (sequences, retries after a lost
 * answer that write nothing twice, a new epoch after a gap), timeouts, aborts and close. What
 * reached the broker is read back from the partition's log.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Broker, silentLogger } from '@brook/broker';
import { CompressionType } from '@brook/protocol';
import {
  AbortedError,
  Admin,
  InvalidRecordError,
  jsonSerializer,
  KafkaProtocolError,
  Producer,
  ProducerBlockedError,
  ProducerConfigError,
  type ProducerOptions,
  RecordTooLargeError,
  RetriesExhaustedError,
  SerializationError,
  stringSerializer,
} from '../src/index.ts';
import { startBroker } from './helpers.ts';
import { createTopic, FaultProxy, readBatches, readRecords } from './producer-support.ts';

function producer<K = string | Buffer | null, V = string | Buffer | null>(
  t: { after(fn: () => Promise<void> | void): void },
  bootstrap: string,
  options: Partial<ProducerOptions<K, V>> = {},
): Producer<K, V> {
  const created = new Producer<K, V>({ bootstrapServers: [bootstrap], ...options });
  t.after(() => created.close({ flush: false }));
  return created;
}

const CODECS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;

describe('producer', () => {
  it('sends records and answers their partition and offset', async (t) => {
    const { bootstrap, broker } = await startBroker(t);
    await createTopic(broker, 'orders', 3);
    const p = producer(t, bootstrap);
    assert.equal(p.idempotent, true);
    const first = await p.send({ topic: 'orders', key: 'alice', value: 'order 1' });
    assert.equal(first.topic, 'orders');
    assert.equal(first.offset, 0n);
    const more = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        p.send({ topic: 'orders', key: `customer-${i % 5}`, value: `order ${i + 2}` }),
      ),
    );
    // The same key always lands on the same partition, at increasing offsets.
    for (let i = 5; i < 30; i++) assert.equal(more[i]!.partition, more[i - 5]!.partition);
    for (let partition = 0; partition < 3; partition++) {
      const stored = await readRecords(broker, 'orders', partition);
      const answered = [first, ...more].filter((m) => m.partition === partition);
      assert.deepEqual(
        stored.map((r) => r.offset),
        answered.map((m) => m.offset),
        `partition ${partition}`,
      );
    }
    const all = (
      await Promise.all([0, 1, 2].map((partition) => readRecords(broker, 'orders', partition)))
    ).flat();
    assert.equal(all.length, 31);
  });

  it('creates a topic on first use when the broker allows it, and refuses bad records', async (t) => {
    const { bootstrap } = await startBroker(t, { 'num.partitions': '2' });
    const p = producer(t, bootstrap, { maxBlockMs: 1000 });
    const sent = await p.send({ topic: 'fresh', value: 'x' });
    assert.equal(sent.topic, 'fresh');
    assert.ok(sent.partition === 0 || sent.partition === 1);
    await assert.rejects(p.send({ topic: '', value: 'x' }), InvalidRecordError);
    await assert.rejects(p.send({ topic: 'fresh', value: 'x', partition: -1 }), InvalidRecordError);
    await assert.rejects(p.send({ topic: 'fresh', value: 'x', partition: 2 }), InvalidRecordError);
    await assert.rejects(p.send({ topic: 'fresh', value: 'x', timestamp: -5 }), InvalidRecordError);
  });

  it('waits maxBlockMs for a topic that does not exist', async (t) => {
    const { bootstrap } = await startBroker(t, { 'auto.create.topics.enable': 'false' });
    const p = producer(t, bootstrap, { maxBlockMs: 300 });
    const started = Date.now();
    await assert.rejects(p.send({ topic: 'nowhere', value: 'x' }), (error: unknown) => {
      assert.ok(error instanceof ProducerBlockedError, String(error));
      assert.match(error.message, /not present in metadata/);
      return true;
    });
    assert.ok(Date.now() - started >= 250);
  });

  it('groups records sent within lingerMs into one batch per partition', async (t) => {
    const { bootstrap, broker } = await startBroker(t);
    await createTopic(broker, 'batched', 2);
    const p = producer(t, bootstrap, { lingerMs: 50 });
    await p.send({ topic: 'batched', value: 'warm-up', partition: 1 });
    const sends = Array.from({ length: 100 }, (_, i) =>
      p.send({ topic: 'batched', value: `v${i}`, partition: 0 }),
    );
    const answers = await Promise.all(sends);
    assert.deepEqual(
      answers.map((a) => a.offset),
      answers.map((_, i) => BigInt(i)),
    );
    const batches = await readBatches(broker, 'batched', 0);
    assert.equal(batches.length, 1, 'one batch');
    assert.equal(batches[0]!.records.length, 100);

    // Without linger and one record at a time, every record is its own batch.
    const eager = producer(t, bootstrap, { lingerMs: 0 });
    for (let i = 0; i < 3; i++)
      await eager.send({ topic: 'batched', value: `e${i}`, partition: 1 });
    assert.equal((await readBatches(broker, 'batched', 1)).length, 4);
  });

  it('closes a batch at batchSizeBytes', async (t) => {
    const { bootstrap, broker } = await startBroker(t);
    await createTopic(broker, 'sized', 1);
    const p = producer(t, bootstrap, { lingerMs: 1000, batchSizeBytes: 1000 });
    const value = Buffer.alloc(100, 'v');
    const started = Date.now();
    await Promise.all(Array.from({ length: 40 }, () => p.send({ topic: 'sized', value })));
    // Full batches go out at once; only the last one may wait for lingerMs.
    const batches = await readBatches(broker, 'sized', 0);
    assert.ok(batches.length >= 4, `${batches.length} batches`);
    for (const batch of batches.slice(0, -1)) {
      assert.ok(batch.records.length >= 7 && batch.records.length <= 9, `${batch.records.length}`);
    }
    assert.equal(
      batches.reduce((n, b) => n + b.records.length, 0),
      40,
    );
    assert.ok(Date.now() - started < 3000);
  });

  for (const codec of CODECS) {
    it(`compresses batches with ${codec}`, async (t) => {
      const { bootstrap, broker } = await startBroker(t);
      await createTopic(broker, 'compressed', 1);
      const p = producer(t, bootstrap, { compression: codec, lingerMs: 20 });
      const values = Array.from(
        { length: 200 },
        (_, i) => `{"id":${i},"text":"${'abc'.repeat(20)}"}`,
      );
      await Promise.all(
        values.map((value, i) =>
          p.send({ topic: 'compressed', key: `k${i}`, value, partition: 0 }),
        ),
      );
      const batches = await readBatches(broker, 'compressed', 0);
      assert.ok(batches.length >= 1);
      for (const batch of batches) assert.equal(batch.compression, CompressionType[codec]);
      const stored = await readRecords(broker, 'compressed', 0);
      assert.deepEqual(
        stored.map((r) => r.value),
        values,
      );
      assert.deepEqual(
        stored.map((r) => r.key),
        values.map((_, i) => `k${i}`),
      );
    });
  }

  it('writes headers, timestamps and null keys and values', async (t) => {
    const { bootstrap, broker } = await startBroker(t);
    await createTopic(broker, 'shaped', 1);
    const p = producer(t, bootstrap);
    const stamped = Date.UTC(2024, 0, 2, 3, 4, 5);
    const answers = await Promise.all([
      p.send({
        topic: 'shaped',
        key: 'with-headers',
        value: 'v1',
        headers: { trace: 'abc', binary: Buffer.from([1, 2, 3]), none: null },
        timestamp: new Date(stamped),
      }),
      p.send({
        topic: 'shaped',
        value: null,
        headers: [
          { key: 'dup', value: 'first' },
          { key: 'dup', value: 'second' },
        ],
        timestamp: stamped + 1000,
      }),
      p.send({ topic: 'shaped', key: 'k', value: 'v3', timestamp: BigInt(stamped - 1000) }),
    ]);
    assert.deepEqual(
      answers.map((a) => a.timestamp),
      [BigInt(stamped), BigInt(stamped + 1000), BigInt(stamped - 1000)],
    );
    const stored = await readRecords(broker, 'shaped', 0);
    assert.deepEqual(stored, [
      {
        offset: 0n,
        timestamp: BigInt(stamped),
        key: 'with-headers',
        value: 'v1',
        headers: [
          ['trace', 'abc'],
          ['binary', '\u0001\u0002\u0003'],
          ['none', null],
        ],
      },
      {
        offset: 1n,
        timestamp: BigInt(stamped + 1000),
        key: null,
        value: null,
        headers: [
          ['dup', 'first'],
          ['dup', 'second'],
        ],
      },
      { offset: 2n, timestamp: BigInt(stamped - 1000), key: 'k', value: 'v3', headers: [] },
    ]);
  });

  it('sends a batch of records with one promise, or refuses it whole', async (t) => {
    const { bootstrap, broker } = await startBroker(t);
    await createTopic(broker, 'grouped', 2);
    const p = producer(t, bootstrap);
    const answers = await p.sendBatch(
      Array.from({ length: 10 }, (_, i) => ({ topic: 'grouped', value: `${i}`, partition: i % 2 })),
    );
    assert.deepEqual(
      answers.map((a) => [a.partition, a.offset]),
      Array.from({ length: 10 }, (_, i) => [i % 2, BigInt(Math.floor(i / 2))]),
    );
    await assert.rejects(
      p.sendBatch([
        { topic: 'grouped', value: 'fine' },
        { topic: 'grouped', value: 'bad', timestamp: -1 },
      ]),
      InvalidRecordError,
    );
    assert.deepEqual(await p.sendBatch([]), []);
    await p.flush();
    const stored = [
      ...(await readRecords(broker, 'grouped', 0)),
      ...(await readRecords(broker, 'grouped', 1)),
    ];
    assert.equal(stored.length, 10, 'nothing of the refused batch was sent');
  });

  it('answers the broker time on a LogAppendTime topic', async (t) => {
    const { bootstrap, broker } = await startBroker(t);
    await createTopic(broker, 'appended', 1, { 'message.timestamp.type': 'LogAppendTime' });
    const p = producer(t, bootstrap);
    const before = Date.now();
    const answer = await p.send({ topic: 'appended', value: 'x', timestamp: 1000 });
    assert.ok(answer.timestamp >= BigInt(before) && answer.timestamp <= BigInt(Date.now()));
  });

  it('serializes typed keys and values', async (t) => {
    const { bootstrap, broker } = await startBroker(t);
    await createTopic(broker, 'typed', 1);
    const p = producer<string, { id: number; tags: string[] }>(t, bootstrap, {
      keySerializer: stringSerializer,
      valueSerializer: jsonSerializer,
    });
    await p.send({ topic: 'typed', key: 'a', value: { id: 1, tags: ['x'] } });
    const stored = await readRecords(broker, 'typed', 0);
    assert.deepEqual(JSON.parse(stored[0]!.value!), { id: 1, tags: ['x'] });
    const failing = producer<string, string>(t, bootstrap, {
      valueSerializer: () => {
        throw new Error('no');
      },
    });
    await assert.rejects(failing.send({ topic: 'typed', value: 'x' }), SerializationError);
  });
});

describe('partitioners', () => {
  it('sticks records without a key to one partition per batch and moves on (KIP-480)', async (t) => {
    const { bootstrap, broker } = await startBroker(t);
    await createTopic(broker, 'sticky', 6);
    const p = producer(t, bootstrap, { batchSizeBytes: 1200, lingerMs: 1000 });
    const value = Buffer.alloc(100, 's');
    const answers = await Promise.all(
      Array.from({ length: 300 }, () => p.send({ topic: 'sticky', value })),
    );
    const runs: { partition: number; length: number }[] = [];
    for (const { partition } of answers) {
      const last = runs.at(-1);
      if (last?.partition === partition) last.length++;
      else runs.push({ partition, length: 1 });
    }
    // A run is one full batch (~9 records of 100 bytes in 1200), then another partition.
    assert.ok(runs.length >= 25, `${runs.length} runs`);
    for (const run of runs.slice(0, -1))
      assert.ok(run.length >= 8 && run.length <= 10, `${run.length}`);
    for (let i = 1; i < runs.length; i++)
      assert.notEqual(runs[i]!.partition, runs[i - 1]!.partition);
    assert.ok(new Set(runs.map((r) => r.partition)).size >= 4, 'spread over the partitions');
    for (let partition = 0; partition < 6; partition++) {
      for (const batch of await readBatches(broker, 'sticky', partition)) {
        assert.ok(batch.records.length <= 10);
      }
    }
  });

  it('moves keyless records to another partition when the sticky batch went out', async (t) => {
    const { bootstrap, broker } = await startBroker(t);
    await createTopic(broker, 'lingered', 4);
    const p = producer(t, bootstrap, { lingerMs: 0 });
    const partitions: number[] = [];
    for (let i = 0; i < 12; i++)
      partitions.push((await p.send({ topic: 'lingered', value: 'x' })).partition);
    for (let i = 1; i < partitions.length; i++) assert.notEqual(partitions[i], partitions[i - 1]);
  });

  it('spreads records round-robin, ignoring keys', async (t) => {
    const { bootstrap, broker } = await startBroker(t);
    await createTopic(broker, 'rr', 4);
    const p = producer(t, bootstrap, { partitioner: 'round-robin' });
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) => p.send({ topic: 'rr', key: 'same', value: `${i}` })),
    );
    assert.deepEqual(
      answers.map((a) => a.partition),
      [0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3],
    );
  });

  it('uses a custom partitioner, and the default where it answers undefined', async (t) => {
    const { bootstrap, broker } = await startBroker(t);
    await createTopic(broker, 'custom', 5);
    const seen: number[] = [];
    const p = producer(t, bootstrap, {
      partitioner: ({ key, value, partitionCount, availablePartitions }) => {
        seen.push(partitionCount, availablePartitions.length);
        if (key === null) return undefined;
        return value === null ? 0 : value.length % partitionCount;
      },
    });
    const answers = await Promise.all([
      p.send({ topic: 'custom', key: 'k', value: 'abc' }),
      p.send({ topic: 'custom', key: 'k', value: 'abcd' }),
      p.send({ topic: 'custom', key: 'k', value: null }),
      p.send({ topic: 'custom', value: 'keyless' }),
    ]);
    assert.deepEqual(
      answers.slice(0, 3).map((a) => a.partition),
      [3, 4, 0],
    );
    assert.deepEqual(seen.slice(0, 2), [5, 5]);
    const wrong = producer(t, bootstrap, { partitioner: () => 7 });
    await assert.rejects(wrong.send({ topic: 'custom', value: 'x' }), InvalidRecordError);
  });

  it('refreshes metadata older than metadataMaxAgeMs: new partitions get records', async (t) => {
    const { bootstrap, broker } = await startBroker(t);
    await createTopic(broker, 'growing', 1);
    const fresh = producer(t, bootstrap, { partitioner: 'round-robin', metadataMaxAgeMs: 300 });
    // The default age (5 minutes): this one keeps the topic's first metadata throughout.
    const aged = producer(t, bootstrap, { partitioner: 'round-robin' });
    for (const p of [fresh, aged]) {
      assert.equal((await p.send({ topic: 'growing', key: null, value: 'before' })).partition, 0);
    }
    const admin = new Admin({ bootstrapServers: [bootstrap], logger: silentLogger });
    t.after(() => admin.close());
    const [grown] = await admin.createPartitions([{ topic: 'growing', count: 3 }]);
    assert.equal(grown?.error, null);
    await new Promise((resolve) => setTimeout(resolve, 600));
    // The first record after the wait still goes by the old metadata and starts the refresh
    // (as in Kafka's producer); the records after it see three partitions.
    const partitionsOf = async (p: Producer<string | Buffer | null, string | Buffer | null>) => {
      const used = new Set<number>();
      for (let i = 0; i < 30 && used.size < 3; i++) {
        used.add((await p.send({ topic: 'growing', key: null, value: 'after' })).partition);
      }
      return [...used].sort();
    };
    assert.deepEqual(await partitionsOf(fresh), [0, 1, 2]);
    assert.deepEqual(await partitionsOf(aged), [0]);
  });

  it('sends to an explicit partition', async (t) => {
    const { bootstrap, broker } = await startBroker(t);
    await createTopic(broker, 'explicit', 3);
    const p = producer(t, bootstrap);
    const answers = await Promise.all(
      [2, 0, 2, 1].map((partition) =>
        p.send({ topic: 'explicit', key: 'same', value: 'x', partition }),
      ),
    );
    assert.deepEqual(
      answers.map((a) => a.partition),
      [2, 0, 2, 1],
    );
    assert.equal((await readRecords(broker, 'explicit', 2)).length, 2);
  });
});

describe('acknowledgements', () => {
  for (const acks of [0, 1, -1, 'all'] as const) {
    it(`writes with acks=${acks}`, async (t) => {
      const { bootstrap, broker } = await startBroker(t);
      await createTopic(broker, 'acked', 1);
      const p = producer(t, bootstrap, { acks, lingerMs: 10 });
      assert.equal(p.idempotent, acks === -1 || acks === 'all');
      const answers = await Promise.all(
        Array.from({ length: 20 }, (_, i) => p.send({ topic: 'acked', value: `v${i}` })),
      );
      if (acks === 0) {
        assert.ok(answers.every((a) => a.offset === -1n));
        await p.flush();
        // Nothing answers: wait until the broker has appended.
        for (let i = 0; i < 100 && (await readRecords(broker, 'acked', 0)).length < 20; i++) {
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      } else {
        assert.deepEqual(
          answers.map((a) => a.offset),
          answers.map((_, i) => BigInt(i)),
        );
      }
      const stored = await readRecords(broker, 'acked', 0);
      assert.deepEqual(
        stored.map((r) => r.value),
        answers.map((_, i) => `v${i}`),
      );
      const batches = await readBatches(broker, 'acked', 0);
      for (const batch of batches) {
        assert.equal(batch.producerId >= 0n, p.idempotent, 'producer id when idempotent');
      }
    });
  }

  it('refuses options that contradict idempotence when it is asked for', () => {
    assert.throws(
      () => new Producer({ bootstrapServers: ['x:1'], idempotent: true, acks: 1 }),
      ProducerConfigError,
    );
    assert.throws(
      () =>
        new Producer({
          bootstrapServers: ['x:1'],
          idempotent: true,
          maxInFlightRequestsPerConnection: 6,
        }),
      ProducerConfigError,
    );
    assert.throws(
      () =>
        new Producer({
          bootstrapServers: ['x:1'],
          deliveryTimeoutMs: 1000,
          requestTimeoutMs: 5000,
        }),
      ProducerConfigError,
    );
    assert.equal(new Producer({ bootstrapServers: ['x:1'], retries: 0 }).idempotent, false);
  });
});

describe('buffer memory', () => {
  it('makes send wait while the buffer is full, in order', async (t) => {
    const { bootstrap, broker } = await startBroker(t);
    await createTopic(broker, 'full', 1);
    const p = producer(t, bootstrap, {
      bufferMemoryBytes: 2000,
      lingerMs: 300,
      lingerWhenIdle: true,
    });
    const value = Buffer.alloc(400, 'b');
    const settled: number[] = [];
    const sends = Array.from({ length: 12 }, (_, i) =>
      p.send({ topic: 'full', value, headers: { i: String(i) } }).then((answer) => {
        settled.push(i);
        return answer;
      }),
    );
    // Records wait for metadata first, then four fit (about 440 bytes each).
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.ok(p.bufferedBytes <= 2000, `${p.bufferedBytes} buffered`);
    assert.ok(p.waitingRecords >= 7, `${p.waitingRecords} waiting`);
    const answers = await Promise.all(sends);
    assert.deepEqual(
      answers.map((a) => a.offset),
      answers.map((_, i) => BigInt(i)),
    );
    assert.deepEqual(
      settled,
      settled.toSorted((a, b) => a - b),
    );
    assert.equal(p.bufferedBytes, 0);
    assert.equal(p.waitingRecords, 0);
  });

  it('gives up after maxBlockMs, and refuses a record larger than the buffer', async (t) => {
    const { bootstrap, broker } = await startBroker(t);
    await createTopic(broker, 'blocked', 1);
    const p = producer(t, bootstrap, {
      bufferMemoryBytes: 1000,
      lingerMs: 5000,
      lingerWhenIdle: true,
      maxBlockMs: 200,
    });
    const warmUp = p.send({ topic: 'blocked', value: 'warm-up' });
    await p.flush();
    await warmUp;
    const first = p.send({ topic: 'blocked', value: Buffer.alloc(800) });
    await assert.rejects(
      p.send({ topic: 'blocked', value: Buffer.alloc(800) }),
      ProducerBlockedError,
    );
    await assert.rejects(
      p.send({ topic: 'blocked', value: Buffer.alloc(2000) }),
      RecordTooLargeError,
    );
    await p.flush();
    assert.equal((await first).offset, 1n);
  });
});

describe('linger', () => {
  /** `promise`, or a rejection after `ms`: a send held for its whole linger fails the test. */
  const within = <T>(ms: number, promise: Promise<T>): Promise<T> =>
    Promise.race([
      promise,
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error(`not settled within ${ms} ms`)), ms).unref(),
      ),
    ]);

  it('sends at once to an idle leader, and records sent together in one batch', async (t) => {
    const { bootstrap, broker } = await startBroker(t);
    await createTopic(broker, 'eager', 1);
    const p = producer(t, bootstrap, { lingerMs: 60_000, deliveryTimeoutMs: 120_000 });
    assert.equal((await within(5000, p.send({ topic: 'eager', value: 'first' }))).offset, 0n);
    const answers = await within(
      5000,
      Promise.all(Array.from({ length: 50 }, (_, i) => p.send({ topic: 'eager', value: `r${i}` }))),
    );
    assert.equal(answers.at(-1)?.offset, 50n);
    const batches = await readBatches(broker, 'eager', 0);
    assert.deepEqual(
      batches.map((b) => b.records.length),
      [1, 50],
    );
  });

  it('holds batches for lingerMs even to an idle leader with lingerWhenIdle', async (t) => {
    const { bootstrap, broker } = await startBroker(t);
    await createTopic(broker, 'patient', 1);
    const p = producer(t, bootstrap, { lingerMs: 60_000, lingerWhenIdle: true });
    const sent = p.send({ topic: 'patient', value: 'held' });
    await assert.rejects(within(500, sent), /not settled within 500 ms/);
    await p.flush();
    assert.equal((await sent).offset, 0n);
  });
});

describe('idempotence', () => {
  it('numbers batches with one producer id and consecutive sequences', async (t) => {
    const { bootstrap, broker } = await startBroker(t);
    await createTopic(broker, 'sequenced', 2);
    const p = producer(t, bootstrap, { batchSizeBytes: 500, lingerMs: 5 });
    const value = Buffer.alloc(60, 'q');
    await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        p.send({ topic: 'sequenced', value, partition: i % 2 }),
      ),
    );
    const ids = new Set<bigint>();
    for (const partition of [0, 1]) {
      const batches = await readBatches(broker, 'sequenced', partition);
      assert.ok(batches.length > 5);
      let expected = 0;
      for (const batch of batches) {
        ids.add(batch.producerId);
        assert.equal(batch.producerEpoch, 0);
        assert.equal(batch.baseSequence, expected);
        expected += batch.records.length;
      }
      assert.equal(expected, 100);
    }
    assert.equal(ids.size, 1);
    assert.ok([...ids][0]! >= 0n);
  });

  it('retries after a lost answer without writing a record twice, in order', async (t) => {
    const proxy = await FaultProxy.start();
    t.after(() => proxy.close());
    const { broker, port } = await startBroker(t, {
      'advertised.listeners': `PLAINTEXT://127.0.0.1:${proxy.port}`,
    });
    proxy.forwardTo(port);
    await createTopic(broker, 'lost', 2);
    const p = producer(t, `127.0.0.1:${proxy.port}`, {
      batchSizeBytes: 400,
      lingerMs: 2,
      retryBackoffMs: 20,
    });
    await p.send({ topic: 'lost', value: 'first', partition: 0 });
    proxy.loseProduceAnswers(3);
    const value = (i: number) => `record-${String(i).padStart(4, '0')}-${'x'.repeat(40)}`;
    const answers = await Promise.all(
      Array.from({ length: 400 }, (_, i) =>
        p.send({ topic: 'lost', value: value(i), partition: i % 2 }),
      ),
    );
    assert.equal(proxy.lost, 3, 'three answers were lost');
    for (const partition of [0, 1]) {
      const stored = await readRecords(broker, 'lost', partition);
      const expected = Array.from({ length: 400 }, (_, i) => i)
        .filter((i) => i % 2 === partition)
        .map(value);
      assert.deepEqual(
        stored.map((r) => r.value),
        partition === 0 ? ['first', ...expected] : expected,
        `partition ${partition}: every record once, in order`,
      );
      const mine = answers.filter((a) => a.partition === partition);
      assert.deepEqual(
        mine.map((a) => a.offset),
        stored.slice(partition === 0 ? 1 : 0).map((r) => r.offset),
        'the answered offsets are where the records are',
      );
    }
  });

  it('rides out a broker restart without losing or repeating records', async (t) => {
    // Clients reach the broker through the proxy, which refuses them while the broker restarts
    // (a broker still starting up does not serve the connections it accepts).
    const proxy = await FaultProxy.start();
    t.after(() => proxy.close());
    const { broker, port } = await startBroker(t, {
      'advertised.listeners': `PLAINTEXT://127.0.0.1:${proxy.port}`,
    });
    proxy.forwardTo(port);
    await createTopic(broker, 'restarted', 2);
    const p = producer(t, `127.0.0.1:${proxy.port}`, {
      lingerMs: 1,
      batchSizeBytes: 300,
      retryBackoffMs: 20,
      retryBackoffMaxMs: 100,
    });
    const value = (i: number) => `restart-${String(i).padStart(4, '0')}`;
    const sends: Promise<unknown>[] = [];
    let restarted: Broker | undefined;
    try {
      for (let i = 0; i < 600; i++) {
        sends.push(p.send({ topic: 'restarted', value: value(i), partition: i % 2 }));
        if (i % 50 === 49) await new Promise((resolve) => setTimeout(resolve, 5));
        if (i === 300) {
          proxy.forwardTo(0);
          await broker.stop();
          restarted = await Broker.start({
            config: { ...broker.config, port: 0 },
            logger: silentLogger,
            shutdownGraceMs: 500,
          });
          proxy.forwardTo(restarted.port);
        }
      }
      await Promise.all(sends);
      for (const partition of [0, 1]) {
        const stored = await readRecords(restarted!, 'restarted', partition);
        assert.deepEqual(
          stored.map((r) => r.value),
          Array.from({ length: 600 }, (_, i) => i)
            .filter((i) => i % 2 === partition)
            .map(value),
        );
      }
    } finally {
      await p.close({ flush: false });
      await restarted?.stop();
    }
  });

  it('starts a new epoch after a batch failed for good', async (t) => {
    const { bootstrap, broker } = await startBroker(t);
    await createTopic(broker, 'gap', 1, { 'max.message.bytes': '2000' });
    const p = producer(t, bootstrap, { lingerMs: 0 });
    await p.send({ topic: 'gap', value: 'before' });
    await assert.rejects(
      p.send({ topic: 'gap', value: Buffer.alloc(5000, 'x') }),
      (error: unknown) => error instanceof KafkaProtocolError && !error.retriable,
    );
    await p.send({ topic: 'gap', value: 'after' });
    await p.send({ topic: 'gap', value: 'after 2' });
    const batches = await readBatches(broker, 'gap', 0);
    assert.deepEqual(
      batches.map((b) => [b.producerEpoch, b.baseSequence, b.records[0]!.value?.toString()]),
      [
        [0, 0, 'before'],
        [1, 0, 'after'],
        [1, 1, 'after 2'],
      ],
    );
  });
});

describe('timeouts, aborts and close', () => {
  it('fails records after deliveryTimeoutMs when the broker is gone', async (t) => {
    const { bootstrap, broker, stop } = await startBroker(t);
    await createTopic(broker, 'gone', 1);
    const p = producer(t, bootstrap, {
      lingerMs: 0,
      requestTimeoutMs: 300,
      deliveryTimeoutMs: 1000,
      retryBackoffMs: 50,
      retryBackoffMaxMs: 100,
    });
    await p.send({ topic: 'gone', value: 'x' });
    await stop();
    const started = Date.now();
    await assert.rejects(p.send({ topic: 'gone', value: 'y' }), RetriesExhaustedError);
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 900 && elapsed < 4000, `${elapsed} ms`);
  });

  it('withdraws an aborted record that has not gone out', async (t) => {
    const { bootstrap, broker } = await startBroker(t);
    await createTopic(broker, 'aborted', 1);
    const p = producer(t, bootstrap, { lingerMs: 200 });
    await p.send({ topic: 'aborted', value: 'warm-up' });
    const controller = new AbortController();
    const kept = p.send({ topic: 'aborted', value: 'kept' });
    const dropped = p.send({ topic: 'aborted', value: 'dropped' }, { signal: controller.signal });
    controller.abort();
    await assert.rejects(dropped, AbortedError);
    assert.equal((await kept).offset, 1n);
    await assert.rejects(
      p.send({ topic: 'aborted', value: 'late' }, { signal: AbortSignal.abort() }),
      AbortedError,
    );
    assert.deepEqual(
      (await readRecords(broker, 'aborted', 0)).map((r) => r.value),
      ['warm-up', 'kept'],
    );
  });

  it('flushes on close, and refuses sends afterwards', async (t) => {
    const { bootstrap, broker } = await startBroker(t);
    await createTopic(broker, 'closing', 1);
    const p = new Producer({ bootstrapServers: [bootstrap], lingerMs: 60_000 });
    const sends = Array.from({ length: 10 }, (_, i) => p.send({ topic: 'closing', value: `${i}` }));
    const started = Date.now();
    await p.close();
    assert.ok(Date.now() - started < 5000);
    assert.equal((await Promise.all(sends)).length, 10);
    assert.equal((await readRecords(broker, 'closing', 0)).length, 10);
    await assert.rejects(p.send({ topic: 'closing', value: 'late' }), AbortedError);
  });

  it('fails what is left when closing without a flush', async (t) => {
    const { bootstrap, broker } = await startBroker(t);
    await createTopic(broker, 'dropped', 1);
    const p = new Producer({ bootstrapServers: [bootstrap], lingerMs: 60_000 });
    const sent = p.send({ topic: 'dropped', value: 'sent' });
    await p.flush();
    await sent;
    const pending = p.send({ topic: 'dropped', value: 'left' });
    await p.close({ flush: false });
    await assert.rejects(pending, AbortedError);
    assert.equal((await readRecords(broker, 'dropped', 0)).length, 1);
  });

  it('flush() sends at once and waits for every record', async (t) => {
    const { bootstrap, broker } = await startBroker(t);
    await createTopic(broker, 'flushed', 2);
    const p = producer(t, bootstrap, { lingerMs: 60_000 });
    const sends = Array.from({ length: 50 }, (_, i) =>
      p.send({ topic: 'flushed', key: `${i}`, value: 'x' }),
    );
    let settled = 0;
    for (const send of sends) void send.then(() => settled++);
    await p.flush();
    await Promise.resolve();
    assert.equal(settled, 50);
    const stored =
      (await readRecords(broker, 'flushed', 0)).length +
      (await readRecords(broker, 'flushed', 1)).length;
    assert.equal(stored, 50);
    await assert.rejects(p.flush({ signal: AbortSignal.abort() }), AbortedError);
    const more = p.sendBatch([
      { topic: 'flushed', key: 'a', value: 'y' },
      { topic: 'flushed', key: 'b', value: 'z' },
    ]);
    await p.flush();
    assert.equal((await more).length, 2);
  });
});
