/**
 * What the `brook` command tests share: a broker started in this process for one test, and
 * `brook …` run as a user runs it, in a child process through `main.js`, with stdin, the
 * environment and a time limit.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Broker, parseBrokerConfig, silentLogger } from '@brook/broker';

export const MAIN = join(import.meta.dirname, '..', 'src', 'main.js');

export type Hooks = { after(fn: () => Promise<void> | void): void };

/**
 * A broker on a free loopback port for the length of the test, with Kafka properties on top of
 * the test defaults (auto topic creation on, no initial rebalance delay). Returns `host:port`.
 */
export async function startBroker(
  t: Hooks,
  properties: Record<string, string> = {},
): Promise<{ bootstrap: string; broker: Broker }> {
  const dataDirectory = mkdtempSync(join(tmpdir(), 'brook-cli-'));
  const config = parseBrokerConfig(
    { 'group.initial.rebalance.delay.ms': '0', ...properties },
    { host: '127.0.0.1', port: 0, dataDirectory },
  );
  const broker = await Broker.start({ config, logger: silentLogger, shutdownGraceMs: 500 });
  t.after(async () => {
    await broker.stop();
    rmSync(dataDirectory, { recursive: true, force: true });
  });
  return { bootstrap: `127.0.0.1:${broker.port}`, broker };
}

export interface Run {
  /** The exit code, or -1 when the process was killed (by the time limit or a signal). */
  readonly code: number;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout as bytes, for byte-for-byte comparisons. */
  readonly stdoutBytes: Buffer;
}

export interface RunOptions {
  /** Written to the child's stdin, which is then closed (an empty stdin when absent). */
  readonly input?: string | Uint8Array;
  /** Added to the environment (BROOK_BOOTSTRAP is removed unless given here). */
  readonly env?: Record<string, string>;
  /** Killed with SIGKILL after this long (default 60 s); `code` is then -1. */
  readonly timeoutMs?: number;
  /** Sends SIGINT after this long: for commands that run until interrupted. */
  readonly interruptAfterMs?: number;
}

/** Runs `node main.js ...args` and collects its output and exit code. */
export function brook(args: readonly string[], options: RunOptions = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const env: Record<string, string | undefined> = { ...process.env, ...options.env };
    if (options.env?.BROOK_BOOTSTRAP === undefined) delete env.BROOK_BOOTSTRAP;
    if (options.env?.FORCE_COLOR === undefined) delete env.FORCE_COLOR;
    const child = spawn(process.execPath, [MAIN, ...args], {
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.stdin.on('error', () => {}); // the command may exit before reading all of its input
    child.stdin.end(options.input ?? '');
    const kill = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    const interrupt =
      options.interruptAfterMs === undefined
        ? undefined
        : setTimeout(() => child.kill('SIGINT'), options.interruptAfterMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(kill);
      if (interrupt !== undefined) clearTimeout(interrupt);
      const stdoutBytes = Buffer.concat(out);
      resolve({
        code: code ?? -1,
        signal,
        stdout: stdoutBytes.toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        stdoutBytes,
      });
    });
  });
}

/** Rows of a text table (the lines after the header line), split on runs of spaces. */
export function tableRows(output: string, header: string): string[][] {
  const lines = output.split('\n');
  const at = lines.findIndex((line) => line.startsWith(header));
  if (at < 0) throw new Error(`no table with header ${header} in:\n${output}`);
  const rows: string[][] = [];
  for (const line of lines.slice(at + 1)) {
    if (line.trim() === '') break;
    rows.push(line.trim().split(/\s+/));
  }
  return rows;
}
