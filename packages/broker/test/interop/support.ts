/**
 * What the interop tests share: finding the real clients on the machine, running them with a
 * time limit (their stderr goes into the failure message), the records every client produces,
 * and the check of what a client read back against them.
 *
 * A client that is not installed fails its test in CI (`.ci/run` installs them all) and is
 * skipped elsewhere, with the package to install as the reason.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { readRecordBatchHeader, splitRecordsBlob } from '@brook/protocol';
import type { Broker } from '../../src/broker.ts';

/** Debian's interpreter, where python3-kafka and python3-confluent-kafka are installed. */
export const PYTHON = '/usr/bin/python3';
export const CODECS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;
export type Codec = (typeof CODECS)[number];

const IN_CI = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false';

/** Why a client cannot run here (undefined when it can). */
export function missingCommand(command: string, args: string[], debPackage: string) {
  const probe = spawnSync(command, args, { encoding: 'utf8', timeout: 10_000 });
  if (probe.error === undefined && probe.status === 0) return undefined;
  const detail = probe.error?.message ?? probe.stderr.trim().split('\n').at(-1) ?? '';
  return `${command} ${args.join(' ')} failed (${detail}): install the Debian package ${debPackage} (.ci/run does)`;
}

export function missingPythonModule(module: string, debPackage: string): string | undefined {
  return missingCommand(PYTHON, ['-c', `import ${module}`], debPackage);
}

/** The options of a client's top-level test: skipped with the reason, except in CI. */
export function clientTestOptions(missing: string | undefined): { skip?: string } {
  return missing !== undefined && !IN_CI ? { skip: missing } : {};
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion (killed after `timeoutMs`). */
export function run(
  command: string,
  args: readonly string[],
  options: { input?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code,
        signal,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
      });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(options.input ?? '');
  });
}

/**
 * Calls a Python driver (`<driver>.py OP`): the arguments go in as JSON on stdin, the result
 * comes back as JSON on stdout. Bytes travel as hex strings.
 */
export function pythonDriver(script: string, bootstrap: string) {
  return async <T>(op: string, args: Record<string, unknown> = {}, timeoutMs = 40_000) => {
    const result = await run(PYTHON, [script, op], {
      input: JSON.stringify({ bootstrap, ...args }),
      timeoutMs,
    });
    if (result.code !== 0) {
      throw new Error(
        `${script} ${op} exited with ${result.code ?? result.signal}\n--- stderr ---\n${result.stderr}`,
      );
    }
    return JSON.parse(result.stdout) as T;
  };
}

// ---- records -----------------------------------------------------------------------------------

/** A record a test produces. Every client stamps the CreateTime it is given. */
export interface TestRecord {
  partition: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: [string, Buffer | null][];
  timestamp: bigint;
}

/** A record as a client read it back. */
export interface ConsumedRecord {
  partition: number;
  offset: bigint;
  timestamp: bigint;
  /** 0 CreateTime, 1 LogAppendTime. */
  timestampType: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: [string, Buffer | null][];
}

export const PARTITIONS = 2;

/**
 * The records of one produce run on topic `label`: keyed and unkeyed (null key), empty, large
 * (compressible), binary and null values, no headers or several (a repeated key, a binary value,
 * an empty value), and CreateTimes that grow by 10 ms, spread over both partitions.
 */
export function testRecords(label: string, baseTimestamp: number): TestRecord[] {
  const records: TestRecord[] = [];
  for (let i = 0; i < 10; i++) {
    const key =
      i % 3 === 1
        ? null
        : i === 6
          ? Buffer.from([0x00, 0xff, 0x10, 0x80, i])
          : Buffer.from(`key-${i}`);
    let value: Buffer | null = Buffer.from(`${label} value ${i} ünïcödé`);
    if (i === 3) value = Buffer.alloc(0);
    if (i === 5) value = Buffer.from(`${label} ${'lorem ipsum dolor sit amet '.repeat(120)}`);
    if (i === 7) value = Buffer.from(Array.from({ length: 256 }, (_, b) => b));
    if (i === 8) value = null;
    const headers: [string, Buffer][] =
      i % 5 === 2
        ? []
        : [
            ['trace', Buffer.from(`${label}-${i}`)],
            ...(i % 2 === 0 ? [['trace', Buffer.from('second')] as [string, Buffer]] : []),
            ['bin', Buffer.from([0, 1, 2, 0xfe, 0xff])],
            ['empty', Buffer.alloc(0)],
          ];
    records.push({
      partition: i % PARTITIONS,
      key,
      value,
      headers,
      timestamp: BigInt(baseTimestamp + i * 10),
    });
  }
  return records;
}

