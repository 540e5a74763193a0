/**
 * What Brook's producer writes, read back by other clients: kcat and confluent-kafka (both on
 * librdkafka) consume every codec's topic from the beginning and must see each record's
 * partition, offset, timestamp, key, value and headers as the producer answered and sent them.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Producer, type RecordMetadata } from '../src/index.ts';
import { startBroker } from './helpers.ts';
import {
  clientTestOptions,
  createTopic,
  kcat,
  missingCommand,
  PYTHON,
  run,
  sortByPosition,
} from './producer-support.ts';

const CODECS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;
const PARTITIONS = 3;
const READER = fileURLToPath(new URL('./confluent-kafka-reader.py', import.meta.url));

/** A record as every reader is mapped to: text, null for null. */
interface Seen {
  topic: string;
  partition: number;
  offset: string;
  timestamp: string;
  key: string | null;
  value: string | null;
  headers: [string, string | null][];
}

interface Sent {
  key: string | null;
  value: string | null;
  headers: { key: string; value: string | null }[];
}

function records(codec: string): Sent[] {
  return Array.from({ length: 40 }, (_, i) => ({
    key: i % 7 === 3 ? null : `key-${i % 11}`,
    value:
      i % 13 === 5
        ? null
        : i % 10 === 0
          ? `${codec} ${'lorem ipsum dolor sit amet '.repeat(60)}${i}`
          : `${codec} value ${i} ünïcödé`,
    headers:
      i % 4 === 0
        ? []
        : [
            { key: 'trace', value: `t-${i}` },
            { key: 'trace', value: 'again' },
            { key: 'empty', value: '' },
            { key: 'nothing', value: null },
          ],
  }));
}

function expected(topic: string, sent: Sent[], answers: RecordMetadata[]): Seen[] {
  return sort(
    sent.map((record, i) => ({
      topic,
      partition: answers[i]!.partition,
      offset: String(answers[i]!.offset),
      timestamp: String(answers[i]!.timestamp),
      key: record.key,
      value: record.value,
      headers: record.headers.map((h): [string, string | null] => [h.key, h.value]),
    })),
  );
}

const sort = sortByPosition<Seen>;

const missingKcat = missingCommand('kcat', ['-V'], 'kcat');
const missingConfluent = missingCommand(
  PYTHON,
  ['-c', 'import confluent_kafka'],
  'python3-confluent-kafka',
);

describe('records written by the producer, read by other clients', () => {
  it(
    'kcat and confluent-kafka read keys, values and headers in every codec',
    clientTestOptions(missingKcat ?? missingConfluent),
    async (t) => {
      assert.equal(missingKcat, undefined, missingKcat);
      assert.equal(missingConfluent, undefined, missingConfluent);
      const { bootstrap, broker } = await startBroker(t);
      const want: Seen[] = [];
      for (const codec of CODECS) {
        const topic = `interop-${codec}`;
        await createTopic(broker, topic, PARTITIONS);
        const producer = new Producer({ bootstrapServers: [bootstrap], compression: codec });
        const sent = records(codec);
        const answers = await Promise.all(
          sent.map((record) =>
            producer.send({
              topic,
              key: record.key,
              value: record.value,
              headers: record.headers,
            }),
          ),
        );
        await producer.close();
        want.push(...expected(topic, sent, answers));
      }
      assert.ok(new Set(want.map((r) => `${r.topic}/${r.partition}`)).size > CODECS.length);

      await t.test('kcat', async () => {
        const seen: Seen[] = [];
        for (const codec of CODECS) {
          const out = await kcat([
            '-b',
            bootstrap,
            '-C',
            '-t',
            `interop-${codec}`,
            '-o',
            'beginning',
            '-e',
            '-J',
          ]);
          for (const line of out.split('\n')) {
            if (line === '') continue;
            const m = JSON.parse(line) as {
              topic: string;
              partition: number;
              offset: number;
              ts: number;
              key: string | null;
              payload: string | null;
              headers?: (string | null)[];
            };
            const flat = m.headers ?? [];
            const headers: [string, string | null][] = [];
            for (let i = 0; i < flat.length; i += 2) headers.push([flat[i]!, flat[i + 1] ?? null]);
            seen.push({
              topic: m.topic,
              partition: m.partition,
              offset: String(m.offset),
              timestamp: String(m.ts),
              key: m.key,
              value: m.payload,
              headers,
            });
          }
        }
        assert.deepEqual(sort(seen), sort(want));
      });

      await t.test('confluent-kafka', async () => {
        const partitions = CODECS.flatMap((codec) =>
          Array.from({ length: PARTITIONS }, (_, p) => [`interop-${codec}`, p]),
        );
        const result = await run(PYTHON, [READER], {
          input: JSON.stringify({ bootstrap, partitions }),
          timeoutMs: 60_000,
        });
        assert.equal(result.code, 0, result.stderr);
        const text = (hex: string | null) =>
          hex === null ? null : Buffer.from(hex, 'hex').toString();
        const seen = (
          JSON.parse(result.stdout) as {
            topic: string;
            partition: number;
            offset: number;
            timestamp: number;
            key: string | null;
            value: string | null;
            headers: [string, string | null][];
          }[]
        ).map((m) => ({
          topic: m.topic,
          partition: m.partition,
          offset: String(m.offset),
          timestamp: String(m.timestamp),
          key: text(m.key),
          value: text(m.value),
          headers: m.headers.map(([k, v]): [string, string | null] => [k, text(v)]),
        }));
        assert.deepEqual(sort(seen), sort(want));
      });
    },
  );
});
