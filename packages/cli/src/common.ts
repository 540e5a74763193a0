/**
 * What the `brook` commands that talk to a cluster share: the options that reach it (`--bootstrap`, `--timeout`), the
 * one error class, the wording of common failures, text tables and colours.
 *
 * Conventions: data goes to stdout, diagnostics and progress to stderr; tables for people, one
 * JSON document (or JSON lines for streams of records) with `--json`; colours only on a terminal.
 */
import { styleText } from 'node:util';
import {
  Admin,
  type AdminOptions,
  BrookError,
  ConnectionError,
  KafkaProtocolError,
  RequestTimeoutError,
  RetriesExhaustedError,
} from '@brook/client';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { ExitCode, type Io } from './io.ts';

export { ExitCode, type Io } from './io.ts';

/** A failure a command reports as `brook <command>: <message>` and exits with `exitCode`. */
export class CommandError extends BrookError {
  static override readonly code: string = 'BROOK_ERR_CLI';
  readonly exitCode: number;
  constructor(message: string, options: { exitCode?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? {} : { cause: options.cause });
    this.exitCode = options.exitCode ?? ExitCode.failed;
  }
}

/** A usage error found after parsing (a bad combination of options, a missing argument). */
export function usageError(message: string): CommandError {
  return new CommandError(message, { exitCode: ExitCode.usage });
}

export const DEFAULT_BOOTSTRAP = '127.0.0.1:9092';
export const DEFAULT_TIMEOUT_MS = 5000;

/** The options of every command that talks to a cluster, after parsing. */
export interface ClusterSettings {
  readonly bootstrapServers: string[];
  readonly timeoutMs: number;
}

/** Adds `--bootstrap` (also `BROOK_BOOTSTRAP`; `--bootstrap-server` as Kafka's tools spell it) and `--timeout`. */
export function addClusterOptions(command: Command): Command {
  return command
    .addOption(
      new Option(
        '-b, --bootstrap <host:port,...>',
        'brokers to start from (also BROOK_BOOTSTRAP)',
      ).default(undefined, DEFAULT_BOOTSTRAP),
    )
    .addOption(new Option('--bootstrap-server <host:port,...>').hideHelp())
    .addOption(
      new Option('--timeout <ms>', 'give up on an operation after this long, retries included')
        .default(DEFAULT_TIMEOUT_MS)
        .argParser(positiveInteger('--timeout')),
    );
}

/** The values `addClusterOptions` adds to a command's parsed options. */
export interface ClusterOptionValues {
  bootstrap?: string;
  bootstrapServer?: string;
  timeout?: number;
}

/** Reads the cluster options of a parsed command (the flag, then BROOK_BOOTSTRAP, then the default). */
export function clusterSettings(options: ClusterOptionValues, io: Io): ClusterSettings {
  const given =
    options.bootstrap ?? options.bootstrapServer ?? io.env.BROOK_BOOTSTRAP ?? DEFAULT_BOOTSTRAP;
  const bootstrapServers = given
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const server of bootstrapServers) {
    if (!/^[^\s:[\]]+:\d{1,5}$|^\[[^\]]+\]:\d{1,5}$/.test(server)) {
      throw usageError(`--bootstrap expects host:port[,host:port...], got '${given}'`);
    }
  }
  if (bootstrapServers.length === 0) throw usageError('--bootstrap is empty');
  headerStream = io.stdout;
  return { bootstrapServers, timeoutMs: options.timeout ?? DEFAULT_TIMEOUT_MS };
}

/** Client options for a CLI run: the timeout bounds connecting, each request and each operation. */
export function clientOptions(settings: ClusterSettings): AdminOptions {
  return {
    bootstrapServers: settings.bootstrapServers,
    clientId: 'brook-cli',
    connectTimeoutMs: settings.timeoutMs,
    requestTimeoutMs: settings.timeoutMs,
    defaultApiTimeoutMs: settings.timeoutMs,
  };
}

/** A commander argument parser for integers in a range. */
export function integer(
  name: string,
  { min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER } = {},
): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isInteger(n) || n < min || n > max) {
      const range =
        max === Number.MAX_SAFE_INTEGER
          ? min === Number.MIN_SAFE_INTEGER
            ? 'an integer'
            : `an integer >= ${min}`
          : `an integer from ${min} to ${max}`;
      throw new InvalidArgumentError(`${name} expects ${range}, got '${value}'`);
    }
    return n;
  };
}

export function positiveInteger(name: string): (value: string) => number {
  return integer(name, { min: 1 });
}

/** Collects a repeatable option's values (`-c a=1 -c b=2`). */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** `key=value` pairs into a record; a pair without `=` is a usage error. */
export function keyValues(
  pairs: readonly string[] | undefined,
  option: string,
): Record<string, string> {
  const result: Record<string, string> = {};
  for (const pair of pairs ?? []) {
    const at = pair.indexOf('=');
    if (at <= 0) throw usageError(`${option} expects key=value, got '${pair}'`);
    result[pair.slice(0, at).trim()] = pair.slice(at + 1);
  }
  return result;
}

// ---- failures in words ------------------------------------------------------------------------

/** The message for a topic that does not exist, with what to do about it. */
export function unknownTopicMessage(topic: string): string {
  return `topic '${topic}' does not exist; create it with \`brook topic create ${topic}\` or enable auto.create.topics.enable on the broker`;
}

function isUnreachable(error: unknown): boolean {
  if (error instanceof ConnectionError || error instanceof RequestTimeoutError) return true;
  if (error instanceof RetriesExhaustedError) {
    return (
      error.cause === undefined ||
      error.cause instanceof ConnectionError ||
      error.cause instanceof RequestTimeoutError
    );
  }
  return false;
}