/** A TestRecord as JSON for the Python drivers (bytes as hex). */
export function recordToJson(record: TestRecord) {
  return {
    partition: record.partition,
    key: record.key?.toString('hex') ?? null,
    value: record.value?.toString('hex') ?? null,
    headers: record.headers.map(([key, value]) => [key, value?.toString('hex') ?? null]),
    timestamp: Number(record.timestamp),
  };
}

export interface JsonConsumedRecord {
  topic: string;
  partition: number;
  offset: number;
  timestamp: number;
  timestamp_type: number;
  key: string | null;
  value: string | null;
  headers: [string, string | null][];
}

export function recordFromJson(record: JsonConsumedRecord): ConsumedRecord {
  const bytes = (hex: string | null) => (hex === null ? null : Buffer.from(hex, 'hex'));
  return {
    partition: record.partition,
    offset: BigInt(record.offset),
    timestamp: BigInt(record.timestamp),
    timestampType: record.timestamp_type,
    key: bytes(record.key),
    value: bytes(record.value),
    headers: record.headers.map(([key, value]) => [key, bytes(value)]),
  };
}

/** Bytes as a readable string: text when printable UTF-8, else hex; long ones summarized. */
export function show(bytes: Buffer | null): string | null {
  if (bytes === null) return null;
  const text = bytes.toString('utf8');
  const printable = Buffer.from(text, 'utf8').equals(bytes) && !/[\p{Cc}]/u.test(text);
  const shown = printable ? `text:${text}` : `hex:${bytes.toString('hex')}`;
  if (shown.length <= 90) return shown;
  const digest = createHash('sha256').update(bytes).digest('hex').slice(0, 12);
  return `${shown.slice(0, 60)}… (${bytes.length} bytes, sha256 ${digest})`;
}

/**
 * The offset each record gets: its position among the records of its partition, after
 * `firstOffsets` (0 on a new topic).
 */
export function expectedOffsets(
  records: readonly TestRecord[],
  firstOffsets: ReadonlyMap<number, bigint> = new Map(),
): bigint[] {
  const next = new Map(firstOffsets);
  return records.map((record) => {
    const offset = next.get(record.partition) ?? 0n;
    next.set(record.partition, offset + 1n);
    return offset;
  });
}

function printable(record: {
  partition: number;
  offset: bigint;
  timestamp: bigint | string;
  timestampType: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: [string, Buffer | null][];
}) {
  return {
    partition: record.partition,
    offset: String(record.offset),
    timestamp: String(record.timestamp),
    timestampType: record.timestampType === 0 ? 'CreateTime' : `type ${record.timestampType}`,
    key: show(record.key),
    value: show(record.value),
    headers: record.headers.map(([key, value]) => `${key}=${show(value)}`),
  };
}

/**
 * Checks that `consumed` is exactly `produced` (in produce order within each partition, at
 * offsets from `firstOffsets`), record by record: partition, offset, CreateTime, key, value,
 * headers. With `timestampWindow`, the producer stamped the time itself: it must fall within.
 * `skipBelow` drops produced records below a partition's new log start (DeleteRecords).
 */
export function assertConsumed(
  what: string,
  consumed: readonly ConsumedRecord[],
  produced: readonly TestRecord[],
  options: {
    timestampWindow?: readonly [number, number];
    skipBelow?: ReadonlyMap<number, bigint>;
  } = {},
): void {
  const offsets = expectedOffsets(produced);
  const window = options.timestampWindow;
  const inWindow = (timestamp: bigint) =>
    window !== undefined && timestamp >= BigInt(window[0]) && timestamp <= BigInt(window[1])
      ? 'within the produce run'
      : timestamp;
  const expected = produced
    .map((record, i) => ({ ...record, offset: offsets[i]!, timestampType: 0 }))
    .filter((record) => record.offset >= (options.skipBelow?.get(record.partition) ?? 0n))
    .map((record) =>
      printable({
        ...record,
        timestamp: window === undefined ? record.timestamp : 'within the produce run',
      }),
    );
  const actual = [...consumed]
    .map((record) => printable({ ...record, timestamp: inWindow(record.timestamp) }))
    .sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)));
  expected.sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)));
  assert.deepEqual(actual, expected, `${what}: the records read back differ from those produced`);
}

