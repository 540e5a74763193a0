/**
 * The interop steps of a Python client (confluent-kafka, kafka-python), run through its driver
 * script against a broker of the test's own: create topics, produce in every codec (and with
 * idempotence where the client has it), consume by assignment and check every record, list
 * offsets, alter and describe configs, delete topics.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { startTestBroker } from '../helpers.ts';
import {
  assertConsumed,
  assertDelivered,
  assertTopicConfigs,
  CODECS,
  type DescribedConfig,
  type JsonConsumedRecord,
  offsetForTimestamp,
  PARTITIONS,
  pythonDriver,
  recordFromJson,
  recordToJson,
  storedProducerIds,
  type TestRecord,
  testRecords,
} from './support.ts';

export interface PythonClient {
  /** For messages: "confluent-kafka". */
  name: string;
  /** Topic name prefix. */
  prefix: string;
  /** The driver script, in this folder. */
  driver: string;
  /** Why the client cannot produce idempotently, or undefined when it can. */
  noIdempotence?: string;
  /** Why the client cannot delete records. */
  /** Why the client cannot send DeleteRecords (documents the gap; covered by other clients). */
  noDeleteRecords: string;
}

interface Delivery {
  error: string | null;
  partition: number;
  offset: number;
}

interface DescribedJson {
  value: string | null;
  source: number | null;
  is_default: boolean;
}

function describedConfigs(json: Record<string, DescribedJson>): Record<string, DescribedConfig> {
  return Object.fromEntries(
    Object.entries(json).map(([name, entry]) => [
      name,
      { value: entry.value, source: entry.source, isDefault: entry.is_default },
    ]),
  );
}

export async function pythonClientSuite(t: TestContext, client: PythonClient): Promise<void> {
  const { broker, bootstrap } = await startTestBroker(t);
  const call = pythonDriver(join(import.meta.dirname, client.driver), bootstrap);
  const baseTimestamp = Date.now() - 600_000;
  const plainTopics = CODECS.map((codec) => ({ codec, topic: `${client.prefix}-${codec}` }));
  const idempotentTopics =
    client.noIdempotence === undefined
      ? CODECS.map((codec) => ({ codec, topic: `${client.prefix}-idem-${codec}` }))
      : [];
  const configTopic = `${client.prefix}-none`;
  const produced = new Map<string, TestRecord[]>();

  await t.test(`creates topics through ${client.name}'s admin client`, async () => {
    const topics = [...plainTopics, ...idempotentTopics].map(({ topic }) => ({
      name: topic,
      partitions: PARTITIONS,
      configs: topic === configTopic ? { 'retention.ms': '86400000' } : {},
    }));
    const listed = await call<string[]>('create_topics', { topics });
    for (const { name } of topics) assert.ok(listed.includes(name), `${name} not in ${listed}`);
    for (const { name } of topics) {
      assert.equal(broker.context.metadata.topic(name)?.partitionCount, PARTITIONS, name);
    }
  });

  const produce = async (jobs: { codec: string; topic: string }[], idempotent: boolean) => {
    const withRecords = jobs.map((job) => ({
      ...job,
      idempotent,
      records: testRecords(job.topic, baseTimestamp),
    }));
    const reports = await call<Delivery[][]>('produce', {
      jobs: withRecords.map((job) => ({ ...job, records: job.records.map(recordToJson) })),
    });
    withRecords.forEach((job, i) => {
      assertDelivered(`${job.topic} (${job.codec})`, reports[i]!, job.records);
      produced.set(job.topic, job.records);
    });
  };

  await t.test('produces keyed and unkeyed records with headers in every codec', async () => {
    await produce(plainTopics, false);
  });

  if (client.noIdempotence === undefined) {
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
  }
  // A client without an idempotent producer (kafka-python 2.0.2) leaves idempotence to the
  // other clients' suites.

  const consumed = new Map<string, ReturnType<typeof recordFromJson>[]>();
  await t.test('consumes every record from the beginning by assignment (no group)', async () => {
    assert.ok(produced.size > 0, 'nothing was produced');
    const partitions = [...produced.keys()].flatMap((topic) =>
      Array.from({ length: PARTITIONS }, (_, partition) => ({ topic, partition })),
    );
    const records = await call<JsonConsumedRecord[]>('consume', { partitions });
    for (const topic of produced.keys()) {
      const mine = records.filter((record) => record.topic === topic).map(recordFromJson);
      consumed.set(topic, mine);
      assertConsumed(topic, mine, produced.get(topic)!);
    }
  });

  await t.test('lists offsets: earliest, latest and by timestamp', async () => {
    const topic = `${client.prefix}-gzip`;
    const records = consumed.get(topic);
    assert.ok(records !== undefined && records.length > 0, `${topic} was not consumed`);
    // A record inside a compressed batch, a time between two records, and a time after all.
    const at = (partition: number, offset: bigint) =>
      records.find((r) => r.partition === partition && r.offset === offset)!.timestamp;
    const targets = [
      { partition: 0, timestamp: at(0, 2n) },
      { partition: 1, timestamp: at(1, 3n) - 5n },
      { partition: 0, timestamp: at(0, 4n) + 60_000n },
    ];
    const answers = await call<{ earliest: number; latest: number; for_timestamp: number }[]>(
      'list_offsets',
      {
        queries: targets.map((q) => ({ topic, ...q, timestamp: Number(q.timestamp) })),
      },
    );
    const perPartition = (p: number) => BigInt(records.filter((r) => r.partition === p).length);
    assert.deepEqual(
      answers.map((a) => [a.earliest, a.latest, a.for_timestamp].map(String)),
      targets.map((q) =>
        [0n, perPartition(q.partition), offsetForTimestamp(records, q.partition, q.timestamp)].map(
          String,
        ),
      ),
      `${topic}: [earliest, latest, offset for timestamp] of ${JSON.stringify(targets, (_, v) => (typeof v === 'bigint' ? String(v) : v))}`,
    );
  });

  await t.test('alters and describes topic configs', async () => {
    const describe = async () =>
      describedConfigs(
        await call<Record<string, DescribedJson>>('describe_configs', { topic: configTopic }),
      );
    assertTopicConfigs(`${configTopic} as created`, await describe(), {
      overridden: { 'retention.ms': '86400000' },
      defaults: { 'cleanup.policy': 'delete', 'retention.bytes': '-1' },
    });
    // AlterConfigs (not incremental) replaces the topic's whole set of overrides.
    await call('alter_configs', {
      topic: configTopic,
      configs: { 'retention.bytes': '1048576', 'max.message.bytes': '200000' },
    });
    assertTopicConfigs(`${configTopic} after AlterConfigs`, await describe(), {
      overridden: { 'retention.bytes': '1048576', 'max.message.bytes': '200000' },
      defaults: { 'retention.ms': '604800000', 'cleanup.policy': 'delete' },
    });
  });

  // Neither Python client here can send DeleteRecords (confluent-kafka added it in 2.4,
  // kafka-python 2.0.2 lacks it): kafkajs and @platformatic/kafka cover it.

  await t.test('deletes topics', async () => {
    const topics = [...plainTopics, ...idempotentTopics].map(({ topic }) => topic);
    const left = await call<string[]>('delete_topics', { topics });
    assert.deepEqual(
      left.filter((topic) => topics.includes(topic)),
      [],
      'deleted topics still listed',
    );
    for (const topic of topics) assert.equal(broker.context.metadata.topic(topic), undefined);
  });
}
