/**
 * Brook's consumer with other clients, on a Brook broker.
 *
 * Records written by kcat and confluent-kafka (both librdkafka) in every codec, with keys,
 * headers and null values, must come out of Brook's consumer byte for byte, at the partitions,
 * offsets and timestamps the writers were told.
 *
 * Brook consumers in groups together with other clients' consumers: with
 * librdkafka (confluent-kafka for Python) under Kafka's standard assignor names "range" and
 * "roundrobin", each client leading the group once, and with kafkajs (whose round-robin
 * assignor is named "RoundRobinAssigner"). Each group must split the partitions with no
 * overlap and read every record once, and the Brook member must take over when the other leaves.
 */
import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import {
  type Assignor,
  Consumer,
  rangeAssignor,
  roundRobinAssignor,
  stringDeserializer,
} from '../src/index.ts';
import { createTopic, fill, rawConnection, waitFor } from './consumer-support.ts';
import { startBroker, type TestBroker } from './helpers.ts';
import { kcat, missingCommand, run, sortByPosition } from './producer-support.ts';

const PYTHON = '/usr/bin/python3';
const DRIVER = join(import.meta.dirname, 'consumer-interop-driver.py');
const IN_CI = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false';

function missingConfluentKafka(): string | undefined {
  const probe = spawnSync(PYTHON, ['-c', 'import confluent_kafka'], {
    encoding: 'utf8',
    timeout: 10_000,
  });
  if (probe.error === undefined && probe.status === 0) return undefined;
  return `${PYTHON} cannot import confluent_kafka: install the Debian package python3-confluent-kafka`;
}

const missing = missingConfluentKafka();
const librdkafkaOptions = missing !== undefined && !IN_CI ? { skip: missing } : {};

/** "topic/partition" → the value read there, per client. */
interface Reads {
  readonly values: string[];
  readonly owned: Set<string>;
}

function newReads(): Reads {
  return { values: [], owned: new Set() };
}

/** A librdkafka member in its own process; killed at the end of the test if still running. */
class LibrdkafkaMember {
  readonly reads = newReads();
  readonly errors: string[] = [];
  private readonly child: ChildProcessWithoutNullStreams;
  private exited: Promise<void>;
  closed = false;

  constructor(
    t: { after(fn: () => void): void },
    options: { bootstrap: string; group: string; topics: string[]; strategy: string },
  ) {
    this.child = spawn(PYTHON, [
      DRIVER,
      JSON.stringify({
        bootstrap: options.bootstrap,
        group: options.group,
        topics: options.topics,
        config: { 'partition.assignment.strategy': options.strategy },
      }),
    ]);
    this.exited = new Promise((resolve) => this.child.once('exit', () => resolve()));
    let pending = '';
    this.child.stdout.setEncoding('utf8');
    this.child.stdout.on('data', (chunk: string) => {
      pending += chunk;
      for (let end = pending.indexOf('\n'); end >= 0; end = pending.indexOf('\n')) {
        this.onEvent(JSON.parse(pending.slice(0, end)));
        pending = pending.slice(end + 1);
      }
    });
    this.child.stderr.setEncoding('utf8');
    this.child.stderr.on('data', (chunk: string) => this.errors.push(chunk));
    t.after(() => {
      if (this.child.exitCode === null) this.child.kill('SIGKILL');
    });
  }

  private onEvent(event: {
    ev: string;
    partitions?: [string, number][];
    topic?: string;
    partition?: number;
    value?: string | null;
    error?: string;
  }): void {
    if (event.ev === 'assign')
      for (const [t, p] of event.partitions!) this.reads.owned.add(`${t}/${p}`);
    if (event.ev === 'revoke')
      for (const [t, p] of event.partitions!) this.reads.owned.delete(`${t}/${p}`);
    if (event.ev === 'record') this.reads.values.push(event.value ?? '');
    if (event.ev === 'error') this.errors.push(event.error ?? '');
    if (event.ev === 'closed') this.closed = true;
  }

  async close(): Promise<void> {
    this.child.stdin.end('close\n');
    await this.exited;
  }
}