/** Checks the (partition, offset) a producer was told for each record, in produce order. */
export function assertDelivered(
  what: string,
  delivered: readonly { partition: number; offset: bigint | number }[],
  produced: readonly TestRecord[],
): void {
  const offsets = expectedOffsets(produced);
  assert.deepEqual(
    delivered.map((d) => `p${d.partition}@${d.offset}`),
    produced.map((record, i) => `p${record.partition}@${offsets[i]}`),
    `${what}: the partitions and offsets the producer was acknowledged with`,
  );
}

/**
 * What ListOffsets with timestamp `target` should answer for a partition: the first offset whose
 * record has a timestamp at or after it (record granularity, as Kafka), or -1.
 */
export function offsetForTimestamp(
  consumed: readonly ConsumedRecord[],
  partition: number,
  target: bigint,
): bigint {
  const hit = consumed
    .filter((record) => record.partition === partition && record.timestamp >= target)
    .sort((a, b) => Number(a.offset - b.offset))[0];
  return hit?.offset ?? -1n;
}

/** The producer ids of the batches stored for a partition (white box: read from the log). */
export async function storedProducerIds(
  broker: Broker,
  topic: string,
  partition: number,
): Promise<bigint[]> {
  const log = await broker.context.partitionLog(topic, partition);
  if (log === undefined) return [];
  const read = await log.read(log.logStartOffset, {
    maxBytes: 1 << 24,
    maxOffset: log.logEndOffset,
    minOneBatch: true,
  });
  return splitRecordsBlob(read.records).entries.map(
    (entry) => readRecordBatchHeader(entry.bytes).producerId,
  );
}

// ---- configs -----------------------------------------------------------------------------------

/** One described config, as every client's result is mapped to. */
export interface DescribedConfig {
  value: string | null;
  /** DescribeConfigs v1+ config source (1 DYNAMIC_TOPIC_CONFIG, 5 DEFAULT_CONFIG); null in v0. */
  source: number | null;
  isDefault: boolean;
}

export const CONFIG_SOURCE = { dynamicTopic: 1, default: 5 } as const;

/**
 * Checks a topic's described configs: `overridden` are set on the topic (not defaults, source
 * DYNAMIC_TOPIC_CONFIG), `defaults` are Kafka's defaults (source DEFAULT_CONFIG).
 */
export function assertTopicConfigs(
  what: string,
  described: Readonly<Record<string, DescribedConfig>>,
  expected: { overridden: Record<string, string>; defaults: Record<string, string> },
): void {
  const view = (names: string[]) =>
    Object.fromEntries(
      names.map((name) => {
        const entry = described[name];
        if (entry === undefined) return [name, 'not described'];
        const source = entry.source === null ? '' : ` source ${entry.source}`;
        return [name, `${entry.value} ${entry.isDefault ? 'default' : 'set'}${source}`];
      }),
    );
  const want = Object.fromEntries([
    ...Object.entries(expected.overridden).map(([name, value]) => [
      name,
      `${value} set${described[name]?.source === null ? '' : ` source ${CONFIG_SOURCE.dynamicTopic}`}`,
    ]),
    ...Object.entries(expected.defaults).map(([name, value]) => [
      name,
      `${value} default${described[name]?.source === null ? '' : ` source ${CONFIG_SOURCE.default}`}`,
    ]),
  ]);
  assert.deepEqual(view(Object.keys(want)), want, `${what}: described topic configs`);
}

const CLI = join(import.meta.dirname, '../../../cli/src/main.js');

export interface Served {
  child: ChildProcess;
  port: number;
  bootstrap: string;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts `brook serve` (this Node, packages/cli/src/main.js) on a free port with `properties`
 * passed as `--set`; killed (SIGKILL) at the end of the test if still up.
 */
export async function serve(
  t: TestContext,
  dataDirectory: string,
  properties: Record<string, string> = {},
): Promise<Served> {
  const settings = Object.entries(properties).flatMap(([k, v]) => ['--set', `${k}=${v}`]);
  const child = spawn(
    process.execPath,
    [CLI, 'serve', '--host', '127.0.0.1', '--port', '0', '--data-dir', dataDirectory, ...settings],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`brook serve did not start:\n${output}`)),
      20_000,
    );
    const onData = () => {
      // The whole port: a chunk may end in the middle of it.
      const match = /listening on 127\.0\.0\.1:(\d+)\D/.exec(output);
      if (match) {
        clearTimeout(timer);
        child.stdout.off('data', onData);
        resolve(Number(match[1]));
      }
    };
    child.stdout.on('data', onData);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`brook serve exited with ${code ?? signal} before listening:\n${output}`));
    });
  });
  return { child, port, bootstrap: `127.0.0.1:${port}`, output: () => output, exited };
}
