/**
 * `brook perf produce|consume`: the producer and consumer benchmarks, as Kafka's
 * kafka-producer-perf-test and kafka-consumer-perf-test: a live progress line on stderr (on a
 * terminal), then throughput and a latency histogram (HdrHistogram: p50, p90, p99, p99.9, max)
 * on stdout, as text or one JSON document. The loops are in perf-produce.ts and
 * perf-consume.ts, the histogram and the report in perf-stats.ts.
 */
import {
  type Admin,
  Consumer,
  KafkaProtocolError,
  Producer,
  type TopicPartition,
} from '@brook/client';
import { type Command, InvalidArgumentError, Option } from 'commander';
import type { Register } from '../cli.ts';
import {
  addClusterOptions,
  type ClusterOptionValues,
  CommandError,
  clusterSettings,
  ExitCode,
  guard,
  type Io,
  integer,
  json,
  Progress,
  positiveInteger,
  unknownTopicMessage,
  usageError,
  withAdmin,
  write,
} from '../common.ts';
import type { Context } from '../io.ts';
import { ConsumeLoop } from './perf-consume.ts';
import { ProduceLoop } from './perf-produce.ts';
import {
  makePayloads,
  type PerfReport,
  ProgressLine,
  type ProgressState,
  rates,
  reportJson,
  reportText,
} from './perf-stats.ts';

type ClusterFlags = ClusterOptionValues;

interface ProduceFlags extends ClusterFlags {
  records?: number;
  duration?: number;
  recordSize: number;
  throughput: number;
  acks: '0' | '1' | 'all' | '-1';
  compression: 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';
  lingerMs?: number;
  batchSize?: number;
  create?: boolean;
  partitions?: number;
  replicationFactor?: number;
  json?: boolean;
}

interface ConsumeFlags extends ClusterFlags {
  records?: number;
  duration?: number;
  group?: string;
  from: 'beginning' | 'end';
  idleTimeoutMs: number;
  json?: boolean;
}

const DEFAULT_RECORD_SIZE_BYTES = 100;
const DEFAULT_IDLE_TIMEOUT_MS = 10_000;
/** How often the progress line is redrawn. */
const PROGRESS_INTERVAL_MS = 250;

export const register: Register = (program, context) => {
  const perf = program
    .command('perf')
    .description('measure produce and consume throughput and latency')
    .helpCommand(false)
    .addHelpText(
      'after',
      `
Examples:
  brook perf produce bench --records 1000000 --record-size 100 --create -p 6
  brook perf consume bench --records 1000000`,
    );
  addProduce(perf, context);
  addConsume(perf, context);
};

function addProduce(perf: Command, context: Context): void {
  const command = perf
    .command('produce')
    .description(
      'send fixed-size records as fast as allowed, then report throughput and the latency ' +
        'from send to acknowledgement',
    )
    .argument('<topic>', 'the topic to write to')
    .addOption(
      new Option('-n, --records <n>', 'records to send')
        .argParser(positiveInteger('--records'))
        .conflicts('duration'),
    )
    .addOption(
      new Option('-d, --duration <seconds>', 'send for this long instead of a count').argParser(
        positiveNumber('--duration'),
      ),
    )
    .addOption(
      new Option('-s, --record-size <bytes>', 'bytes per record value')
        .default(DEFAULT_RECORD_SIZE_BYTES)
        .argParser(integer('--record-size', { min: 0, max: 100 * 1024 * 1024 })),
    )
    .addOption(
      new Option('-t, --throughput <records/s>', 'target rate, spread evenly; -1: unlimited')
        .default(-1)
        .argParser(throughputParser),
    )
    .addOption(
      new Option('--acks <acks>', 'acknowledgements a write needs')
        .choices(['0', '1', 'all', '-1'])
        .default('all'),
    )
    .addOption(
      new Option('-z, --compression <codec>', 'batch compression')
        .choices(['none', 'gzip', 'snappy', 'lz4', 'zstd'])
        .default('none'),
    )
    .addOption(
      new Option(
        '--linger-ms <ms>',
        "how long a batch waits for more records (producer's 5)",
      ).argParser(integer('--linger-ms', { min: 0 })),
    )
    .addOption(
      new Option(
        '--batch-size <bytes>',
        "bytes at which a batch closes (producer's 16384)",
      ).argParser(positiveInteger('--batch-size')),
    )
    .option(
      '--create',
      'create the topic when it does not exist (else the broker may auto-create it)',
    )
    .addOption(
      new Option(
        '-p, --partitions <n>',
        "partitions of a topic --create makes (broker's default)",
      ).argParser(positiveInteger('--partitions')),
    )
    .addOption(
      new Option('-r, --replication-factor <n>', 'replicas of a topic --create makes').argParser(
        positiveInteger('--replication-factor'),
      ),
    )
    .option('--json', 'print the report as one JSON document');
  addClusterOptions(command)
    .addHelpText(
      'after',
      `
Records have no key and a value of --record-size random letters (A-Z), as Kafka's
kafka-producer-perf-test makes them. Latency is the time from send() to the record's
acknowledgement (with --acks 0, to its write to the socket); over 60 s counts as 60 s. At most
20,000 records (and the producer's 32 MiB buffer) wait for acknowledgement at a time. A missing
topic is created with --create, otherwise only by a broker with auto.create.topics.enable. The
report goes to stdout, a progress line to stderr on a terminal. 1 MB is 1,048,576 bytes.

Examples:
  brook perf produce bench -n 1000000                      100-byte records, as fast as possible
  brook perf produce bench -n 100000 -s 1024 -t 20000 -z lz4
  brook perf produce bench -d 30 --acks 1 --create -p 6    for 30 seconds, topic made if missing
  brook perf produce bench -n 50000 --json | jq .latencyMs.p99

Exit codes: 0 done, 1 failed (unknown topic, every record failed), 2 wrong command line,
3 cluster unreachable, 4 some records failed.`,
    )
    .action(async (topic: string, flags: ProduceFlags) => {
      context.exitCode = await producePerf(topic, flags, context.io);
    });
}

