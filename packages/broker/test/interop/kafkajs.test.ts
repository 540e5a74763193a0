/**
 * kafkajs (npm) end to end against Brook, in this process.
 *
 * kafkajs has gzip only built in; snappy, lz4 and zstd are registered here through its
 * CompressionCodecs hook with Brook's own codecs, so its batches in every codec reach the
 * broker (and @platformatic/kafka, which decompresses with its own, reads them back).
 * kafkajs has no consumer without a group (groups are a later issue), so the records it wrote
 * are read back by assignment with @platformatic/kafka's group-less fetch.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  CompressionType,
  type CompressionType as CompressionTypeValue,
  compress,
  decompress,
} from '@brook/protocol';
import kafkajs, { type IHeaders, Kafka, type Message } from 'kafkajs';
import { startTestBroker } from '../helpers.ts';
import { readPartitions } from './platformatic-reader.ts';
import {
  assertConsumed,
  assertDelivered,
  assertTopicConfigs,
  CODECS,
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

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

function brookCodec(type: CompressionTypeValue) {
  return () => ({
    compress: async (encoder: { buffer: Buffer }) => compress(type, encoder.buffer),
    decompress: async (buffer: Buffer) => decompress(type, buffer, { maxOutputBytes: 1 << 28 }),
  });
}
// CommonJS exports that Node's ESM loader does not detect by name.
const { CompressionCodecs, CompressionTypes, ConfigResourceTypes, logLevel } = kafkajs;
CompressionCodecs[CompressionTypes.Snappy] = brookCodec(CompressionType.snappy);
CompressionCodecs[CompressionTypes.LZ4] = brookCodec(CompressionType.lz4);
CompressionCodecs[CompressionTypes.ZSTD] = brookCodec(CompressionType.zstd);

const COMPRESSION: Record<Codec, kafkajs.CompressionTypes> = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
  snappy: CompressionTypes.Snappy,
  lz4: CompressionTypes.LZ4,
  zstd: CompressionTypes.ZSTD,
};

/** kafkajs takes headers as an object: repeated keys (adjacent in TestRecord) become arrays. */
function kafkajsMessage(record: TestRecord): Message {
  const headers: IHeaders = {};
  for (const [key, value] of record.headers) {
    assert.ok(value !== null, 'kafkajs cannot send a null header value');
    const previous = headers[key];
    headers[key] =
      previous === undefined
        ? value
        : [...(Array.isArray(previous) ? previous : [previous]), value];
  }
  return {
    partition: record.partition,
    key: record.key,
    value: record.value,
    headers,
    timestamp: String(record.timestamp),
  };
}

