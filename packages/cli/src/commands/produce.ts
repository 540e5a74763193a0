/**
 * `brook produce TOPIC`: one record per input line (stdin or `--file`), bytes as they are, with
 * an optional key separator, headers, partition, compression and acks, or JSON objects with
 * `--json`. Records go through the producer's batching without waiting for each: the records in
 * flight are bounded (bytes and count), and reading waits while the bound is reached. At the end
 * a report (records sent and failed, bytes, time) goes to stderr, or as JSON to stdout.
 *
 * Exit codes: 0 every record delivered, 4 some failed (the first errors are shown), 1 none could
 * be delivered (or the topic does not exist), 2 wrong command line, 3 cluster unreachable.
 */
import { open } from 'node:fs/promises';
import type { CompressionName, ProducerRecord, RecordBytes } from '@brook/client';
import { KafkaProtocolError, Producer } from '@brook/client';
import { type Command, Option } from 'commander';
import type { Register } from '../cli.ts';
import {
  addClusterOptions,
  type ClusterOptionValues,
  type ClusterSettings,
  CommandError,
  clientOptions,
  clusterSettings,
  collect,
  describeFailure,
  ExitCode,
  guard,
  integer,
  json,
  Progress,
  positiveInteger,
  unknownTopicMessage,
  usageError,
} from '../common.ts';
import type { Context, Io } from '../io.ts';
import {
  InputError,
  type InputHeader,
  type InputRecord,
  isBlank,
  parseJsonRecord,
  readLines,
  splitKey,
} from './produce-input.ts';
import { unescapeBytes } from './record-format.ts';

interface ProduceOptions extends ClusterOptionValues {
  timeout: number;
  file?: string;
  keySeparator?: string;
  header?: string[];
  partition?: number;
  compression: CompressionName;
  acks: string;
  json?: boolean;
  lingerMs: number;
  batchSize: number;
  jsonReport?: boolean;
  quiet?: boolean;
}

/** Records in flight (sent, not yet answered) at most: bytes and count. */
const MAX_IN_FLIGHT_BYTES = 8 * 1024 * 1024;
const MAX_IN_FLIGHT_RECORDS = 8192;
/** The longest input line: the producer's largest request (1 MiB) could not carry more. */
const MAX_LINE_BYTES = 1024 * 1024;
/** Failed records shown one by one; the rest are counted. */
const MAX_ERRORS_SHOWN = 5;

export const register: Register = (program: Command, context: Context) => {
  addClusterOptions(
    program
      .command('produce')
      .description(
        'Write records to a topic: one per line of stdin (or --file), bytes kept as they are.',
      )
      .argument('<topic>', 'the topic to write to')
      .option('-f, --file <path>', 'read lines from this file instead of stdin')
      .option(
        '-K, --key-separator <sep>',
        'each line is KEY<sep>VALUE, split at the first <sep> (a line without it has no key)',
      )
      .option(
        '-H, --header <key=value>',
        'a header on every record (repeatable; a key may repeat)',
        collect,
      )
      .option(
        '-p, --partition <n>',
        'write to this partition (default: by key, or sticky without one)',
        integer('--partition', { min: 0 }),
      )
      .addOption(
        new Option('-z, --compression <codec>', 'compress batches')
          .choices(['none', 'gzip', 'snappy', 'lz4', 'zstd'])
          .default('none'),
      )
      .addOption(
        new Option('--acks <acks>', 'acknowledgements each write needs: 0, 1 or all')
          .choices(['0', '1', 'all', '-1'])
          .default('all'),
      )
      .option(
        '--json',
        'each line is a JSON object {"key", "value", "headers", "partition", "timestamp"}',
      )
      .option(
        '--linger-ms <ms>',
        'how long a batch waits for more records',
        integer('--linger-ms', { min: 0 }),
        5,
      )
      .option(
        '--batch-size <bytes>',
        'a batch closes at about this size',
        positiveInteger('--batch-size'),
        65_536,
      )
      .option('--json-report', 'print the report as one JSON document on stdout')
      .option('-q, --quiet', 'no report (errors are still shown)'),
  )
    .addHelpText(
      'after',
      `
Each line is a record; lines end at \\n only (a \\r stays in the value, bytes are not decoded),
an empty line is an empty value, and the final newline does not add an empty record.
<sep> and header values take the escapes \\t \\n \\r \\\\ \\0 \\xHH.

With --json each line is an object: "value" and "key" are strings (sent as UTF-8) or null
(other JSON values are sent as their JSON text), "headers" is {"name": "value"} or a list of
{"key", "value"}, "partition" a number, "timestamp" ms since the epoch or an ISO date; other
fields (topic, offset) are ignored, so \`brook consume --json\` output can be produced again.
A line that is not such an object is reported with its line number and counted as failed;
blank lines are skipped.

The report (records, bytes, failures, time) goes to stderr; with --json-report it is one JSON
document on stdout: {"topic", "records", "failed", "bytes", "elapsedMs", "errors"}.

Exit codes: 0 all delivered, 1 nothing delivered or no such topic, 2 wrong command line,
3 cluster unreachable, 4 some records failed.

Examples:
  seq 100000 | brook produce numbers
  brook produce orders -K : < orders.txt           lines like customer-42:{"total":12}
  brook produce orders -H source=import -z zstd -f orders.txt
  brook produce orders --json <<< '{"key":"a","value":"hello","headers":{"h":"1"}}'
  brook consume orders --json -e | brook produce orders-copy --json`,
    )
    .action(async (topic: string, options: ProduceOptions) => {
      context.exitCode = await produce(topic, options, context.io);
    });
};