function addConsume(perf: Command, context: Context): void {
  const command = perf
    .command('consume')
    .description('read records as fast as possible, then report throughput and end-to-end latency')
    .argument('<topic...>', 'the topics to read')
    .addOption(
      new Option('-n, --records <n>', 'stop after this many records')
        .argParser(positiveInteger('--records'))
        .conflicts('duration'),
    )
    .addOption(
      new Option('-d, --duration <seconds>', 'stop after this long').argParser(
        positiveNumber('--duration'),
      ),
    )
    .option('-g, --group <id>', 'read as a member of this consumer group (default: no group)')
    .addOption(
      new Option('--from <where>', 'where to start without a committed offset')
        .choices(['beginning', 'end'])
        .default('beginning'),
    )
    .addOption(
      new Option('--idle-timeout-ms <ms>', 'stop when no record came for this long')
        .default(DEFAULT_IDLE_TIMEOUT_MS)
        .argParser(positiveInteger('--idle-timeout-ms')),
    )
    .option('--json', 'print the report as one JSON document');
  addClusterOptions(command)
    .addHelpText(
      'after',
      `
Reads every partition of the topics (or, with --group, those the group assigns) until
--records are read, --duration passes, no record comes for --idle-timeout-ms, or Ctrl-C.
Throughput counts key and value bytes from the start of reading (the assignment, in a group)
to the last record. Latency is end to end: the time of reading minus the record's timestamp
(ms precision), so it only means something while a producer writes at the same time on the
same clock, e.g. a brook perf produce running alongside; for older records it is their age
(over 60 s counts as 60 s). 1 MB is 1,048,576 bytes.

Examples:
  brook perf consume bench -n 1000000                    the first million records
  brook perf consume bench --from end -d 60 &  brook perf produce bench -d 60 -t 50000
  brook perf consume a b -g perf-readers --json

Exit codes: 0 done, 1 failed (unknown topic, no record read), 2 wrong command line,
3 cluster unreachable.`,
    )
    .action(async (topics: string[], flags: ConsumeFlags) => {
      context.exitCode = await consumePerf(topics, flags, context.io);
    });
}

function positiveNumber(name: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n <= 0) {
      throw new InvalidArgumentError(`${name} expects a number > 0, got '${value}'`);
    }
    return n;
  };
}

function throughputParser(value: string): number {
  const n = integer('--throughput', { min: -1 })(value);
  if (n === 0) throw new InvalidArgumentError(`--throughput expects records/s > 0 or -1`);
  return n;
}

// ---- produce ------------------------------------------------------------------------------------

