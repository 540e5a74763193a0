/**
 * kcat (Debian's kcat on librdkafka) end to end against Brook.
 *
 * kcat has no admin API: topics are created by librdkafka's Metadata request (`-L -t`, with
 * auto-creation), and configs, DeleteRecords and DeleteTopics cannot be driven from it. It reads
 * messages as text lines (`key<TAB>value`, `-Z` makes an empty key or value null), its `-H`
 * headers go on every message of a run, and librdkafka stamps the CreateTime itself, so the
 * check is that each timestamp falls within the produce run.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startTestBroker } from '../helpers.ts';
import {
  assertConsumed,
  CODECS,
  type ConsumedRecord,
  clientTestOptions,
  missingCommand,
  offsetForTimestamp,
  PARTITIONS,
  run,
  storedProducerIds,
  type TestRecord,
} from './support.ts';

const missing = missingCommand('kcat', ['-V'], 'kcat');

const HEADERS: [string, Buffer | null][] = [
  ['trace', Buffer.from('kcat')],
  ['trace', Buffer.from('second')],
  ['empty', Buffer.alloc(0)],
  ['nullh', null],
];
const HEADER_ARGS = ['-H', 'trace=kcat', '-H', 'trace=second', '-H', 'empty=', '-H', 'nullh'];

/** The lines of one kcat run on one partition: keyed and unkeyed, a null and a long value. */
function kcatRecords(topic: string, partition: number): TestRecord[] {
  return Array.from({ length: 5 }, (_, i) => ({
    partition,
    key: i % 3 === 1 ? null : Buffer.from(`key-${partition}-${i}`),
    value:
      i === 3
        ? null
        : Buffer.from(
            i === 2
              ? `${topic} ${'lorem ipsum dolor sit amet '.repeat(80)}`
              : `${topic} value ${partition}-${i} ünïcödé`,
          ),
    headers: HEADERS,
    timestamp: -1n,
  }));
}

interface KcatMessage {
  topic: string;
  partition: number;
  offset: number;
  tstype: string;
  ts: number;
  headers?: (string | null)[];
  key: string | null;
  payload: string | null;
}

function fromKcat(message: KcatMessage): ConsumedRecord {
  const headers: [string, Buffer | null][] = [];
  const flat = message.headers ?? [];
  for (let i = 0; i < flat.length; i += 2) {
    const value = flat[i + 1];
    headers.push([
      flat[i] ?? '',
      value === null || value === undefined ? null : Buffer.from(value),
    ]);
  }
  return {
    partition: message.partition,
    offset: BigInt(message.offset),
    timestamp: BigInt(message.ts),
    timestampType: message.tstype === 'create' ? 0 : 1,
    key: message.key === null ? null : Buffer.from(message.key),
    value: message.payload === null ? null : Buffer.from(message.payload),
    headers,
  };
}

/** kcat exits with 0 even after a fatal librdkafka error: its stderr tells. */
async function kcat(args: string[], input?: string): Promise<string> {
  const result = await run('kcat', ['-q', ...args], {
    timeoutMs: 20_000,
    ...(input ? { input } : {}),
  });
  if (result.code !== 0 || /FATAL|ERROR|fail/i.test(result.stderr)) {
    throw new Error(
      `kcat ${args.join(' ')} exited with ${result.code ?? result.signal}\n--- stderr ---\n${result.stderr}`,
    );
  }
  return result.stdout;
}

