/**
 * `brook consume TOPIC...`: prints records as they arrive, from the beginning (the default, as
 * kcat), the end, an offset, the last N or a time; without a group every partition is read by
 * hand, with `--group` the consumer joins the group and commits. It stops after `--count`
 * records, at the end of every partition with `--exit-at-end`, when the reader of stdout goes
 * away (`| head`), or on SIGINT/SIGTERM, each with exit code 0.
 *
 * Output is the value alone, a kcat-like `--format` template or JSON lines (record-format.ts),
 * gathered in large writes. A summary (records, bytes, time) goes to stderr.
 */
import { AbortedError, type Admin, Consumer, type TopicPartition } from '@brook/client';
import { type Command, Option } from 'commander';
import type { Register } from '../cli.ts';
import {
  addClusterOptions,
  type ClusterOptionValues,
  CommandError,
  clientOptions,
  clusterSettings,
  ExitCode,
  guard,
  integer,
  positiveInteger,
  unknownTopicMessage,
  usageError,
  withAdmin,
} from '../common.ts';
import type { Context, Io } from '../io.ts';
import {
  describeStartAt,
  parseFromTime,
  parseStartAt,
  type StartAt,
  startOffsets,
} from './consume-offsets.ts';
import {
  jsonFormatter,
  OutputBuffer,
  type RecordFormatter,
  TEMPLATE_HELP,
  templateFormatter,
  valueFormatter,
} from './record-format.ts';

interface ConsumeOptions extends ClusterOptionValues {
  timeout: number;
  group?: string;
  offset?: string;
  fromBeginning?: boolean;
  fromTime?: string;
  partition?: number;
  count?: number;
  exitAtEnd?: boolean;
  format?: string;
  json?: boolean;
  quiet?: boolean;
}

/** How often `--exit-at-end` looks whether every partition is read to its end. */
const END_CHECK_INTERVAL_MS = 50;

export const register: Register = (program: Command, context: Context) => {
  addClusterOptions(
    program
      .command('consume')
      .description('Read records from topics and print them (the value of each on a line).')
      .argument('<topic...>', 'the topics to read')
      .option('-g, --group <id>', 'read as a member of this consumer group, committing offsets')
      .option(
        '-o, --offset <where>',
        'where to start: beginning, end, N, -N (the last N of each partition), @MS (a time)',
      )
      .option('--from-beginning', 'the same as -o beginning')
      .option('--from-time <iso>', 'start at the first record at or after this time')
      .option(
        '-p, --partition <n>',
        'read only this partition of each topic',
        integer('--partition', { min: 0 }),
      )
      .option('-n, --count <n>', 'stop after this many records', positiveInteger('--count'))
      .option('-e, --exit-at-end', 'stop once every partition is read to its end')
      .addOption(
        new Option('-f, --format <template>', 'print each record with a template (see below)'),
      )
      .addOption(new Option('--json', 'print JSON lines').conflicts('format'))
      .option('-q, --quiet', 'no summary on stderr at the end'),
  )
    .addHelpText(
      'after',
      `
Without --group every partition of the topics (or --partition) is read, from the beginning
unless -o says otherwise (as kcat; Kafka's console consumer starts at the end: use -o end), and
nothing is committed. With --group the group's committed offsets decide; -o beginning (the
default) or -o end only say where to start in partitions the group has not committed yet.

Output, one record after another:
  (default)      the value's bytes as they are, then \\n (a null value is an empty line)
  -f TEMPLATE    ${TEMPLATE_HELP}
  --json         {"topic", "partition", "offset", "timestamp", "key", "value", "headers"} a line,
                 key and value as UTF-8 text or null, headers as [{"key", "value"}]

Stops after --count records, at the end of every partition with -e, when the reader of stdout
goes away, or on Ctrl-C (SIGINT or SIGTERM), each with exit code 0 and a summary on stderr.

Exit codes: 0 done, 1 failed (no such topic, ...), 2 wrong command line, 3 cluster unreachable.

Examples:
  brook consume orders -e                            every record there is, then stop
  brook consume orders -o end                        new records as they come, until Ctrl-C
  brook consume orders -o -10 -e -f '%p:%o %k=%s\\n'  the last 10 of each partition
  brook consume orders --from-time 2026-01-31T12:00:00Z --json -n 100
  brook consume orders payments -g billing           as a member of group billing`,
    )
    .action(async (topics: string[], options: ConsumeOptions) => {
      context.exitCode = await consume(topics, options, context.io);
    });
};

function startAtOf(options: ConsumeOptions): StartAt {
  const given = [
    options.offset !== undefined ? '--offset' : undefined,
    options.fromBeginning ? '--from-beginning' : undefined,
    options.fromTime !== undefined ? '--from-time' : undefined,
  ].filter((o) => o !== undefined);
  if (given.length > 1) throw usageError(`${given.join(' and ')} do not go together`);
  if (options.fromTime !== undefined) return parseFromTime(options.fromTime);
  if (options.offset !== undefined) return parseStartAt(options.offset);
  return { kind: 'beginning' };
}

/** The partitions to read, checking that the topics (and the partition) exist. */
async function partitionsOf(
  admin: Admin,
  topics: readonly string[],
  partition: number | undefined,
): Promise<TopicPartition[]> {
  const described = await admin.describeTopics(topics);
  const partitions: TopicPartition[] = [];
  for (const topic of described) {
    if (topic.error !== null) {
      if (topic.error.errorName === 'UNKNOWN_TOPIC_OR_PARTITION') {
        throw new CommandError(unknownTopicMessage(topic.name), { cause: topic.error });
      }
      throw topic.error;
    }
    const count = topic.partitions.length;
    if (partition !== undefined) {
      if (partition >= count) {
        throw new CommandError(
          `topic '${topic.name}' has ${count} partition${count === 1 ? '' : 's'} (0 to ${count - 1}); there is no partition ${partition}`,
        );
      }
      partitions.push({ topic: topic.name, partition });
    } else {
      for (const p of topic.partitions)
        partitions.push({ topic: topic.name, partition: p.partition });
    }
  }
  return partitions;
}