async function producePerf(topic: string, flags: ProduceFlags, io: Io): Promise<number> {
  if (flags.records === undefined && flags.duration === undefined) {
    throw usageError('say how much to send: --records N or --duration SECONDS');
  }
  if (!flags.create && (flags.partitions !== undefined || flags.replicationFactor !== undefined)) {
    throw usageError('--partitions and --replication-factor go with --create');
  }
  const settings = clusterSettings(flags, io);
  const topicState = await withAdmin(settings, (admin) => ensureTopic(admin, topic, flags));

  const producer = new Producer({
    bootstrapServers: settings.bootstrapServers,
    clientId: 'brook-perf',
    connectTimeoutMs: settings.timeoutMs,
    acks: flags.acks === 'all' ? 'all' : (Number(flags.acks) as 0 | 1 | -1),
    compression: flags.compression,
    allowAutoTopicCreation: false,
    ...(flags.lingerMs === undefined ? {} : { lingerMs: flags.lingerMs }),
    ...(flags.batchSize === undefined ? {} : { batchSizeBytes: flags.batchSize }),
  });
  const loop = new ProduceLoop({
    producer,
    topic,
    payloads: makePayloads(flags.recordSize),
    records: flags.records,
    durationMs: flags.duration === undefined ? undefined : flags.duration * 1000,
    throughput: flags.throughput,
    signal: io.interrupt,
  });
  // After an interrupt, records still unanswered get --timeout ms, then fail (and are counted).
  let giveUp: NodeJS.Timeout | undefined;
  const onInterrupt = () => {
    giveUp = setTimeout(() => void producer.close({ flush: false }), settings.timeoutMs);
  };
  io.interrupt.addEventListener('abort', onInterrupt, { once: true });
  const stopProgress = showProgress(io, () => loop.progress());
  let outcome: Awaited<ReturnType<ProduceLoop['run']>>;
  try {
    outcome = await guard(settings, async () => {
      await warmUp(producer, topic, topicState, settings.timeoutMs);
      return loop.run();
    });
  } finally {
    stopProgress();
    io.interrupt.removeEventListener('abort', onInterrupt);
    clearTimeout(giveUp);
    await producer.close({ timeoutMs: settings.timeoutMs }).catch(() => {});
  }

  const report: PerfReport = {
    command: 'produce',
    topics: [topic],
    records: outcome.acknowledged,
    failed: outcome.failed,
    bytes: outcome.bytes,
    elapsedMs: outcome.elapsedMs,
    ...rates(outcome.acknowledged, outcome.bytes, outcome.elapsedMs),
    latencyMs: outcome.latency.summary(),
    stoppedBy: outcome.stoppedBy,
    errors: outcome.errors.list(),
  };
  await printReport(io, report, flags.json === true, 'send to acknowledgement');
  if (outcome.failed === 0) return ExitCode.ok;
  const first = report.errors[0]?.message ?? 'unknown error';
  if (outcome.acknowledged === 0) {
    throw new CommandError(`every record failed (${outcome.failed}); the first error: ${first}`);
  }
  io.stderr.write(
    `brook perf produce: ${outcome.failed} of ${outcome.failed + outcome.acknowledged} records failed; the first error: ${first}\n`,
  );
  return ExitCode.partial;
}

/**
 * Whether the topic exists; with --create a missing one is created ('created'). A 'missing'
 * topic may still be created by the broker (auto.create.topics.enable) when the producer asks.
 */
async function ensureTopic(
  admin: Admin,
  topic: string,
  flags: ProduceFlags,
): Promise<'exists' | 'created' | 'missing'> {
  const [description] = await admin.describeTopics([topic]);
  const error = description?.error ?? null;
  if (error === null) return 'exists';
  if (!isUnknownTopic(error)) throw error;
  if (!flags.create) return 'missing';
  const [created] = await admin.createTopics([
    {
      name: topic,
      ...(flags.partitions === undefined ? {} : { partitions: flags.partitions }),
      ...(flags.replicationFactor === undefined
        ? {}
        : { replicationFactor: flags.replicationFactor }),
    },
  ]);
  const createError = created?.error ?? null;
  if (createError !== null && createError.errorName !== 'TOPIC_ALREADY_EXISTS') throw createError;
  return 'created';
}

/**
 * Fetches the topic's metadata and connects to its leaders before the clock starts, so that the
 * first records' latencies are not the cost of starting. A missing topic is asked for with
 * auto-creation (the broker decides); one just created may take a moment to appear.
 */