/** An error as one line, with the exit code it means. */
export function describeFailure(
  error: unknown,
  settings: ClusterSettings | undefined,
): { message: string; exitCode: number } {
  if (error instanceof CommandError) return { message: error.message, exitCode: error.exitCode };
  if (settings !== undefined && isUnreachable(error)) {
    const cause =
      error instanceof Error && error.cause instanceof Error ? error.cause.message : String(error);
    return {
      message: `cannot reach the broker at ${settings.bootstrapServers.join(',')} within ${settings.timeoutMs} ms (${firstLine(cause)}); is it running? Point --bootstrap or BROOK_BOOTSTRAP at it`,
      exitCode: ExitCode.unreachable,
    };
  }
  if (error instanceof KafkaProtocolError) {
    return { message: firstLine(error.message), exitCode: ExitCode.failed };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { message: firstLine(message), exitCode: ExitCode.failed };
}

function firstLine(text: string): string {
  return text.split('\n')[0] ?? text;
}

/**
 * Runs `fn`, turning any failure into a `CommandError` with its words and exit code (an
 * unreachable cluster exits 3 with a hint; a `CommandError` passes through unchanged).
 */
export async function guard<T>(
  settings: ClusterSettings | undefined,
  fn: () => Promise<T>,
): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof CommandError) throw error;
    const { message, exitCode } = describeFailure(error, settings);
    throw new CommandError(message, { exitCode, cause: error });
  }
}

/** An Admin for the length of `fn`, closed afterwards; failures in words, as `guard` does. */
export async function withAdmin<T>(
  settings: ClusterSettings,
  fn: (admin: Admin) => Promise<T>,
): Promise<T> {
  const admin = new Admin(clientOptions(settings));
  try {
    return await guard(settings, () => fn(admin));
  } finally {
    await admin.close().catch(() => {});
  }
}

/** What an admin subcommand prints, and the failure to report once it is printed. */
export interface Outcome {
  readonly stdout: string;
  readonly stderr?: string;
  readonly failure?: CommandError;
}

/**
 * Runs an admin subcommand: its work with an Admin, then what it printed (stdout, then stderr),
 * then its failure if any, so a partial failure still shows what was done.
 */
export async function runAdminCommand(
  io: Io,
  options: ClusterOptionValues,
  work: (admin: Admin) => Promise<Outcome>,
): Promise<void> {
  const outcome = await withAdmin(clusterSettings(options, io), work);
  if (outcome.stdout !== '') await write(io.stdout, outcome.stdout);
  if (outcome.stderr !== undefined && outcome.stderr !== '') await write(io.stderr, outcome.stderr);
  if (outcome.failure !== undefined) throw outcome.failure;
}

// ---- output -----------------------------------------------------------------------------------

/** Writes and waits when the stream asks to (a pipe to a slow reader must not buffer without bound). */
export function write(
  stream: NodeJS.WritableStream,
  data: string | Uint8Array,
): Promise<void> | void {
  if (stream.write(data)) return;
  return new Promise((resolve, reject) => {
    const onDrain = () => {
      stream.off('error', onError);
      resolve();
    };
    const onError = (error: unknown) => {
      stream.off('drain', onDrain);
      reject(error);
    };
    stream.once('drain', onDrain);
    stream.once('error', onError);
  });
}

/** Prints a value as one JSON document on one line; bigints become numbers (offsets fit). */
export function json(value: unknown): string {
  return `${JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? Number(v) : v))}\n`;
}

/**
 * Where tables go, for their bold header line: set by `clusterSettings` from the command's
 * stdout (one program runs one command). Bold only on a terminal, as `painter` decides.
 */
let headerStream: (NodeJS.WritableStream & { isTTY?: boolean }) | undefined;

/** Aligned columns: a header line (bold on a terminal) and one line per row, two spaces apart. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  const top = line(header);
  const styled = headerStream === undefined ? top : painter(headerStream)('bold', top);
  return `${[styled, ...rows.map(line)].join('\n')}\n`;
}

type Style = Parameters<typeof styleText>[0];

/**
 * Colours for a stream: on only when it is a terminal, `NO_COLOR` is unset and `TERM` is not
 * `dumb` (or `FORCE_COLOR` is set), as `node:util`'s `styleText` decides.
 */
export function painter(stream: NodeJS.WritableStream & { isTTY?: boolean }) {
  return (style: Style, text: string): string =>
    styleText(style, text, { validateStream: true, stream: stream as NodeJS.WriteStream });
}

/**
 * A one-line progress report on stderr, redrawn at most every `intervalMs`, only on a terminal
 * (a pipe or file gets nothing, so logs stay clean). `done()` clears the line.
 */
export class Progress {
  private readonly stream: NodeJS.WritableStream & { isTTY?: boolean };
  private readonly intervalMs: number;
  private readonly enabled: boolean;
  private lastDrawMs = 0;
  private drawn = false;

  constructor(stream: NodeJS.WritableStream & { isTTY?: boolean }, { intervalMs = 200 } = {}) {
    this.stream = stream;
    this.intervalMs = intervalMs;
    this.enabled = stream.isTTY === true;
  }

  update(text: () => string, force = false): void {
    if (!this.enabled) return;
    const now = performance.now();
    if (!force && now - this.lastDrawMs < this.intervalMs) return;
    this.lastDrawMs = now;
    this.stream.write(`\r\x1b[2K${text()}`);
    this.drawn = true;
  }

  done(): void {
    if (this.enabled && this.drawn) this.stream.write('\r\x1b[2K');
    this.drawn = false;
  }
}