function brookMember(
  t: { after(fn: () => Promise<void>): void },
  broker: TestBroker,
  group: string,
  assignor: Assignor,
): { consumer: Consumer<string | null, string | null>; reads: Reads; reading: Promise<void> } {
  const consumer = new Consumer<string | null, string | null>({
    bootstrapServers: [broker.bootstrap],
    groupId: group,
    autoOffsetReset: 'earliest',
    assignors: [assignor],
    sessionTimeoutMs: 6000,
    rebalanceTimeoutMs: 10_000,
    heartbeatIntervalMs: 100,
    fetchMaxWaitMs: 100,
    autoCommitIntervalMs: 200,
    valueDeserializer: stringDeserializer,
  });
  const reads = newReads();
  t.after(() => consumer.close());
  const reading = (async () => {
    await consumer.subscribe({
      topics: ['mixed'],
      listener: {
        onAssigned: (partitions) => {
          for (const tp of partitions) reads.owned.add(`${tp.topic}/${tp.partition}`);
        },
        onRevoked: (partitions) => {
          for (const tp of partitions) reads.owned.delete(`${tp.topic}/${tp.partition}`);
        },
      },
    });
    for await (const record of consumer) reads.values.push(record.value ?? '');
  })();
  return { consumer, reads, reading };
}

const ALL = ['mixed/0', 'mixed/1', 'mixed/2', 'mixed/3'];

// ---- records written by other clients --------------------------------------------------------

const CODECS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;
const WRITER = join(import.meta.dirname, 'confluent-kafka-writer.py');
const missingKcat = missingCommand('kcat', ['-V'], 'kcat');

/** A record as compared: bytes as hex, null for null. */
interface Written {
  topic: string;
  partition: number;
  offset: string;
  timestamp?: string;
  key: string | null;
  value: string | null;
  headers: [string, string | null][];
}

const hex = (text: string | null) => (text === null ? null : Buffer.from(text).toString('hex'));

function librdkafkaRecords(codec: string) {
  return Array.from({ length: 30 }, (_, i) => ({
    key: i % 6 === 2 ? null : hex(`key-${i % 7}`),
    value:
      i % 9 === 4
        ? null
        : i % 5 === 0
          ? hex(`${codec} ${'compressible text '.repeat(80)}${i}`)
          : Buffer.from([0, 255, i, 10, 13]).toString('hex') + hex(` ${codec} ünïcödé ${i}`),
    headers:
      i % 3 === 0
        ? []
        : ([
            ['trace', hex(`t-${i}`)],
            ['trace', hex('again')],
            ['empty', hex('')],
            ['nothing', null],
          ] as [string, string | null][]),
  }));
}

const sortWritten = sortByPosition<Written>;

/** Both own two partitions, together all four. */
function splitEvenly(a: Reads, b: Reads): boolean {
  return (
    a.owned.size === 2 &&
    b.owned.size === 2 &&
    [...a.owned, ...b.owned].sort().join() === ALL.join()
  );
}

async function mixedGroup(
  t: { after(fn: () => Promise<void> | void): void },
  options: { strategy: string; assignor: Assignor; brookFirst: boolean },
): Promise<void> {
  // Closes the clients before the broker stops (after-hooks run in the order added).
  const cleanups: (() => Promise<void>)[] = [];
  t.after(() => Promise.all(cleanups.map((c) => c())).then(() => undefined));
  const broker = await startBroker(t);
  await createTopic(broker, 'mixed', 4);
  const connection = await rawConnection(t, broker);
  await fill(connection, 'mixed', 4, 10);
  const group = `g-${options.strategy}`;
  const startLibrdkafka = () =>
    new LibrdkafkaMember(t, {
      bootstrap: broker.bootstrap,
      group,
      topics: ['mixed'],
      strategy: options.strategy,
    });
  let other: LibrdkafkaMember | undefined;
  if (!options.brookFirst) {
    other = startLibrdkafka();
    cleanups.push(() => other!.close());
    await waitFor('librdkafka owns every partition', () => other!.reads.owned.size === 4, 15_000);
  }
  const brook = brookMember({ after: (fn) => cleanups.push(fn) }, broker, group, options.assignor);
  if (options.brookFirst) {
    await waitFor('Brook owns every partition', () => brook.reads.owned.size === 4, 15_000);
    other = startLibrdkafka();
    cleanups.push(() => other!.close());
  }
  const rdkafka = other!;
  const describe = () =>
    `brook ${[...brook.reads.owned]} (${brook.reads.values.length}), librdkafka ${[...rdkafka.reads.owned]} (${rdkafka.reads.values.length}) ${rdkafka.errors.join('')}`;
  await waitFor(
    'the group splits the partitions',
    () => splitEvenly(brook.reads, rdkafka.reads),
    20_000,
    describe,
  );
  await waitFor(
    'all 40 records read',
    () => new Set([...brook.reads.values, ...rdkafka.reads.values]).size === 40,
    15_000,
    describe,
  );

  // librdkafka leaves; Brook takes every partition and reads what comes next.
  await rdkafka.close();
  assert.ok(rdkafka.closed);
  await waitFor(
    'Brook owns every partition again',
    () => brook.reads.owned.size === 4,
    15_000,
    describe,
  );
  await fill(connection, 'mixed', 4, 3, { prefix: 'after' });
  await waitFor(
    'Brook reads the records written after',
    () => brook.reads.values.filter((v) => v.startsWith('after')).length === 12,
    15_000,
    describe,
  );
  const all = [...brook.reads.values, ...rdkafka.reads.values];
  assert.equal(new Set(all).size, 52);
  await brook.consumer.close();
  await brook.reading;
}

