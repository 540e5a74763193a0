/**
 * The broker end to end with a real client (librdkafka, through Debian's python3-confluent-kafka):
 * produce and consume 1,000,000 records of 100 B and 1 KiB, to 1 and 6 partitions, with acks=1
 * and acks=all; records/s, MB/s, p50/p99 delivery latency, broker RSS idle and under load, and
 * the time from spawning `brook serve` to its port being open. Next to them, in the same run,
 * the raw limits: loopback TCP throughput and the disk's sequential write rate.
 *
 * Run: npm run bench -- broker   (BROOK_BENCH_RECORDS=200000 for a shorter run)
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
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const RECORDS = Number(process.env.BROOK_BENCH_RECORDS ?? 1_000_000);
const PERF = join(root, 'bench', 'clients', 'librdkafka-perf.py');

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
  const started = performance.now();
  const child = spawn(
    process.execPath,
    [
      join(root, 'packages/cli/src/main.ts'),
      'serve',
      '--port',
      '0',
      '--data-dir',
      dataDirectory,
      '--log-level',
      'warn',
      '--set',
      'num.partitions=1',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const port = await new Promise<number>((resolve, reject) => {
    let output = '';
    child.stdout!.on('data', (data: Buffer) => {
      output += data.toString();
      const match = /listening on [^:]+:(\d+)/.exec(output);
      if (match) resolve(Number(match[1]));
    });
    child.once('exit', (code) => reject(new Error(`brook serve exited with ${code}`)));
  });
  return { child, port, startMs: performance.now() - started };
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
    const loopback = await loopbackMbPerSecond(1 << 30);
    const disk = diskWriteMbPerSecond(directory, 1 << 30);
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
    console.log(
      `  raw limits: loopback TCP ${loopback.toFixed(0)} MB/s, disk sequential write ${disk.toFixed(0)} MB/s`,
    );
    console.log(
      `  start to port open ${startMs.toFixed(0)} ms (spawn included), idle RSS ${idleRss.toFixed(1)} MB`,
    );
    console.log(
      '  size  parts acks | produce rec/s    MB/s  p50 ms  p99 ms | consume rec/s    MB/s',
    );
    let run = 0;
    for (const size of [100, 1024]) {
      for (const partitions of [1, 6]) {
        for (const acks of ['1', 'all']) {
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
          const consumed = await perf([
            'consume',
            bootstrap,
            topic,
            String(RECORDS),
            String(partitions),
          ]);
          console.log(
            `  ${String(size).padStart(4)}  ${String(partitions).padStart(5)} ${acks.padStart(4)} | ${String(produced.recordsPerSecond).padStart(13)} ${String(produced.mbPerSecond).padStart(7)} ${String(produced.p50Ms).padStart(7)} ${String(produced.p99Ms).padStart(7)} | ${String(consumed.recordsPerSecond).padStart(13)} ${String(consumed.mbPerSecond).padStart(7)}` +
              (produced.errors || consumed.records !== RECORDS
                ? `  (errors ${produced.errors}, consumed ${consumed.records})`
                : ''),
          );
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
