/**
 * Partitioners: murmur2 against Kafka's own test vectors and against librdkafka's
 * `murmur2_random` placement (kcat produces the keys, Brook's producer the same keys, and each
 * key must land on the same partition), plus the sticky and round-robin choosers.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { murmur2, murmur2Partition, Producer, toPositive } from '../src/index.ts';
import { RoundRobinPartitions, StickyPartitions } from '../src/producer/partitioners.ts';
import { startBroker } from './helpers.ts';
import { clientTestOptions, createTopic, kcat, missingCommand } from './producer-support.ts';

describe('murmur2', () => {
  it("matches the Java client's Utils.murmur2 test vectors", () => {
    const vectors: [Uint8Array, number][] = [
      [Buffer.from('21'), -973932308],
      [Buffer.from('foobar'), -790332482],
      [Buffer.from('a-little-bit-long-string'), -985981536],
      [Buffer.from('a-little-bit-longer-string'), -1486304829],
      [Buffer.from('lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8'), -58897971],
      [new Uint8Array([0x61, 0x62, 0x63]), 479470107],
    ];
    for (const [key, hash] of vectors)
      assert.equal(murmur2(key), hash, Buffer.from(key).toString());
    // The empty key (no words, no tail).
    assert.equal(murmur2(new Uint8Array(0)), 275646681);
  });

  it('takes the sign bit off, not the absolute value (Java toPositive)', () => {
    assert.equal(toPositive(-1), 0x7fffffff);
    assert.equal(toPositive(-973932308), -973932308 & 0x7fffffff);
    assert.equal(murmur2Partition(Buffer.from('21'), 7), (-973932308 & 0x7fffffff) % 7);
  });
});

describe('sticky and round-robin choosers', () => {
  it('keeps the sticky partition while its batch takes records, then picks another', () => {
    const sticky = new StickyPartitions();
    const available = [0, 1, 2, 3];
    let open: object | undefined;
    const first = sticky.choose('t', available, 4, () => open);
    open = {};
    sticky.appended('t', first, open);
    for (let i = 0; i < 10; i++)
      assert.equal(
        sticky.choose('t', available, 4, () => open),
        first,
      );
    open = undefined; // the batch filled up or went out
    const second = sticky.choose('t', available, 4, () => open);
    assert.notEqual(second, first);
    // Only partitions with a leader are chosen.
    const seen = new Set<number>();
    for (let i = 0; i < 50; i++) seen.add(sticky.choose('u', [1, 3], 4, () => undefined));
    assert.deepEqual([...seen].sort(), [1, 3]);
  });

  it('goes round the available partitions', () => {
    const rr = new RoundRobinPartitions();
    assert.deepEqual(
      Array.from({ length: 6 }, () => rr.choose('t', [0, 1, 2], 3)),
      [0, 1, 2, 0, 1, 2],
    );
    assert.deepEqual(
      Array.from({ length: 4 }, () => rr.choose('u', [1, 3], 4)),
      [1, 3, 1, 3],
    );
  });
});

const missingKcat = missingCommand('kcat', ['-V'], 'kcat');

describe('default partitioner against librdkafka', () => {
  it(
    "puts every key where kcat's murmur2_random puts it",
    clientTestOptions(missingKcat),
    async (t) => {
      assert.equal(missingKcat, undefined, missingKcat);
      const { bootstrap, broker } = await startBroker(t);
      const partitions = 7;
      await createTopic(broker, 'by-kcat', partitions);
      await createTopic(broker, 'by-brook', partitions);
      const keys = [
        ...Array.from({ length: 150 }, (_, i) => `key-${i}`),
        'a',
        'ab',
        'abc',
        'abcd',
        'ünïcödé',
        'a-little-bit-longer-string',
      ];
      const input = keys.map((key, i) => `${key}\t${i}\n`).join('');
      await kcat(
        ['-b', bootstrap, '-P', '-t', 'by-kcat', '-K', '\\t', '-X', 'partitioner=murmur2_random'],
        input,
      );
      const consumed = (
        await kcat(['-b', bootstrap, '-C', '-t', 'by-kcat', '-o', 'beginning', '-e', '-J'])
      )
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as { key: string; partition: number });
      assert.equal(consumed.length, keys.length);
      const kcatPartition = new Map(consumed.map((m) => [m.key, m.partition]));

      const producer = new Producer({ bootstrapServers: [bootstrap] });
      t.after(() => producer.close());
      const answers = await Promise.all(
        keys.map((key, i) => producer.send({ topic: 'by-brook', key, value: `${i}` })),
      );
      const mismatches = keys.filter(
        (key, i) =>
          answers[i]!.partition !== kcatPartition.get(key) ||
          murmur2Partition(Buffer.from(key), partitions) !== kcatPartition.get(key),
      );
      assert.deepEqual(mismatches, []);
      assert.ok(
        new Set(answers.map((a) => a.partition)).size === partitions,
        'all partitions used',
      );
    },
  );
});