function parseHeaders(pairs: readonly string[] | undefined): InputHeader[] {
  return (pairs ?? []).map((pair) => {
    const at = pair.indexOf('=');
    if (at <= 0) throw usageError(`--header expects key=value, got '${pair}'`);
    return { key: pair.slice(0, at), value: unescapeBytes(pair.slice(at + 1), '--header') };
  });
}

async function openInput(path: string | undefined, io: Io): Promise<NodeJS.ReadableStream> {
  if (path === undefined || path === '-') return io.stdin;
  try {
    const handle = await open(path, 'r');
    return handle.createReadStream({ highWaterMark: 256 * 1024 });
  } catch (error) {
    throw usageError(`cannot read --file ${path}: ${(error as Error).message}`);
  }
}

/** Counts and the first failures of a run. */
class Tally {
  delivered = 0;
  failed = 0;
  bytes = 0;
  inFlightBytes = 0;
  inFlightRecords = 0;
  readonly errors: { line: number; message: string }[] = [];
  firstFailure: unknown;
  private wake: (() => void) | undefined;

  fail(line: number, error: unknown): void {
    this.failed++;
    this.firstFailure ??= error;
    if (this.errors.length < MAX_ERRORS_SHOWN) {
      const message = error instanceof Error ? error.message : String(error);
      this.errors.push({ line, message: message.split('\n')[0] ?? message });
    }
  }

  settled(sizeBytes: number): void {
    this.inFlightBytes -= sizeBytes;
    this.inFlightRecords--;
    if (this.wake !== undefined && this.belowLowWater()) {
      const wake = this.wake;
      this.wake = undefined;
      wake();
    }
  }

  get full(): boolean {
    return (
      this.inFlightBytes >= MAX_IN_FLIGHT_BYTES || this.inFlightRecords >= MAX_IN_FLIGHT_RECORDS
    );
  }

  private belowLowWater(): boolean {
    return (
      this.inFlightBytes <= MAX_IN_FLIGHT_BYTES / 2 &&
      this.inFlightRecords <= MAX_IN_FLIGHT_RECORDS / 2
    );
  }

  /** Resolves when the records in flight fall to half the bound (or to none). */
  room(): Promise<void> {
    if (this.belowLowWater()) return Promise.resolve();
    return new Promise((resolve) => {
      this.wake = resolve;
    });
  }

