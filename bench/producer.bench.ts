/**
 * Brook's producer next to kafkajs 2.2.4, @platformatic/kafka and confluent-kafka (librdkafka,
 * through /usr/bin/python3 and bench/clients/librdkafka-client.py), against the same Brook broker
 * (its own process): records/s and client CPU µs per record, acks=all, one topic of 6
 * partitions created by the first send. Each client runs in its own process, warms up with
 * 20,000 records, then sends the measured ones; every case runs each client `ROUNDS` times,
 * interleaved, and the median is printed.
 *
 * kafkajs and @platformatic/kafka send arrays of records (100 per call, 10 calls in flight);
 * Brook is measured the same way (`sendBatch`) and with one `send` per record, all in flight.
 * confluent-kafka has no array call: one produce() per record, librdkafka batching them (its
 * 5 ms linger), as its users send. Brook is idempotent by default; the others are not (their
 * defaults: librdkafka's `enable.idempotence` is off unless set).
 *
 * Run: npm run bench -- producer   (BROOK_BENCH_RECORDS=200000, BROOK_BENCH_ROUNDS=3)
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median, startBroker } from './client-setup.ts';

const SELF = fileURLToPath(import.meta.url);
const RECORDS = Number(process.env.BROOK_BENCH_RECORDS ?? 1_000_000);
const ROUNDS = Number(process.env.BROOK_BENCH_ROUNDS ?? 3);
const CHUNK = 100;
const CONCURRENCY = 10;
const WARM_UP = 20_000;

const LIBRDKAFKA = join(SELF, '..', 'clients', 'librdkafka-client.py');
const CLIENTS = [
  'brook send',
  'brook sendBatch',
  'kafkajs',
  'platformatic',
  'confluent-kafka',
] as const;
type Client = (typeof CLIENTS)[number];
const CASES = [
  { name: '100 B, no key', size: 100, keyed: false, compression: 'none' },
  { name: '100 B, keyed', size: 100, keyed: true, compression: 'none' },
  { name: '1 KiB, gzip', size: 1024, keyed: false, compression: 'gzip' },
] as const;
type Case = (typeof CASES)[number];

interface Result {
  recordsPerSecond: number;
  cpuUsPerRecord: number;
}

// ---- the client side (a child process) -------------------------------------------------------

async function runClient(client: Client, bootstrap: string, benchCase: Case): Promise<Result> {
  const value = Buffer.alloc(benchCase.size, 'x');
  const keyOf = (i: number) => (benchCase.keyed ? Buffer.from(`key-${i % 1000}`) : null);
  const topic = `bench-${client.replace(' ', '-')}-${Date.now()}`;
  const chunked = async (
    count: number,
    send: (records: { key: Buffer | null; value: Buffer }[]) => Promise<unknown>,
  ) => {
    let next = 0;
    const worker = async () => {
      while (next < count) {
        const start = next;
        next += CHUNK;
        const records = [];
        for (let i = start; i < Math.min(start + CHUNK, count); i++) {
          records.push({ key: keyOf(i), value });
        }
        await send(records);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  };
  let run: (count: number) => Promise<unknown>;
  let close: () => Promise<void>;
  if (client === 'brook send' || client === 'brook sendBatch') {
    const { Producer } = await import('@brook/client');
    const producer = new Producer({
      bootstrapServers: [bootstrap],
      compression: benchCase.compression,
    });
    run =
      client === 'brook send'
        ? // The same chunks in flight as the others, with one send() call per record.
          (count) =>
            chunked(count, (records) =>
              Promise.all(records.map((r) => producer.send({ topic, key: r.key, value: r.value }))),
            )
        : (count) =>
            chunked(count, (records) =>
              producer.sendBatch(records.map((r) => ({ topic, key: r.key, value: r.value }))),
            );
    close = () => producer.close();
  } else if (client === 'kafkajs') {
    const { Kafka, logLevel, Partitioners, CompressionTypes } = await import('kafkajs');
    const kafka = new Kafka({ brokers: [bootstrap], logLevel: logLevel.NOTHING });
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    const compression =
      benchCase.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None;
    run = (count) =>
      chunked(count, (records) =>
        producer.send({ topic, acks: -1, compression, messages: records }),
      );
    close = () => producer.disconnect();
  } else if (client === 'platformatic') {
    const { Producer } = await import('@platformatic/kafka');
    const producer = new Producer({
      clientId: 'bench',
      bootstrapBrokers: [bootstrap],
      autocreateTopics: true,
      ...(benchCase.compression === 'gzip' ? { compression: 'gzip' as const } : {}),
    });
    run = (count) =>
      chunked(count, (records) =>
        producer.send({
          acks: -1,
          messages: records.map((r) => ({
            topic,
            value: r.value,
            ...(r.key ? { key: r.key } : {}),
          })),
        }),
      );
    close = () => producer.close();
  } else {
    throw new Error(`${client} runs in Python, not here`);
  }
  await run(WARM_UP);
  const started = performance.now();
  const cpu = process.cpuUsage();
  await run(RECORDS);
  const elapsedMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  await close();
  return {
    recordsPerSecond: (RECORDS / elapsedMs) * 1000,
    cpuUsPerRecord: (used.user + used.system) / RECORDS,
  };
}

// ---- the table --------------------------------------------------------------------------------

async function main(): Promise<void> {
  const broker = await startBroker();
  const { bootstrap } = broker;
  try {
    console.log(
      `${RECORDS} records per run, acks=all, 6 partitions, median of ${ROUNDS} (records/s, client CPU µs/record)`,
    );
    for (const benchCase of CASES) {
      const results = new Map<Client, Result[]>(CLIENTS.map((c) => [c, []]));
      for (let round = 0; round < ROUNDS; round++) {
        for (const client of CLIENTS) {
          const run =
            client === 'confluent-kafka'
              ? spawnSync(
                  '/usr/bin/python3',
                  [
                    LIBRDKAFKA,
                    'produce',
                    bootstrap,
                    `bench-librdkafka-${Date.now()}`,
                    String(RECORDS),
                    String(benchCase.size),
                    benchCase.keyed ? '1' : '0',
                    benchCase.compression,
                    String(WARM_UP),
                  ],
                  { encoding: 'utf8', timeout: 300_000 },
                )
              : spawnSync(
                  process.execPath,
                  [SELF, '--client', client, bootstrap, JSON.stringify(benchCase)],
                  { encoding: 'utf8', timeout: 300_000 },
                );
          const line = run.stdout.trim().split('\n').at(-1) ?? '';
          if (run.status !== 0 || !line.startsWith('{')) {
            throw new Error(`${client} failed: ${run.stderr}`);
          }
          results.get(client)!.push(JSON.parse(line) as Result);
        }
      }
      const kafkajs = median(results.get('kafkajs')!.map((r) => r.recordsPerSecond));
      console.log(`\n${benchCase.name}`);
      for (const [client, runs] of results) {
        const rate = median(runs.map((r) => r.recordsPerSecond));
        const cpu = median(runs.map((r) => r.cpuUsPerRecord));
        console.log(
          `  ${client.padEnd(16)} ${Math.round(rate).toLocaleString('en').padStart(9)} records/s  ` +
            `${cpu.toFixed(1).padStart(5)} µs/record  ${(rate / kafkajs).toFixed(1)}× kafkajs`,
        );
      }
    }
  } finally {
    await broker.stop();
  }
}

if (process.argv[2] === '--client') {
  const result = await runClient(
    process.argv[3] as Client,
    process.argv[4]!,
    JSON.parse(process.argv[5]!) as Case,
  );
  console.log(JSON.stringify(result));
} else {
  await main();
}
