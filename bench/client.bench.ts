/**
 * Brook's client next to kafkajs, @platformatic/kafka and confluent-kafka (librdkafka, through
 * `/usr/bin/python3` and bench/clients/librdkafka-client.py), against the same Brook broker (its
 * own process, topics of 6 partitions). Each client runs in its own process, with its defaults.
 *
 * 1. Consumption: 200,000 records of 100 B and of 1 KiB are produced once (Brook's producer), then
 *    every client reads the same topic from offset 0: Brook and librdkafka by assignment, kafkajs
 *    and @platformatic/kafka in a fresh group (they have no assignment without a group). Timed
 *    from the first record to the last, so the group join and the first fetch are left out.
 *    librdkafka runs with its pre-fetch queue limits raised, as in broker.bench.ts, and with its
 *    defaults ("default queue"; see bench/clients/librdkafka-client.py).
 * 2. Produce latency at a fixed offered rate (default 20,000 records/s of 100 B for 5 s after a
 *    1 s warm-up, acks=all): every 1 ms tick sends the records that are due, as one array call
 *    (kafkajs, @platformatic/kafka, Brook `sendBatch`) or one call per record (Brook `send`,
 *    librdkafka `produce`); latency is from the call to its acknowledgement.
 *
 * Run: npm run bench -- client
 *   BROOK_BENCH_RECORDS=200000, BROOK_BENCH_RATE=20000, BROOK_BENCH_SECONDS=5,
 *   BROOK_BENCH_ROUNDS=3 (consumption), BROOK_BENCH_LATENCY_ROUNDS=5 (rounds interleave the
 *   clients, each round starting one client further); BROOK_BENCH_PARTS=consume,latency and
 *   BROOK_BENCH_CLIENTS=brook,kafkajs (name prefixes) choose what runs
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { median, startBroker } from './client-setup.ts';

const SELF = fileURLToPath(import.meta.url);
const PYTHON = '/usr/bin/python3';
const LIBRDKAFKA = join(SELF, '..', 'clients', 'librdkafka-client.py');
const RECORDS = Number(process.env.BROOK_BENCH_RECORDS ?? 1_000_000);
const RATE = Number(process.env.BROOK_BENCH_RATE ?? 20_000);
const SECONDS = Number(process.env.BROOK_BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BROOK_BENCH_ROUNDS ?? 3);
const LATENCY_ROUNDS = Number(process.env.BROOK_BENCH_LATENCY_ROUNDS ?? 5);
/** Comma-separated parts to run (`consume`, `latency`); both by default. */
const PARTS = (process.env.BROOK_BENCH_PARTS ?? 'consume,latency').split(',');
/** Comma-separated client names (or prefixes, e.g. `brook`) to run; every client by default. */
const ONLY = process.env.BROOK_BENCH_CLIENTS?.split(',');
const chosen = (client: string) => !ONLY || ONLY.some((name) => client.startsWith(name));
const WARM_UP_SECONDS = 1;
const PARTITIONS = 6;
const LATENCY_SIZE = 100;

const CONSUMERS = [
  'fetch only',
  'brook batches',
  'brook records',
  'brook batches, no CRC check',
  'kafkajs',
  'platformatic',
  'confluent-kafka',
  'confluent-kafka, default queue',
] as const;
type ConsumerClient = (typeof CONSUMERS)[number];
const PRODUCERS = [
  'brook send',
  'brook sendBatch',
  'brook send, linger 0',
  'brook sendBatch, linger 0',
  'kafkajs',
  'platformatic',
  'confluent-kafka',
] as const;
type ProducerClient = (typeof PRODUCERS)[number];

interface ConsumeResult {
  records: number;
  bytes: number;
  seconds: number;
  cpuSeconds: number;
  /** From creating the consumer to the first record (group join, first fetch). */
  firstRecordMs: number;
}
interface LatencyResult {
  records: number;
  errors: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  offeredPerSecond: number;
}

// ---- consumption (a child process) -------------------------------------------------------------

