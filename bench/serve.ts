/**
 * Starts `brook serve` as a child process on a free port, the way a user runs it, for the
 * benchmarks that measure the broker from outside (broker.bench.ts, groups.bench.ts).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export async function spawnBrookServe(options: {
  dataDirectory: string;
  /** Kafka properties passed with `--set`. */
  settings?: Record<string, string>;
  /** Flags for the broker's Node process (`--cpu-prof`). */
  nodeArgs?: readonly string[];
}): Promise<{ child: ChildProcess; port: number; startMs: number }> {
  const started = performance.now();
  const settings = Object.entries(options.settings ?? {}).flatMap(([key, value]) => [
    '--set',
    `${key}=${value}`,
  ]);
  const child = spawn(
    process.execPath,
    [
      ...(options.nodeArgs ?? []),
      join(root, 'packages/cli/src/main.js'),
      'serve',
      '--port',
      '0',
      '--data-dir',
      options.dataDirectory,
      '--log-level',
      'warn',
      ...settings,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const port = await new Promise<number>((resolve, reject) => {
    let output = '';
    child.stdout!.on('data', (data: Buffer) => {
      output += data.toString();
      const match = /listening on [^:]+:(\d+)\D/.exec(output);
      if (match) resolve(Number(match[1]));
    });
    child.once('exit', (code) => reject(new Error(`brook serve exited with ${code}`)));
  });
  return { child, port, startMs: performance.now() - started };
}