describe('records written by other clients, read by the consumer', () => {
  it(
    'reads what confluent-kafka and kcat wrote in every codec, byte for byte',
    missingKcat !== undefined && !IN_CI ? { skip: missingKcat } : librdkafkaOptions,
    async (t) => {
      assert.equal(missing, undefined, missing);
      assert.equal(missingKcat, undefined, missingKcat);
      const broker = await startBroker(t);
      const want: Written[] = [];
      // confluent-kafka: 3 partitions a codec, placed by librdkafka's own partitioner.
      const topics = CODECS.map((codec) => ({
        topic: `from-librdkafka-${codec}`,
        codec,
        records: librdkafkaRecords(codec),
      }));
      for (const { topic } of topics) await createTopic(broker, topic, 3);
      const written = await run(PYTHON, [WRITER], {
        input: JSON.stringify({ bootstrap: broker.bootstrap, topics }),
        timeoutMs: 60_000,
      });
      assert.equal(written.code, 0, written.stderr);
      const reports = JSON.parse(written.stdout) as {
        topic: string;
        partition: number;
        offset: number;
        timestamp: number;
      }[];
      const sent = topics.flatMap(({ records }) => records);
      assert.equal(reports.length, sent.length);
      for (const [i, report] of reports.entries()) {
        want.push({
          topic: report.topic,
          partition: report.partition,
          offset: String(report.offset),
          timestamp: String(report.timestamp),
          ...sent[i]!,
        });
      }
      // kcat: one partition a codec, so the offsets follow the input lines.
      const lines = Array.from({ length: 20 }, (_, i) => [
        `k${i}`,
        `${'kcat '.repeat(i)}line ${i}`,
      ]);
      for (const codec of CODECS) {
        const topic = `from-kcat-${codec}`;
        await createTopic(broker, topic, 1);
        await kcat(
          ['-b', broker.bootstrap, '-P', '-t', topic, '-p', '0', '-z', codec, '-K', ':'].concat([
            '-H',
            'h=1',
            '-H',
            'h=2',
            '-H',
            'empty=',
          ]),
          `${lines.map(([key, value]) => `${key}:${value}`).join('\n')}\n`,
        );
        for (const [i, [key, value]] of lines.entries()) {
          want.push({
            topic,
            partition: 0,
            offset: String(i),
            key: hex(key!),
            value: hex(value!),
            headers: [
              ['h', hex('1')],
              ['h', hex('2')],
              ['empty', hex('')],
            ],
          });
        }
      }

      const consumer = new Consumer({
        bootstrapServers: [broker.bootstrap],
        autoOffsetReset: 'earliest',
      });
      t.after(() => consumer.close());
      consumer.assign([
        ...topics.flatMap(({ topic }) => [0, 1, 2].map((partition) => ({ topic, partition }))),
        ...CODECS.map((codec) => ({ topic: `from-kcat-${codec}`, partition: 0 })),
      ]);
      const seen: Written[] = [];
      const deadline = AbortSignal.timeout(30_000);
      for await (const record of consumer.records({ signal: deadline })) {
        const fromKcat = record.topic.startsWith('from-kcat');
        seen.push({
          topic: record.topic,
          partition: record.partition,
          offset: String(record.offset),
          ...(fromKcat ? {} : { timestamp: String(record.timestamp) }),
          key: record.key === null ? null : record.key.toString('hex'),
          value: record.value === null ? null : record.value.toString('hex'),
          headers: record.headers.map((h): [string, string | null] => [
            h.key,
            h.value === null ? null : h.value.toString('hex'),
          ]),
        });
        if (fromKcat) assert.ok(record.timestamp > 0n, 'kcat records carry a create time');
        if (seen.length === want.length) break;
      }
      assert.deepEqual(sortWritten(seen), sortWritten(want));
      assert.ok(
        new Set(
          want
            .filter((r) => r.topic.startsWith('from-librdkafka'))
            .map((r) => r.topic + r.partition),
        ).size > CODECS.length,
        'librdkafka spread the keys over partitions',
      );
    },
  );
});

