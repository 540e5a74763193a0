/**
 * Shared by the client benchmarks (producer.bench.ts, client.bench.ts): a Brook broker in its
 * own process, with topics of 6 partitions created on first use and no wait before a new
 * group's first rebalance (group.initial.rebalance.delay.ms=0).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(fileURLToPath(import.meta.url), '..', '..');

export interface BenchBroker {
  readonly child: ChildProcess;
  readonly bootstrap: string;
  stop(): Promise<void>;
}

export async function startBroker(): Promise<BenchBroker> {
  const dir = mkdtempSync(join(tmpdir(), 'brook-client-bench-'));
  const script = `
    const { Broker, parseBrokerConfig, silentLogger } = await import('@brook/broker');
    const config = parseBrokerConfig({ 'num.partitions': '6', 'group.initial.rebalance.delay.ms': '0' }, { host: '127.0.0.1', port: 0, dataDirectory: ${JSON.stringify(dir)} });
    const broker = await Broker.start({ config, logger: silentLogger });
    process.on('SIGTERM', async () => { await broker.stop(); process.exit(0); });
    console.log(broker.port);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
    cwd: ROOT,
  });
  const port = await new Promise<string>((resolve, reject) => {
    child.stdout!.once('data', (data: Buffer) => resolve(data.toString().trim()));
    child.once('exit', (code) => reject(new Error(`broker exited with ${code}`)));
  });
  return {
    child,
    bootstrap: `127.0.0.1:${port}`,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function median(values: number[]): number {
  const sorted = values.toSorted((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}