  /** Resolves when every record sent is answered. */
  async drained(): Promise<void> {
    while (this.inFlightRecords > 0) {
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  }
}

async function produce(topic: string, options: ProduceOptions, io: Io): Promise<number> {
  if (options.json && options.keySeparator !== undefined) {
    throw usageError('--key-separator does not go with --json (put "key" in the JSON objects)');
  }
  const separator =
    options.keySeparator === undefined
      ? undefined
      : unescapeBytes(options.keySeparator, '--key-separator');
  if (separator?.length === 0) throw usageError('--key-separator is empty');
  const headers = parseHeaders(options.header);
  const settings = clusterSettings(options, io);
  const input = await openInput(options.file, io);

  const lingerMs = options.lingerMs;
  const producer = new Producer({
    ...clientOptions(settings),
    acks: options.acks === 'all' ? 'all' : (Number(options.acks) as 0 | 1 | -1),
    compression: options.compression,
    lingerMs,
    batchSizeBytes: options.batchSize,
    maxBlockMs: settings.timeoutMs,
    // A record that cannot be delivered (retries included) in three timeouts fails.
    deliveryTimeoutMs: lingerMs + 3 * settings.timeoutMs,
    // The records in flight stay below this (see MAX_IN_FLIGHT_BYTES).
    bufferMemoryBytes: 2 * MAX_IN_FLIGHT_BYTES + options.batchSize,
  });
  const tally = new Tally();
  const started = performance.now();
  let interrupted = false;
  try {
    const info = await guard(settings, async () => {
      try {
        return await producer.cluster.topic(topic, { allowAutoTopicCreation: true });
      } catch (error) {
        if (
          error instanceof KafkaProtocolError &&
          error.errorName === 'UNKNOWN_TOPIC_OR_PARTITION'
        ) {
          throw new CommandError(unknownTopicMessage(topic), { cause: error });
        }
        throw error;
      }
    });
    const partitionCount = info.partitions.length;
    if (options.partition !== undefined && options.partition >= partitionCount) {
      throw new CommandError(
        `topic '${topic}' has ${partitionCount} partition${partitionCount === 1 ? '' : 's'} (0 to ${partitionCount - 1}); there is no partition ${options.partition}`,
      );
    }

    const progress = new Progress(io.stderr);
    const stop = new AbortController();
    const onInterrupt = () => {
      interrupted = true;
      stop.abort();
    };
    if (io.interrupt.aborted) onInterrupt();
    else io.interrupt.addEventListener('abort', onInterrupt, { once: true });

    let lineNumber = 0;
    const send = (record: ProducerRecord<RecordBytes, RecordBytes>, line: number) => {
      const sizeBytes = (record.key?.length ?? 0) + (record.value?.length ?? 0);
      tally.inFlightBytes += sizeBytes;
      tally.inFlightRecords++;
      producer.send(record).then(
        () => {
          tally.delivered++;
          tally.bytes += sizeBytes;
          tally.settled(sizeBytes);
        },
        (error: unknown) => {
          tally.fail(line, error);
          tally.settled(sizeBytes);
        },
      );
    };
    const recordOf = (line: Buffer): InputRecord | undefined => {
      if (options.json) {
        if (isBlank(line)) return undefined;
        return parseJsonRecord(line, partitionCount);
      }
      const { key, value } =
        separator === undefined ? { key: null, value: line } : splitKey(line, separator);
      return { key, value, headers: [], partition: undefined, timestamp: undefined };
    };

    try {
      for await (const lines of readLines(input, stop.signal, { maxLineBytes: MAX_LINE_BYTES })) {
        for (const line of lines) {
          lineNumber++;
          let record: InputRecord | undefined;
          try {
            record = recordOf(line);
          } catch (error) {
            if (!(error instanceof InputError)) throw error;
            tally.fail(lineNumber, error);
            continue;
          }
          if (record === undefined) continue;
          const recordHeaders =
            record.headers.length === 0
              ? headers
              : headers.length === 0
                ? record.headers
                : [...headers, ...record.headers];
          const partition = record.partition ?? options.partition;
          send(
            {
              topic,
              key: record.key,
              value: record.value,
              ...(recordHeaders.length > 0 ? { headers: recordHeaders } : {}),
              ...(partition !== undefined ? { partition } : {}),
              ...(record.timestamp !== undefined ? { timestamp: record.timestamp } : {}),
            },
            lineNumber,
          );
          if (tally.full || producer.waitingRecords > 0) await tally.room();
        }
        progress.update(() => progressText(tally, started));
      }
    } catch (error) {
      if (error instanceof CommandError) throw error;
      const source = options.file === undefined ? 'stdin' : options.file;
      throw new CommandError(`cannot read ${source}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    await producer.flush();
    await tally.drained();
    progress.done();
    io.interrupt.removeEventListener('abort', onInterrupt);
  } finally {
    await producer.close({ flush: false }).catch(() => {});
  }
  return report(topic, tally, performance.now() - started, { interrupted, settings, options, io });
}

function progressText(tally: Tally, started: number): string {
  const seconds = (performance.now() - started) / 1000;
  const rate = seconds > 0 ? Math.round(tally.delivered / seconds) : 0;
  return `${tally.delivered} records sent, ${tally.failed} failed, ${tally.inFlightRecords} in flight (${rate}/s)`;
}

function report(
  topic: string,
  tally: Tally,
  elapsedMs: number,
  {
    interrupted,
    settings,
    options,
    io,
  }: { interrupted: boolean; settings: ClusterSettings; options: ProduceOptions; io: Io },
): number {
  const exitCode =
    tally.failed === 0
      ? ExitCode.ok
      : tally.delivered > 0
        ? ExitCode.partial
        : describeFailure(tally.firstFailure, settings).exitCode === ExitCode.unreachable
          ? ExitCode.unreachable
          : ExitCode.failed;
  for (const { line, message } of tally.errors) {
    io.stderr.write(`brook produce: line ${line}: ${message}\n`);
  }
  if (tally.failed > tally.errors.length) {
    io.stderr.write(
      `brook produce: ${tally.failed - tally.errors.length} more records failed (not shown)\n`,
    );
  }
  if (options.jsonReport) {
    io.stdout.write(
      json({
        topic,
        records: tally.delivered,
        failed: tally.failed,
        bytes: tally.bytes,
        elapsedMs: Math.round(elapsedMs),
        interrupted,
        errors: tally.errors,
      }),
    );
  } else if (!options.quiet) {
    const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
    io.stderr.write(
      `${plural(tally.delivered, 'record')} (${plural(tally.bytes, 'byte')}) produced to '${topic}' in ${(elapsedMs / 1000).toFixed(2)} s` +
        `${tally.failed > 0 ? `, ${tally.failed} failed` : ''}${interrupted ? ' (interrupted)' : ''}\n`,
    );
  }
  return exitCode;
}