async function consume(client: ConsumerClient, bootstrap: string, topic: string) {
  let records = 0;
  let bytes = 0;
  let first = 0;
  let cpu: NodeJS.CpuUsage | undefined;
  const started = performance.now();
  /** Counts a delivery; true once all records are in. */
  const got = (count: number, size: number): boolean => {
    if (records === 0) {
      first = performance.now();
      cpu = process.cpuUsage();
    }
    records += count;
    bytes += size;
    return records >= RECORDS;
  };
  let close: () => Promise<unknown>;
  if (client === 'fetch only') {
    close = await fetchOnly(bootstrap, topic, got);
  } else if (client.startsWith('brook')) {
    const { Consumer } = await import('@brook/client');
    const consumer = new Consumer({
      bootstrapServers: [bootstrap],
      autoOffsetReset: 'earliest',
      // kafkajs checks no CRC (nor does librdkafka by default): the same work as theirs.
      checkCrcs: client !== 'brook batches, no CRC check',
    });
    consumer.assign(Array.from({ length: PARTITIONS }, (_, partition) => ({ topic, partition })));
    if (client !== 'brook records') {
      for await (const batch of consumer.batches()) {
        let size = 0;
        for (const record of batch.records) size += record.value?.length ?? 0;
        if (got(batch.records.length, size)) break;
      }
    } else {
      for await (const record of consumer) {
        if (got(1, record.value?.length ?? 0)) break;
      }
    }
    close = () => consumer.close();
  } else if (client === 'kafkajs') {
    const { Kafka, logLevel } = await import('kafkajs');
    const kafka = new Kafka({ brokers: [bootstrap], logLevel: logLevel.NOTHING });
    const consumer = kafka.consumer({ groupId: `bench-${Date.now()}` });
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      consumer
        .run({
          eachBatch: async ({ batch }) => {
            let size = 0;
            for (const message of batch.messages) size += message.value?.length ?? 0;
            if (got(batch.messages.length, size)) resolve();
          },
        })
        .catch(reject);
    });
    close = () => consumer.disconnect();
  } else {
    const { Consumer } = await import('@platformatic/kafka');
    const consumer = new Consumer({
      groupId: `bench-${Date.now()}`,
      clientId: 'bench',
      bootstrapBrokers: [bootstrap],
    });
    const stream = await consumer.consume({ topics: [topic], mode: 'earliest', autocommit: false });
    for await (const message of stream) {
      if (got(1, message.value?.length ?? 0)) break;
    }
    close = () => consumer.close(true);
  }
  const seconds = (performance.now() - first) / 1000;
  const used = process.cpuUsage(cpu);
  const result: ConsumeResult = {
    records,
    bytes,
    seconds,
    cpuSeconds: (used.user + used.system) / 1e6,
    firstRecordMs: first - started,
  };
  await Promise.race([close().catch(() => {}), sleep(3000)]);
  return result;
}

/**
 * The broker's delivery limit, for reference: the fetches Brook's consumer sends (6 partitions,
 * 1 MiB each, one fetch at a time), on one of its connections, with the records counted from
 * the batch headers and never decoded or checked.
 */
async function fetchOnly(
  bootstrap: string,
  topic: string,
  got: (count: number, size: number) => boolean,
): Promise<() => Promise<void>> {
  const { Connection, silentLogger } = await import('@brook/client');
  const { FetchRequest, FetchResponse } = await import('@brook/protocol');
  const [host, port] = bootstrap.split(':');
  const connection = await Connection.connect({
    host: host!,
    port: Number(port),
    clientId: 'bench',
    logger: silentLogger,
  });
  const offsets = Array.from({ length: PARTITIONS }, () => 0n);
  for (let done = false; !done; ) {
    const response = await connection.request(
      FetchRequest,
      FetchResponse,
      {
        maxWaitMs: 500,
        minBytes: 1,
        maxBytes: 50 * 1024 * 1024,
        isolationLevel: 0,
        topics: [
          {
            topic,
            partitions: offsets.map((fetchOffset, partition) => ({
              partition,
              fetchOffset,
              partitionMaxBytes: 1024 * 1024,
            })),
          },
        ],
      },
      { maxVersion: 12 },
    );
    for (const { partitions } of response.responses) {
      for (const { partitionIndex, records } of partitions) {
        // Batch headers: base offset at 0, length at 8, last offset delta at 23, count at 57.
        for (let at = 0; records !== null && at + 61 <= records.length; ) {
          const end = at + 12 + records.readInt32BE(at + 8);
          offsets[partitionIndex] =
            records.readBigInt64BE(at) + BigInt(records.readInt32BE(at + 23)) + 1n;
          done = got(records.readInt32BE(at + 57), end - at - 61) || done;
          at = end;
        }
      }
    }
  }
  return async () => connection.close();
}

// ---- produce latency at a fixed rate (a child process) -----------------------------------------

/** `send(count)` sends `count` records and answers one promise per call or per record. */
type Sender = (count: number) => Promise<unknown>[];