describe('consumer groups with other clients', () => {
  it('shares a range group with librdkafka, Brook leading', librdkafkaOptions, async (t) => {
    await mixedGroup(t, { strategy: 'range', assignor: rangeAssignor, brookFirst: true });
  });

  it(
    'shares a roundrobin group with librdkafka, librdkafka leading',
    librdkafkaOptions,
    async (t) => {
      await mixedGroup(t, {
        strategy: 'roundrobin',
        assignor: roundRobinAssignor,
        brookFirst: false,
      });
    },
  );

  it('shares a group with kafkajs under its assignor name', async (t) => {
    const cleanups: (() => Promise<void>)[] = [];
    t.after(() => Promise.all(cleanups.map((c) => c())).then(() => undefined));
    const broker = await startBroker(t);
    await createTopic(broker, 'mixed', 4);
    const connection = await rawConnection(t, broker);
    await fill(connection, 'mixed', 4, 10);

    const kafka = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
    const kafkajs = kafka.consumer({
      groupId: 'g-kafkajs',
      sessionTimeout: 6000,
      heartbeatInterval: 100,
      maxWaitTimeInMs: 100,
    });
    const kafkajsReads = newReads();
    kafkajs.on(kafkajs.events.GROUP_JOIN, (event) => {
      kafkajsReads.owned.clear();
      for (const [topic, partitions] of Object.entries(event.payload.memberAssignment)) {
        for (const partition of partitions) kafkajsReads.owned.add(`${topic}/${partition}`);
      }
    });
    await kafkajs.connect();
    cleanups.push(() => kafkajs.disconnect());
    await kafkajs.subscribe({ topic: 'mixed', fromBeginning: true });
    await kafkajs.run({
      eachMessage: async ({ message }) => {
        kafkajsReads.values.push(message.value?.toString() ?? '');
      },
    });
    await waitFor('kafkajs owns every partition', () => kafkajsReads.owned.size === 4, 15_000);

    const brook = brookMember({ after: (fn) => cleanups.push(fn) }, broker, 'g-kafkajs', {
      ...roundRobinAssignor,
      name: 'RoundRobinAssigner',
    });
    const describe = () =>
      `brook ${[...brook.reads.owned]} (${brook.reads.values.length}), kafkajs ${[...kafkajsReads.owned]} (${kafkajsReads.values.length})`;
    await waitFor(
      'the group splits the partitions',
      () => splitEvenly(brook.reads, kafkajsReads),
      20_000,
      describe,
    );
    await fill(connection, 'mixed', 4, 2, { prefix: 'after' });
    await waitFor(
      'the records written after are read once',
      () =>
        [...brook.reads.values, ...kafkajsReads.values].filter((v) => v.startsWith('after'))
          .length === 8,
      15_000,
      describe,
    );
    const after = [...brook.reads.values, ...kafkajsReads.values].filter((v) =>
      v.startsWith('after'),
    );
    assert.equal(new Set(after).size, 8);
    assert.ok(brook.reads.values.some((v) => v.startsWith('after')));
    assert.ok(kafkajsReads.values.some((v) => v.startsWith('after')));
    await brook.consumer.close();
    await brook.reading;
  });
});
