/**
 * The broker end to end with a real client (librdkafka, through Debian's python3-confluent-kafka):
 * produce and consume 1,000,000 records of 100 B and 1 KiB, to 1 and 6 partitions, with acks=1
 * and acks=all; records/s, MB/s, p50/p99 delivery latency, broker RSS idle and under load, and
 * the time from spawning `brook serve` to its port being open. Next to them, in the same run,
 * the raw limits: loopback TCP throughput and the disk's sequential write rate.
 *
 * Run: npm run bench -- broker   (BROOK_BENCH_RECORDS=200000 for a shorter run)
 *
 * To iterate on one path:
 * - BROOK_BENCH_CONSUME_ONLY=1: no raw limits; each case is produced once (acks=1) and consumed
 *   BROOK_BENCH_CONSUME_RUNS times (3 by default), with the CPU seconds of the broker and of the
 *   client for each consumption, and as many runs of a raw fetch loop (Brook's codecs, no client
 *   library: the broker's own rate).
 * - BROOK_BENCH_CASES=100x1,1024x6: only these sizes × partition counts.
 * - BROOK_BENCH_CONSUMER_QUEUE=default: librdkafka's own pre-fetch queue limits, under which
 *   one partition is fetched about twice a second whatever the broker (librdkafka-perf.py).
 * - BROOK_BENCH_BROKER_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof': Node options for the
 *   broker process (it stops with SIGTERM, cleanly, so the profile is written).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import {
  closeSync,
  fsyncSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ApiKey,
  FetchRequest,
  FetchResponse,
  FrameDecoder,
  readResponseFrame,
  Writer,
  writeRequestFrame,
} from '@brook/protocol';

import { spawnBrookServe } from './serve.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const RECORDS = Number(process.env.BROOK_BENCH_RECORDS ?? 1_000_000);
const PERF = join(root, 'bench', 'clients', 'librdkafka-perf.py');
const CONSUME_ONLY = process.env.BROOK_BENCH_CONSUME_ONLY === '1';
const CONSUME_RUNS = CONSUME_ONLY ? Number(process.env.BROOK_BENCH_CONSUME_RUNS ?? 3) : 1;
const CASES = process.env.BROOK_BENCH_CASES?.split(',').map((c) => c.trim());
const BROKER_NODE_ARGS = (process.env.BROOK_BENCH_BROKER_NODE_ARGS ?? '')
  .split(' ')
  .filter((a) => a !== '');
/** librdkafka's pre-fetch queue: 'deep' (limits raised) or 'default' (see librdkafka-perf.py). */
const CONSUMER_QUEUE = process.env.BROOK_BENCH_CONSUMER_QUEUE ?? 'deep';
const CLOCK_TICKS_PER_SECOND = 100;

/** CPU seconds (user + system) a process has used so far, from /proc. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /VmRSS:\s+(\d+) kB/.exec(status);
  return match ? Number(match[1]) / 1024 : Number.NaN;
}

async function loopbackMbPerSecond(totalBytes: number): Promise<number> {
  const chunk = Buffer.alloc(1 << 20, 1);
  return new Promise((resolve) => {
    let received = 0;
    let started = 0;
    const server = createServer((socket) => {
      socket.on('data', (data) => {
        received += data.length;
        if (received >= totalBytes) {
          const seconds = (performance.now() - started) / 1000;
          socket.destroy();
          server.close();
          resolve(totalBytes / seconds / 1e6);
        }
      });
    });
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      const client = connect(port, '127.0.0.1', () => {
        started = performance.now();
        let sent = 0;
        const pump = () => {
          while (sent < totalBytes) {
            sent += chunk.length;
            if (!client.write(chunk)) {
              client.once('drain', pump);
              return;
            }
          }
        };
        pump();
      });
      client.on('error', () => {});
    });
  });
}

function diskWriteMbPerSecond(directory: string, totalBytes: number): number {
  const path = join(directory, 'raw-write.bin');
  const chunk = Buffer.alloc(1 << 20, 2);
  const started = performance.now();
  const fd = openSync(path, 'w');
  for (let written = 0; written < totalBytes; written += chunk.length) writeSync(fd, chunk);
  fsyncSync(fd);
  closeSync(fd);
  const seconds = (performance.now() - started) / 1000;
  rmSync(path);
  return totalBytes / seconds / 1e6;
}

async function startBroker(
  dataDirectory: string,
): Promise<{ child: ChildProcess; port: number; startMs: number }> {
  return spawnBrookServe({
    dataDirectory,
    nodeArgs: BROKER_NODE_ARGS,
    settings: { 'num.partitions': '1' },
  });
}

/** Runs the client asynchronously, so the RSS sampler keeps running meanwhile. */
function perf(args: string[]): Promise<Record<string, number>> {
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/python3', [PERF, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (data: Buffer) => {
      stdout += data.toString();
    });
    child.stderr.on('data', (data: Buffer) => {
      stderr += data.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 600_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`perf ${args.join(' ')} failed: ${stderr}`));
      else resolve(JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, number>);
    });
  });
}