async function offer(send: Sender): Promise<LatencyResult> {
  const total = Math.round(RATE * (SECONDS + WARM_UP_SECONDS));
  const warmUp = Math.round(RATE * WARM_UP_SECONDS);
  const latencies: number[] = [];
  // Promises out are counted, not kept: a list of 100,000 of them (one per record for `send`)
  // would lengthen the garbage collector's pauses, which show in the p99.
  let outstanding = 0;
  let allSettled: () => void = () => {};
  const settled = () => {
    if (--outstanding === 0) allSettled();
  };
  let errors = 0;
  let sent = 0;
  const started = performance.now();
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * RATE));
    if (due > sent) {
      const count = due - sent;
      const measured = sent >= warmUp;
      const at = performance.now();
      const promises = send(count);
      const perPromise = count / promises.length;
      outstanding += promises.length;
      for (const promise of promises) {
        promise.then(
          () => {
            if (measured) {
              const latency = performance.now() - at;
              for (let i = 0; i < perPromise; i++) latencies.push(latency);
            }
            settled();
          },
          () => {
            errors += perPromise;
            settled();
          },
        );
      }
      sent = due;
    }
    await sleep(1);
  }
  const offeredSeconds = (performance.now() - started) / 1000;
  if (outstanding > 0) await new Promise<void>((resolve) => (allSettled = resolve));
  latencies.sort((a, b) => a - b);
  const pct = (p: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))]!;
  return {
    records: latencies.length,
    errors,
    p50Ms: pct(0.5),
    p99Ms: pct(0.99),
    maxMs: latencies.at(-1)!,
    offeredPerSecond: total / offeredSeconds,
  };
}

async function produceLatency(client: ProducerClient, bootstrap: string): Promise<LatencyResult> {
  const value = Buffer.alloc(LATENCY_SIZE, 'x');
  const topic = `latency-${client.replace(/[ ,]+/g, '-')}-${Date.now()}`;
  const arrayOf = <T>(count: number, make: () => T): T[] => Array.from({ length: count }, make);
  let result: LatencyResult;
  if (client.startsWith('brook')) {
    const { Producer } = await import('@brook/client');
    const producer = new Producer({
      bootstrapServers: [bootstrap],
      ...(client.endsWith('linger 0') ? { lingerMs: 0 } : {}),
    });
    result = await offer(
      !client.includes('sendBatch')
        ? (count) => arrayOf(count, () => producer.send({ topic, key: null, value }))
        : (count) => [producer.sendBatch(arrayOf(count, () => ({ topic, key: null, value })))],
    );
    await producer.close();
  } else if (client === 'kafkajs') {
    const { Kafka, logLevel, Partitioners } = await import('kafkajs');
    const kafka = new Kafka({ brokers: [bootstrap], logLevel: logLevel.NOTHING });
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    result = await offer((count) => [
      producer.send({ topic, acks: -1, messages: arrayOf(count, () => ({ value })) }),
    ]);
    await producer.disconnect();
  } else {
    const { Producer } = await import('@platformatic/kafka');
    const producer = new Producer({
      clientId: 'bench',
      bootstrapBrokers: [bootstrap],
      autocreateTopics: true,
    });
    result = await offer((count) => [
      producer.send({ acks: -1, messages: arrayOf(count, () => ({ topic, value })) }),
    ]);
    await producer.close();
  }
  return result;
}

// ---- the driver --------------------------------------------------------------------------------

function runChild<T>(args: string[], python: boolean): T {
  const run = python
    ? spawnSync(PYTHON, [LIBRDKAFKA, ...args], { encoding: 'utf8', timeout: 180_000 })
    : spawnSync(process.execPath, [SELF, ...args], { encoding: 'utf8', timeout: 180_000 });
  const line = run.stdout?.trim().split('\n').at(-1) ?? '';
  if (run.status !== 0 || !line.startsWith('{')) {
    throw new Error(`${args.join(' ')} failed (${run.status}): ${run.stderr}`);
  }
  return JSON.parse(line) as T;
}

async function prepareTopic(bootstrap: string, size: number): Promise<string> {
  const { Producer } = await import('@brook/client');
  const topic = `consume-${size}-${Date.now()}`;
  const producer = new Producer({ bootstrapServers: [bootstrap], partitioner: 'round-robin' });
  const value = Buffer.alloc(size, 'x');
  for (let sent = 0; sent < RECORDS; sent += 1000) {
    const count = Math.min(1000, RECORDS - sent);
    await producer.sendBatch(Array.from({ length: count }, () => ({ topic, key: null, value })));
  }
  await producer.close();
  // The kernel writes the new segments back in the background; let it finish before timing
  // anything, so that writeback threads do not take CPU from the first clients measured.
  spawnSync('sync');
  return topic;
}