test('kafkajs against Brook', async (t) => {
  const { broker, bootstrap } = await startTestBroker(t);
  const kafka = new Kafka({
    clientId: 'brook-interop-kafkajs',
    brokers: [bootstrap],
    logLevel: logLevel.ERROR,
    retry: { retries: 2, initialRetryTime: 100 },
  });
  const admin = kafka.admin();
  await admin.connect();
  t.after(() => admin.disconnect());
  const baseTimestamp = Date.now() - 600_000;
  const plainTopics = CODECS.map((codec) => ({ codec, topic: `kj-${codec}` }));
  const idempotentTopics = CODECS.map((codec) => ({ codec, topic: `kj-idem-${codec}` }));
  const configTopic = 'kj-none';
  const produced = new Map<string, TestRecord[]>();

  await t.test('creates topics through the admin client', async () => {
    const topics = [...plainTopics, ...idempotentTopics].map(({ topic }) => topic);
    const created = await admin.createTopics({
      waitForLeaders: true,
      topics: topics.map((topic) => ({
        topic,
        numPartitions: PARTITIONS,
        replicationFactor: 1,
        configEntries: topic === configTopic ? [{ name: 'retention.ms', value: '86400000' }] : [],
      })),
    });
    assert.equal(created, true, 'createTopics should report the topics as created');
    const listed = await admin.listTopics();
    for (const topic of topics) assert.ok(listed.includes(topic), `${topic} not in ${listed}`);
    const metadata = await admin.fetchTopicMetadata({ topics });
    for (const topic of metadata.topics) assert.equal(topic.partitions.length, PARTITIONS);
  });

  const produce = async (
    jobs: { codec: Codec; topic: string }[],
    producer: ReturnType<typeof kafka.producer>,
  ) => {
    await producer.connect();
    try {
      for (const { codec, topic } of jobs) {
        const records = testRecords(topic, baseTimestamp);
        const metadata = await producer.send({
          topic,
          acks: -1,
          compression: COMPRESSION[codec],
          messages: records.map(kafkajsMessage),
        });
        // One batch per partition: each record's offset is its batch's base plus its position.
        const base = new Map(metadata.map((m) => [m.partition, BigInt(m.baseOffset ?? -1)]));
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
      await producer.disconnect();
    }
  };

  await t.test('produces keyed and unkeyed records with headers in every codec', async () => {
    await produce(plainTopics, kafka.producer({ allowAutoTopicCreation: false }));
  });

  await t.test('produces with idempotence in every codec', async () => {
    await produce(
      idempotentTopics,
      kafka.producer({ allowAutoTopicCreation: false, idempotent: true, maxInFlightRequests: 1 }),
    );
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
    'its records read back by assignment (with @platformatic/kafka: kafkajs needs a group)',
    async () => {
      assert.ok(produced.size > 0, 'nothing was produced');
      for (const [topic, records] of produced) {
        const read = await readPartitions(bootstrap, topic);
        consumed.set(topic, read.records);
        assertConsumed(topic, read.records, records);
      }
    },
  );

  await t.test('lists offsets: earliest, latest and by timestamp', async () => {
    const topic = 'kj-gzip';
    const records = consumed.get(topic);
    assert.ok(records !== undefined && records.length > 0, `${topic} was not consumed`);
    const offsets = await admin.fetchTopicOffsets(topic);
    const count = (p: number) => String(records.filter((r) => r.partition === p).length);
    assert.deepEqual(
      offsets.map((o) => [o.partition, o.low, o.high]).sort(),
      [0, 1].map((p) => [p, '0', count(p)]),
      'fetchTopicOffsets: [partition, low, high]',
    );
    const target = records.find((r) => r.partition === 0 && r.offset === 2n)!.timestamp;
    const byTime = await admin.fetchTopicOffsetsByTimestamp(topic, Number(target));
    assert.deepEqual(
      byTime.map((o) => [o.partition, o.offset]).sort(),
      [0, 1].map((p) => [p, String(offsetForTimestamp(records, p, target))]),
      `fetchTopicOffsetsByTimestamp(${target})`,
    );
  });

  await t.test('alters and describes topic configs', async () => {
    const describe = async (): Promise<Record<string, DescribedConfig>> => {
      const response = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: ConfigResourceTypes.TOPIC, name: configTopic }],
      });
      const [resource] = response.resources;
      assert.equal(resource?.errorCode, 0, resource?.errorMessage);
      return Object.fromEntries(
        resource.configEntries.map((entry) => [
          entry.configName,
          {
            value: entry.configValue,
            source: entry.configSource ?? null,
            isDefault: entry.isDefault,
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
      validateOnly: false,
      resources: [
        {
          type: ConfigResourceTypes.TOPIC,
          name: configTopic,
          configEntries: [
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
  });

  await t.test('deletes records', async () => {
    const topic = 'kj-lz4';
    const records = produced.get(topic);
    assert.ok(records !== undefined, `${topic} was not produced`);
    const count = (p: number) => BigInt(records.filter((r) => r.partition === p).length);
    // This also makes the topic one the admin keeps metadata for, which deleteTopicRecords
    // needs (it looks the partition leaders up before it refreshes anything).
    const before = await admin.fetchTopicOffsets(topic);
    assert.deepEqual(
      before.map((o) => [o.partition, o.low, o.high]).sort(),
      [0, 1].map((p) => [p, '0', String(count(p))]),
      'fetchTopicOffsets before deleteTopicRecords: [partition, low, high]',
    );
    // Partition 0 before offset 2; partition 1 entirely (-1: up to the high watermark).
    await admin
      .deleteTopicRecords({
        topic,
        partitions: [
          { partition: 0, offset: '2' },
          { partition: 1, offset: '-1' },
        ],
      })
      .catch((error: Error & { partitions?: { partition: number; error: Error }[] }) => {
        // The error's message says nothing: each partition's own error does.
        const detail = (error.partitions ?? []).map((p) => `p${p.partition}: ${p.error}`);
        throw new Error(`deleteTopicRecords: ${error.message}: ${detail.join('; ')}`, {
          cause: error,
        });
      });
    const offsets = await admin.fetchTopicOffsets(topic);
    assert.deepEqual(
      offsets.map((o) => [o.partition, o.low, o.high]).sort(),
      [
        [0, '2', String(count(0))],
        [1, String(count(1)), String(count(1))],
      ],
      'fetchTopicOffsets after deleteTopicRecords: [partition, low, high]',
    );
    const read = await readPartitions(bootstrap, topic);
    assertConsumed(`${topic} after deleteTopicRecords`, read.records, records, {
      skipBelow: new Map([
        [0, 2n],
        [1, count(1)],
      ]),
    });
  });

  await t.test('deletes topics', async () => {
    const topics = [...plainTopics, ...idempotentTopics].map(({ topic }) => topic);
    await admin.deleteTopics({ topics, timeout: 10_000 });
    const listed = await admin.listTopics();
    assert.deepEqual(
      listed.filter((topic) => topics.includes(topic)),
      [],
      'deleted topics still listed',
    );
    for (const topic of topics) assert.equal(broker.context.metadata.topic(topic), undefined);
  });
});