/**
 * The broker without a client library: Brook's codecs read a topic from offset 0 to its end with
 * one Fetch in flight (as librdkafka keeps per broker), 10 MiB per partition and 50 MiB per
 * response as librdkafka-perf.py asks, records left undecoded (each response's last batch header
 * gives the next offset). Records/s and the broker's CPU seconds.
 */
async function rawFetchLoop(
  port: number,
  topic: string,
  partitions: number,
  brokerPid: number,
): Promise<{ recordsPerSecond: number; seconds: number; brokerCpu: number }> {
  const version = 12;
  const socket: Socket = connect({ host: '127.0.0.1', port });
  await new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const decoder = new FrameDecoder({ maxFrameBytes: 1 << 30 });
  let waiting: ((frame: Buffer) => void) | undefined;
  socket.on('data', (chunk: Buffer) => {
    for (const frame of decoder.push(chunk)) waiting?.(frame);
  });
  const offsets: bigint[] = new Array(partitions).fill(0n);
  const ends: bigint[] = new Array(partitions).fill(-1n);
  let records = 0n;
  const cpuBefore = cpuSeconds(brokerPid);
  const started = performance.now();
  for (let correlationId = 1; offsets.some((offset, p) => offset < ends[p]! || ends[p]! < 0n); ) {
    const writer = new Writer();
    writeRequestFrame(
      writer,
      {
        apiKey: ApiKey.Fetch,
        apiVersion: version,
        correlationId: correlationId++,
        clientId: 'raw',
      },
      (w) =>
        FetchRequest.write(
          w,
          {
            maxWaitMs: 500,
            minBytes: 1,
            maxBytes: 50 << 20,
            topics: [
              {
                topic,
                partitions: offsets.map((fetchOffset, partition) => ({
                  partition,
                  fetchOffset,
                  partitionMaxBytes: 10 << 20,
                })),
              },
            ],
          },
          version,
        ),
    );
    const response = new Promise<Buffer>((resolve) => {
      waiting = resolve;
    });
    socket.write(writer.toBuffer());
    const { body } = readResponseFrame(await response, ApiKey.Fetch, version);
    for (const partition of FetchResponse.decode(body, version).responses[0]!.partitions) {
      ends[partition.partitionIndex] = partition.highWatermark;
      const bytes = partition.records;
      if (!bytes || bytes.length === 0) continue;
      let at = 0;
      let last = 0;
      while (at + 12 <= bytes.length) {
        last = at;
        at += 12 + bytes.readInt32BE(at + 8);
      }
      const next = bytes.readBigInt64BE(last) + BigInt(bytes.readInt32BE(last + 23)) + 1n;
      records += next - offsets[partition.partitionIndex]!;
      offsets[partition.partitionIndex] = next;
    }
  }
  const seconds = (performance.now() - started) / 1000;
  const brokerCpu = cpuSeconds(brokerPid) - cpuBefore;
  socket.destroy();
  return { recordsPerSecond: Math.round(Number(records) / seconds), seconds, brokerCpu };
}

function createTopic(bootstrap: string, topic: string, partitions: number): void {
  const script = `from confluent_kafka.admin import AdminClient, NewTopic
a = AdminClient({'bootstrap.servers': '${bootstrap}'})
for f in a.create_topics([NewTopic('${topic}', ${partitions}, 1)]).values(): f.result()`;
  const result = spawnSync('/usr/bin/python3', ['-c', script], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`create topic failed: ${result.stderr}`);
}