/** The clients in the order of a round: each round starts one further, so none is always first. */
const rotated = <T>(clients: T[], round: number): T[] => {
  const at = round % clients.length;
  return [...clients.slice(at), ...clients.slice(0, at)];
};

const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en', { minimumFractionDigits: digits, maximumFractionDigits: digits });

async function main(): Promise<void> {
  const broker = await startBroker();
  const { bootstrap } = broker;
  try {
    if (PARTS.includes('consume')) await consumption(bootstrap);
    if (PARTS.includes('latency')) latency(bootstrap);
  } finally {
    await broker.stop();
  }
}

async function consumption(bootstrap: string): Promise<void> {
  console.log(
    `consumption: ${fmt(RECORDS)} records, ${PARTITIONS} partitions, from offset 0, median of ${ROUNDS}`,
  );
  for (const size of [100, 1024]) {
    const topic = await prepareTopic(bootstrap, size);
    const results = new Map<ConsumerClient, ConsumeResult[]>(
      CONSUMERS.filter(chosen).map((c) => [c, []]),
    );
    for (let round = 0; round < ROUNDS; round++) {
      for (const client of rotated([...results.keys()], round)) {
        const result = client.startsWith('confluent-kafka')
          ? runChild<ConsumeResult>(
              [
                'consume',
                bootstrap,
                topic,
                String(RECORDS),
                String(PARTITIONS),
                client.endsWith('default queue') ? 'default' : 'deep',
              ],
              true,
            )
          : runChild<ConsumeResult>(['--consume', client, bootstrap, topic], false);
        if (result.records < RECORDS) throw new Error(`${client} read ${result.records} records`);
        results.get(client)!.push(result);
      }
    }
    console.log(`\n${size} B records`);
    for (const [client, runs] of results) {
      const rate = median(runs.map((r) => r.records / r.seconds));
      const mb = median(runs.map((r) => r.bytes / r.seconds / 1e6));
      const cpu = median(runs.map((r) => (r.cpuSeconds / r.records) * 1e6));
      console.log(
        `  ${client.padEnd(31)} ${fmt(rate).padStart(9)} records/s ${fmt(mb, 1).padStart(7)} MB/s ` +
          `${cpu.toFixed(2).padStart(6)} client CPU µs/record  ` +
          `first record after ${fmt(median(runs.map((r) => r.firstRecordMs))).padStart(5)} ms`,
      );
    }
  }
}

function latency(bootstrap: string): void {
  console.log(
    `\nproduce latency: ${fmt(RATE)} records/s of ${LATENCY_SIZE} B offered for ${SECONDS} s ` +
      `(after ${WARM_UP_SECONDS} s of warm-up), acks=all, median of ${LATENCY_ROUNDS}`,
  );
  const results = new Map<ProducerClient, LatencyResult[]>(
    PRODUCERS.filter(chosen).map((c) => [c, []]),
  );
  for (let round = 0; round < LATENCY_ROUNDS; round++) {
    for (const client of rotated([...results.keys()], round)) {
      const result =
        client === 'confluent-kafka'
          ? runChild<LatencyResult>(
              [
                'latency',
                bootstrap,
                `latency-librdkafka-${Date.now()}`,
                String(RATE),
                String(SECONDS),
                String(LATENCY_SIZE),
                String(WARM_UP_SECONDS),
              ],
              true,
            )
          : runChild<LatencyResult>(['--latency', client, bootstrap], false);
      results.get(client)!.push(result);
    }
  }
  for (const [client, runs] of results) {
    const p = (get: (r: LatencyResult) => number, digits = 1) =>
      fmt(median(runs.map(get)), digits).padStart(7);
    console.log(
      `  ${client.padEnd(31)} p50 ${p((r) => r.p50Ms)} ms  p99 ${p((r) => r.p99Ms)} ms ` +
        `(${fmt(Math.min(...runs.map((r) => r.p99Ms)), 1)} – ${fmt(Math.max(...runs.map((r) => r.p99Ms)), 1)})  ` +
        `max ${p((r) => r.maxMs)} ms  offered ${p((r) => r.offeredPerSecond, 0)} records/s  ` +
        `errors ${runs.reduce((sum, r) => sum + r.errors, 0)}`,
    );
  }
}

if (process.argv[2] === '--consume') {
  const [, , , client, bootstrap, topic] = process.argv;
  console.log(JSON.stringify(await consume(client as ConsumerClient, bootstrap!, topic!)));
  process.exit(0);
} else if (process.argv[2] === '--latency') {
  const [, , , client, bootstrap] = process.argv;
  console.log(JSON.stringify(await produceLatency(client as ProducerClient, bootstrap!)));
  process.exit(0);
} else {
  await main();
}