async function warmUp(
  producer: Producer,
  topic: string,
  state: 'exists' | 'created' | 'missing',
  timeoutMs: number,
): Promise<void> {
  const deadlineMs = Date.now() + timeoutMs;
  for (;;) {
    try {
      const info = await producer.cluster.topic(topic, {
        allowAutoTopicCreation: state === 'missing',
      });
      const leaders = new Set(info.partitions.map((p) => p.leader).filter((id) => id >= 0));
      await Promise.all([...leaders].map((id) => producer.cluster.connection(id)));
      return;
    } catch (error) {
      if (!isUnknownTopic(error)) throw error;
      if (state === 'missing') {
        throw new CommandError(`${unknownTopicMessage(topic)}, or pass --create`);
      }
      if (Date.now() >= deadlineMs) throw error;
      producer.cluster.invalidateMetadata();
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

function isUnknownTopic(error: unknown): boolean {
  return error instanceof KafkaProtocolError && error.errorName === 'UNKNOWN_TOPIC_OR_PARTITION';
}

// ---- consume ------------------------------------------------------------------------------------

async function consumePerf(topics: string[], flags: ConsumeFlags, io: Io): Promise<number> {
  const settings = clusterSettings(flags, io);
  const partitions = await withAdmin(settings, (admin) => topicPartitions(admin, topics));

  const consumer = new Consumer({
    bootstrapServers: settings.bootstrapServers,
    clientId: 'brook-perf',
    connectTimeoutMs: settings.timeoutMs,
    autoOffsetReset: flags.from === 'end' ? 'latest' : 'earliest',
    ...(flags.group === undefined ? {} : { groupId: flags.group }),
  });
  const loop = new ConsumeLoop({
    consumer,
    records: flags.records,
    durationMs: flags.duration === undefined ? undefined : flags.duration * 1000,
    idleTimeoutMs: flags.idleTimeoutMs,
    group: flags.group !== undefined,
    signal: io.interrupt,
  });
  const stopProgress = showProgress(io, () => loop.progress());
  let outcome: Awaited<ReturnType<ConsumeLoop['run']>>;
  try {
    outcome = await guard(settings, async () => {
      if (flags.group === undefined) consumer.assign(partitions);
      else {
        await consumer.subscribe({
          topics,
          listener: { onAssigned: () => loop.assigned() },
        });
      }
      return loop.run();
    });
  } finally {
    stopProgress();
    await consumer.close().catch(() => {});
  }

  const report: PerfReport = {
    command: 'consume',
    topics,
    records: outcome.records,
    failed: 0,
    bytes: outcome.bytes,
    elapsedMs: outcome.elapsedMs,
    ...rates(outcome.records, outcome.bytes, outcome.elapsedMs),
    latencyMs: outcome.latency.summary(),
    stoppedBy: outcome.stoppedBy,
    errors: [],
  };
  if (outcome.records === 0) {
    const why =
      outcome.stoppedBy === 'idle'
        ? `within --idle-timeout-ms ${flags.idleTimeoutMs}`
        : outcome.stoppedBy === 'duration'
          ? `within --duration ${flags.duration} s`
          : 'before the interrupt';
    const hint = flags.from === 'end' ? '; is a producer writing?' : '; the topics may be empty';
    throw new CommandError(`no records read ${why}${hint}`);
  }
  await printReport(io, report, flags.json === true, 'now minus record timestamp');
  if (
    flags.records !== undefined &&
    outcome.records < flags.records &&
    outcome.stoppedBy === 'idle'
  ) {
    io.stderr.write(
      `brook perf consume: stopped at ${outcome.records} of ${flags.records} records: none came for ${flags.idleTimeoutMs} ms\n`,
    );
  }
  return ExitCode.ok;
}

/** Every partition of the topics; an unknown topic is an error in words. */
async function topicPartitions(admin: Admin, topics: readonly string[]): Promise<TopicPartition[]> {
  const descriptions = await admin.describeTopics(topics);
  const partitions: TopicPartition[] = [];
  for (const description of descriptions) {
    if (description.error !== null) {
      if (isUnknownTopic(description.error)) {
        throw new CommandError(unknownTopicMessage(description.name));
      }
      throw description.error;
    }
    for (const p of description.partitions) {
      partitions.push({ topic: description.name, partition: p.partition });
    }
  }
  return partitions;
}

// ---- output -------------------------------------------------------------------------------------

/** Redraws the progress line every PROGRESS_INTERVAL_MS on a terminal; returns the stop. */
function showProgress(io: Io, state: () => ProgressState): () => void {
  if (io.stderr.isTTY !== true) return () => {};
  const progress = new Progress(io.stderr, { intervalMs: PROGRESS_INTERVAL_MS / 2 });
  const line = new ProgressLine();
  const timer = setInterval(
    () => progress.update(() => line.render(state()), true),
    PROGRESS_INTERVAL_MS,
  );
  timer.unref();
  return () => {
    clearInterval(timer);
    progress.done();
  };
}

async function printReport(
  io: Io,
  report: PerfReport,
  asJson: boolean,
  latencyTitle: string,
): Promise<void> {
  await write(io.stdout, asJson ? json(reportJson(report)) : reportText(report, latencyTitle));
}