async function consume(topicArgs: string[], options: ConsumeOptions, io: Io): Promise<number> {
  const topics = [...new Set(topicArgs)];
  const start = startAtOf(options);
  const formatter: RecordFormatter = options.json
    ? jsonFormatter
    : options.format !== undefined
      ? templateFormatter(options.format)
      : valueFormatter;
  if (options.group !== undefined) {
    if (options.partition !== undefined) {
      throw usageError(
        '--partition does not go with --group (the group assigns partitions to its members)',
      );
    }
    if (start.kind !== 'beginning' && start.kind !== 'end') {
      throw usageError(
        `with --group, -o is beginning or end (where to start without a committed offset); to move the group to ${describeStartAt(start)}, use \`brook group reset-offsets ${options.group}\``,
      );
    }
  }
  const settings = clusterSettings(options, io);

  const { partitions, offsets } = await withAdmin(settings, async (admin) => {
    const partitions = await partitionsOf(admin, topics, options.partition);
    const offsets =
      options.group === undefined && start.kind !== 'beginning' && start.kind !== 'end'
        ? await startOffsets(admin, partitions, start)
        : undefined;
    return { partitions, offsets };
  });

  const consumer = new Consumer({
    ...clientOptions(settings),
    ...(options.group !== undefined ? { groupId: options.group } : {}),
    autoOffsetReset: start.kind === 'end' ? 'latest' : 'earliest',
    // At the end of a partition a fetch waits this long for more: -e notices the end sooner.
    fetchMaxWaitMs: options.exitAtEnd ? 100 : 500,
  });

  const stop = new AbortController();
  let pipeClosed = false;
  let outputError: Error | undefined;
  const onOutputError = (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') pipeClosed = true;
    else outputError ??= error;
    stop.abort();
  };
  io.stdout.on('error', onOutputError);
  const onInterrupt = () => stop.abort();
  if (io.interrupt.aborted) stop.abort();
  else io.interrupt.addEventListener('abort', onInterrupt, { once: true });

  const out = new OutputBuffer(io.stdout);
  let idleFlush: ReturnType<typeof setImmediate> | undefined;
  const flushWhenIdle = () => {
    idleFlush ??= setImmediate(() => {
      idleFlush = undefined;
      if (!pipeClosed) Promise.resolve(out.flush()).catch(() => {});
    });
  };

  const atEnd = (tp: TopicPartition): boolean => {
    const position = consumer.position(tp);
    const highWatermark = consumer.highWatermark(tp);
    return position !== undefined && highWatermark >= 0n && position >= highWatermark;
  };
  // Without a group the partitions are known at once; a member knows its own (maybe none, when
  // the group has more members than partitions) once the group has assigned them.
  let assignedYet = options.group === undefined;
  const allAtEnd = (): boolean => {
    try {
      return assignedYet && consumer.assignment().every(atEnd);
    } catch {
      return false; // a rebalance took a partition away meanwhile
    }
  };
  const endCheck = options.exitAtEnd
    ? setInterval(() => {
        if (allAtEnd()) stop.abort();
      }, END_CHECK_INTERVAL_MS)
    : undefined;

  let records = 0;
  let bytes = 0;
  const started = performance.now();
  try {
    await guard(settings, async () => {
      if (options.group !== undefined) {
        await consumer.subscribe({
          topics,
          listener: {
            onAssigned: () => {
              assignedYet = true;
            },
          },
        });
      } else {
        consumer.assign(partitions);
        if (offsets !== undefined) {
          partitions.forEach((tp, i) => {
            consumer.seek(tp, offsets[i]!);
          });
        }
      }
      const limit = options.count ?? Number.POSITIVE_INFINITY;
      try {
        for await (const record of consumer.records({ signal: stop.signal })) {
          formatter(record, out);
          records++;
          bytes += (record.key?.length ?? 0) + (record.value?.length ?? 0);
          if (out.full) await out.flush();
          else flushWhenIdle();
          if (records >= limit) break;
          if (
            options.exitAtEnd &&
            record.offset + 1n >= consumer.highWatermark(record) &&
            allAtEnd()
          ) {
            break;
          }
        }
      } catch (error) {
        // Stopped on purpose: interrupted, -e, or the output went away.
        if (!(stop.signal.aborted && (error instanceof AbortedError || pipeClosed))) throw error;
      }
    });
  } finally {
    if (endCheck !== undefined) clearInterval(endCheck);
    if (idleFlush !== undefined) clearImmediate(idleFlush);
    io.interrupt.removeEventListener('abort', onInterrupt);
    if (!pipeClosed && outputError === undefined) {
      await Promise.resolve(out.flush()).catch(() => {});
    }
    await consumer.close({ timeoutMs: settings.timeoutMs }).catch(() => {});
  }
  if (outputError !== undefined) {
    throw new CommandError(`cannot write the output: ${outputError.message}`);
  }
  if (pipeClosed) return ExitCode.ok;
  if (!options.quiet) {
    const seconds = ((performance.now() - started) / 1000).toFixed(2);
    io.stderr.write(
      `${records} record${records === 1 ? '' : 's'} (${bytes} byte${bytes === 1 ? '' : 's'}) consumed from ${topics.map((t) => `'${t}'`).join(', ')} in ${seconds} s\n`,
    );
  }
  return ExitCode.ok;
}
