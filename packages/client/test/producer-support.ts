/**
 * What the producer's tests share: topics, reading a partition's log back (white box, through
 * the broker's log), running kcat and confluent-kafka, and a TCP proxy that cuts a connection
 * right after the broker answered a Produce request (the answer is lost, the write is not).
 */
import { spawn, spawnSync } from 'node:child_process';
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { Broker } from '@brook/broker';
import { decodeRecordBatches, type RecordBatch } from '@brook/protocol';

export async function createTopic(
  broker: Broker,
  name: string,
  partitions: number,
  configs: Record<string, string> = {},
): Promise<void> {
  const result = await broker.context.createTopic({
    name,
    partitions,
    replicationFactor: 1,
    configs,
    validateOnly: false,
  });
  if (result.error !== undefined) {
    throw new Error(
      `cannot create ${name}: ${result.error.errorCode} ${result.error.errorMessage}`,
    );
  }
}

/** Every batch stored in a partition, decoded (headers and records). */
export async function readBatches(
  broker: Broker,
  topic: string,
  partition: number,
): Promise<RecordBatch[]> {
  const log = await broker.context.partitionLog(topic, partition);
  if (log === undefined) return [];
  const batches: RecordBatch[] = [];
  let offset = log.logStartOffset;
  while (offset < log.logEndOffset) {
    const read = await log.read(offset, {
      maxBytes: 1 << 24,
      maxOffset: log.logEndOffset,
      minOneBatch: true,
    });
    const decoded = decodeRecordBatches(read.records).batches;
    if (decoded.length === 0) break;
    batches.push(...decoded);
    const last = decoded.at(-1)!;
    offset = last.baseOffset + BigInt(last.lastOffsetDelta) + 1n;
  }
  return batches;
}

export interface StoredRecord {
  offset: bigint;
  timestamp: bigint;
  key: string | null;
  value: string | null;
  headers: [string, string | null][];
}

/** Every record stored in a partition, in offset order. */
export async function readRecords(
  broker: Broker,
  topic: string,
  partition: number,
): Promise<StoredRecord[]> {
  const records: StoredRecord[] = [];
  for (const batch of await readBatches(broker, topic, partition)) {
    for (const record of batch.records) {
      records.push({
        offset: batch.baseOffset + BigInt(record.offsetDelta),
        timestamp: batch.baseTimestamp + BigInt(record.timestampDelta),
        key: record.key?.toString() ?? null,
        value: record.value?.toString() ?? null,
        headers: record.headers.map((h) => [h.key, h.value?.toString() ?? null]),
      });
    }
  }
  return records;
}

// ---- external clients -----------------------------------------------------------------------

export const PYTHON = '/usr/bin/python3';

/** Records in log order: by topic, partition, then offset (a decimal string). */
export function sortByPosition<T extends { topic: string; partition: number; offset: string }>(
  records: T[],
): T[] {
  return records.sort((a, b) =>
    a.topic !== b.topic
      ? a.topic < b.topic
        ? -1
        : 1
      : a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)),
  );
}
const IN_CI = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false';

/** Why a command cannot run here (undefined when it can). */
export function missingCommand(command: string, args: string[], debPackage: string) {
  const probe = spawnSync(command, args, { encoding: 'utf8', timeout: 10_000 });
  if (probe.error === undefined && probe.status === 0) return undefined;
  return `${command} ${args.join(' ')} failed: install the Debian package ${debPackage}`;
}

/** Skipped with the reason outside CI; in CI a missing client fails the test. */
export function clientTestOptions(missing: string | undefined): { skip?: string } {
  return missing !== undefined && !IN_CI ? { skip: missing } : {};
}

export interface RunResult {
  code: number | null;
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
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({
        code,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
      });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(options.input ?? '');
  });
}

/** kcat exits with 0 even after a fatal librdkafka error: its stderr tells. */
export async function kcat(args: string[], input?: string): Promise<string> {
  const result = await run('kcat', ['-q', ...args], {
    timeoutMs: 30_000,
    ...(input === undefined ? {} : { input }),
  });
  if (result.code !== 0 || /FATAL|ERROR|fail/i.test(result.stderr)) {
    throw new Error(
      `kcat ${args.join(' ')} exited with ${result.code}\n--- stderr ---\n${result.stderr}`,
    );
  }
  return result.stdout;
}

// ---- fault injection --------------------------------------------------------------------------

/** Cuts a size-prefixed frame stream into frames. */
class Frames {
  private buffered: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Buffer[] {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    const frames: Buffer[] = [];
    while (this.buffered.length >= 4) {
      const size = this.buffered.readInt32BE(0);
      if (this.buffered.length < 4 + size) break;
      frames.push(this.buffered.subarray(0, 4 + size));
      this.buffered = this.buffered.subarray(4 + size);
    }
    return frames;
  }
}

const PRODUCE_API_KEY = 0;

/**
 * A TCP proxy in front of the broker (make it the advertised listener, so clients reach the
 * broker only through it, and a restarted broker may listen on another port). `loseProduceAnswers(n)` makes it drop the next `n` Produce answers:
 * at the first one it cuts the client's connection instead of passing the answer on, so the
 * broker has written the records and the client does not know.
 */
export class FaultProxy {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private targetPort = 0;
  private toLose = 0;
  /** Produce answers lost so far. */
  lost = 0;
  /** Produce requests seen so far. */
  produceRequests = 0;

  private constructor(server: Server) {
    this.server = server;
  }

  static async start(): Promise<FaultProxy> {
    const server = createServer();
    const proxy = new FaultProxy(server);
    server.on('connection', (client) => proxy.accept(client));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get port(): number {
    return (this.server.address() as { port: number }).port;
  }

  /** The broker's real port (known once it started); 0 refuses clients (closes them at once). */
  forwardTo(port: number): void {
    this.targetPort = port;
  }

  loseProduceAnswers(count: number): void {
    this.toLose = count;
  }

  private accept(client: Socket): void {
    if (this.targetPort === 0) {
      client.destroy();
      return;
    }
    const upstream = connect({ host: '127.0.0.1', port: this.targetPort });
    this.sockets.add(client);
    this.sockets.add(upstream);
    const produceIds = new Set<number>();
    const requests = new Frames();
    const responses = new Frames();
    const cut = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('data', (chunk: Buffer) => {
      for (const frame of requests.push(chunk)) {
        if (frame.readInt16BE(4) === PRODUCE_API_KEY) {
          produceIds.add(frame.readInt32BE(8));
          this.produceRequests++;
        }
        upstream.write(frame);
      }
    });
    upstream.on('data', (chunk: Buffer) => {
      for (const frame of responses.push(chunk)) {
        const correlationId = frame.readInt32BE(4);
        if (produceIds.delete(correlationId) && this.toLose > 0) {
          this.toLose--;
          this.lost++;
          cut();
          return;
        }
        client.write(frame);
      }
    });
    for (const socket of [client, upstream]) {
      socket.on('error', () => {});
      socket.on('close', () => {
        this.sockets.delete(socket);
        cut();
      });
    }
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
