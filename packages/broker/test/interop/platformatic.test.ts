/**
 * @platformatic/kafka (npm) end to end against Brook, in this process. It speaks the newest
 * flexible versions (Fetch v17 by topic id, CreateTopics v7, ...). Its Consumer's `consume`
 * always joins a group (a later issue); its group-less `fetch` is the consumer by assignment
 * here (platformatic-reader.ts). Beyond the common steps it also grows a topic's partitions,
 * alters configs incrementally, and describes log dirs.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  Admin,
  type CompressionAlgorithmValue,
  ConfigResourceTypes,
  IncrementalAlterConfigOperationTypes,
  type MessageToProduce,
  ProduceAcks,
  Producer,
} from '@platformatic/kafka';
import { startTestBroker } from '../helpers.ts';
import { readPartitions } from './platformatic-reader.ts';
import {
  assertConsumed,
  assertDelivered,
  assertTopicConfigs,
  CODECS,
  CONFIG_SOURCE,
  type Codec,
  type ConsumedRecord,
  type DescribedConfig,
  expectedOffsets,
  offsetForTimestamp,
  PARTITIONS,
  storedProducerIds,
  type TestRecord,
  testRecords,
} from './support.ts';

function platformaticMessage(topic: string, record: TestRecord): MessageToProduce {
  const headers = new Map<Buffer, Buffer>();
  for (const [key, value] of record.headers) {
    assert.ok(value !== null, 'a null header value is not sent');
    // One Buffer per entry, so a repeated header name stays two headers.
    headers.set(Buffer.from(key), value);
  }
  // The option schema requires `value` (null allowed, though its type says Buffer); a null key
  // is an absent one.
  const message = {
    topic,
    partition: record.partition,
    value: record.value,
    headers,
    timestamp: record.timestamp,
  } as MessageToProduce;
  if (record.key !== null) message.key = record.key;
  return message;
}

test('@platformatic/kafka against Brook', async (t) => {
  const { broker, bootstrap } = await startTestBroker(t);
  const common = { bootstrapBrokers: [bootstrap], retries: 2, retryDelay: 100, timeout: 10_000 };
  const admin = new Admin({ ...common, clientId: 'brook-interop-platformatic-admin' });
  t.after(() => admin.close());
  const baseTimestamp = Date.now() - 600_000;
  const plainTopics = CODECS.map((codec) => ({ codec, topic: `pf-${codec}` }));
  const idempotentTopics = CODECS.map((codec) => ({ codec, topic: `pf-idem-${codec}` }));
  const allTopics = [...plainTopics, ...idempotentTopics].map(({ topic }) => topic);
  const configTopic = 'pf-none';
  const produced = new Map<string, TestRecord[]>();

  await t.test('creates topics through the admin client', async () => {
    const created = [
      ...(await admin.createTopics({
        topics: [configTopic],
        partitions: PARTITIONS,
        replicas: 1,
        configs: [{ name: 'retention.ms', value: '86400000' }],
      })),
      ...(await admin.createTopics({
        topics: allTopics.filter((topic) => topic !== configTopic),
        partitions: PARTITIONS,
        replicas: 1,
      })),
    ];
    assert.deepEqual(
      created.map((c) => [c.name, c.partitions, c.replicas]).sort(),
      allTopics.map((topic) => [topic, PARTITIONS, 1]).sort(),
    );
    assert.equal(
      created.find((c) => c.name === configTopic)?.configuration['retention.ms'],
      '86400000',
    );
    const listed = await admin.listTopics();
    for (const topic of allTopics) assert.ok(listed.includes(topic), `${topic} not in ${listed}`);
  });

  const produce = async (jobs: { codec: Codec; topic: string }[], idempotent: boolean) => {
    const producer = new Producer({
      ...common,
      clientId: 'brook-interop-platformatic-producer',
      acks: ProduceAcks.ALL,
      idempotent,
    });
    try {
      for (const { codec, topic } of jobs) {
        const records = testRecords(topic, baseTimestamp);
        const result = await producer.send({
          messages: records.map((record) => platformaticMessage(topic, record)),
          compression: codec as CompressionAlgorithmValue,
        });
        // One batch per partition: each record's offset is its batch's base plus its position.
        const base = new Map((result.offsets ?? []).map((o) => [o.partition, o.offset]));
        const within = expectedOffsets(records);
        assertDelivered(
          `${topic} (${codec})`,
          records.map((r, i) => ({
            partition: r.partition,
            offset: (base.get(r.partition) ?? -1n) + within[i]!,
          })),
          records,
        );
        produced.set(topic, records);
      }
    } finally {
      await producer.close();
    }
  };

  await t.test('produces keyed and unkeyed records with headers in every codec', async () => {
    await produce(plainTopics, false);
  });

  await t.test('produces with idempotence in every codec', async () => {
    await produce(idempotentTopics, true);
    for (const { topic } of idempotentTopics) {
      for (let partition = 0; partition < PARTITIONS; partition++) {
        const ids = await storedProducerIds(broker, topic, partition);
        assert.ok(
          ids.length > 0 && ids.every((id) => id >= 0n),
          `${topic} p${partition}: stored batches should carry a producer id, got ${ids}`,
        );
      }
    }
  });

  const consumed = new Map<string, ConsumedRecord[]>();
  await t.test(
    'consumes every record from the beginning by assignment (fetch, no group)',
    async () => {
      assert.ok(produced.size > 0, 'nothing was produced');
      for (const [topic, records] of produced) {
        const read = await readPartitions(bootstrap, topic);
        consumed.set(topic, read.records);
        assertConsumed(topic, read.records, records);
      }
    },
  );

  await t.test('lists offsets: earliest, latest, max timestamp and by timestamp', async () => {
    const topic = 'pf-zstd';
    const records = consumed.get(topic);
    assert.ok(records !== undefined && records.length > 0, `${topic} was not consumed`);
    const target = records.find((r) => r.partition === 1 && r.offset === 3n)!.timestamp - 3n;
    const queries = [-2n, -1n, -3n, target].flatMap((timestamp) =>
      [0, 1].map((partitionIndex) => ({ partitionIndex, timestamp })),
    );
    const [listed] = await admin.listOffsets({ topics: [{ name: topic, partitions: queries }] });
    const mine = (p: number) => records.filter((r) => r.partition === p);
    const maxRecord = (p: number) =>
      mine(p).reduce((best, r) => (r.timestamp > best.timestamp ? r : best));
    const expected = queries.map(({ partitionIndex: p, timestamp }) => {
      if (timestamp === -2n) return [p, '-2', '0'];
      if (timestamp === -1n) return [p, '-1', String(mine(p).length)];
      if (timestamp === -3n)
        return [p, '-3', `${maxRecord(p).offset} at ${maxRecord(p).timestamp}`];
      return [p, String(timestamp), String(offsetForTimestamp(records, p, timestamp))];
    });
    assert.deepEqual(
      (listed?.partitions ?? []).map((answer, i) => {
        const { timestamp } = queries[i]!;
        const shown =
          timestamp === -3n ? `${answer.offset} at ${answer.timestamp}` : String(answer.offset);
        return [answer.partitionIndex, String(timestamp), shown];
      }),
      expected,
      `${topic}: [partition, asked, answer]`,
    );
  });

  await t.test('alters (whole and incrementally) and describes topic configs', async () => {
    const describe = async (): Promise<Record<string, DescribedConfig>> => {
      const [description] = await admin.describeConfigs({
        resources: [{ resourceType: ConfigResourceTypes.TOPIC, resourceName: configTopic }],
      });
      assert.ok(description !== undefined, 'no description');
      return Object.fromEntries(
        description.configs.map((entry) => [
          entry.name,
          {
            value: entry.value ?? null,
            source: entry.configSource,
            isDefault: entry.configSource === CONFIG_SOURCE.default,
          },
        ]),
      );
    };
    assertTopicConfigs(`${configTopic} as created`, await describe(), {
      overridden: { 'retention.ms': '86400000' },
      defaults: { 'cleanup.policy': 'delete', 'retention.bytes': '-1' },
    });
    // AlterConfigs (not incremental) replaces the topic's whole set of overrides.
    await admin.alterConfigs({
      resources: [
        {
          resourceType: ConfigResourceTypes.TOPIC,
          resourceName: configTopic,
          configs: [
            { name: 'retention.bytes', value: '1048576' },
            { name: 'max.message.bytes', value: '200000' },
          ],
        },
      ],
    });
    assertTopicConfigs(`${configTopic} after AlterConfigs`, await describe(), {
      overridden: { 'retention.bytes': '1048576', 'max.message.bytes': '200000' },
      defaults: { 'retention.ms': '604800000', 'cleanup.policy': 'delete' },
    });
    // IncrementalAlterConfigs changes only what it names.
    await admin.incrementalAlterConfigs({
      resources: [
        {
          resourceType: ConfigResourceTypes.TOPIC,
          resourceName: configTopic,
          configs: [
            {
              name: 'segment.ms',
              configOperation: IncrementalAlterConfigOperationTypes.SET,
              value: '3600000',
            },
            {
              name: 'retention.bytes',
              configOperation: IncrementalAlterConfigOperationTypes.DELETE,
            },
          ],
        },
      ],
    });
    assertTopicConfigs(`${configTopic} after IncrementalAlterConfigs`, await describe(), {
      overridden: { 'segment.ms': '3600000', 'max.message.bytes': '200000' },
      defaults: { 'retention.bytes': '-1', 'retention.ms': '604800000' },
    });
    // A bad value is refused, and changes nothing.
    await assert.rejects(
      admin.alterConfigs({
        resources: [
          {
            resourceType: ConfigResourceTypes.TOPIC,
            resourceName: configTopic,
            configs: [{ name: 'retention.ms', value: 'not-a-number' }],
          },
        ],
      }),
      'AlterConfigs with retention.ms=not-a-number should fail (INVALID_CONFIG)',
    );
    assert.equal((await describe())['segment.ms']?.value, '3600000');
  });

  await t.test('deletes records', async () => {
    const topic = 'pf-snappy';
    const records = produced.get(topic);
    assert.ok(records !== undefined, `${topic} was not produced`);
    const count = (p: number) => BigInt(records.filter((r) => r.partition === p).length);
    // Partition 0 before offset 2; partition 1 entirely (-1: up to the high watermark).
    const [deleted] = await admin.deleteRecords({
      topics: [
        {
          name: topic,
          partitions: [
            { partition: 0, offset: 2n },
            { partition: 1, offset: -1n },
          ],
        },
      ],
    });
    assert.deepEqual(
      deleted?.partitions.map((p) => [p.partition, p.lowWatermark]).sort(),
      [
        [0, 2n],
        [1, count(1)],
      ],
      'deleteRecords: [partition, low watermark]',
    );
    const read = await readPartitions(bootstrap, topic);
    assert.deepEqual([...read.logStart].sort(), [
      [0, 2n],
      [1, count(1)],
    ]);
    assertConsumed(`${topic} after deleteRecords`, read.records, records, {
      skipBelow: read.logStart,
    });
  });

  await t.test('adds partitions to a topic', async () => {
    const topic = 'pf-gzip';
    await admin.createPartitions({ topics: [{ name: topic, count: PARTITIONS + 1 }] });
    const producer = new Producer({ ...common, clientId: 'brook-interop-platformatic-p2' });
    try {
      const result = await producer.send({
        messages: [
          { topic, partition: PARTITIONS, key: Buffer.from('k'), value: Buffer.from('v') },
        ],
      });
      assert.deepEqual(
        result.offsets?.map((o) => [o.partition, o.offset]),
        [[PARTITIONS, 0n]],
        'the first record of the new partition',
      );
    } finally {
      await producer.close();
    }
  });

  await t.test('describes log dirs', async () => {
    const topic = 'pf-lz4';
    const [description] = await admin.describeLogDirs({
      topics: [{ name: topic, partitions: [0, 1] }],
    });
    const partitions =
      description?.results.flatMap((dir) =>
        dir.topics.filter((t) => t.name === topic).flatMap((t) => t.partitions),
      ) ?? [];
    assert.deepEqual(
      partitions.map((p) => [p.partitionIndex, p.partitionSize > 0n]).sort(),
      [
        [0, true],
        [1, true],
      ],
      `${topic}: [partition, has bytes on disk]`,
    );
  });

  await t.test('deletes topics, and a topic re-created with the same name is empty', async () => {
    await admin.deleteTopics({ topics: allTopics });
    const listed = await admin.listTopics();
    assert.deepEqual(
      listed.filter((topic) => allTopics.includes(topic)),
      [],
      'deleted topics still listed',
    );
    for (const topic of allTopics) assert.equal(broker.context.metadata.topic(topic), undefined);
    await admin.createTopics({ topics: [configTopic], partitions: PARTITIONS, replicas: 1 });
    const [offsets] = await admin.listOffsets({
      topics: [
        {
          name: configTopic,
          partitions: [0, 1].map((partitionIndex) => ({ partitionIndex, timestamp: -1n })),
        },
      ],
    });
    assert.deepEqual(
      offsets?.partitions.map((p) => p.offset),
      [0n, 0n],
      'latest offsets of the re-created topic',
    );
  });
});