async function main(): Promise<void> {
  const directory = mkdtempSync(join(tmpdir(), 'brook-bench-'));
  try {
    const loopback = CONSUME_ONLY ? undefined : await loopbackMbPerSecond(1 << 30);
    const disk = CONSUME_ONLY ? undefined : diskWriteMbPerSecond(directory, 1 << 30);
    const { child, port, startMs } = await startBroker(join(directory, 'data'));
    const bootstrap = `127.0.0.1:${port}`;
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const idleRss = rssMb(child.pid!);
    let peakRss = idleRss;
    const sampler = setInterval(() => {
      peakRss = Math.max(peakRss, rssMb(child.pid!));
    }, 200);
    console.log(
      `\nBroker, ${RECORDS} records per run, librdkafka (confluent-kafka) on the same 2 cores (node ${process.version})`,
    );
    if (loopback !== undefined && disk !== undefined) {
      console.log(
        `  raw limits: loopback TCP ${loopback.toFixed(0)} MB/s, disk sequential write ${disk.toFixed(0)} MB/s`,
      );
    }
    console.log(
      `  start to port open ${startMs.toFixed(0)} ms (spawn included), idle RSS ${idleRss.toFixed(1)} MB`,
    );
    console.log(
      '  size  parts acks | produce rec/s    MB/s  p50 ms  p99 ms | consume rec/s    MB/s | CPU s: broker client',
    );
    let run = 0;
    for (const size of [100, 1024]) {
      for (const partitions of [1, 6]) {
        if (CASES !== undefined && !CASES.includes(`${size}x${partitions}`)) continue;
        for (const acks of CONSUME_ONLY ? ['1'] : ['1', 'all']) {
          const topic = `bench-${run++}`;
          createTopic(bootstrap, topic, partitions);
          const produced = await perf([
            'produce',
            bootstrap,
            topic,
            String(RECORDS),
            String(size),
            acks,
          ]);
          if (CONSUME_ONLY) {
            for (let attempt = 0; attempt < CONSUME_RUNS; attempt++) {
              const raw = await rawFetchLoop(port, topic, partitions, child.pid!);
              console.log(
                `  ${String(size).padStart(4)}  ${String(partitions).padStart(5)}  raw | Brook's codecs, one fetch in flight    | ${String(raw.recordsPerSecond).padStart(13)} ${((raw.recordsPerSecond * size) / 1e6).toFixed(1).padStart(7)} | ${raw.brokerCpu.toFixed(2).padStart(12)}        of ${raw.seconds.toFixed(3)} s`,
              );
            }
          }
          for (let attempt = 0; attempt < CONSUME_RUNS; attempt++) {
            const brokerCpuBefore = cpuSeconds(child.pid!);
            const consumed = await perf([
              'consume',
              bootstrap,
              topic,
              String(RECORDS),
              String(partitions),
              CONSUMER_QUEUE,
            ]);
            const brokerCpu = cpuSeconds(child.pid!) - brokerCpuBefore;
            const producedColumns =
              attempt === 0
                ? `${String(produced.recordsPerSecond).padStart(13)} ${String(produced.mbPerSecond).padStart(7)} ${String(produced.p50Ms).padStart(7)} ${String(produced.p99Ms).padStart(7)}`
                : ' '.repeat(37);
            console.log(
              `  ${String(size).padStart(4)}  ${String(partitions).padStart(5)} ${acks.padStart(4)} | ${producedColumns} | ${String(consumed.recordsPerSecond).padStart(13)} ${String(consumed.mbPerSecond).padStart(7)} | ${brokerCpu.toFixed(2).padStart(12)} ${String(consumed.cpuSeconds).padStart(6)} of ${consumed.seconds} s` +
                (produced.errors || consumed.records !== RECORDS
                  ? `  (errors ${produced.errors}, consumed ${consumed.records})`
                  : ''),
            );
          }
        }
      }
    }
    clearInterval(sampler);
    console.log(`  broker RSS under load (peak): ${peakRss.toFixed(1)} MB`);
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

await main();
