/**
 * What `brook produce` reads: lines of bytes from a stream (split on `\n` only, everything else
 * kept as it is), each turned into a record: the value, or a key and a value around the first
 * key separator, or (with `--json`) a JSON object with key, value, headers, partition and
 * timestamp.
 */

/** A header as the producer takes it. */
export interface InputHeader {
  readonly key: string;
  readonly value: Buffer | null;
}

/** One input line as a record to send. */
export interface InputRecord {
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: readonly InputHeader[];
  readonly partition: number | undefined;
  readonly timestamp: number | undefined;
}

/** A line that cannot be a record (bad JSON, a bad field). */
export class InputError extends Error {}

/**
 * The stream's lines, gathered per chunk read (each item holds the lines that chunk completed).
 * Lines are split on `\n` alone (a `\r` stays in the line, bytes are not decoded); the newline at
 * the very end does not start another (empty) line. Stops early when `signal` is aborted. A line
 * longer than `maxLineBytes` throws an `InputError` rather than being gathered without bound (a
 * file without newlines, piped by mistake).
 */
export async function* readLines(
  stream: NodeJS.ReadableStream,
  signal: AbortSignal,
  { maxLineBytes }: { maxLineBytes: number },
): AsyncGenerator<Buffer[], void, void> {
  const chunks = stream[Symbol.asyncIterator]();
  const aborted = new Promise<IteratorResult<string | Buffer>>((resolve) => {
    if (signal.aborted) resolve({ done: true, value: undefined });
    signal.addEventListener('abort', () => resolve({ done: true, value: undefined }), {
      once: true,
    });
  });
  let carry: Buffer[] = [];
  let carryBytes = 0;
  const tooLong = () =>
    new InputError(
      `a line is longer than ${maxLineBytes} bytes, more than a record can be (is the input text?)`,
    );
  try {
    for (;;) {
      const next = await Promise.race([chunks.next(), aborted]);
      if (next.done) break;
      const chunk = typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
      const lines: Buffer[] = [];
      let start = 0;
      let newline = chunk.indexOf(10);
      while (newline !== -1) {
        let line = chunk.subarray(start, newline);
        if (carry.length > 0) {
          carry.push(line);
          line = Buffer.concat(carry);
          carry = [];
          carryBytes = 0;
        }
        if (line.length > maxLineBytes) throw tooLong();
        lines.push(line);
        start = newline + 1;
        newline = chunk.indexOf(10, start);
      }
      if (start < chunk.length) {
        carry.push(chunk.subarray(start));
        carryBytes += chunk.length - start;
        if (carryBytes > maxLineBytes) throw tooLong();
      }
      if (lines.length > 0) yield lines;
    }
    if (carry.length > 0 && !signal.aborted) yield [Buffer.concat(carry)];
  } finally {
    if (signal.aborted) {
      // A read may be pending (a terminal, a pipe whose writer is idle): the iterator's return
      // would wait for it, so the stream is destroyed instead.
      (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
    } else {
      await chunks.return?.();
    }
  }
}

/** Splits a line at the first `separator`: no separator, no key (the whole line is the value). */
export function splitKey(line: Buffer, separator: Buffer): { key: Buffer | null; value: Buffer } {
  const at = line.indexOf(separator);
  if (at === -1) return { key: null, value: line };
  return { key: line.subarray(0, at), value: line.subarray(at + separator.length) };
}

function bytesOf(value: unknown, field: string): Buffer | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  // Numbers, booleans, objects and arrays: their JSON text.
  if (typeof value === 'object' || typeof value === 'number' || typeof value === 'boolean') {
    return Buffer.from(JSON.stringify(value), 'utf8');
  }
  throw new InputError(`"${field}" must be a string or null`);
}

function headersOf(value: unknown): InputHeader[] {
  if (value === null || value === undefined) return [];
  const headerValue = (v: unknown, key: string): Buffer | null => {
    if (v === null || v === undefined) return null;
    if (typeof v !== 'string') {
      throw new InputError(`header "${key}" must be a string or null, got ${JSON.stringify(v)}`);
    }
    return Buffer.from(v, 'utf8');
  };
  if (Array.isArray(value)) {
    return value.map((entry: unknown) => {
      const pair = entry as { key?: unknown; value?: unknown } | null;
      if (typeof pair !== 'object' || pair === null || typeof pair.key !== 'string') {
        throw new InputError('"headers" as a list holds {"key": string, "value": string|null}');
      }
      return { key: pair.key, value: headerValue(pair.value, pair.key) };
    });
  }
  if (typeof value === 'object') {
    return Object.entries(value as Record<string, unknown>).map(([key, v]) => ({
      key,
      value: headerValue(v, key),
    }));
  }
  throw new InputError('"headers" must be an object or a list of {key, value}');
}

function timestampOf(value: unknown): number | undefined {
  if (value === null || value === undefined) return undefined;
  const ms = typeof value === 'string' ? Date.parse(value) : value;
  if (typeof ms !== 'number' || !Number.isSafeInteger(ms) || ms < 0) {
    throw new InputError(
      `"timestamp" must be ms since the epoch or an ISO date, got ${JSON.stringify(value)}`,
    );
  }
  return ms;
}

function partitionOf(value: unknown, partitionCount: number): number | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new InputError(`"partition" must be an integer >= 0, got ${JSON.stringify(value)}`);
  }
  if (value >= partitionCount) {
    throw new InputError(
      `partition ${value} does not exist (the topic has ${partitionCount}: 0 to ${partitionCount - 1})`,
    );
  }
  return value;
}

/**
 * A `--json` line: an object with `value` and optionally `key`, `headers` (an object, or a list
 * of `{key, value}`), `partition` and `timestamp` (ms or an ISO date). Strings are sent as UTF-8;
 * other JSON values of key and value as their JSON text. Other fields (`topic`, `offset`, as
 * `brook consume --json` prints them) are ignored.
 */
export function parseJsonRecord(line: Buffer, partitionCount: number): InputRecord {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line.toString('utf8'));
  } catch (error) {
    throw new InputError(`not JSON (${(error as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new InputError('not a JSON object ({"key": ..., "value": ..., "headers": {...}})');
  }
  const object = parsed as Record<string, unknown>;
  return {
    key: bytesOf(object.key, 'key'),
    value: bytesOf(object.value, 'value'),
    headers: headersOf(object.headers),
    partition: partitionOf(object.partition, partitionCount),
    timestamp: timestampOf(object.timestamp),
  };
}

/** A blank line (spaces, tabs, `\r` only): skipped in `--json` mode. */
export function isBlank(line: Buffer): boolean {
  for (const byte of line) {
    if (byte !== 0x20 && byte !== 0x09 && byte !== 0x0d) return false;
  }
  return true;
}