test('kcat against Brook', clientTestOptions(missing), async (t) => {
  assert.equal(missing, undefined, missing);
  const { broker, bootstrap } = await startTestBroker(t, {
    properties: { 'num.partitions': String(PARTITIONS) },
  });
  const common = ['-b', bootstrap, '-m', '15', '-X', 'client.id=brook-interop-kcat'];
  const plainTopics = CODECS.map((codec) => ({ codec, topic: `kc-${codec}` }));
  const idempotentTopics = CODECS.map((codec) => ({ codec, topic: `kc-idem-${codec}` }));
  const produced = new Map<string, { records: TestRecord[]; window: [number, number] }>();

  await t.test('creates topics by auto-creation on Metadata (kcat has no admin API)', async () => {
    for (const { topic } of [...plainTopics, ...idempotentTopics]) {
      const listed = JSON.parse(await kcat([...common, '-L', '-J', '-t', topic])) as {
        topics: {
          topic: string;
          err?: string;
          partitions: { partition: number; leader: number }[];
        }[];
      };
      assert.deepEqual(
        listed.topics.map((entry) => [entry.topic, entry.err, entry.partitions.length]),
        [[topic, undefined, PARTITIONS]],
        `kcat -L -t ${topic}`,
      );
    }
  });

  const produce = async (jobs: { codec: string; topic: string }[], extra: string[]) => {
    await Promise.all(
      jobs.map(async ({ codec, topic }) => {
        const records: TestRecord[] = [];
        const start = Date.now();
        for (let partition = 0; partition < PARTITIONS; partition++) {
          const lines = kcatRecords(topic, partition);
          const input = lines
            .map((r) => `${r.key?.toString() ?? ''}\t${r.value?.toString() ?? ''}\n`)
            .join('');
          await kcat(
            [
              ...common,
              '-P',
              '-t',
              topic,
              '-p',
              String(partition),
              '-K',
              '\\t',
              '-Z',
              ...HEADER_ARGS,
              '-X',
              `compression.codec=${codec}`,
              '-X',
              'linger.ms=5',
              ...extra,
            ],
            input,
          );
          records.push(...lines);
        }
        produced.set(topic, { records, window: [start, Date.now()] });
      }),
    );
  };

  await t.test('produces keyed and unkeyed records with headers in every codec', async () => {
    await produce(plainTopics, []);
  });

  await t.test('produces with idempotence in every codec', async () => {
    await produce(idempotentTopics, ['-X', 'enable.idempotence=true']);
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
    'consumes every record from the beginning by assignment (-C, no group)',
    async () => {
      assert.ok(produced.size > 0, 'nothing was produced');
      await Promise.all(
        [...produced].map(async ([topic, { records, window }]) => {
          const out = await kcat([...common, '-C', '-t', topic, '-o', 'beginning', '-e', '-J']);
          const mine = out
            .split('\n')
            .filter((line) => line !== '')
            .map((line) => fromKcat(JSON.parse(line) as KcatMessage));
          consumed.set(topic, mine);
          assertConsumed(topic, mine, records, { timestampWindow: window });
        }),
      );
    },
  );

  await t.test('lists offsets: earliest, latest and by timestamp (-Q)', async () => {
    const topic = 'kc-gzip';
    const records = consumed.get(topic);
    assert.ok(records !== undefined && records.length > 0, `${topic} was not consumed`);
    const query = async (timestamps: bigint[]) => {
      const args = timestamps.flatMap((ts, partition) => ['-t', `${topic}:${partition}:${ts}`]);
      const out = JSON.parse(await kcat([...common, '-Q', '-J', ...args])) as Record<
        string,
        Record<string, { partition: number; offset: number }>
      >;
      return timestamps.map((_, partition) => String(out[topic]?.[String(partition)]?.offset));
    };
    const count = (p: number) => String(records.filter((r) => r.partition === p).length);
    assert.deepEqual(await query([-2n, -2n]), ['0', '0'], 'earliest (-2)');
    assert.deepEqual(await query([-1n, -1n]), [count(0), count(1)], 'latest (-1)');
    // The timestamp of a record in the middle of each partition's (compressed) batch.
    const targets = [0, 1].map((p) => records.find((r) => r.partition === p && r.offset === 2n)!);
    assert.deepEqual(
      await query(targets.map((r) => r.timestamp)),
      targets.map((r) => String(offsetForTimestamp(records, r.partition, r.timestamp))),
      `by timestamp ${targets.map((r) => r.timestamp)}`,
    );
  });

  // kcat has no admin API: config changes, DeleteRecords and DeleteTopics are exercised through
  // the other clients (confluent-kafka, kafka-python, kafkajs, @platformatic/kafka).
});
